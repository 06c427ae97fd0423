"""The HTTP registry client with basic auth, a bearer token and a CA file, against a real
https server (a certificate of a CA made for the test): credentials never in the URL,
never in an error or a log line, even at DEBUG."""

from __future__ import annotations

import io
import json
import logging
import ssl
import threading
from collections.abc import Iterator
from contextlib import closing
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import trustme
from pydantic import SecretStr

from hub.connect import connect
from hub.errors import ConfigError, RegistryAccessDenied, RegistryUnavailable
from hub.logging import configure_logging
from hub.registry.http import HttpRegistry
from hub.settings import RegistrySettings, Settings

PASSWORD = "registry-password-8d1f"
TOKEN = "registry-token-5c2e9a"


class _Registry(BaseHTTPRequestHandler):
    """Answers ``GET /subjects`` with ``[]`` to ``Basic user:PASSWORD`` or ``Bearer
    TOKEN``, 401 to anything else; remembers the Authorization headers it got."""

    seen: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - the standard library's name
        import base64

        auth = self.headers.get("Authorization", "")
        self.seen.append(auth)
        basic = "Basic " + base64.b64encode(f"user:{PASSWORD}".encode()).decode()
        ok = auth in (basic, f"Bearer {TOKEN}")
        body = b"[]" if ok else json.dumps({"message": "Unauthorized"}).encode()
        self.send_response(200 if ok else 401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> tuple[trustme.CA, Path]:
    authority = trustme.CA()
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    authority.cert_pem.write_to_path(str(path))
    return authority, path


@pytest.fixture(scope="module")
def registry_url(ca: tuple[trustme.CA, Path]) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Registry)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca[0].issue_cert("127.0.0.1").configure_cert(context)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.server_address[1]}/apis/ccompat/v7"
    server.shutdown()
    server.server_close()


@pytest.fixture
def debug_log() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    out = io.StringIO()
    configure_logging("DEBUG", "json", stream=out)
    yield out
    root.handlers[:] = handlers
    root.setLevel(level)


def _registry(url: str, **access: object) -> HttpRegistry:
    return HttpRegistry(url, access=RegistrySettings(**access), timeout=5.0)  # type: ignore[arg-type]


def test_basic_auth_and_bearer_token_reach_the_registry(registry_url: str,
                                                        ca: tuple[trustme.CA, Path]) -> None:
    with closing(_registry(registry_url, username="user", password=SecretStr(PASSWORD),
                           cafile=ca[1])) as basic:
        assert basic.subjects() == []
    with closing(_registry(registry_url, token=SecretStr(TOKEN), cafile=ca[1])) as bearer:
        assert bearer.subjects() == []
    assert _Registry.seen[-2].startswith("Basic ") and _Registry.seen[-1] == f"Bearer {TOKEN}"


def test_wrong_credentials_and_untrusted_ca_are_clear_errors_without_secrets(
        registry_url: str, ca: tuple[trustme.CA, Path], debug_log: io.StringIO) -> None:
    wrong = _registry(registry_url, username="user", password=SecretStr("wrong-" + PASSWORD),
                      cafile=ca[1])
    with closing(wrong), pytest.raises(RegistryAccessDenied) as denied:
        wrong.subjects()
    assert "401" in str(denied.value) and "HUB_REGISTRY__PASSWORD" in str(denied.value)
    untrusted = _registry(registry_url, token=SecretStr(TOKEN))
    with closing(untrusted), pytest.raises(RegistryUnavailable) as unavailable:
        untrusted.subjects()  # the system's CAs do not know the test CA
    assert "HUB_REGISTRY__CAFILE" in str(unavailable.value)
    with closing(_registry(registry_url, token=SecretStr(TOKEN), cafile=ca[1])) as good:
        assert good.subjects() == []
    logged = debug_log.getvalue()
    assert '"logger": "httpcore' in logged  # DEBUG lines of the HTTP client are there
    for text in (logged, str(denied.value), str(unavailable.value)):
        assert PASSWORD not in text and TOKEN not in text


def test_credentials_in_the_url_are_refused_naming_the_settings(tmp_path: Path) -> None:
    url = f"https://user:{PASSWORD}@registry.example/apis/ccompat/v7"
    with pytest.raises(ConfigError) as refused:
        connect(Settings(bus=f"embedded:{tmp_path / 'hub.db'}", registry_url=url))
    assert "HUB_REGISTRY__USERNAME" in str(refused.value)
    assert PASSWORD not in str(refused.value)


def test_access_settings_that_do_not_fit_are_refused(tmp_path: Path) -> None:
    url = "https://registry.example/apis/ccompat/v7"
    cases: list[tuple[dict[str, object], str]] = [
        ({"token": SecretStr(TOKEN), "username": "user"}, "not both"),
        ({"password": SecretStr(PASSWORD)}, "HUB_REGISTRY__USERNAME"),
        ({"cafile": tmp_path / "missing.pem"}, "HUB_REGISTRY__CAFILE"),
    ]
    for access, expected in cases:
        with pytest.raises(ConfigError) as refused:
            _registry(url, **access)
        assert expected in str(refused.value)
        assert PASSWORD not in str(refused.value) and TOKEN not in str(refused.value)
