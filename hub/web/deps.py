"""What the web app needs from the running hub, handed over in one object."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from hub.accounts import UserStore
from hub.config import HubConfig
from hub.connect import Connection
from hub.inbox import InboxStore
from hub.settings import WebSettings

__all__ = ["WebDeps"]


@dataclass
class WebDeps:
    #: the bus (audit records, outcomes) and its serde; the web app's own connection
    conn: Connection
    config: HubConfig
    inbox: InboxStore
    users: UserStore
    #: signs the session cookies
    secret_key: str
    state_dir: Path
    #: the routers' decision counts (for the operator dashboard)
    counts: Callable[[], dict[str, int]]
    #: cookies, sessions and sign-in limits (``HUB_WEB__*``)
    web: WebSettings = field(default_factory=WebSettings)
    #: where Prometheus metrics are served (their own listener), shown to operators
    metrics_url: str | None = None
    #: the DDAS delivery's codeGegevensleverancier (``HUB_DDAS_SUPPLIER_CODE``), filled
    #: in on the admin's export page
    ddas_supplier_code: str | None = None
    #: wall-clock seconds, for session idle times and lifetimes
    clock: Callable[[], float] = time.time
