"""The base of every source connector: a small lifecycle, ``setup() / run() / stop()``.

A new connector is one new file in ``connectors/sources/`` with one :class:`Source`
subclass, named by technology and role (``CsvBatchSource``, ``SealedIntakeSource``, ...).
It turns what a source system sends into signals with :mod:`hub.intake`
(``build_signal`` validates and pseudonymises, ``SignalPublisher`` puts them durably on
the bus) and receives its configuration explicitly (it never reads ``os.environ``).

The lifecycle::

    source.setup()   # open files, sockets, stores; may raise HubError (nothing runs)
    source.run()     # do the work; returns when done (a batch) or after stop() (a server)
    source.stop()    # ask run() to return; safe to call from another thread, and twice

``with source:`` runs ``setup()`` on entry and ``stop()`` then ``close()`` on exit.
"""

from __future__ import annotations

import abc
from types import TracebackType
from typing import Self

__all__ = ["Source"]


class Source(abc.ABC):
    """A source connector; subclasses implement :meth:`run` (and usually the rest)."""

    #: short name of the technology, for logs and the CLI (e.g. "http", "csv")
    kind: str = "source"

    def setup(self) -> None:
        """Prepare to run (open what :meth:`run` needs); the default does nothing."""

    @abc.abstractmethod
    def run(self) -> None:
        """Do the work: return when the input is done, or once :meth:`stop` was called."""

    def stop(self) -> None:
        """Ask :meth:`run` to return soon; thread-safe and idempotent."""

    def close(self) -> None:
        """Release what :meth:`setup` opened; the default does nothing."""

    def __enter__(self) -> Self:
        self.setup()
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            self.stop()
        finally:
            self.close()
