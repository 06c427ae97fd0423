"""``signalhub schemas ...``: list the Avro schemas and check them against released versions.

``check`` is what CI runs: every working schema ``<dir>/<Name>.avsc`` must be compatible,
at the chosen level, with every released version ``<dir>/released/<Name>.v<N>.avsc``.
The verdict comes from Apache Avro's own checker (see :mod:`hub.compat`).
"""

from __future__ import annotations

from pathlib import Path

import click

from hub import compat
from hub import schemas as store
from hub.commands.common import settings_from
from hub.errors import ConfigError, SchemaNotFound

__all__ = ["schemas"]

_HINTS: dict[tuple[str, compat.Direction], str] = {
    ("reader_field_missing_default_value", compat.Direction.BACKWARD): (
        'give the new field a default (e.g. type ["null", T] with "default": null)'
    ),
    ("reader_field_missing_default_value", compat.Direction.FORWARD): (
        "keep the removed field, since the released version needs it and has no default"
    ),
    ("type_mismatch", compat.Direction.BACKWARD): (
        "keep the old type (Avro only promotes int->long->float->double and string<->bytes),"
        " or add a new field with the new type"
    ),
    ("type_mismatch", compat.Direction.FORWARD): (
        "keep the old type, or add a new field with the new type"
    ),
    ("missing_enum_symbols", compat.Direction.BACKWARD): "do not remove enum symbols",
    ("missing_enum_symbols", compat.Direction.FORWARD): (
        'old readers do not know the new symbol: the enum needs a "default" symbol'
    ),
    ("missing_union_branch", compat.Direction.BACKWARD): "keep every branch of the union",
    ("missing_union_branch", compat.Direction.FORWARD): (
        "do not add union branches that released readers lack"
    ),
    ("name_mismatch", compat.Direction.BACKWARD): (
        'keep the record or enum name, or list the old full name in "aliases"'
    ),
    ("name_mismatch", compat.Direction.FORWARD): "keep the record or enum name",
    ("fixed_size_mismatch", compat.Direction.BACKWARD): "keep the size of the fixed type",
    ("fixed_size_mismatch", compat.Direction.FORWARD): "keep the size of the fixed type",
}
_MAJOR = "or release a new major topic version (e.g. signals.debt.v2) instead"


def _fix(problem: compat.Problem) -> str:
    hints = [
        _HINTS[(k, problem.direction)] for k in problem.kinds if (k, problem.direction) in _HINTS
    ]
    return "To fix: " + "; ".join([*dict.fromkeys(hints), _MAJOR]) + "."


def _dir_option(func: click.decorators.FC) -> click.decorators.FC:
    return click.option(
        "--schemas-dir",
        type=click.Path(exists=True, file_okay=False, path_type=Path),
        default=None,
        help=(
            "Directory with <Name>.avsc files and a released/ sub-directory. "
            "Default: $HUB_SCHEMAS_DIR, else the schemas shipped with Signalhub."
        ),
    )(func)


def _configured_dir() -> Path | None:
    """The ``HUB_SCHEMAS_DIR`` setting (None: the schemas shipped with Signalhub)."""
    return settings_from(None).schemas_dir


@click.group("schemas")
def schemas() -> None:
    """Avro schemas: list, check compatibility against released versions.

    Each record is one file <Name>.avsc (namespace nl.signalhub.v1); released versions
    are kept as released/<Name>.v<N>.avsc. See docs/schemas.md for the evolution rule.
    """


@schemas.command("list")
@_dir_option
def list_(schemas_dir: Path | None) -> None:
    """List schemas: name, number of fields, latest released version."""
    schemas_dir = schemas_dir or _configured_dir()
    names = store.schema_names(schemas_dir)
    if not names:
        raise click.ClickException(f"no *.avsc files in {schemas_dir or store.schemas_dir()}")
    released = store.released_names(schemas_dir)
    width = max(len(n) for n in names)
    click.echo(f"{'NAME':<{width}}  FIELDS  RELEASED")
    for name in names:
        try:
            fields = str(len(store.load_schema(name, schemas_dir).get("fields", [])))
        except ConfigError:
            fields = "?"
        versions = released.get(name)
        latest = f"v{versions[-1]}" if versions else "unreleased"
        click.echo(f"{name:<{width}}  {fields:>6}  {latest}")


def _check_one(
    name: str, schemas_dir: Path | None, level: compat.Compatibility
) -> tuple[list[str], list[str]]:
    """Errors and notes for one working schema."""
    try:
        schema = store.load_schema(name, schemas_dir)
        store.parsed_schema(name, schemas_dir)
        compat.parse(schema)
    except (ConfigError, SchemaNotFound) as exc:
        return [f"{name}: {exc}"], []
    if schema.get("name") != name:
        return [
            f"{name}: file {name}.avsc holds record {schema.get('name')!r}; "
            f"name the file after the record"
        ], []
    try:
        released = store.released_versions(name, schemas_dir)
    except ConfigError as exc:
        return [f"{name}: {exc}"], []
    if not released:
        return [], [f"{name}: not released yet; to release, copy it to released/{name}.v1.avsc"]
    try:
        problems = compat.find_problems(
            schema, [s for _, s in released], level, versions=[v for v, _ in released]
        )
    except ConfigError as exc:
        return [f"{name}: released {exc}"], []
    errors = [
        f"{name}: incompatible with released {p.version} ({p.pair}): {p.summary} {_fix(p)}"
        for p in problems
    ]
    return errors, []


@schemas.command("check")
@_dir_option
@click.option(
    "--level",
    type=click.Choice([c.value for c in compat.Compatibility], case_sensitive=False),
    metavar="LEVEL",
    default=compat.Compatibility.BACKWARD_TRANSITIVE.value,
    show_default=True,
    help=(
        "Compatibility level: NONE, BACKWARD (the new schema reads data written with the "
        "latest release), FORWARD (the latest release reads data written with the new "
        "schema), FULL (both), or BACKWARD_TRANSITIVE, FORWARD_TRANSITIVE, FULL_TRANSITIVE "
        "(the same against every release, not only the latest)."
    ),
)
def check(schemas_dir: Path | None, level: str) -> None:
    """Check every working schema against all of its released versions.

    Exits 1 with one line per problem when a schema breaks the compatibility level,
    does not parse, or when a released schema has no working counterpart. Schemas that
    were never released are reported as a note, not an error.
    """
    chosen = compat.Compatibility(level.upper())
    schemas_dir = schemas_dir or _configured_dir()
    names = store.schema_names(schemas_dir)
    errors: list[str] = []
    notes: list[str] = []
    for name in names:
        found, noted = _check_one(name, schemas_dir, chosen)
        errors += found
        notes += noted
    for name, versions in store.released_names(schemas_dir).items():
        if name not in names:
            errors.append(
                f"{name}: released as v{versions[-1]} but there is no working {name}.avsc; "
                "a released schema may not disappear (restore it, or retire the topic "
                "and its released files on purpose)"
            )
    for stray in store.stray_released_files(schemas_dir):
        errors.append(f"released/{stray}: name does not follow <Name>.v<N>.avsc")
    for note in notes:
        click.echo(f"note: {note}")
    for error in errors:
        click.echo(f"error: {error}", err=True)
    if errors:
        click.echo(
            f"{len(errors)} problem(s) at level {chosen} in {len(names)} schema(s).", err=True
        )
        raise click.exceptions.Exit(1)
    click.echo(f"OK: {len(names)} schema(s) compatible at level {chosen}.")
