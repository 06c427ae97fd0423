"""The installed wheel holds the product: the hub, the connectors, the schemas and the
examples; not the test and development tooling (hub/devtools) nor the tests."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel_names(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "hatchling", "build", "--target", "wheel",
                    "--directory", str(out)], cwd=ROOT, check=True, capture_output=True,
                   timeout=300)
    (wheel,) = out.glob("signalhub-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        return archive.namelist()


def test_the_wheel_has_no_development_tooling_and_no_tests(wheel_names: list[str]) -> None:
    assert not [n for n in wheel_names if n.startswith("hub/devtools/")]
    assert not [n for n in wheel_names if n.startswith("tests/") or "/tests/" in n]
    assert not [n for n in wheel_names if n.split("/")[0] in {"bench", "tools", "docs"}]


def test_the_wheel_has_the_product(wheel_names: list[str]) -> None:
    names = set(wheel_names)
    assert {"hub/cli.py", "hub/py.typed", "connectors/__init__.py",
            "hub/_examples/hub.yaml", "hub/_examples/signals/debt.json"} <= names
    shipped = {n.removeprefix("hub/_schemas/") for n in names if n.startswith("hub/_schemas/")}
    in_tree = {p.relative_to(ROOT / "schemas").as_posix()
               for p in (ROOT / "schemas").rglob("*.avsc")}
    assert in_tree and in_tree <= shipped
    assert any(n.endswith(".dist-info/entry_points.txt") for n in names)


def test_nothing_the_installed_command_runs_imports_the_tooling() -> None:
    """The CLI and everything it loads work without hub.devtools (the wheel lacks it)."""
    code = ("import sys, importlib.abc\n"
            "class NoDevtools(importlib.abc.MetaPathFinder):\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            "        if name == 'hub.devtools' or name.startswith('hub.devtools.'):\n"
            "            raise ImportError(name + ' is not installed')\n"
            "sys.meta_path.insert(0, NoDevtools())\n"
            "import pkgutil, hub, connectors\n"
            "for package in (hub, connectors):\n"
            "    for m in pkgutil.walk_packages(package.__path__, package.__name__ + '.'):\n"
            "        if not m.name.startswith('hub.devtools'):\n"
            "            __import__(m.name)\n"
            "from hub.cli import main\n"
            "main(['--help'])\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Usage: " in result.stdout
