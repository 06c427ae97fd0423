"""Alembic's environment for the application database (see hub.store.migrate).

Always run through :func:`hub.store.migrate.upgrade`, which hands over a connection
inside a write transaction; there is no alembic.ini and no URL here."""

from __future__ import annotations

from typing import Any

from alembic import context

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - guarded by hub.store.migrate
    raise RuntimeError("run migrations with `signalhub db upgrade`, not the alembic command")
applied: list[str] = config.attributes.setdefault("applied", [])


def _note(ctx: Any, step: Any, heads: Any, run_args: Any) -> None:
    applied.append(str(step.up_revision_id))


context.configure(connection=connection, target_metadata=None, on_version_apply=_note,
                  render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
