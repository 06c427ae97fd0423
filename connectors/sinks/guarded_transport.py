"""An httpx transport that sends a webhook only to addresses its allow-list permits.

For every request :class:`GuardedTransport` resolves the URL's host, checks every
address it gets (:meth:`hub.webhook_targets.TargetPolicy.addresses_problem`) and raises
:class:`~hub.errors.WebhookTargetRefused` when one is refused. Otherwise it sends the
request to exactly the address it checked: the URL's host is replaced by the address,
while the ``Host`` header and, for https, the TLS server name and the certificate check
keep the name (httpx's ``sni_hostname`` request extension). There is no second lookup
that could answer differently, so a name that resolves to a public address for the check
and to ``127.0.0.1`` for the connection (DNS rebinding) gets nowhere. The addresses are
tried in order until one connects.

Through a proxy the proxy connects and resolves the name itself: the addresses are still
checked here, but the proxy must refuse internal targets on its own as well.
"""

from __future__ import annotations

import httpx

from hub.errors import WebhookTargetRefused
from hub.webhook_targets import Resolver, TargetPolicy, system_resolver

__all__ = ["GuardedTransport"]

_DEFAULT_PORTS = {"https": 443, "http": 80}


class GuardedTransport(httpx.BaseTransport):
    """Checks and pins the resolved address of every request (see the module docstring).

    ``inner`` sends the pinned request (default: an ``httpx.HTTPTransport`` through
    ``proxy``, if given); ``resolve`` is the name lookup (default ``getaddrinfo``).
    """

    def __init__(
        self,
        policy: TargetPolicy,
        *,
        resolve: Resolver = system_resolver,
        proxy: str | None = None,
        inner: httpx.BaseTransport | None = None,
    ) -> None:
        self.policy = policy
        self._resolve = resolve
        self._pin = proxy is None
        self._inner = inner or httpx.HTTPTransport(proxy=proxy, trust_env=False)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        host = url.raw_host.decode("ascii")
        try:
            addresses = self._resolve(host, url.port or _DEFAULT_PORTS.get(url.scheme, 443))
        except OSError as exc:  # no such name, or the resolver is down: worth a retry
            raise httpx.ConnectError(f"cannot resolve {host}: {exc}", request=request) from exc
        problem = self.policy.addresses_problem(url, addresses)
        if problem is not None:
            raise WebhookTargetRefused(problem)
        if not self._pin:
            return self._inner.handle_request(request)
        extensions = request.extensions
        failure: httpx.ConnectError | None = None
        for address in addresses:
            request.url = url.copy_with(host=str(address))
            if url.scheme == "https":
                request.extensions = {**extensions, "sni_hostname": host}
            try:
                return self._inner.handle_request(request)
            except httpx.ConnectError as exc:
                failure = exc
            finally:
                request.url, request.extensions = url, extensions
        assert failure is not None
        raise failure

    def close(self) -> None:
        self._inner.close()
