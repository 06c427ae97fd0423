"""`signalhub import FILE`: import a creditor's batch file (CSV or JSON Lines) as signals.

The work is done by :class:`hub.batch_import.BatchImport`, with the file formats the
composition root hands to :func:`import_command`; this module parses options, shows
progress (rich, on a terminal only) and prints the summary. See docs/import.md.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)

from hub.batch_import import (
    DEFAULT_BATCH,
    BatchFileFormats,
    BatchImport,
    ImportRequest,
    ProgressCallback,
    summary_lines,
)
from hub.commands.common import bus_option, registry_option, settings_from
from hub.connect import connect
from hub.errors import BatchFileError, HubError
from hub.topics import SIGNAL_TOPICS

__all__ = ["import_command"]


class FileProblem(click.ClickException):
    """The file cannot be imported at all (exit code 2); nothing was published."""

    exit_code = 2


@contextmanager
def _progress(enabled: bool, total: int) -> Iterator[ProgressCallback | None]:
    """A progress bar on standard error (bytes read, rows/s, ETA), or None."""
    console = Console(stderr=True)
    if not enabled or total == 0 or not console.is_terminal:
        yield None
        return
    columns = (TextColumn("importing"), BarColumn(), DownloadColumn(),
               TextColumn("{task.fields[rows]:>10,} rows  {task.fields[rate]:>8} rows/s"),
               TextColumn("ETA"), TimeRemainingColumn())
    with Progress(*columns, console=console) as bar:
        task = bar.add_task("import", total=total, rows=0, rate="-")
        started = time.perf_counter()

        def update(done: int, rows: int) -> None:
            elapsed = time.perf_counter() - started
            rate = f"{rows / elapsed:,.0f}" if elapsed > 0 else "-"
            bar.update(task, completed=done, rows=rows, rate=rate)

        yield update


EXAMPLE = """\b
Example (Dutch headers, ';' separated, amounts like 1.234,56):
  export HUB_PSEUDONYM_SECRETS='{"GM9999": "..."}'
  signalhub import examples/imports/schuldsignalen-2025-05.csv --type debt-signal \\
      --source urn:nld:oin:00000001234567890000 \\
      --mapping examples/mappings/debt-nl.yaml

\b
On a source's machine (no pseudonym secrets there), seal the rows to the hub:
  signalhub import schuldsignalen-2025-05.csv --type debt-signal \\
      --source urn:nld:oin:00000001234567890000 --mapping examples/mappings/debt-nl.yaml \\
      --seal-to "$HUB_PUBLIC_KEY" \\
      --bus kafka://hub.example:9092 --registry https://registry.example/apis/ccompat/v7

\b
Exit codes: 0 the file was processed (also with rejected rows: see the
rejects file), 2 the file could not be imported (missing column, unreadable
file, bad mapping; nothing was published), 1 the bus or the ledger failed,
130 interrupted (run it again: what was published is skipped).
"""


def import_command(formats: BatchFileFormats) -> click.Command:
    """The ``signalhub import`` command, reading files in ``formats``."""

    @click.command("import", epilog=EXAMPLE)
    @click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
    @click.option("--type", "event_type", type=click.Choice(list(SIGNAL_TOPICS)), required=True,
                  help="Event type of every row.")
    @click.option("--source", "source", required=True, metavar="URN",
                  help="Who sent the file, e.g. urn:nld:oin:<OIN> of the creditor: the signals'"
                  " source (and part of their event ids).")
    @click.option("--mapping", type=click.Path(dir_okay=False, path_type=Path), default=None,
                  help="YAML column mapping (see examples/mappings/debt-nl.yaml); default: the"
                  " columns are named as the schema fields.")
    @click.option("--format", "file_format", type=click.Choice(["auto", "csv", "jsonl"]),
                  default="auto", show_default=True,
                  help="auto = JSON Lines for .jsonl/.ndjson files, else CSV.")
    @click.option("--encoding", default=None,
                  help="e.g. utf-8 or cp1252 (default: UTF-8 if the file decodes as UTF-8, else"
                  " Windows-1252). A byte-order mark is always removed, and its encoding wins.")
    @click.option("--delimiter", default=None,
                  help="CSV separator (default: ';', ',' or tab, sniffed from the header line).")
    @click.option("--rejects", "rejects_path", type=click.Path(dir_okay=False, path_type=Path),
                  default=None, help="Rejects file (default: <FILE>.rejects.csv beside FILE).")
    @click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                  help="State directory (the import seal key; store.db, the import ledger, when"
                  " HUB_DATABASE_URL is unset) (default: $HUB_STATE_DIR, else var/state).")
    @click.option("--batch-size", type=click.IntRange(1, 100_000), default=DEFAULT_BATCH,
                  show_default=True, help="Signals per publish (and ledger transaction).")
    @click.option("--no-progress", is_flag=True, help="No progress bar (none is shown when"
                  " standard error is not a terminal).")
    @click.option("--seal-to", "seal_to", metavar="PUBLIC_KEY", default=None,
                  help="On a source's machine: seal every row, BSN included, to the hub's intake"
                  " public key (base64; default $HUB_INTAKE_PUBLIC_KEY) and publish it to"
                  " intake.sealed.v1, where the hub pseudonymises it: no pseudonym secrets"
                  " needed (see docs/privacy.md).")
    @bus_option
    @registry_option
    def import_file(
        file: Path, event_type: str, source: str, mapping: Path | None, file_format: str,
        encoding: str | None, delimiter: str | None, rejects_path: Path | None,
        state_dir: Path | None, batch_size: int, no_progress: bool, seal_to: str | None,
        bus_url: str | None, registry_url: str | None,
    ) -> None:
        """Import a creditor's batch file (CSV or JSON Lines) as signals.

        Every row becomes one signal: validated, its BSN pseudonymised at once (a BSN is
        never published, logged or written to the rejects file) and published to the
        event type's topic in batches; with --seal-to, sealed to the hub instead. A row
        that cannot become a signal goes to the rejects file (line, column, reason) and the
        import goes on. Importing the same rows again (the same file, or another file with
        the same rows) publishes nothing twice.
        """
        if not source.strip() or ":" not in source or any(c.isspace() for c in source):
            raise click.BadParameter("a URI naming the sender, e.g. urn:nld:oin:<OIN>",
                                     param_hint="--source")
        settings = settings_from(bus_url, registry_url)
        request = ImportRequest(
            file, event_type, source, mapping=mapping, file_format=file_format,
            encoding=encoding, delimiter=delimiter, rejects_path=rejects_path,
            state_dir=state_dir, batch_size=batch_size, seal_to=seal_to)
        try:
            batch = BatchImport(request, formats)
        except BatchFileError as exc:
            raise FileProblem(str(exc)) from exc
        try:
            conn = connect(settings)
        except HubError as exc:
            raise click.ClickException(
                f"{exc}\nCheck --bus / HUB_BUS and HUB_REGISTRY_URL.") from exc
        try:
            with conn, _progress(not no_progress, file.stat().st_size) as progress:
                summary = batch.run(conn, settings, progress)
        except BatchFileError as exc:
            raise FileProblem(str(exc)) from exc
        except HubError as exc:
            raise click.ClickException(str(exc)) from exc
        for line in summary_lines(summary, mapped=mapping is not None):
            click.echo(line)
        if batch.interrupted:
            raise SystemExit(130)

    return import_file
