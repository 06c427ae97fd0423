"""The container tooling's pure parts: which Debian mirror debootstrap uses and the
containers.conf podman runs with (the real podman is in test_container.py)."""

from __future__ import annotations

import tomllib
from pathlib import Path

from hub.devtools.container_image import DEFAULT_MIRROR, debian_mirror
from hub.devtools.podman import containers_conf


def test_the_mirror_comes_from_the_hosts_apt_sources(tmp_path: Path) -> None:
    deb822 = tmp_path / "debian.sources"
    deb822.write_text("Types: deb\nURIs: http://mirror.example/debian/\nSuites: bookworm\n"
                      "Types: deb\nURIs: http://mirror.example/debian-security\n")
    one_line = tmp_path / "sources.list"
    one_line.write_text("# deb http://old.example/debian bookworm main\n"
                        "deb [arch=amd64] https://apt.example/debian bookworm main\n")
    other = tmp_path / "nodesource.list"
    other.write_text("deb https://deb.nodesource.com/node_20.x nodistro main\n")
    assert debian_mirror([other, deb822]) == "http://mirror.example/debian"
    assert debian_mirror([one_line]) == "https://apt.example/debian"
    assert debian_mirror([other, tmp_path / "missing.list"]) == DEFAULT_MIRROR


def test_containers_conf_lifts_no_rlimit_and_needs_no_systemd() -> None:
    conf = tomllib.loads(containers_conf("runc"))
    assert conf["containers"]["default_ulimits"] == []
    assert conf["engine"] == {"cgroup_manager": "cgroupfs", "events_logger": "file",
                              "runtime": "runc"}
    assert "runtime" not in tomllib.loads(containers_conf(None))["engine"]
