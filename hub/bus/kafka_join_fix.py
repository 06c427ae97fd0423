"""Keep a group join that finished between two polls (kafka-python 3.0).

kafka-python 3.0 runs a member's JoinGroup and SyncGroup as one task on its IO thread
and keeps the task when ``poll`` returns before the join is done, so that the next poll
waits for the same task. But when the task finishes *between* two polls, the next poll
sees a finished task, throws its result away and sends a new JoinGroup: the member's
assignment is never applied and the whole group rebalances again. A member that does
any work between polls (a stream processor committing a transaction, or two members
polled in turn by one thread) can then rebalance over and over and never consume.

Java's consumer completes a join whose result arrived between polls on the next poll.
:func:`keep_finished_joins` does the same: before the coordinator looks at its join task,
a finished task is replaced by a pending one that settles with the finished task's result
as soon as the coordinator waits for it, so the coordinator completes the join it already
has (or handles its error) instead of starting another. Idempotent; a kafka-python
without a ``join_group_async`` coroutine is left as it is.
"""

from __future__ import annotations

import functools
from typing import Any

from kafka.coordinator.base import BaseCoordinator
from kafka.future import Future


class _FinishedJoin(Future):  # type: ignore[misc]
    """A pending future standing for a finished join task; it settles with that task's
    result when the first callback or errback is registered (the coordinator waiting)."""

    __slots__ = ("_finished",)

    def __init__(self, finished: Future) -> None:
        super().__init__()
        self._finished = finished

    def _settle(self) -> None:
        if self.is_done:
            return
        if self._finished.exception is None:
            self.success(self._finished.value)
        else:
            self.failure(self._finished.exception)

    def add_callback(self, f: Any, *args: Any, **kwargs: Any) -> Future:
        super().add_callback(f, *args, **kwargs)
        self._settle()
        return self

    def add_errback(self, f: Any, *args: Any, **kwargs: Any) -> Future:
        super().add_errback(f, *args, **kwargs)
        self._settle()
        return self

    def _add_cb_eb(self, cb: Any, eb: Any) -> Future:
        super()._add_cb_eb(cb, eb)
        self._settle()
        return self


def keep_finished_joins() -> None:
    """Make every kafka-python group member complete a join that finished between polls."""
    original = getattr(BaseCoordinator, "join_group_async", None)
    if original is None or getattr(original, "keeps_finished_joins", False):
        return

    @functools.wraps(original)
    async def join_group_async(self: Any, timeout_ms: Any = None) -> Any:
        task = getattr(self, "_join_task", None)
        if task is not None and task.is_done:
            self._join_task = _FinishedJoin(task)
        return await original(self, timeout_ms)

    join_group_async.keeps_finished_joins = True  # type: ignore[attr-defined]
    BaseCoordinator.join_group_async = join_group_async
