"""Pick an engine: the real one when llama-cpp-python is installed, Pinky otherwise."""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING, Any, get_args

from rusty_genius_core import ConfigError, EngineError

from ._engine import BACKEND_AUTO, BACKEND_LLAMA, BACKEND_PINKY, BACKEND_REMOTE, Backend
from ._llama import LlamaEngine
from ._pinky import PinkyEngine

if TYPE_CHECKING:
    from ._engine import Engine

__all__ = ["Backend", "available_backends", "create_engine"]


def _llama_installed() -> bool:
    # find_spec, not import: importing llama_cpp loads the native library (slow, and the
    # stub install must never need it). A broken install shows up at load() as EngineError.
    try:
        return importlib.util.find_spec("llama_cpp") is not None
    except (ImportError, ValueError):
        return False


def available_backends() -> tuple[str, ...]:
    """The engines this installation can create: always ``"pinky"``, ``"llama"`` when installed."""
    return (BACKEND_LLAMA, BACKEND_PINKY) if _llama_installed() else (BACKEND_PINKY,)


def create_engine(backend: Backend = "auto", **options: Any) -> Engine:
    """A new engine. ``"auto"`` is ``"llama"`` when llama-cpp-python is installed, else ``"pinky"``.

    ``options`` go to the engine's constructor (:class:`PinkyEngine`:
    ``load_delay``, ``token_delay``; :class:`LlamaEngine`: ``default_context_size``,
    ``default_parallel``, ``default_threads``, ``n_batch``, ``relay_capacity``, ``verbose``; :class:`RemoteEngine` (``"remote"``, never
    chosen by ``"auto"``): ``base_url`` (required), ``api_key``, ``model``, ``http_client``,
    ``timeout``, ``check_model``, and ``poll_interval``, accepted but unused).
    """
    if backend not in get_args(Backend):
        allowed = ", ".join(get_args(Backend))
        raise ConfigError(f"unknown engine backend {backend!r}; expected one of {allowed}")
    if backend == BACKEND_AUTO:
        backend = BACKEND_LLAMA if _llama_installed() else BACKEND_PINKY
    try:
        if backend == BACKEND_PINKY:
            return PinkyEngine(**options)
        if backend == BACKEND_REMOTE:
            if "base_url" not in options:
                raise ConfigError("backend 'remote' needs base_url= (the OpenAI-compatible server)")
            from ._remote import RemoteEngine  # here: it imports httpx

            return RemoteEngine(**options)
        if not _llama_installed():
            raise EngineError(
                "backend 'llama' needs llama-cpp-python: install rusty-genius-cortex[llama]"
            )
        return LlamaEngine(**options)
    except TypeError as exc:  # an option the engine does not take
        raise ConfigError(f"invalid option for the {backend} engine: {exc}") from exc
