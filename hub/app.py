"""The main job: one process with the ingest API, the router(s), the sinks and the web app.

``HubProcess.start()`` opens one bus connection per component (each thread owns its
consumers), starts the HTTP ingest API, ``routers`` router threads (one consumer group),
the sealed intake (when ``HUB_INTAKE_PRIVATE_KEY`` is set: signals sealed to the hub on
``intake.sealed.v1``), the sink runner, the web app (team inbox; ``web_port``, None:
none), the Prometheus listener (``HUB_METRICS__ADDRESS``; empty: none) and the
retention job (:mod:`hub.retention`, every ``HUB_RETENTION_INTERVAL_HOURS``, the first
run at start; 0: none); ``stop()``
asks every loop to finish its batch, commit and close, then stops the servers
(in-flight requests complete first).

Every router, the sinks and the sealed intake run under a
:class:`~hub.supervisor.Supervisor`: a component that fails (the broker is gone, the
registry does not answer) is logged, closed and built again with a backoff, from the
committed offsets; the hub goes on (ingest answers 503 meanwhile). Only a
configuration error ends the hub.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import structlog
import uvicorn
from fastapi import FastAPI

from connectors.sinks.runner import SinkRunner, webhook_secrets
from connectors.sources.http_ingest import create_app
from connectors.sources.sealed_intake import SealedIntakeSource
from hub.accounts import UserStore
from hub.config import HubConfig
from hub.connect import Connection, connect
from hub.inbox import InboxStore
from hub.pseudonym import Pseudonymiser
from hub.retention import RetentionJob, StoreRetention, audit_publisher
from hub.router import Router
from hub.serving import serve, server_address, stop
from hub.settings import Settings
from hub.sources import SourceRegistry
from hub.sqlite import private_dir
from hub.state_layout import StateLayout
from hub.store import Database, open_from_settings
from hub.supervisor import Supervisor
from hub.web.app import create_web_app, serve_web, stop_web
from hub.web.auth import load_or_create_secret
from hub.web.deps import WebDeps
from hub.web.metrics import create_metrics_app

__all__ = ["HubProcess"]

log = structlog.get_logger(__name__)

C = TypeVar("C")

#: how often the retention job asks whether a run is due
_RETENTION_CHECK_SECONDS = 300.0


@dataclass
class HubProcess:
    settings: Settings
    config: HubConfig
    host: str = "127.0.0.1"
    port: int = 8080
    routers: int = 1
    #: port of the web app (team inbox); 0: any free port, None: no web app
    web_port: int | None = 8081
    stop_event: threading.Event = field(default_factory=threading.Event)
    _supervisors: list[Supervisor[Any]] = field(default_factory=list)
    _conns: list[Connection] = field(default_factory=list)
    _routers: list[Supervisor[Router]] = field(default_factory=list)
    #: what routers that were closed (after a failure) had counted
    _closed_counts: dict[str, int] = field(default_factory=dict)
    _server: tuple[uvicorn.Server, threading.Thread] | None = None
    _web: tuple[FastAPI, uvicorn.Server, threading.Thread] | None = None
    _metrics: tuple[uvicorn.Server, threading.Thread] | None = None
    inbox: InboxStore | None = None
    users: UserStore | None = None
    sources: SourceRegistry | None = None
    #: the application stores' database (HUB_DATABASE_URL, else <state_dir>/store.db)
    database: Database | None = None
    #: the retention job (None: HUB_RETENTION_INTERVAL_HOURS=0); its ``runs``
    retention: RetentionJob | None = None
    _retention_stores: StoreRetention | None = None
    #: the configuration error that ended the hub (None: stopped on request)
    failure: BaseException | None = None

    @property
    def state_dir(self) -> Path:
        return self.settings.state_dir

    @property
    def layout(self) -> StateLayout:
        """What lies where under the state directory."""
        return StateLayout.of(self.settings.state_dir)

    def _connect(self) -> Connection:
        conn = connect(self.settings)
        self._conns.append(conn)
        return conn

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = server_address(self._server[0])
        return f"http://{host}:{port}"

    @property
    def web_url(self) -> str | None:
        if self._web is None:
            return None
        host, port = server_address(self._web[1])
        return f"http://{host}:{port}"

    @property
    def metrics_url(self) -> str | None:
        """``http://host:port/metrics`` of the Prometheus listener, None when off."""
        if self._metrics is None:
            return None
        host, port = server_address(self._metrics[0])
        return f"http://{_url_host(host)}:{port}/metrics"

    def start(self) -> None:
        private_dir(self.state_dir)
        self.database = open_from_settings(self.settings)
        for i in range(self.routers):
            state = self.layout.router(i if self.routers > 1 else None)
            conn = self._connect()
            router = Router(conn, self.config, state,
                            guarantee=self.settings.processing_guarantee)
            router.ensure_topics()
            self._routers.append(self._supervise(
                f"router-{i}", partial(Router, conn, self.config, state,
                                       guarantee=self.settings.processing_guarantee),
                lambda r: r.run(self.stop_event), self._close_router, router))
        self.inbox = InboxStore(self.database)
        inbox, conn = self.inbox, self._connect()
        secrets_env = webhook_secrets(self.config, os.environ)

        def sink_runner() -> SinkRunner:
            return SinkRunner(conn, self.config, inbox, secrets_env)

        sinks = sink_runner()
        sinks.ensure_topics()
        self._supervise("sinks", sink_runner, lambda r: r.run(self.stop_event),
                        SinkRunner.close, sinks)
        self.sources = SourceRegistry(self.database)
        secrets = self.settings.pseudonym_secrets
        pseudonymiser = Pseudonymiser(secrets) if secrets else None
        key = self.settings.intake_private_key
        if key is not None:  # its consumer is made in its own thread, by run()
            sealed_conn = self._connect()
            self._supervise(
                "sealed-intake", lambda: SealedIntakeSource(sealed_conn, key, pseudonymiser),
                self._run_sealed, SealedIntakeSource.close)
        app = create_app(
            self._connect(), self.sources, pseudonymiser,
            idempotency_store_path=self.database,
            idempotency_retention=timedelta(days=self.settings.idempotency_retention_days),
            consent_ledger_path=self.layout.http_consent_ledger,
        )
        self._server = serve(app, self.host, self.port, name="http ingest")
        listen = self.settings.metrics.host_port
        if listen is not None:
            metrics_app = create_metrics_app(self._connect().bus, self.config,
                                             self.settings.metrics.token)
            self._metrics = serve(metrics_app, *listen, proxy_headers=False, name="metrics")
        self.users = UserStore(self.database)
        if self.web_port is not None:
            web = create_web_app(WebDeps(
                conn=self._connect(), config=self.config, inbox=self.inbox, users=self.users,
                secret_key=self._web_secret(), state_dir=self.state_dir,
                counts=self.counts, web=self.settings.web, metrics_url=self.metrics_url,
                ddas_supplier_code=self.settings.ddas_supplier_code,
            ))
            self._web = (web, *serve_web(web, self.host, self.web_port))
        self._start_retention()
        log.info("hub started", url=self.url, web=self.web_url, metrics=self.metrics_url,
                 routers=self.routers, bus=self.settings.bus)

    def _web_secret(self) -> str:
        """HUB_WEB__SECRET_KEY (shared by the instances), else the state folder's key."""
        key = self.settings.web.secret_key
        return key.get_secret_value() if key is not None else load_or_create_secret(
            self.state_dir)

    def _start_retention(self) -> None:
        """The retention job's thread (none when HUB_RETENTION_INTERVAL_HOURS is 0)."""
        hours = self.settings.retention_interval_hours
        if hours <= 0 or self.database is None:
            return
        stores = self._retention_stores = StoreRetention(self.database, self.config,
                                                         self.settings)
        publish, interval = audit_publisher(self._connect()), hours * 3600.0
        self.retention = RetentionJob(lambda: stores.run_if_due(interval, publish),
                                      min(interval, _RETENTION_CHECK_SECONDS), self.stop_event)
        self.retention.start()

    def _supervise(self, name: str, build: Callable[[], C], run: Callable[[C], None],
                   close: Callable[[C], None], first: C | None = None) -> Supervisor[C]:
        """Run a component in its own thread; rebuilt after a failure (hub.supervisor)."""
        def fatal(exc: BaseException) -> None:
            self.failure = exc
            self.stop_event.set()

        supervisor = Supervisor(name, build, run, close, self.stop_event, fatal, first)
        supervisor.start()
        self._supervisors.append(supervisor)
        return supervisor

    def _close_router(self, router: Router) -> None:
        router.close()
        for key, value in router.counts.items():
            self._closed_counts[key] = self._closed_counts.get(key, 0) + value

    def _run_sealed(self, sealed: SealedIntakeSource) -> None:
        """The sealed intake until the hub stops (it has a stop of its own)."""
        def watch() -> None:
            self.stop_event.wait()
            sealed.stop()

        threading.Thread(target=watch, name="sealed-intake-stop", daemon=True).start()
        sealed.run()

    @property
    def restarts(self) -> dict[str, int]:
        """How often each component was restarted after a failure."""
        return {s.name: s.restarts for s in self._supervisors}

    def counts(self) -> dict[str, int]:
        total = dict(self._closed_counts)
        for supervisor in self._routers:
            router = supervisor.current
            for key, value in (router.counts.items() if router is not None else ()):
                total[key] = total.get(key, 0) + value
        return total

    def stop(self) -> None:
        """Finish the current batches, commit, close (graceful shutdown)."""
        self.stop_event.set()
        if self._server is not None:
            stop(*self._server)
            self._server = None
        if self._web is not None:
            stop_web(*self._web)
            self._web = None
        if self._metrics is not None:
            stop(*self._metrics)
            self._metrics = None
        for supervisor in self._supervisors:  # each closes its component when it ends
            supervisor.join(timeout=60)
        if self.retention is not None:
            self.retention.join(timeout=60)
        if self._retention_stores is not None:
            self._retention_stores.close()
            self._retention_stores = None
        if self.inbox is not None:
            self.inbox.close()
        if self.sources is not None:
            self.sources.close()
        if self.users is not None:
            self.users.close()
        if self.database is not None:
            self.database.close()
            self.database = None
        for conn in self._conns:
            conn.close()
        log.info("hub stopped")


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
