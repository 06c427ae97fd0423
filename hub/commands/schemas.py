"""`signalhub schemas ...` (placeholder, filled in by the schemas work)."""

import click


@click.group("schemas")
def schemas() -> None:
    """Avro schemas: list, check compatibility against released versions."""
