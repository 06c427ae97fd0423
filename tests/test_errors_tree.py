"""hub/errors.py holds the whole exception tree: every hub error is defined there and
drawn in its docstring."""

from __future__ import annotations

import importlib
import pkgutil

import connectors
import hub
from hub import errors
from hub.errors import HubError


def _all_subclasses(cls: type) -> set[type]:
    found = set()
    for sub in cls.__subclasses__():
        found |= {sub, *_all_subclasses(sub)}
    return found


def test_every_hub_error_is_defined_and_drawn_in_hub_errors() -> None:
    for package in (hub, connectors):
        for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if not module.name.endswith("__main__"):
                importlib.import_module(module.name)
    classes = _all_subclasses(HubError)
    assert len(classes) > 30
    outside = sorted(f"{c.__module__}.{c.__name__}" for c in classes
                     if c.__module__ != "hub.errors")
    assert outside == []
    doc = errors.__doc__ or ""
    assert sorted(c.__name__ for c in classes if f"── {c.__name__}" not in doc) == []
    assert sorted(c.__name__ for c in classes) == sorted(
        n for n in errors.__all__ if isinstance(getattr(errors, n), type)
        and issubclass(getattr(errors, n), HubError) and n != "HubError")
