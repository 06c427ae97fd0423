"""The main job: one process with the ingest API, the router(s), the sinks and the web app.

``HubProcess.start()`` opens one bus connection per component (each thread owns its
consumers), starts the HTTP ingest API, ``routers`` router threads (one consumer group),
the sealed intake (when ``HUB_INTAKE_PRIVATE_KEY`` is set: signals sealed to the hub on
``intake.sealed.v1``), the sink runner, the web app (team inbox; ``web_port``, None:
none) and the Prometheus listener (``HUB_METRICS__ADDRESS``; empty: none); ``stop()``
asks every loop to finish its batch, commit and close, then stops the servers
(in-flight requests complete first).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

import structlog
import uvicorn
from fastapi import FastAPI

from connectors.sinks.inbox import InboxStore
from connectors.sinks.runner import SinkRunner, webhook_secrets
from connectors.sources.http_ingest import create_app, serve, server_address, stop
from connectors.sources.keys import SourceRegistry
from connectors.sources.sealed_intake import SealedIntakeSource
from hub.config import HubConfig
from hub.connect import Connection, connect
from hub.pseudonym import Pseudonymiser
from hub.router import Router
from hub.settings import Settings
from hub.sqlite import private_dir
from hub.web.accounts import UserStore
from hub.web.app import create_web_app, serve_web, stop_web
from hub.web.auth import load_or_create_secret
from hub.web.deps import WebDeps
from hub.web.metrics import create_metrics_app

__all__ = ["HubProcess"]

log = structlog.get_logger(__name__)


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
    _threads: list[threading.Thread] = field(default_factory=list)
    _conns: list[Connection] = field(default_factory=list)
    _routers: list[Router] = field(default_factory=list)
    _sinks: SinkRunner | None = None
    _sealed: SealedIntakeSource | None = None
    _server: tuple[uvicorn.Server, threading.Thread] | None = None
    _web: tuple[FastAPI, uvicorn.Server, threading.Thread] | None = None
    _metrics: tuple[uvicorn.Server, threading.Thread] | None = None
    inbox: InboxStore | None = None
    users: UserStore | None = None
    sources: SourceRegistry | None = None

    @property
    def state_dir(self) -> Path:
        return self.settings.state_dir

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
        for i in range(self.routers):
            state = self.state_dir / (f"router-{i}" if self.routers > 1 else "router")
            router = Router(self._connect(), self.config, state,
                            guarantee=self.settings.processing_guarantee)
            router.ensure_topics()
            self._routers.append(router)
            self._spawn(f"router-{i}", lambda r=router: r.run(self.stop_event))
        self.inbox = InboxStore(self.state_dir / "inbox.db")
        self._sinks = SinkRunner(self._connect(), self.config, self.inbox,
                                 webhook_secrets(self.config, os.environ))
        self._sinks.ensure_topics()
        sinks = self._sinks
        self._spawn("sinks", lambda: sinks.run(self.stop_event))
        self.sources = SourceRegistry(self.state_dir / "sources.db")
        secrets = self.settings.pseudonym_secrets
        pseudonymiser = Pseudonymiser(secrets) if secrets else None
        if self.settings.intake_private_key is not None:
            sealed = SealedIntakeSource(self._connect(), self.settings.intake_private_key,
                                        pseudonymiser)
            self._sealed = sealed  # its consumer is made in its own thread, by run()
            self._spawn("sealed-intake", sealed.run)
        app = create_app(
            self._connect(), self.sources, pseudonymiser,
            idempotency_store_path=self.state_dir / "http-idempotency.db",
            consent_ledger_path=self.state_dir / "http-consent-ledger.db",
        )
        self._server = serve(app, self.host, self.port)
        listen = self.settings.metrics.host_port
        if listen is not None:
            metrics_app = create_metrics_app(self._connect().bus, self.config,
                                             self.settings.metrics.token)
            self._metrics = serve(metrics_app, *listen, proxy_headers=False)
        self.users = UserStore(self.state_dir / "users.db")
        if self.web_port is not None:
            web = create_web_app(WebDeps(
                conn=self._connect(), config=self.config, inbox=self.inbox, users=self.users,
                secret_key=load_or_create_secret(self.state_dir), state_dir=self.state_dir,
                counts=self.counts, web=self.settings.web, metrics_url=self.metrics_url,
            ))  # fmt: skip
            self._web = (web, *serve_web(web, self.host, self.web_port))
        log.info("hub started", url=self.url, web=self.web_url, metrics=self.metrics_url,
                 routers=self.routers, bus=self.settings.bus)

    def _spawn(self, name: str, target: object) -> None:
        def guarded() -> None:
            try:
                target()  # type: ignore[operator]
            except Exception:
                log.exception("component stopped with an error", component=name)
                self.stop_event.set()

        thread = threading.Thread(target=guarded, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def counts(self) -> dict[str, int]:
        total: dict[str, int] = {}
        for router in self._routers:
            for key, value in router.counts.items():
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
        if self._sealed is not None:
            self._sealed.stop()
        for thread in self._threads:
            thread.join(timeout=60)
        if self._sealed is not None:
            self._sealed.close()
        for router in self._routers:
            router.close()
        if self._sinks is not None:
            self._sinks.close()
        if self.inbox is not None:
            self.inbox.close()
        if self.sources is not None:
            self.sources.close()
        if self.users is not None:
            self.users.close()
        for conn in self._conns:
            conn.close()
        log.info("hub stopped")


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
