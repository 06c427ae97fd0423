"""The hub's container image on a Debian base made with debootstrap, for machines that
reach no image registry (our CI machines, air-gapped build hosts).

``ensure_base()`` makes a minimal Debian bookworm root file system with python3 and its
venv module (``debootstrap --variant=minbase`` from the Debian mirror the host's apt uses),
packs it once as a tarball under ``$HUB_CACHE_DIR/container/`` (default
``~/.cache/signalhub``) and imports it into podman as :data:`BASE_IMAGE`.
``build_image()`` builds the ``Containerfile`` of the checkout on that base
(``--build-arg BASE_IMAGE=...``): pip installs the hub from the source tree and its
dependencies from PyPI. Podman keeps the layers, so a second build only redoes what
changed (the hub's code: seconds; ``pyproject.toml``: the dependencies again).

The base trusts the certificate authorities the host added to its own store
(``/usr/local/share/ca-certificates``), so pip inside the build gets through a
TLS-inspecting proxy the host trusts. debootstrap needs root.

``python -m hub.devtools.container_image`` (``make container-image``) does both and prints
the image's name.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from hub.devtools.local_kafka import default_cache_dir
from hub.devtools.podman import Podman
from hub.errors import ContainerToolError

__all__ = [
    "BASE_IMAGE",
    "IMAGE",
    "PACKAGES",
    "SUITE",
    "build_image",
    "debian_mirror",
    "ensure_base",
    "main",
]

SUITE = "bookworm"
PACKAGES = ("python3", "python3-venv", "ca-certificates")
DEFAULT_MIRROR = "http://deb.debian.org/debian"
_RECIPE = hashlib.sha256(f"{SUITE} minbase {' '.join(PACKAGES)} v1".encode()).hexdigest()[:10]
#: the debootstrapped base in podman's image store; the tag changes with the recipe
BASE_IMAGE = f"localhost/signalhub-base:{SUITE}-{_RECIPE}"
#: the hub's image as the tooling builds it
IMAGE = "localhost/signalhub:dev"
ROOT = Path(__file__).resolve().parents[2]
DEBOOTSTRAP_TIMEOUT_S = 1200.0
BUILD_TIMEOUT_S = 1800.0
#: bulky parts of the root file system that no container needs
_PRUNE = ("var/cache/apt/archives", "var/lib/apt/lists", "usr/share/doc", "usr/share/man",
          "usr/share/info", "usr/share/locale")
_LOCAL_CAS = Path("/usr/local/share/ca-certificates")


def debian_mirror(sources: Sequence[Path] | None = None) -> str:
    """The Debian mirror the host's apt uses for the main archive (deb822 ``URIs:`` or a
    one-line ``deb URL suite``), else :data:`DEFAULT_MIRROR`."""
    if sources is None:
        apt = Path("/etc/apt")
        sources = [apt / "sources.list", *sorted((apt / "sources.list.d").glob("*"))]
    for path in sources:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for url in re.findall(r"^\s*(?:URIs:|deb(?:\s+\[[^\]]*\])?)\s+(\S+)", text, re.M):
            if re.search(r"/debian/?$", url):
                return str(url).rstrip("/")
    return DEFAULT_MIRROR


def _run(cmd: Sequence[str], what: str, timeout: float) -> None:
    try:
        done = subprocess.run(list(cmd), stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise ContainerToolError(f"{what} did not finish within {timeout:.0f}s") from exc
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-30:])
        raise ContainerToolError(f"{what} failed (exit {done.returncode}): "
                                 f"{' '.join(cmd)}\n{tail}")


def _debootstrap(rootfs: Path, mirror: str) -> None:
    tool = shutil.which("debootstrap") or (
        "/usr/sbin/debootstrap" if Path("/usr/sbin/debootstrap").is_file() else None)
    if tool is None:
        raise ContainerToolError("`debootstrap` not found: `make container-deps` as root"
                                 " installs it (apt-get install debootstrap)")
    if os.geteuid() != 0:
        raise ContainerToolError("debootstrap needs root: run `make container-image` as"
                                 " root once (the tarball is cached), or build the"
                                 " Containerfile on the default python:3.12-slim base")
    _run([tool, "--variant=minbase", f"--include={','.join(PACKAGES)}", SUITE,
          str(rootfs), mirror], f"debootstrap of Debian {SUITE} from {mirror}",
         DEBOOTSTRAP_TIMEOUT_S)


def _trust_host_cas(rootfs: Path) -> None:
    """Copy the host's locally added CA certificates into the root file system."""
    added = sorted(_LOCAL_CAS.glob("*.crt")) if _LOCAL_CAS.is_dir() else []
    if not added:
        return
    target = rootfs / "usr/local/share/ca-certificates"
    target.mkdir(parents=True, exist_ok=True)
    for cert in added:
        shutil.copyfile(cert, target / cert.name)
    _run(["chroot", str(rootfs), "update-ca-certificates"], "update-ca-certificates", 120.0)


