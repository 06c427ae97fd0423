"""The metrics table of docs/operations.md against what a running hub serves at /metrics:
the same families, types and label names, and names that follow the conventions."""

from __future__ import annotations

import re
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from hub.app import HubProcess
from hub.config import load_config
from hub.settings import Settings

ROOT = Path(__file__).parent.parent
DOC = ROOT / "docs" / "operations.md"
#: labels prometheus-client adds to a histogram's samples
_SAMPLE_LABELS = {"le"}
#: the suffixes of the hub's own families: a base unit, or ``_total`` for a counter
_UNITS = ("_seconds", "_bytes", "_messages", "_total")


def documented() -> dict[str, tuple[str, set[str]]]:
    """name -> (type, label names) from the table between the ``metrics-table`` markers."""
    text = DOC.read_text()
    table = text.split("<!-- metrics-table -->")[1].split("<!-- /metrics-table -->")[0]
    rows: dict[str, tuple[str, set[str]]] = {}
    for line in table.strip().splitlines()[2:]:
        name, kind, labels, meaning = (c.strip() for c in line.strip().strip("|").split("|"))
        assert meaning, f"{name}: no meaning"
        assert name not in rows, f"{name} twice"
        rows[name.strip("`")] = (kind, set(re.findall(r"`([a-z_]+)`", labels)))
    return rows


def youth(bsn: str, postcode: str) -> dict[str, Any]:
    turns = (date.today() + timedelta(days=120)).isoformat()
    return {"bsn": bsn, "municipality_code": "GM9999", "postcode": postcode,
            "turns_18_on": turns, "planned_end_date": turns, "care_form": "FOSTER",
            "support_needs": ["HOUSING"], "provider_contact_role": "mentor"}


def served(text: str) -> tuple[dict[str, tuple[str, set[str], int]], set[str]]:
    """name (as exposed: counters with ``_total``) -> (type, label names, samples), and
    the names of the ``_created`` gauges prometheus-client adds (the docs say so)."""
    out: dict[str, tuple[str, set[str], int]] = {}
    created: set[str] = set()
    for family in text_string_to_metric_families(text):
        if family.name.endswith("_created") and family.type == "gauge":
            created.add(family.name)
            continue
        name = family.name + ("_total" if family.type == "counter" else "")
        labels = {k for s in family.samples for k in s.labels} - _SAMPLE_LABELS
        out[name] = (family.type, labels, len(family.samples))
    return out, created


def scrape_after_traffic(tmp_path: Path
                         ) -> tuple[dict[str, tuple[str, set[str], int]], set[str]]:
    """Start a hub (embedded bus), send it a signal that is refused and one outside every
    area (a dead letter), and scrape /metrics once the router has decided both."""
    settings = Settings(bus=f"embedded:{tmp_path / 'hub.db'}", state_dir=tmp_path / "state",
                        metrics={"address": "127.0.0.1:0"},
                        pseudonym_secrets={"GM9999": SecretStr("d" * 40)})
    process = HubProcess(settings, load_config(ROOT / "examples" / "hub.yaml"), port=0,
                         web_port=None)
    process.start()
    try:
        assert process.sources is not None and process.metrics_url is not None
        _, key = process.sources.add("metrics-docs", "urn:nld:oin:00000009999999999777",
                                     ["youth-care-exit"])
        with httpx.Client(timeout=30, trust_env=False) as http:
            for postcode in ("7530CD", "1011AB"):
                r = http.post(f"{process.url}/v1/signals/youth-care-exit",
                              json=youth("111222333", postcode),
                              headers={"Authorization": f"Bearer {key}"})
                assert r.status_code == 202, r.text
            deadline = time.monotonic() + 90
            while True:
                families, created = served(http.get(process.metrics_url).text)
                if all(families.get(n, ("", set(), 0))[2] for n in (
                        "signalhub_router_decisions_total", "signalhub_dead_letters_total",
                        "signalhub_events_consumed_total")):
                    return families, created
                assert time.monotonic() < deadline, f"not routed: {process.counts()}"
                time.sleep(0.3)
    finally:
        process.stop()


def test_the_docs_table_lists_what_a_running_hub_serves(tmp_path: Path) -> None:
    docs = documented()
    families, created = scrape_after_traffic(tmp_path)
    own = {n.removesuffix("_total") for n, (k, _) in docs.items()
           if n.startswith("signalhub_") and k in ("counter", "histogram")}
    assert {n.removesuffix("_created") for n in created} == own
    assert sorted(families) == sorted(docs)
    for name, (kind, labels) in docs.items():
        served_kind, served_labels, samples = families[name]
        assert served_kind == kind, name
        if name.startswith("signalhub_"):  # every family of the hub has samples by now
            assert samples, name
        if samples:
            assert served_labels == labels, name


def test_names_follow_the_conventions() -> None:
    docs = documented()
    own = [n for n in docs if not n.startswith(("process_", "python_"))]
    assert own and all(n.startswith("signalhub_") for n in own)
    for name in own:
        assert name.endswith(_UNITS), f"{name}: no unit suffix"
    for name, (kind, labels) in docs.items():
        assert re.fullmatch(r"[a-z][a-z0-9_]*", name), name
        assert (kind == "counter") == name.endswith("_total"), name
        assert all(re.fullmatch(r"[a-z][a-z0-9_]*", label) for label in labels), name
    all_labels = {label for _, labels in docs.values() for label in labels}
    assert "reason_code" not in all_labels  # one name per meaning: `reason`
    assert not all_labels & {"bsn", "subject_ref", "pseudonym", "postcode", "event_id",
                             "alert_id", "path", "trace_id"}
