"""Who may drive the server from a browser: the ``Host`` and ``Origin`` checks, and CORS.

A web page can send a "simple" request (a form or ``text/plain`` POST, with no
preflight) to any address its browser reaches, loopback included, and the server
reads every body as JSON (as Ollama does, for ``curl -d``). Two checks keep pages
from driving a local server:

- **Host** (DNS rebinding: a page at ``evil.example`` points its own name at
  127.0.0.1 and then reads as "same origin"): the ``Host`` header must name this
  server: an IP literal that is loopback or the bound address (any IP literal when
  bound to all interfaces: rebinding needs a *name*), ``localhost`` or a
  ``*.localhost`` name, this machine's own name when bound to all interfaces, or a
  name allowed by ``--allow-host``/``GENIUS_HOSTS`` (``*`` allows any).
- **Origin** (cross-site requests): a request with no ``Origin`` is not cross-site
  (curl and SDKs send none) and passes; otherwise the origin must be the server's
  own (``http://`` an allowed host, at the server's port) or match
  ``--allow-origin``/``GENIUS_ORIGINS`` (shell patterns such as ``http://localhost:*``;
  ``*`` allows any).

A preflight (``OPTIONS`` with ``Origin`` and ``Access-Control-Request-Method``) from
an allowed origin is answered here with 204 and the CORS headers; from any other
origin with 403, like every refused request. This module is pure: :func:`decide`
takes the headers and says what to do; :mod:`._guard` applies it to ASGI.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import socket
from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit

import attrs

from rusty_genius_core import ConfigError
from rusty_genius_core._record import Record

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["ALLOW_HEADERS", "ALLOW_METHODS", "SitePolicy", "Verdict", "decide"]

ALLOW_METHODS: Final = "GET, POST, DELETE, OPTIONS"
ALLOW_HEADERS: Final = "Authorization, Content-Type"
"""The request headers a preflight is told it may send when it names none."""


def _items(given: str | Iterable[str] | None, what: str) -> tuple[str, ...]:
    if given is None:
        return ()
    texts = [given] if isinstance(given, str) else list(given)
    items = tuple(
        item.strip().lower() for text in texts for item in text.split(",") if item.strip()
    )
    for item in items:
        if any(c.isspace() for c in item):
            raise ConfigError(f"{what} entries must not contain spaces, got {item!r}")
    return items


@attrs.frozen(kw_only=True, repr=False, eq=False)
class SitePolicy(Record):
    """The ``Host`` names and ``Origin`` patterns allowed beyond the defaults."""

    hosts: tuple[str, ...] = ()
    """Extra host names (case-insensitive, no port); ``"*"`` allows any ``Host``."""
    origins: tuple[str, ...] = ()
    """Extra origins, as shell patterns (``http://localhost:*``); ``"*"`` allows any."""

    @classmethod
    def parse(
        cls, hosts: str | Iterable[str] | None = None, origins: str | Iterable[str] | None = None
    ) -> SitePolicy:
        """From comma lists, as ``--allow-host``/``GENIUS_HOSTS`` and ``--allow-origin`` give them."""
        origin_items = tuple(o.rstrip("/") for o in _items(origins, "allowed origins"))
        for origin in origin_items:
            if origin not in ("*", "null") and "://" not in origin:
                raise ConfigError(
                    f"an allowed origin is scheme://host[:port] (or a pattern, or *), "
                    f"got {origin!r}"
                )
        return cls(hosts=_items(hosts, "allowed hosts"), origins=origin_items)


@attrs.frozen(kw_only=True, repr=False, eq=False)
class Verdict(Record):
    """What to do with a request: refuse it, answer its preflight, or serve it."""

    refused: str | None = None
    """The 403's message (naming the header and its value), or ``None``."""
    preflight: bool = False
    """Answer 204 with the CORS headers now (an allowed preflight)."""
    allow_origin: str | None = None
    """The ``Access-Control-Allow-Origin`` to send back (an allowed ``Origin``)."""


def _split_host(host: str) -> tuple[str, int | None] | None:
    """``("::1", 8080)`` from ``"[::1]:8080"``; ``None`` when it is not a host[:port]."""
    try:
        parts = urlsplit(f"//{host}")
        return (parts.hostname or "", parts.port)
    except ValueError:
        return None


def _ip(name: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(name)
    except ValueError:
        return None


def _unspecified(bound: str) -> bool:
    ip = _ip(bound)
    return ip is not None and ip.is_unspecified


def host_allowed(name: str, bound: str | None, policy: SitePolicy) -> bool:
    """Whether a ``Host`` name (no port) names this server, bound to ``bound``."""
    name = name.lower().rstrip(".")
    if "*" in policy.hosts or name in policy.hosts:
        return True
    ip = _ip(name)
    if ip is not None:
        bound_ip = _ip(bound) if bound else None
        return ip.is_loopback or ip == bound_ip or (bound is not None and _unspecified(bound))
    if name == "localhost" or name.endswith(".localhost"):
        return True
    if bound is not None and name == bound.lower():
        return True
    return bound is not None and _unspecified(bound) and name == socket.gethostname().lower()


def _origin_allowed(origin: str, server: tuple[str, int] | None, policy: SitePolicy) -> bool:
    origin = origin.lower().rstrip("/")
    if any(p == "*" or fnmatch.fnmatchcase(origin, p) for p in policy.origins):
        return True
    if server is None or "://" not in origin:
        return False
    scheme = origin.split("://", 1)[0]
    split = _split_host(origin.split("://", 1)[1])
    if scheme != "http" or split is None:
        return False
    name, port = split
    # The server's own page: one of its host names, at its port (http: no TLS here).
    return (port or 80) == server[1] and host_allowed(name, server[0], policy)


def decide(
    method: str,
    host: str | None,
    origin: str | None,
    *,
    server: tuple[str, int] | None,
    policy: SitePolicy,
    preflight: bool = False,
) -> Verdict:
    """The verdict on a request with these ``Host`` and ``Origin`` headers.

    ``server`` is the bound (address, port) (ASGI's ``scope["server"]``);
    ``preflight`` says the request carries ``Access-Control-Request-Method``.
    """
    if host is not None:
        split = _split_host(host)
        if split is None or not host_allowed(split[0], server[0] if server else None, policy):
            return Verdict(
                refused=f"the Host header {host!r} does not name this server; "
                "allow it with --allow-host or GENIUS_HOSTS"
            )
    if origin is None:
        return Verdict()
    if not _origin_allowed(origin, server, policy):
        return Verdict(
            refused=f"the Origin header {origin!r} is not allowed (cross-site requests are "
            "refused); allow it with --allow-origin or GENIUS_ORIGINS"
        )
    return Verdict(allow_origin=origin, preflight=preflight and method == "OPTIONS")
