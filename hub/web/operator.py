"""The operator dashboard (roles operator and admin): the flow of events through the
hub, consumer lag, dead letters and refusals, and replaying dead letters.

Operators see no personal data: topic names, counts, offsets, reason codes, stages and
error classes. A dead letter's original key and value are never read for display, and
its error message is shown with pseudonyms, postcodes and long numbers masked.

Pages: ``/operator`` (the flow picture, refreshed by ``static/operator.js`` polling
``/operator/api/flow`` every 2 s), ``/operator/deadletters`` (browse, replay one or
all). The router also carries ``/healthz`` and ``/readyz`` (:mod:`hub.web.metrics`);
Prometheus metrics have a listener of their own, which the flow page names.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

import structlog
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from hub import metrics
from hub.accounts import OPERATOR_ROLES, User
from hub.deadletters import read_deadletters, replay_deadletters, replay_one
from hub.topics import DEADLETTER, SIGNAL_TOPICS, alerts_topic
from hub.web.auth import check_csrf, csrf_token, record_access, require_role
from hub.web.deps import WebDeps
from hub.web.forms import read_form
from hub.web.i18n import N_
from hub.web.i18n import gettext as _
from hub.web.metrics import router as health_router
from hub.web.texts import install as install_texts

__all__ = ["TEMPLATES_DIR", "flow_snapshot", "require_operator", "router", "safe_text"]

TEMPLATES_DIR = Path(__file__).parent / "templates"
templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
install_texts(templates.env)

#: the dependency of every operator page (tests may override it)
require_operator = require_role(*OPERATOR_ROLES)
Operator = Annotated[User, Depends(require_operator)]

log = structlog.get_logger(__name__)
router = APIRouter()
router.include_router(health_router)

_MASKS = (
    (re.compile(r"ps\d*-[0-9A-Za-z_-]+"), "ps-…"),  # ps-… and versioned ps1-…
    (re.compile(r"\b\d{4}\s?[A-Za-z]{2}\b"), "[postcode]"),
    (re.compile(r"\d{6,}"), "[number]"),
)


def safe_text(text: str, limit: int = 300) -> str:
    """An error message fit for an operator: pseudonyms, postcodes, long numbers masked."""
    for pattern, replacement in _MASKS:
        text = pattern.sub(replacement, text)
    return text[:limit]


def _deps(request: Request) -> WebDeps:
    deps: WebDeps = request.app.state.deps
    return deps


# -- dead letters (metadata only) -------------------------------------------------------


@dataclass
class _DeadLetterCache:
    """Dead-letter metadata, read again only when deadletter.v1 has grown."""

    end: int = -1
    rows: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _cache(request: Request) -> _DeadLetterCache:
    state = request.app.state
    cache = getattr(state, "operator_deadletters", None)
    if cache is None:
        cache = state.operator_deadletters = _DeadLetterCache()
    return cache


def _dead_letters(deps: WebDeps, cache: _DeadLetterCache) -> list[dict[str, Any]]:
    bus = deps.conn.bus
    with cache.lock:
        end = sum(bus.end_offsets(DEADLETTER).values()) if DEADLETTER in bus.list_topics() else 0
        if end != cache.end:
            rows = []
            for letter in read_deadletters(deps.conn, timeout=1.0):
                dl = letter.record
                rows.append({
                    "offset": letter.offset,
                    "reason": dl["reason_code"],
                    "topic": dl["topic"],
                    "partition": dl["partition"],
                    "origin_offset": dl["offset"],
                    "stage": dl["stage"],
                    "error_class": dl["error_class"],
                    "error_message": safe_text(dl["error_message"]),
                    "failed_at": dl["failed_at"].isoformat(timespec="seconds")
                    if dl["failed_at"] else "",
                    "replayable": letter.replayable,
                })
            cache.rows, cache.end = rows, end
        return list(cache.rows)


# -- the flow ---------------------------------------------------------------------------


def _total(bus: Any, topic: str, existing: set[str]) -> int:
    return sum(bus.end_offsets(topic).values()) if topic in existing else 0


def flow_snapshot(deps: WebDeps, cache: _DeadLetterCache) -> dict[str, Any]:
    """Counts for the flow picture: cumulative per edge (the browser turns their deltas
    into rates), lag per group and partition, dead letters, decisions by reason."""
    bus = deps.conn.bus
    existing = bus.list_topics()
    edges: dict[str, dict[str, Any]] = {}
    topics: dict[str, int] = {}
    for topic in [*SIGNAL_TOPICS.values(), *(alerts_topic(t.id) for t in deps.config.teams),
                  DEADLETTER]:
        topics[topic] = _total(bus, topic, existing)
        edges[f"in:{topic}"] = {"count": topics[topic], "lag": None}
    groups = []
    for group, topic in metrics.consumer_groups(deps.config):
        parts = bus.lag(group, topic) if topic in existing else []
        committed = sum(p.committed or 0 for p in parts)
        lag = sum(p.lag for p in parts)
        edges[f"grp:{group}:{topic}"] = {"count": committed, "lag": lag}
        groups.append({
            "group": group, "topic": topic, "lag": lag,
            "partitions": [{"partition": p.partition, "end": p.end_offset,
                            "committed": p.committed, "lag": p.lag} for p in parts],
        })
    dead = _dead_letters(deps, cache)
    by_reason: dict[str, int] = {}
    for row in dead:
        by_reason[row["reason"]] = by_reason.get(row["reason"], 0) + 1
    decisions = _decisions(deps)
    refusals = {k.split(":", 1)[1]: v for k, v in decisions.items() if k.startswith("refused:")}
    forwarded = sum(v for k, v in decisions.items() if k.startswith("forwarded:"))
    return {
        "at": time.time(),
        "topics": topics,
        "edges": edges,
        "groups": groups,
        "deadletters": {"total": len(dead), "by_reason": dict(sorted(by_reason.items()))},
        "refusals": dict(sorted(refusals.items())),
        "forwarded": forwarded,
        "last_errors": [
            {k: r[k] for k in ("offset", "failed_at", "reason", "stage", "topic", "partition",
                               "origin_offset", "error_class", "error_message")}
            for r in reversed(dead[-10:])
        ],
    }


def _decisions(deps: WebDeps) -> dict[str, int]:
    """The routers' counts (``outcome:REASON``); this process's metrics when none."""
    counts = dict(deps.counts())
    if not counts:
        for family in metrics.DECISIONS.collect():
            for sample in family.samples:
                if sample.name.endswith("_total"):
                    outcome, reason = sample.labels["outcome"], sample.labels["reason"]
                    key = f"{outcome}:{reason}" if reason else outcome
                    counts[key] = int(sample.value)
    return counts


@dataclass(frozen=True)
class _Box:
    key: str
    label: str
    x: int
    y: int
    w: int
    h: int
    kind: str
    total_of: str | None = None


@dataclass(frozen=True)
class _Edge:
    key: str
    x1: int
    y1: int
    x2: int
    y2: int
    lag: bool = False

    @property
    def mx(self) -> int:
        return (self.x1 + self.x2) // 2

    @property
    def my(self) -> int:
        return (self.y1 + self.y2) // 2


def _layout(deps: WebDeps) -> dict[str, Any]:
    """Boxes and edges of the flow picture (server-rendered SVG)."""
    teams = deps.config.teams
    row, top = 64, 24
    rows = max(3, len(teams) + 1)
    height = top * 2 + rows * row
    boxes: list[_Box] = []
    edges: list[_Edge] = []

    def mid(b: _Box) -> int:
        return b.y + b.h // 2

    # the two labels are message ids: the page translates them (the others are names)
    sources = _Box("sources", N_("bronnen"), 10, height // 2 - 25, 110, 50, "source")
    router_box = _Box("router", N_("router"), 450, height // 2 - 30, 110, 60, "router")
    boxes += [sources, router_box]
    first = height // 2 - (3 * row) // 2
    for i, topic in enumerate(SIGNAL_TOPICS.values()):
        b = _Box(topic, topic, 185, first + i * row + 8, 200, 44, "topic", topic)
        boxes.append(b)
        edges.append(_Edge(f"in:{topic}", sources.x + sources.w, mid(sources), b.x, mid(b)))
        edges.append(_Edge(f"grp:router:{topic}", b.x + b.w, mid(b), router_box.x,
                           mid(router_box), lag=True))
    groups: dict[str, list[str]] = {alerts_topic(team.id): [] for team in teams}
    for group, topic in metrics.consumer_groups(deps.config):
        if topic in groups:
            groups[topic].append(group)
    for i, team in enumerate(teams):
        topic = alerts_topic(team.id)
        b = _Box(topic, topic, 630, top + i * row + 8, 250, 44, "topic", topic)
        boxes.append(b)
        edges.append(_Edge(f"in:{topic}", router_box.x + router_box.w, mid(router_box),
                           b.x, mid(b)))
        members = groups[topic]
        for j, group in enumerate(members):
            h = 44 // max(1, len(members))
            sink = _Box(group, group.rsplit("-", 1)[-1], 1040, top + i * row + 8 + j * h, 90,
                        h - 2, "sink")
            boxes.append(sink)
            edges.append(_Edge(f"grp:{group}:{topic}", b.x + b.w, mid(b), sink.x, mid(sink),
                               lag=True))
    dl = _Box(DEADLETTER, DEADLETTER, 630, top + len(teams) * row + 8, 250, 44, "dead",
              DEADLETTER)
    boxes.append(dl)
    edges.append(_Edge(f"in:{DEADLETTER}", router_box.x + router_box.w, mid(router_box),
                       dl.x, mid(dl)))
    return {"width": 1140, "height": height, "boxes": boxes, "edges": edges}


# -- pages ------------------------------------------------------------------------------


def _layout_template() -> str:
    return "base.html" if (TEMPLATES_DIR / "base.html").exists() else "operator_layout.html"


def _page(request: Request, name: str, user: User, **context: Any) -> HTMLResponse:
    return templates.TemplateResponse(request, name, {
        "user": user, "csrf_token": csrf_token(request) or "", "layout": _layout_template(),
        "has_operator": True,
        **context,
    })


@router.get("/operator", response_class=HTMLResponse)
async def flow_page(request: Request, user: Operator) -> HTMLResponse:
    deps = _deps(request)
    snapshot = await run_in_threadpool(flow_snapshot, deps, _cache(request))
    return _page(request, "operator_flow.html", user, title=_("Beheer: verwerking"),
                 flow=snapshot, picture=_layout(deps), metrics_url=deps.metrics_url)


@router.get("/operator/api/flow")
async def flow_api(request: Request, user: Operator) -> dict[str, Any]:
    return await run_in_threadpool(flow_snapshot, _deps(request), _cache(request))


@router.get("/operator/deadletters", response_class=HTMLResponse)
async def deadletters_page(request: Request, user: Operator, reason: str | None = None
                           ) -> HTMLResponse:
    rows = await run_in_threadpool(_dead_letters, _deps(request), _cache(request))
    reasons = sorted({r["reason"] for r in rows})
    if reason not in reasons:
        reason = None  # a reason no dead letter has is ignored, as the inbox's filters do
    shown = [r for r in rows if not reason or r["reason"] == reason]
    outcome, error = _notices(request.query_params, rows, reason)
    return _page(request, "operator_deadletters.html", user,
                 title=_("Beheer: onbestelbare berichten"),
                 rows=list(reversed(shown)), reasons=reasons, reason=reason or "",
                 outcome=outcome, error=error, total=len(rows))


def _number(query: Mapping[str, str], name: str) -> int | None:
    """``name`` from the query string as a count or an offset: digits only (at most 18),
    else None."""
    text = query.get(name, "")
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else None


def _notices(query: Mapping[str, str], rows: list[dict[str, Any]], reason: str | None
             ) -> tuple[str | None, str | None]:
    """The replay's notice and error for the page, made here from the codes and numbers
    :func:`replay_page` redirects with (``replayed_offset``, ``replayed`` and
    ``skipped``, ``missing``, ``not_replayable``), never text from the query string;
    ``reason`` is one the dead letters have, or None. Anything else shows nothing."""
    outcome = error = None
    if (offset := _number(query, "replayed_offset")) is not None:
        row = next((r for r in rows if r["offset"] == offset), None)
        outcome = (_("Bericht %(offset)s is opnieuw aangeboden (%(reason)s, naar %(topic)s).")
                   % {"offset": offset, "reason": row["reason"], "topic": row["topic"]}
                   if row else _("Bericht %(offset)s is opnieuw aangeboden.")
                   % {"offset": offset})
    elif (replayed := _number(query, "replayed")) is not None and (
            skipped := _number(query, "skipped")) is not None:
        outcome = _("%(replayed)s bericht(en) opnieuw aangeboden%(reason)s; %(skipped)s"
                    " overgeslagen (niet opnieuw aan te bieden, of een andere reden).") % {
            "replayed": replayed, "reason": f" ({reason})" if reason else "",
            "skipped": skipped}
    if (offset := _number(query, "missing")) is not None:
        error = _("Er is geen onbestelbaar bericht %(offset)s.") % {"offset": offset}
    elif (offset := _number(query, "not_replayable")) is not None:
        error = _("Bericht %(offset)s kan niet opnieuw worden aangeboden: alleen signalen, en"
                  " meldingen die niet bezorgd konden worden.") % {"offset": offset}
    return outcome, error


async def _form(request: Request) -> dict[str, str]:
    """The url-encoded form (small: no multipart), after the CSRF check."""
    values = await read_form(request, limit=10_000)
    check_csrf(request, values)
    return values


def _back(reason: str | None, **numbers: int) -> RedirectResponse:
    """Back to the list (of ``reason``) with what happened as codes and numbers only; the
    page makes the sentence (:func:`_notices`)."""
    query = {**({"reason": reason} if reason else {}), **numbers}
    return RedirectResponse(f"/operator/deadletters?{urlencode(query)}", status_code=303)


@router.post("/operator/deadletters/replay")
async def replay_page(request: Request, user: Operator) -> RedirectResponse:
    """Replay one dead letter (``offset``) or all not replayed yet (``all``, optionally
    of one ``reason``); back to the list with the outcome."""
    form = await _form(request)
    deps = _deps(request)
    reason = form.get("reason") or None
    if form.get("offset"):
        offset = _number(form, "offset")
        if offset is None:
            raise HTTPException(422, "offset must be a whole number of 0 or more")
        try:
            done = await run_in_threadpool(replay_one, deps.conn, offset)
        except LookupError:
            return _back(reason, missing=offset)
        except ValueError:
            return _back(reason, not_replayable=offset)
        result = {"replayed_offset": offset}
    elif form.get("all"):
        replayed, skipped = await run_in_threadpool(replay_deadletters, deps.conn, reason)
        done = f"replayed {replayed} dead letter(s) of {reason or 'any reason'}; skipped {skipped}"
        result = {"replayed": replayed, "skipped": skipped}
    else:
        raise HTTPException(422, "name an offset, or all")
    await run_in_threadpool(_audit, deps, user, done)
    return _back(reason, **result)


def _audit(deps: WebDeps, user: User, outcome: str) -> None:
    record_access(deps, name="replay-deadletters", reason_code="DEADLETTER_REPLAY",
                  username=user.username)
    log.info("dead letters replayed", user=user.username,
                                        outcome=outcome)
