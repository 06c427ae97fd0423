"""Find and load the Avro schemas (``schemas/*.avsc``), the contract of the whole system.

One record per file, the file named after the record (``DebtSignal.avsc``). Released
versions live beside them as ``released/<Name>.v<N>.avsc``; ``signalhub schemas check``
compares the working schema against every one of them (see ``docs/schemas.md``).

Where the schemas are, in this order:

1. the ``schemas_dir`` a caller passes: the ``HUB_SCHEMAS_DIR`` setting
   (:attr:`hub.settings.Settings.schemas_dir`, passed on by :func:`hub.connect.connect`
   to the serde and by ``signalhub schemas``); this module never reads the environment;
2. ``hub/_schemas`` inside the installed package (the wheel force-includes ``schemas/``
   there);
3. ``<repo>/schemas`` next to the ``hub`` package (a source checkout or editable install).
 Parsed
schemas are cached per file; call :func:`clear_cache` after changing files on disk.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from pathlib import Path
from typing import Any

import fastavro

from hub.errors import ConfigError, SchemaNotFound

__all__ = [
    "RELEASED_DIR",
    "clear_cache",
    "load_schema",
    "parsed_schema",
    "released_names",
    "released_path",
    "released_versions",
    "schema_names",
    "schema_path",
    "schemas_dir",
    "stray_released_files",
]

#: name of the sub-directory holding the released versions
RELEASED_DIR = "released"

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_RELEASED_FILE = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*)\.v(?P<version>[1-9][0-9]*)\.avsc$")


def schemas_dir() -> Path:
    """The shipped schema directory: the installed copy, else the repo's."""
    package = Path(__file__).resolve().parent
    installed = package / "_schemas"
    if installed.is_dir():
        return installed
    return package.parent / "schemas"


def _dir(directory: Path | str | None) -> Path:
    return Path(directory) if directory is not None else schemas_dir()


def _check_name(name: str) -> None:
    if not _NAME.match(name):
        raise SchemaNotFound(f"{name!r} is not a schema name (letters, digits and '_' only)")


def schema_path(name: str, directory: Path | str | None = None) -> Path:
    """Path of the working schema ``<dir>/<name>.avsc`` (it need not exist)."""
    _check_name(name)
    return _dir(directory) / f"{name}.avsc"


def released_path(name: str, version: int, directory: Path | str | None = None) -> Path:
    """Path of released version ``version`` of ``name`` (it need not exist)."""
    _check_name(name)
    return _dir(directory) / RELEASED_DIR / f"{name}.v{version}.avsc"


@functools.lru_cache(maxsize=256)
def _read(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise SchemaNotFound(f"no schema file {path}") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a schema file must hold one JSON object (a record)")
    return data


@functools.lru_cache(maxsize=256)
def _parse(path: Path) -> dict[str, Any]:
    try:
        parsed = fastavro.parse_schema(copy.deepcopy(_read(path)))
    except Exception as exc:  # fastavro raises several unrelated exception types
        raise ConfigError(f"{path}: not a valid Avro schema: {exc}") from exc
    if not isinstance(parsed, dict):
        raise ConfigError(f"{path}: a schema file must hold one record")
    return parsed


def load_schema(name: str, schemas_dir: Path | str | None = None) -> dict[str, Any]:
    """The working schema ``name`` as parsed JSON (a fresh copy; the file is read once).

    Raises :class:`~hub.errors.SchemaNotFound` when there is no such file and
    :class:`~hub.errors.ConfigError` when it is not a JSON object.
    """
    return copy.deepcopy(_read(schema_path(name, schemas_dir)))


def parsed_schema(name: str, schemas_dir: Path | str | None = None) -> dict[str, Any]:
    """The working schema ``name`` parsed by fastavro, ready for its readers and writers.

    Cached: treat the result as read-only. Raises :class:`~hub.errors.ConfigError` when the
    file is not a valid Avro schema.
    """
    return _parse(schema_path(name, schemas_dir))


def schema_names(schemas_dir: Path | str | None = None) -> list[str]:
    """Names of the working schemas (``<dir>/*.avsc``), sorted."""
    directory = _dir(schemas_dir)
    if not directory.is_dir():
        return []
    return sorted(p.stem for p in directory.glob("*.avsc") if _NAME.match(p.stem))


def released_versions(
    name: str, schemas_dir: Path | str | None = None
) -> list[tuple[int, dict[str, Any]]]:
    """Released versions of ``name`` as ``(version, parsed JSON)``, oldest first."""
    _check_name(name)
    found: list[tuple[int, dict[str, Any]]] = []
    released = _dir(schemas_dir) / RELEASED_DIR
    if not released.is_dir():
        return found
    for path in released.glob(f"{name}.v*.avsc"):
        match = _RELEASED_FILE.match(path.name)
        if match and match["name"] == name:
            found.append((int(match["version"]), copy.deepcopy(_read(path))))
    return sorted(found, key=lambda item: item[0])


def released_names(schemas_dir: Path | str | None = None) -> dict[str, list[int]]:
    """Every released schema name with its version numbers (sorted), by name."""
    released = _dir(schemas_dir) / RELEASED_DIR
    result: dict[str, list[int]] = {}
    if not released.is_dir():
        return result
    for path in released.glob("*.avsc"):
        match = _RELEASED_FILE.match(path.name)
        if match:
            result.setdefault(match["name"], []).append(int(match["version"]))
    return {name: sorted(versions) for name, versions in sorted(result.items())}


def stray_released_files(schemas_dir: Path | str | None = None) -> list[str]:
    """Names of ``released/*.avsc`` files that do not follow ``<Name>.v<N>.avsc``."""
    released = _dir(schemas_dir) / RELEASED_DIR
    if not released.is_dir():
        return []
    return sorted(p.name for p in released.glob("*.avsc") if not _RELEASED_FILE.match(p.name))


def clear_cache() -> None:
    """Forget every schema read so far (after editing files on disk)."""
    _read.cache_clear()
    _parse.cache_clear()
