"""LoRA adapters on a remote server, the way each upstream takes them.

* **llama-server** loads its adapters at start (``--lora FILE``, ``--lora-scaled FILE
  SCALE``) and lists them at ``GET /lora-adapters`` (``[{"id": 0, "path": ...}]``); a
  request picks its own with ``"lora": [{"id": 0, "scale": 0.5}]`` (an adapter it does
  not name runs at scale 0). An adapter is matched by its file name, else by its name.
* **vLLM** serves each adapter as a model of its own (``--lora-modules NAME=PATH``), so
  a request with one adapter at scale 1 is sent to the model called by the adapter's
  name, when the server lists it.

Anything else (a server with neither, an adapter it does not have, several adapters or
a scale other than 1 on vLLM) is refused with :class:`UnsupportedError` (400) saying
what the server lacks and how to give it the adapter.
"""

from __future__ import annotations

from pathlib import PurePath
from typing import TYPE_CHECKING, Any

from rusty_genius_core import UnsupportedError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    import httpx

    from rusty_genius_core import AdapterSet

__all__ = ["RemoteAdapters"]


class RemoteAdapters:
    """What one server offers for LoRA adapters, asked once per load."""

    def __init__(
        self,
        base_url: str,
        get: Callable[[str], Awaitable[httpx.Response]],
        models: Callable[[], Awaitable[set[str]]],
    ) -> None:
        self._base_url = base_url
        self._get = get
        self._models = models
        self._listed: dict[str, int] | None = None  # llama-server's adapters: file/name -> id
        self._asked = False

    async def apply(self, body: dict[str, Any], adapters: AdapterSet) -> dict[str, Any]:
        """``body`` with ``adapters`` applied as the server takes them; else UnsupportedError."""
        active = [a for a in adapters if a.scale != 0]
        if not adapters:
            return body
        listed = await self._llama_server_adapters()
        if listed is not None:
            lora = []
            for adapter in active:
                found = listed.get(PurePath(adapter.path).name, listed.get(adapter.name))
                if found is None:
                    raise UnsupportedError(
                        f"the server at {self._base_url} has no LoRA adapter {adapter.name!r} "
                        f"({PurePath(adapter.path).name}); it has: "
                        f"{', '.join(sorted(listed)) or 'none'} (start llama-server with "
                        f"--lora {PurePath(adapter.path).name})"
                    )
                lora.append({"id": found, "scale": adapter.scale})
            return {**body, "lora": lora}
        if not active:
            return body
        if len(active) > 1 or active[0].scale != 1:
            raise UnsupportedError(
                f"the server at {self._base_url} serves LoRA adapters as models (vLLM): "
                "one adapter at scale 1 per request, not "
                + ", ".join(f"{a.name}*{a.scale:g}" for a in active)
            )
        name = active[0].name
        if name not in await self._models():
            raise UnsupportedError(
                f"the server at {self._base_url} has no /lora-adapters (not llama-server) and "
                f"does not list a model {name!r} (vLLM serves an adapter as a model: "
                f"--lora-modules {name}=PATH)"
            )
        return {**body, "model": name}

    async def _llama_server_adapters(self) -> dict[str, int] | None:
        if not self._asked:
            self._asked = True
            self._listed = await self._ask()
        return self._listed

    async def _ask(self) -> dict[str, int] | None:
        try:
            response = await self._get("/lora-adapters")
        except Exception:
            return None
        if response.status_code != 200:
            return None
        try:
            rows = response.json()
            found: dict[str, int] = {}
            for row in rows:
                index = row["id"]
                if not isinstance(index, int) or isinstance(index, bool):
                    return None
                found.setdefault(PurePath(str(row["path"])).name, index)
                found.setdefault(PurePath(str(row["path"])).stem, index)
            return found
        except (ValueError, KeyError, TypeError):
            return None
