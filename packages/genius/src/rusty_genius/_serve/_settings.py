"""Settings of ``genius serve`` that both the command line and the ASGI app read.

This module imports no HTTP stack: the command line reads it for every command.
"""

from __future__ import annotations

from typing import Final

__all__ = ["DEFAULT_BODY_TIMEOUT", "HOSTS_ENV", "ORIGINS_ENV"]

DEFAULT_BODY_TIMEOUT: Final = 30.0
"""Seconds a request body may take to arrive, from its first read to its last part (408)."""
HOSTS_ENV: Final = "GENIUS_HOSTS"
"""The environment's comma list of extra allowed ``Host`` names (``--allow-host``)."""
ORIGINS_ENV: Final = "GENIUS_ORIGINS"
"""The environment's comma list of extra allowed ``Origin`` patterns (``--allow-origin``)."""
