"""Which engine answers, and the rule that lets ``genius run`` answer on a fresh machine.

``backend="pinky"`` and ``backend="llama"`` are taken as given. ``backend="auto"``
in :class:`Genius` means what cortex means: llama.cpp when llama-cpp-python is
installed, else Pinky. :func:`choose_backend` adds the rule the command line uses
for one model, so that its first command streams an answer even with nothing
downloaded and no hub in reach:

1. llama-cpp-python is not installed → Pinky;
2. the model is in the registry with its files on disk → llama;
3. the hub is offline (``HF_HUB_OFFLINE``) → Pinky;
4. the manifest lists mirrors for the model → llama (which downloads it from the hub,
   or else from a mirror);
5. a TCP connection to the hub's endpoint opens within ``probe_timeout`` → llama
   (which downloads the model first);
6. otherwise → Pinky.

Every fallback to Pinky carries a one-line ``notice`` saying why; the CLI prints it
on stderr. A bad reference is not a reason to fall back: it raises
:class:`~rusty_genius_core.ManifestError` (or facecrab's ``ModelNotFoundError``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, Literal, get_args
from urllib.parse import urlsplit

import anyio
import attrs

from rusty_genius_core import ConfigError
from rusty_genius_core._record import Record
from rusty_genius_cortex import (
    BACKEND_AUTO,
    BACKEND_LLAMA,
    BACKEND_PINKY,
    REAL_ENGINE_HINT,
    available_backends,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from facecrab import AssetAuthority

__all__ = [
    "DEFAULT_PROBE_TIMEOUT",
    "BackendChoice",
    "BackendName",
    "choose_backend",
    "hub_reachable",
]

BackendName = Literal["auto", "pinky", "llama"]
"""The engines a :class:`Genius` may be told to use: cortex's ``BACKEND_*`` names but remote."""

DEFAULT_PROBE_TIMEOUT: Final = 3.0
"""Seconds :func:`choose_backend` waits for the hub's TCP handshake before using Pinky."""


def check_backend(backend: object) -> BackendName:
    if backend not in get_args(BackendName):
        allowed = ", ".join(get_args(BackendName))
        raise ConfigError(f"unknown backend {backend!r}; expected one of {allowed}")
    return backend  # type: ignore[return-value]


def resolve_auto(backend: BackendName) -> Literal["pinky", "llama"]:
    """``auto`` as cortex reads it: llama when installed, else Pinky."""
    if backend == BACKEND_AUTO:
        return BACKEND_LLAMA if BACKEND_LLAMA in available_backends() else BACKEND_PINKY
    return backend


@attrs.frozen(kw_only=True, repr=False, eq=False)
class BackendChoice(Record):
    """The engine :func:`choose_backend` picked; ``notice`` says why it fell back to Pinky."""

    backend: Literal["pinky", "llama"]
    notice: str | None = None


async def hub_reachable(endpoint: str, *, seconds: float = DEFAULT_PROBE_TIMEOUT) -> bool:
    """True when a TCP connection to ``endpoint``'s host and port opens within ``seconds``."""
    parts = urlsplit(endpoint)
    host = parts.hostname
    if not host:
        return False
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return False
    with anyio.move_on_after(seconds):
        try:
            stream = await anyio.connect_tcp(host, port)
        except OSError:
            return False
        await stream.aclose()
        return True
    return False


async def choose_backend(
    requested: BackendName,
    reference: str,
    assets: AssetAuthority,
    *,
    probe_timeout: float = DEFAULT_PROBE_TIMEOUT,
    installed: Sequence[str] | None = None,
) -> BackendChoice:
    """The engine that should answer ``reference``; see the module docstring for the rule.

    ``assets`` is an :class:`facecrab.AssetAuthority`; only its registry is read (no
    download), and the hub is only probed when the model is not local. ``installed``
    names the engines this installation can create (default: cortex's
    ``available_backends()``).
    """
    requested = check_backend(requested)
    if requested != BACKEND_AUTO:
        return BackendChoice(backend=requested)
    pinky = "answering with the Pinky stub engine"
    if BACKEND_LLAMA not in (available_backends() if installed is None else installed):
        return BackendChoice(
            backend=BACKEND_PINKY,
            notice=f"llama-cpp-python is not installed; {pinky} "
            f"(for real models: {REAL_ENGINE_HINT})",
        )
    if await assets.find_local(reference) is not None:
        return BackendChoice(backend=BACKEND_LLAMA)
    if assets.offline:
        return BackendChoice(
            backend=BACKEND_PINKY,
            notice=f"{reference} is not downloaded and the hub is offline (HF_HUB_OFFLINE); {pinky}",
        )
    if await assets.mirrors(reference):
        return BackendChoice(backend=BACKEND_LLAMA)  # the hub first, then the mirrors
    if await hub_reachable(assets.endpoint, seconds=probe_timeout):
        return BackendChoice(backend=BACKEND_LLAMA)
    return BackendChoice(
        backend=BACKEND_PINKY,
        notice=f"{reference} is not downloaded and {assets.endpoint} is unreachable; {pinky}",
    )
