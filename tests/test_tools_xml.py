"""The Maven projects under tools/ are well-formed XML: Maven refuses a file that is not
(e.g. ``--`` inside a comment), and on a fresh machine the Kafka and registry tooling
would then fetch nothing."""

from __future__ import annotations

import xml.dom.minidom
from pathlib import Path

import pytest

TOOLS = Path(__file__).resolve().parent.parent / "tools"
XML_FILES = sorted(TOOLS.rglob("*.xml"))


def test_the_tools_have_maven_projects() -> None:
    assert {p.parent.name for p in XML_FILES if p.name == "pom.xml"} >= {"kafka", "apicurio"}


@pytest.mark.parametrize("path", XML_FILES, ids=lambda p: str(p.relative_to(TOOLS)))
def test_xml_is_well_formed(path: Path) -> None:
    xml.dom.minidom.parse(str(path))  # raises ExpatError naming the line and column
