"""The consumer examples of docs/schemas.md ("Reading the hub's topics from another
system"): the Python one, taken from the doc as it stands, runs against a real Kafka
broker and a real Apicurio Registry and decodes an alert the router made; the subject it
was registered under is the one the doc names. The Java one is shown, not run."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from hub.bus.base import Record
from hub.config import load_config
from hub.connect import connect
from hub.router import ALERT_TYPE, Router, alert_id_for
from hub.samples import sample_debt
from hub.settings import Settings
from hub.topics import SIGNAL_TOPICS, alerts_topic

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "schemas.md"
EXAMPLE = ROOT / "examples" / "hub.yaml"


def code_block(heading: str, language: str) -> str:
    """The first ``language`` code block after ``heading`` in docs/schemas.md."""
    text = DOC.read_text(encoding="utf-8")
    after = text[text.index(heading + "\n"):]
    found = re.search(rf"^```{language}\n(.*?)^```$", after, re.DOTALL | re.MULTILINE)
    assert found is not None, f"no {language} block after {heading!r}"
    return found.group(1)


@pytest.mark.kafka
@pytest.mark.registry
@pytest.mark.timeout(300)
def test_the_python_consumer_example_decodes_an_alert(
    kafka_bootstrap: str, apicurio_url: str, tmp_path: Path
) -> None:
    team = f"schuldhulp-{uuid.uuid4().hex[:8]}"
    prefix = f"consumer-{uuid.uuid4().hex[:8]}."  # this test's topics and subjects
    example = tmp_path / "hub.yaml"
    example.write_text(EXAMPLE.read_text(encoding="utf-8").replace("schuldhulp-centrum", team))
    settings = Settings(bus=f"kafka://{kafka_bootstrap}", registry_url=apicurio_url,
                        topic_prefix=prefix)
    signal = sample_debt().model_copy(update={"objection_recorded": False, "crisis": True})
    with connect(settings) as conn:
        router = Router(conn, load_config(example), tmp_path / "state", group="router")
        try:
            router.ensure_topics()
            topic = SIGNAL_TOPICS["debt-signal"]
            conn.bus.produce([Record(topic, conn.serde.encode_model(topic, signal),
                                     signal.subject_ref.encode())])
            deadline = time.monotonic() + 120
            while not any(conn.bus.end_offsets(alerts_topic(team)).values()):
                assert time.monotonic() < deadline, "the router made no alert"
                router.step(timeout=0.5)
        finally:
            router.close()
    on_broker = f"{prefix}{alerts_topic(team)}"
    subjects = httpx.get(f"{apicurio_url}/subjects", timeout=10).json()
    assert f"{on_broker}-nl.signalhub.v1.TeamAlert" in subjects  # as docs/schemas.md says
    assert "`alerts.<team>.v1-nl.signalhub.v1.TeamAlert`" in DOC.read_text(encoding="utf-8")

    program = code_block("### Python (confluent-kafka)", "python")
    env = {**os.environ, "TOPIC": on_broker, "REGISTRY_URL": apicurio_url,
           "BOOTSTRAP": kafka_bootstrap, "GROUP": f"case-system-{uuid.uuid4().hex[:8]}",
           "MAX_ALERTS": "1"}
    done = subprocess.run([sys.executable, "-c", program], env=env, capture_output=True,
                          text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    [line] = done.stdout.splitlines()
    alert_id, ce_type, event_type, urgency, rest = line.split(" ", 4)
    assert alert_id == alert_id_for(signal.event_id, team)
    assert (ce_type, event_type, urgency) == (ALERT_TYPE, "debt-signal", "URGENT")
    assert "creditor_type" in rest  # the alert's fields, decoded to a dict


def test_the_java_example_names_the_hub_subject_strategy() -> None:
    java = code_block("### Java (Kafka clients and Confluent's KafkaAvroDeserializer)", "java")
    assert "KafkaAvroDeserializer.class" in java
    assert re.search(r'"value\.subject\.name\.strategy",\s*'
                     r'"io\.confluent\.kafka\.serializers\.subject\.TopicRecordNameStrategy"', java)
    assert '"read_committed"' in java
