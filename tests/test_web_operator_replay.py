"""The operator's dead-letter replay over HTTP: the redirect carries codes and numbers
only, the page makes the sentence, and text put in the query string never shows."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.test_metrics import route_signals
from tests.test_web_inbox import WebServer, csrf, sign_in, start_web

CRAFTED = "Uw account is geblokkeerd, bel 0900-1234"


@pytest.fixture
def web(tmp_path: Path) -> Iterator[WebServer]:
    server, stop = start_web(tmp_path)
    try:
        router, _ = route_signals(server.conn, tmp_path / "router", n=2, outside=2)
        router.close()  # it wrote two dead letters
        yield server
    finally:
        stop()


def _notices(page: httpx.Response) -> tuple[str | None, str | None]:
    """The texts of the page's notice (``#outcome``) and error (``#outcome-error``)."""
    found = [re.search(rf'id="{name}">(.*?)</p>', page.text, re.S)
             for name in ("outcome", "outcome-error")]
    return tuple(re.sub(r"<[^>]+>", "", m.group(1)).strip() if m else None
                 for m in found)  # type: ignore[return-value]


def _visible(page: httpx.Response) -> str:
    """The page's main content as text and attribute values (not the language switch's
    link back to this address)."""
    return page.text.split('<main', 1)[1]


def _offsets(page: httpx.Response) -> list[int]:
    return [int(o) for o in re.findall(r'data-offset="(\d+)"', page.text)]


def test_a_crafted_query_string_shows_no_text(web: WebServer) -> None:
    olga = sign_in(web, "olga")
    for query in ({"outcome": CRAFTED}, {"error": CRAFTED}, {"reason": CRAFTED},
                  {"replayed_offset": CRAFTED}, {"missing": "-1"}, {"missing": "1e3"},
                  {"replayed": "2"}, {"replayed": "x", "skipped": "1"},
                  {"not_replayable": "٣"}, {"replayed_offset": "9" * 19}):
        page = olga.get("/operator/deadletters", params=query)
        assert page.status_code == 200, query
        assert _notices(page) == (None, None), query
        assert "geblokkeerd" not in _visible(page), query
    # a reason is named only when the dead letters have it (another is no filter at all)
    page = olga.get("/operator/deadletters",
                    params={"replayed": "1", "skipped": "0", "reason": CRAFTED})
    assert _notices(page) == ("1 bericht(en) opnieuw aangeboden; 0 overgeslagen (niet"
                              " opnieuw aan te bieden, of een andere reden).", None)


def test_replay_redirects_with_numbers_and_the_page_says_what_happened(
        web: WebServer) -> None:
    olga = sign_in(web, "olga")
    listing = olga.get("/operator/deadletters")
    token, offsets = csrf(listing.text), _offsets(listing)
    assert len(offsets) == 2
    (reason,) = set(re.findall(r'<option value="([A-Z_]+)"', listing.text))

    r = olga.post("/operator/deadletters/replay",
                  data={"csrf_token": token, "offset": str(offsets[0])})
    assert r.status_code == 303
    assert r.headers["location"] == f"/operator/deadletters?replayed_offset={offsets[0]}"
    assert _notices(olga.get(r.headers["location"])) == (
        f"Bericht {offsets[0]} is opnieuw aangeboden ({reason}, naar signals.debt.v1).", None)

    r = olga.post("/operator/deadletters/replay",
                  data={"csrf_token": token, "offset": "9999"})
    assert r.headers["location"] == "/operator/deadletters?missing=9999"
    assert _notices(olga.get(r.headers["location"])) == (
        None, "! Er is geen onbestelbaar bericht 9999.")

    r = olga.post("/operator/deadletters/replay",
                  data={"csrf_token": token, "all": "1", "reason": reason})
    assert r.headers["location"] == (
        f"/operator/deadletters?reason={reason}&replayed=2&skipped=0")
    assert _notices(olga.get(r.headers["location"])) == (
        f"2 bericht(en) opnieuw aangeboden ({reason}); 0 overgeslagen (niet opnieuw aan te"
        " bieden, of een andere reden).", None)
    assert "opnieuw aangeboden" not in r.headers["location"]

    for bad in ("-1", "abc", "1.5", ""):
        r = olga.post("/operator/deadletters/replay",
                      data={"csrf_token": token, "offset": bad, "all": ""})
        assert r.status_code == 422, bad
