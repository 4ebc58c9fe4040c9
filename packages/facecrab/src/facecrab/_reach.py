"""A hub that cannot be reached is said so at once, with what to change.

A DNS failure or a refused connection does not pass with a retry a few seconds later,
so neither is retried: :func:`unreachable` words the error (the host, ``HF_ENDPOINT``,
``HF_HUB_OFFLINE``), :func:`probe_hub` checks the hub before huggingface_hub is asked
to list a repo (its own client retries connection errors for about 25 s, logging each
retry), and :func:`quiet_hub_retries` keeps those log lines off the terminal.
"""

from __future__ import annotations

import logging
import socket
from typing import Final
from urllib.parse import urlsplit

import anyio

from ._errors import DownloadError

__all__ = ["CONNECT_TIMEOUT", "probe_hub", "quiet_hub_retries", "unreachable"]

CONNECT_TIMEOUT: Final = 4.0
"""Seconds a TCP connection to the hub may take before the hub counts as unreachable."""

_RETRY_CHATTER: Final = ("Retrying in", "thrown while requesting", "Rate limited. Waiting")


def unreachable(endpoint: str, reason: object) -> DownloadError:
    """The error for a hub whose host does not resolve or does not accept connections."""
    host = urlsplit(endpoint).hostname or endpoint
    return DownloadError(
        f"cannot reach the Hugging Face hub at {host} ({endpoint}): {reason}. "
        "Check the network (or proxy), point HF_ENDPOINT at a hub you can reach, or set "
        "HF_HUB_OFFLINE=1 to use only models already downloaded"
    )


def _port(endpoint: str) -> tuple[str, int]:
    parts = urlsplit(endpoint)
    if not parts.hostname:
        raise unreachable(endpoint, "the endpoint names no host")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise unreachable(endpoint, f"bad port ({exc})") from None
    return parts.hostname, port


async def probe_hub(endpoint: str, *, seconds: float = CONNECT_TIMEOUT) -> None:
    """Raise the :func:`unreachable` error unless a TCP connection to the hub opens.

    One attempt: a name that does not resolve, a refused connection or no answer within
    ``seconds`` seconds is reported as it is.
    """
    host, port = _port(endpoint)
    with anyio.move_on_after(seconds):
        try:
            stream = await anyio.connect_tcp(host, port)
        except socket.gaierror as exc:
            raise unreachable(endpoint, f"the name {host} does not resolve ({exc})") from None
        except OSError as exc:
            raise unreachable(endpoint, f"no connection to port {port} ({exc})") from None
        await stream.aclose()
        return
    raise unreachable(endpoint, f"no answer within {seconds:g} s")


class _NoRetryChatter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(marker in message for marker in _RETRY_CHATTER)


_FILTER: Final = _NoRetryChatter()


def quiet_hub_retries() -> None:
    """Drop huggingface_hub's per-retry warnings (the outcome is reported as one error)."""
    for name in ("huggingface_hub.utils._http", "huggingface_hub"):
        log = logging.getLogger(name)
        if _FILTER not in log.filters:
            log.addFilter(_FILTER)
