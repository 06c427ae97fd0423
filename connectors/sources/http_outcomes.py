"""``GET /v1/outcomes``: each source reads the outcomes of the signals it sent, and no
other source's.

A team's closing of an alert as picked up or not goes to ``outcomes.v1``, keyed by the
URN of the signal's source; this route serves the outcomes of the caller's URN only
(:func:`hub.outcome_feed.read_outcomes`), cursor-paginated, to a key with the
``outcomes`` permission. docs/http-api.md, "Outcomes", says why a feed over HTTP and how
to page through it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import structlog
from fastapi import FastAPI, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from connectors.sources.http_auth import Authorize, Key
from connectors.sources.http_errors import PROBLEM_JSON, field, from_hub_error, invalid
from connectors.sources.http_models import Problem
from hub.connect import Connection
from hub.errors import HubError, InvalidCursor
from hub.events import PickUpOutcome
from hub.outcome_feed import MAX_LIMIT, read_outcomes
from hub.sources import OUTCOMES_PERMISSION, SourceInfo

__all__ = ["OutcomeItem", "OutcomesPage", "outcome_routes"]

log = structlog.get_logger(__name__)


class OutcomeItem(BaseModel):
    """What became of one alert made from a signal of this source: only whether the
    team picked it up."""

    outcome_id: str = Field(description="Id of this outcome (UUID); the same id can come"
                            " twice: drop the repeat.")
    event_id: str = Field(description="event_id of the signal the source sent.")
    alert_id: str = Field(description="Id of the alert made from it; a signal can go to"
                          " several teams, each with its own alert and outcome.")
    team_id: str = Field(description="The team that handled the alert.")
    outcome: PickUpOutcome = Field(description="PICKED_UP or NOT_PICKED_UP; nothing more.")
    recorded_at: datetime = Field(description="When the team closed the alert (UTC).")


class OutcomesPage(BaseModel):
    """One page of the source's outcomes, oldest first."""

    outcomes: list[OutcomeItem]
    next_cursor: str = Field(description="Send as `after` to read on from this page;"
                             " keep it between polls.")
    has_more: bool = Field(description="true: more may be there already, ask again at"
                           " once; false: the feed is read to its end, poll again later.")


def _problem(detail: str) -> dict[str, Any]:
    return {"model": Problem, "description": detail, "content": {PROBLEM_JSON: {}}}


_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: _problem("No API key, or an unknown, wrong or revoked one."),
    403: _problem("The source lacks the `outcomes` permission."),
    422: _problem("An `after` this feed did not give out, or a `limit` out of range."),
    500: _problem("A fault of the hub; the body holds a trace_id for the operator."),
    503: _problem("The bus or the schema registry is unavailable; retry after the"
                  " Retry-After seconds."),
}

After = Annotated[str | None, Query(
    max_length=4096, pattern=r"^[A-Za-z0-9_-]*$",
    description="The `next_cursor` of the previous page; none: from the oldest outcome"
    " the hub still keeps.")]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="At most this many outcomes.")]


def outcome_routes(app: FastAPI, conn: Connection, authorize: Authorize) -> None:
    """Add ``GET /v1/outcomes`` over ``conn``'s bus to ``app``."""

    def page(source: SourceInfo, after: str | None, limit: int) -> OutcomesPage:
        try:
            found = read_outcomes(conn.bus, conn.serde, source.urn, after, limit=limit)
        except InvalidCursor as exc:
            raise invalid([field("after", str(exc))]) from None
        except HubError as exc:
            raise from_hub_error(exc) from exc
        log.info("outcomes read", source_id=source.source_id, count=len(found.outcomes),
                 has_more=found.has_more)
        return OutcomesPage(outcomes=[OutcomeItem(**item) for item in found.outcomes],
                            next_cursor=found.cursor, has_more=found.has_more)

    @app.get("/v1/outcomes", response_model=OutcomesPage, tags=["outcomes"],
             responses=_RESPONSES, operation_id="list_outcomes",
             summary="Read the outcomes of the signals this source sent")
    async def list_outcomes(request: Request, key: Key, after: After = None,
                            limit: Limit = 100) -> OutcomesPage:
        """The outcomes (picked up or not) of alerts made from signals of this source's
        URN, and of no other source; oldest first, `limit` per page (fewer when a page
        ends early: follow `has_more`). Needs the `outcomes` permission."""
        source = await authorize(request, key, OUTCOMES_PERMISSION)
        return await run_in_threadpool(page, source, after, limit)
