"""Where a webhook may deliver: public https targets, internal ones only when allow-listed.

A team's webhook URL (``deliveries.webhook.url`` in ``hub.yaml``) is checked twice:

- **at config load** (:meth:`TargetPolicy.url_problem`): an absolute ``https://`` URL
  without credentials; a host that is an IP address must be public, unless the address
  (or a network holding it) is allow-listed; ``localhost`` counts as loopback; old
  numeric forms (``2130706433``, ``0x7f.1``) are refused. No DNS lookup is made here, so
  a configuration can be checked offline.
- **at every delivery** (:meth:`TargetPolicy.addresses_problem`, called by the sink's
  transport with what the name resolves to right then): every address must be public,
  or inside an allow-listed network, or the name itself must be allow-listed. The sink
  then connects to exactly the address it checked, so a name that resolves to a public
  address for the check and to ``127.0.0.1`` a moment later (DNS rebinding) gets nowhere.

Not public: loopback, private (10/8, 172.16/12, 192.168/16, fc00::/7), link-local
(169.254/16 with the cloud metadata service, fe80::/10), shared (100.64/10), reserved and
documentation ranges; IPv6 forms that carry an IPv4 address (``::ffff:a.b.c.d``, 6to4,
NAT64) are judged by that address. Unspecified (0.0.0.0, ::) and multicast addresses
are refused whatever the allow-list says.

Plain ``http://`` is accepted only for an allow-listed target on the loopback interface
(a TLS agent on the same machine, a test receiver): alerts carry personal data and never
cross a network in clear.

The allow-list is ``webhooks.allow_private`` in ``hub.yaml``: IP addresses, networks in
CIDR notation (``10.1.2.0/24``) and host names (``case-system.local``, exact, any case).
A listed name may resolve to any unicast address: list a name only when you trust its
DNS. See ``docs/config.md``.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import httpx

__all__ = [
    "IPAddress",
    "Resolver",
    "TargetPolicy",
    "address_kind",
    "system_resolver",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
#: (host, port) -> the addresses to connect to, in order; raises OSError if it cannot
Resolver = Callable[[str, int], list[IPAddress]]

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
#: kinds of address that no allow-list entry opens
_NEVER = ("unspecified", "multicast")
_HOW = "list it (or its network) under webhooks.allow_private to reach an internal system"
_HTTP_REFUSED = (
    "plain http is refused: use https (http only to an allow-listed target on this"
    " machine's loopback interface)"
)


def system_resolver(host: str, port: int) -> list[IPAddress]:
    """The addresses ``getaddrinfo`` gives for ``host`` (TCP), duplicates removed."""
    found: dict[IPAddress, None] = {}
    for *_, sockaddr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        found[ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])] = None
    return list(found)


def _embedded(ip: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 address stands for (mapped, 6to4, NAT64), else ``ip``."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip.sixtofour is not None:
            return ip.sixtofour
        if ip in _NAT64:
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip


def address_kind(ip: IPAddress) -> str | None:
    """Why ``ip`` is not a public address (``"loopback"``, ``"private"``, ...), or None."""
    ip = _embedded(ip)
    for kind in ("unspecified", "multicast", "loopback", "link-local"):
        if getattr(ip, f"is_{kind.replace('-', '_')}"):
            return kind
    if ip.is_private:
        return "private"
    if not ip.is_global:
        return "non-public"
    return None


def _url_host(url: httpx.URL) -> str:
    """The host as it is looked up: ASCII (IDNA), lowercase, no trailing dot."""
    return url.raw_host.decode("ascii").lower().rstrip(".")


def _is_name(host: str) -> bool:
    labels = host.split(".")
    return (
        len(host) <= 253
        and all(_LABEL.match(label) for label in labels)
        and not labels[-1].isdigit()
    )


def _legacy_ipv4(host: str) -> bool:
    """``2130706433``, ``0x7f.1``, ``127.1``: numbers a resolver reads as an IPv4 address."""
    try:
        socket.inet_aton(host)
    except OSError:
        return False
    return True


def _refusal(host: str, ip: IPAddress) -> str:
    kind = address_kind(ip)
    what = f"{ip} is" if host == str(ip) else f"{host} resolves to {ip}, which is"
    article = "an" if kind == "unspecified" else "a"
    if kind in _NEVER:
        return f"{what} {article} {kind} address, never a webhook target"
    return f"{what} {article} {kind} address; {_HOW}"


@dataclass(frozen=True, slots=True)
class TargetPolicy:
    """The allow-list: networks (single addresses as /32 or /128) and host names."""

    networks: tuple[IPNetwork, ...] = ()
    names: frozenset[str] = frozenset()

    @classmethod
    def from_entries(cls, entries: Iterable[str]) -> TargetPolicy:
        """Parse ``webhooks.allow_private``; ValueError names the first bad entry."""
        networks: list[IPNetwork] = []
        names: set[str] = set()
        for raw in entries:
            entry = str(raw).strip()
            try:
                network = ipaddress.ip_network(entry, strict=True)
            except ValueError as exc:
                name = entry.lower().rstrip(".")
                if "/" in entry or ":" in entry or _legacy_ipv4(entry) or not _is_name(name):
                    raise ValueError(
                        f"{entry!r} is not an IP address, a network in CIDR"
                        f" notation (10.1.2.0/24) or a host name (case-system.local): {exc}"
                    ) from None
                names.add(name)
                continue
            if network.network_address.is_unspecified or network.is_multicast:
                raise ValueError(
                    f"{entry!r}: unspecified and multicast addresses are never"
                    " webhook targets; list the networks of the case systems only"
                )
            networks.append(network)
        return cls(tuple(networks), frozenset(names))

    def allows(self, host: str, ip: IPAddress) -> bool:
        """Whether ``ip``, what ``host`` resolved to, may be reached."""
        kind = address_kind(ip)
        if kind is None:
            return True
        if kind in _NEVER:
            return False
        if host in self.names:
            return True
        return any(a in net for a in (ip, _embedded(ip)) for net in self.networks)

    def url_problem(self, url: str) -> str | None:
        """What is wrong with ``url`` as a webhook target, or None (no DNS lookup)."""
        try:
            parsed: httpx.URL | None = httpx.URL(url)
        except httpx.InvalidURL:
            parsed = None
        if parsed is None or parsed.scheme not in ("https", "http") or not parsed.host:
            return f"{url!r} is not an absolute https URL, e.g. https://cases.example.nl/hook"
        if parsed.userinfo:
            return "a webhook URL carries no credentials (the receiver checks the signature)"
        host = _url_host(parsed)
        loopback = False
        try:
            ip: IPAddress | None = ipaddress.ip_address(host)
        except ValueError:
            ip = None
        if ip is not None:
            if not self.allows(host, ip):
                return _refusal(str(ip), ip)
            loopback = address_kind(ip) == "loopback"
        elif _legacy_ipv4(host):
            return f"write the IPv4 address {host!r} as four decimal numbers (a.b.c.d)"
        elif not _is_name(host):
            return f"{host!r} is not a valid host name"
        elif host == "localhost" or host.endswith(".localhost"):
            if not self.allows(host, ipaddress.IPv4Address("127.0.0.1")):
                return f"{host} is a loopback address; {_HOW}"
            loopback = True
        elif host in self.names:
            loopback = True  # http is judged by what it resolves to, at delivery
        if parsed.scheme == "http" and not loopback:
            return _HTTP_REFUSED
        return None

    def addresses_problem(self, url: httpx.URL, addresses: Sequence[IPAddress]) -> str | None:
        """What is wrong with delivering to ``url`` at ``addresses`` (what its host
        resolves to now), or None. Every address must be allowed."""
        host = _url_host(url)
        if not addresses:
            return f"{host} resolves to no address"
        for ip in addresses:
            if not self.allows(host, ip):
                return _refusal(host, ip)
        if url.scheme == "http" and any(address_kind(ip) != "loopback" for ip in addresses):
            return _HTTP_REFUSED
        return None
