"""The operator dashboard in a real browser (Playwright, Debian's chromium): sign in,
watch the flow view update, replay a dead letter; no personal data on the pages."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from hub.accounts import UserStore
from hub.config import load_config
from hub.connect import connect
from hub.inbox import InboxStore
from hub.intake import SignalPublisher
from hub.samples import sample_debt
from hub.serving import serve, server_address, stop
from hub.settings import Settings
from hub.web.app import create_web_app
from hub.web.deps import WebDeps
from hub.web.operator import safe_text
from tests.test_metrics import EXAMPLE, route_signals

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).parent.parent / "test-artifacts"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def test_safe_text_masks_personal_data() -> None:
    text = safe_text("subject ps1-0123abcd at 7512 AB, bsn 123456782, area 7511 for debt")
    assert "ps1-0123" not in text and "7512 AB" not in text and "123456782" not in text
    assert "area 7511 for debt" in text


def test_operator_dashboard_in_browser(tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium")
    settings = Settings(bus=f"embedded:{tmp_path / 'hub.db'}")
    with connect(settings) as conn, connect(settings) as web_conn:
        router, signals = route_signals(conn, tmp_path / "router", n=6, outside=2)
        users = UserStore(tmp_path / "users.db")
        users.add("ops", "operator-password", role="operator")
        inbox = InboxStore(tmp_path / "inbox.db")
        deps = WebDeps(conn=web_conn, config=load_config(EXAMPLE), inbox=inbox, users=users,
                       secret_key="s" * 48, state_dir=tmp_path, counts=lambda: router.counts)
        server, thread = serve(create_web_app(deps), "127.0.0.1", 0)
        host, port = server_address(server)
        base = f"http://{host}:{port}"
        try:
            with sync_api.sync_playwright() as p:
                browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
                page = browser.new_page(viewport={"width": 1400, "height": 1100}, locale="nl-NL")
                page.goto(f"{base}/operator")  # -> the login form
                page.fill("input[name=username]", "ops")
                page.fill("input[name=password]", "operator-password")
                page.click("button[type=submit]")
                page.wait_for_url(f"{base}/operator")
                total = page.locator('[id="total-signals.debt.v1"]')
                assert total.text_content() == f"{len(signals)} berichten"
                assert "NO_TEAM" in page.inner_text("body") or \
                    "UNKNOWN_MUNICIPALITY" in page.inner_text("body")

                # more signals are routed: the picture follows within a poll or two
                rng = random.Random(99)
                more = [sample_debt(rng) for _ in range(5)]
                SignalPublisher(conn.bus, conn.serde).publish([("debt-signal", s) for s in more])
                handled = 0
                for _ in range(40):
                    handled += router.step(timeout=0.5)
                    if handled >= len(more):
                        break
                signals += more
                sync_api.expect(total).to_have_text(f"{len(signals)} berichten", timeout=10_000)
                rate = page.locator('[id="rate-in:signals.debt.v1"]')
                sync_api.expect(rate).not_to_have_text("– per s", timeout=10_000)
                ARTIFACTS.mkdir(exist_ok=True)
                page.screenshot(path=str(ARTIFACTS / "flow.png"), full_page=True)
                texts = [page.inner_text("body")]

                # replay one dead letter and see the outcome
                page.goto(f"{base}/operator/deadletters")
                rows = page.locator("#deadletters tbody tr")
                assert rows.count() == 2
                offset = rows.first.get_attribute("data-offset")
                rows.first.locator("button").click()
                page.wait_for_url(re.compile(r".*/operator/deadletters\?replayed_offset=\d+$"))
                outcome = page.locator("#outcome").inner_text()
                assert outcome.startswith(f"Bericht {offset} is opnieuw aangeboden (")
                assert "signals.debt.v1" in outcome
                texts.append(page.inner_text("body"))

                # replay all: once, then nothing is left to replay
                page.click("#replay-all button")
                page.wait_for_url(re.compile(r".*\?replayed=\d+&skipped=\d+$"))
                outcome = page.locator("#outcome").inner_text()
                assert outcome.startswith("2 bericht(en) opnieuw aangeboden")
                page.click("#replay-all button")
                page.wait_for_url(re.compile(r".*\?replayed=0&skipped=\d+$"))
                outcome = page.locator("#outcome").inner_text()
                assert outcome.startswith("0 bericht(en) opnieuw aangeboden")
                texts.append(page.inner_text("body"))
                texts.append(page.content())
                browser.close()
        finally:
            stop(server, thread)
            router.close()
            users.close()
            inbox.close()
        page_text = "\n".join(texts)
        assert "ps1-" not in page_text and "ps-" not in page_text.replace("ps-…", "")
        for s in signals:
            assert s.subject_ref not in page_text
            assert s.postcode not in page_text
            assert str(s.event_id) not in page_text
        # a replayed signal reached the bus again
        assert sum(conn.bus.end_offsets("signals.debt.v1").values()) == len(signals) + 3
