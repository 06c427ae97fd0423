"""What the evaluator reads besides the signal: consents and earlier signals.

Both are views, passed in by the caller: the router passes its consent ledger and a
:class:`BatchHistory` over its state; ``signalhub explain`` passes a read-only ledger (or
:class:`NoConsents`) and :class:`NoHistory`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from hub.consent import ConsentCheck, ConsentStatus

__all__ = ["BatchHistory", "ConsentView", "HistoryStore", "HistoryView", "NoConsents",
           "NoHistory"]


class ConsentView(Protocol):
    """The consent ledger's question (see :meth:`hub.consent.ConsentLedger.check`)."""

    def check(self, subject_ref: str, purpose: str, recipient_team_id: str,
              municipality_code: str | None, at: datetime) -> ConsentCheck: ...


class HistoryView(Protocol):
    def earlier_signals(self, subject_ref: str, event_id: str) -> int:
        """How many signals of ``subject_ref`` other than ``event_id`` count as earlier."""
        ...


class HistoryStore(Protocol):
    """The router state's history lookup (``hub.router_state.RouterState``)."""

    def earlier_signals_many(self, signals: Sequence[tuple[str, str]], now: datetime
                             ) -> list[int]: ...


class NoConsents:
    """A consent view without consents: every check is MISSING."""

    def __init__(self, detail: str = "no consent ledger") -> None:
        self.detail = detail

    def check(self, subject_ref: str, purpose: str, recipient_team_id: str,
              municipality_code: str | None, at: datetime) -> ConsentCheck:
        return ConsentCheck(ConsentStatus.MISSING, None, self.detail)


class NoHistory:
    """A history view without history: no earlier signals."""

    def earlier_signals(self, subject_ref: str, event_id: str) -> int:
        return 0


class BatchHistory:
    """The history of one batch: what the store remembers (looked up for the whole
    batch at once) plus, on top, the batch's own signals routed so far, so the third
    signal of a person in one batch counts the two before it.

    :meth:`add` a signal once it is routed; the store itself changes only after the
    batch (the loop remembers it).
    """

    def __init__(self, store: HistoryStore, signals: Sequence[tuple[str, str]],
                 now: datetime) -> None:
        self._store = store
        self._now = now
        pairs = list(dict.fromkeys(signals))
        self._remembered = dict(zip(pairs, store.earlier_signals_many(pairs, now),
                                    strict=True))
        self._in_batch: dict[str, set[str]] = {}

    def earlier_signals(self, subject_ref: str, event_id: str) -> int:
        key = (subject_ref, event_id)
        remembered = self._remembered.get(key)
        if remembered is None:  # not announced: asked on its own
            remembered = self._remembered[key] = self._store.earlier_signals_many(
                [key], self._now)[0]
        batch = self._in_batch.get(subject_ref)
        return remembered + (len(batch) - (event_id in batch) if batch else 0)

    def add(self, subject_ref: str, event_id: str) -> None:
        self._in_batch.setdefault(subject_ref, set()).add(event_id)
