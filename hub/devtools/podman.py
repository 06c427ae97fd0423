"""Podman, the way the project's container tooling runs it (tests and ``make container-image``).

:class:`Podman` runs the ``podman`` command with a ``containers.conf`` of its own
(``CONTAINERS_CONF``, written to ``$HUB_CACHE_DIR/podman/containers.conf``) that makes
podman work inside a sandbox like our CI machines:

- ``default_ulimits = []``: podman would otherwise raise the open-files limit of every
  container, which a sandbox that forbids raising rlimits refuses;
- ``cgroup_manager = "cgroupfs"`` and ``events_logger = "file"``: there is no systemd;
- ``runtime = "runc"`` when runc is installed: crun refuses hosts with cgroups in hybrid
  mode (v1 controllers with a v2 hierarchy beside them), runc runs there.

Containers use the host's network (``--network host``): no bridge, no slirp4netns or
passt, and a container reaches services on the host's 127.0.0.1 (the test broker).
Every failure is a :class:`~hub.errors.ContainerToolError` that names the command and
ends with its last lines of output.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from hub.devtools.local_kafka import default_cache_dir
from hub.errors import ContainerToolError

__all__ = ["PODMAN_HINT", "Podman", "containers_conf"]

PODMAN_HINT = (
    "install Debian's podman and runc (`make container-deps` as root does: "
    "apt-get install --no-install-recommends podman runc debootstrap)"
)


def containers_conf(runtime: str | None) -> str:
    """The text of the ``containers.conf`` the tooling runs podman with."""
    engine = ['cgroup_manager = "cgroupfs"', 'events_logger = "file"']
    if runtime:
        engine.append(f'runtime = "{runtime}"')
    return "\n".join([
        "# written by hub.devtools.podman: podman in a sandbox without systemd that",
        "# forbids raising rlimits (see the module's docstring)",
        "[containers]",
        "default_ulimits = []",
        "[engine]",
        *engine,
        "",
    ])


def _tail(text: str, lines: int = 30) -> str:
    return "\n".join(text.strip().splitlines()[-lines:]) or "(no output)"


@dataclass
class Podman:
    """Runs ``podman`` with the tooling's ``containers.conf``."""

    cache_dir: Path
    executable: str

    @classmethod
    def find(cls, cache_dir: Path | None = None) -> Podman:
        """The podman on PATH; :class:`ContainerToolError` with install advice if none."""
        executable = shutil.which("podman")
        if executable is None:
            raise ContainerToolError(f"`podman` not found: {PODMAN_HINT}")
        return cls(cache_dir if cache_dir is not None else default_cache_dir(), executable)

    @property
    def conf_path(self) -> Path:
        return self.cache_dir / "podman" / "containers.conf"

    def env(self) -> dict[str, str]:
        """The environment for podman: ours with ``CONTAINERS_CONF`` pointing at the
        tooling's file (written when missing or different)."""
        text = containers_conf("runc" if shutil.which("runc") else None)
        path = self.conf_path
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(text, encoding="utf-8")
            tmp.replace(path)
        return {**os.environ, "CONTAINERS_CONF": str(path)}

    def command(self, *args: str) -> list[str]:
        """The argument list that runs ``podman args...``."""
        return [self.executable, *args]

    def run(self, *args: str, timeout: float = 120.0, check: bool = True,
            stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run ``podman args...`` to the end and return what it printed; a non-zero exit
        (with ``check``) or a timeout is a :class:`ContainerToolError`."""
        shown = "podman " + " ".join(args)
        try:
            done = subprocess.run(self.command(*args), env=self.env(), input=stdin,
                                  stdin=None if stdin is not None else subprocess.DEVNULL,
                                  capture_output=True, text=True, timeout=timeout,
                                  check=False)
        except subprocess.TimeoutExpired as exc:
            out = (exc.stdout or b"") + (exc.stderr or b"")
            text = out.decode(errors="replace") if isinstance(out, bytes) else str(out)
            raise ContainerToolError(
                f"`{shown}` did not finish within {timeout:.0f}s:\n{_tail(text)}") from exc
        if check and done.returncode != 0:
            raise ContainerToolError(f"`{shown}` failed (exit {done.returncode}):\n"
                                     f"{_tail(done.stdout + done.stderr)}")
        return done

    def image_exists(self, name: str) -> bool:
        """True when the local image store has ``name``."""
        return self.run("image", "exists", name, check=False).returncode == 0

    def remove(self, kind: str, names: Sequence[str]) -> None:
        """Remove containers (``kind`` "container") or volumes ("volume"), ignoring the
        ones that are already gone."""
        if names:
            self.run(kind, "rm", "--force", *names, timeout=60.0, check=False)

    def check_runs(self, image: str) -> None:
        """Run ``true`` in ``image``: a :class:`ContainerToolError` with podman's message
        when this machine cannot run containers at all."""
        self.run("run", "--rm", "--network", "host", image, "true", timeout=60.0)