def base_tarball(cache_dir: Path | None = None, mirror: str | None = None) -> Path:
    """The cached tarball of the Debian base, made by debootstrap on first use."""
    folder = (cache_dir if cache_dir is not None else default_cache_dir()) / "container"
    tarball = folder / f"debian-{SUITE}-python3-{_RECIPE}.tar"
    if tarball.is_file():
        return tarball
    folder.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="rootfs-", dir=folder))
    try:
        rootfs = work / "rootfs"
        _debootstrap(rootfs, mirror or debian_mirror())
        _trust_host_cas(rootfs)
        for part in _PRUNE:
            for child in (rootfs / part).glob("*"):
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child)
                else:
                    child.unlink()
        partial = work / "base.tar"
        _run(["tar", "--numeric-owner", "-C", str(rootfs), "-cf", str(partial), "."],
             "packing the Debian base", 600.0)
        partial.replace(tarball)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return tarball


def ensure_base(podman: Podman, mirror: str | None = None) -> str:
    """:data:`BASE_IMAGE` in podman's store (imported from the cached tarball, which
    debootstrap makes first if needed); returns its name."""
    if not podman.image_exists(BASE_IMAGE):
        tarball = base_tarball(podman.cache_dir, mirror)
        podman.run("import", "--change", 'CMD ["/usr/bin/python3"]',
                   "--change", "ENV LANG=C.UTF-8", str(tarball), BASE_IMAGE, timeout=600.0)
    return BASE_IMAGE


def build_image(podman: Podman, base: str | None = None, tag: str = IMAGE,
                context: Path = ROOT) -> str:
    """Build ``context/Containerfile`` on ``base`` (default: :func:`ensure_base`) as
    ``tag``, with the host's network (pip reaches PyPI like the host does); Docker format,
    so the image keeps its HEALTHCHECK. Returns ``tag``."""
    containerfile = context / "Containerfile"
    if not containerfile.is_file():
        raise ContainerToolError(f"{containerfile} not found: run from a source checkout")
    base = base or ensure_base(podman)
    podman.run("build", "--format", "docker", "--network", "host", "--layers",
               "--build-arg", f"BASE_IMAGE={base}", "--tag", tag,
               "--file", str(containerfile), str(context), timeout=BUILD_TIMEOUT_S)
    return tag


def main(argv: Sequence[str] | None = None) -> int:
    """Build the Debian base (once) and the hub's image; print the image's name."""
    parser = argparse.ArgumentParser(
        prog="python -m hub.devtools.container_image",
        description="Build the hub's container image with podman on a Debian bookworm base"
        " made by debootstrap (cached under $HUB_CACHE_DIR/container, default"
        " ~/.cache/signalhub). Needs root the first time (debootstrap).")
    parser.add_argument("--tag", default=IMAGE, help=f"the image's name (default {IMAGE})")
    parser.add_argument("--mirror", default=None,
                        help="Debian mirror for debootstrap (default: the host's apt mirror)")
    args = parser.parse_args(argv)
    try:
        podman = Podman.find()
        base = ensure_base(podman, args.mirror)
        print(f"base image {base}", flush=True)
        print(f"hub image {build_image(podman, base, args.tag)}", flush=True)
    except ContainerToolError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
