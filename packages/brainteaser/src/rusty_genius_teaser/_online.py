"""Fixtures that need the real Hugging Face hub run only where it answers.

Their items carry the ``online`` mark. At collection they are kept when
``GENIUS_ONLINE=1`` says so, or when a TCP connection to the hub (``HF_ENDPOINT``,
else huggingface.co) opens within a few seconds; otherwise they are deselected and
one line after collection says how many, and why. A kept item whose hub then fails
fails (a real run never skips: see ``scripts/metal.sh``).
"""

from __future__ import annotations

import os
import socket
from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from collections.abc import Mapping

    import pytest

__all__ = ["ONLINE_ENV", "ONLINE_MARK", "hub_answers", "hub_endpoint", "split_online"]

ONLINE_ENV: Final = "GENIUS_ONLINE"
ONLINE_MARK: Final = "online"
_REAL_HUB: Final = "https://huggingface.co"
_PROBE_SECONDS: Final = 3.0


def hub_endpoint(environ: Mapping[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    return (env.get("HF_ENDPOINT") or _REAL_HUB).rstrip("/")


def hub_answers(endpoint: str, seconds: float = _PROBE_SECONDS) -> bool:
    """Whether a TCP connection to ``endpoint``'s host and port opens within ``seconds``."""
    parts = urlsplit(endpoint)
    if not parts.hostname:
        return False
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        with socket.create_connection((parts.hostname, port), timeout=seconds):
            return True
    except (OSError, ValueError):
        return False


def split_online(
    items: list[pytest.Item], environ: Mapping[str, str] | None = None
) -> tuple[list[pytest.Item], list[pytest.Item], str | None]:
    """``(kept, deselected, line)``: the line says why items were deselected, if any were."""
    env = os.environ if environ is None else environ
    online = [item for item in items if item.get_closest_marker(ONLINE_MARK) is not None]
    if not online or env.get(ONLINE_ENV) == "1":
        return items, [], None
    endpoint = hub_endpoint(env)
    if env.get(ONLINE_ENV) != "0" and hub_answers(endpoint):
        return items, [], None
    kept = [item for item in items if item.get_closest_marker(ONLINE_MARK) is None]
    why = "GENIUS_ONLINE=0" if env.get(ONLINE_ENV) == "0" else f"{endpoint} is unreachable"
    line = (
        f"brainteaser: deselected {len(online)} fixture run(s) that need the Hugging Face hub "
        f"({why}; GENIUS_ONLINE=1 runs them anyway)"
    )
    return kept, online, line
