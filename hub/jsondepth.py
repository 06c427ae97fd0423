"""How deeply JSON values nest, measured without recursion (so that a hostile document
cannot exhaust the stack): shared by every edge that parses JSON from outside."""

from __future__ import annotations

from typing import Any

__all__ = ["nests_deeper_than"]


def nests_deeper_than(value: Any, limit: int) -> bool:
    """True when arrays and objects in ``value`` nest more than ``limit`` levels."""
    todo = [(value, 1)]
    while todo:
        item, depth = todo.pop()
        if isinstance(item, dict | list):
            if depth > limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            todo.extend((child, depth + 1) for child in children)
    return False
