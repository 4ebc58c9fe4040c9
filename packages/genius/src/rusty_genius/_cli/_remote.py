"""The commands as a client of a running ``genius serve``, over its Ollama-compatible API.

:func:`open_remote` decides where a command runs: on the server at ``GENIUS_HOST`` when
one answers there (``GENIUS_API_KEY`` goes along as a bearer token when set), else
in-process (``None``), saying which under ``--verbose``. Options that only mean something
in-process (``--backend`` other than auto, ``--home``, ``--cache``, ``--endpoint``) keep a
command in-process: the server has its own.

Replies are read with the server's own pydantic models (``_serve._models_ollama``) and
turned into the library's events and statuses (:mod:`._ollama_events`), so that what is
printed, ``--json`` included, has the same shape whichever way a command runs. This module
is imported only when a server listens; it brings in httpx and pydantic.

Its errors (:class:`~._where.ServerRefusedError`, :class:`~._where.ServerFailedError`)
live in :mod:`._where`, which the commands import without httpx.
"""

from __future__ import annotations

import contextlib
import json
import os
from contextlib import aclosing
from typing import TYPE_CHECKING, Any, Final

import anyio
import httpx

from rusty_genius_core import AssetEvent, ModelStatus

from .._serve._models_ollama import (
    OllamaErrorResponse,
    PullStatus,
    RunningModels,
    ShowResponse,
    Tags,
    Version,
)
from ._ollama_events import (
    AnswerLines,
    PullLines,
    info_record_of,
    request_body,
    status_of_running,
)
from ._where import ServerFailedError, ServerRefusedError

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, AsyncIterator, Sequence
    from pathlib import Path

    from rusty_genius_core import ChatMessage, InferenceConfig, InferenceEvent

    from .._streams import RequestEvent
    from ._where import ServerUrl

__all__ = ["API_KEY_ENV", "Remote"]

API_KEY_ENV: Final = "GENIUS_API_KEY"
_CHECK_TIMEOUT: Final = 5.0


class Remote:
    """One command's HTTP client of the server at ``server``."""

    def __init__(self, server: ServerUrl, *, api_key: str | None = None) -> None:
        self.server = server
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        # read=None: a model may take long to load, or to write its first token
        timeout = httpx.Timeout(_CHECK_TIMEOUT, read=None)
        self._client = httpx.AsyncClient(base_url=server.url, headers=headers, timeout=timeout)

    @classmethod
    def from_env(cls, server: ServerUrl) -> Remote:
        return cls(server, api_key=os.environ.get(API_KEY_ENV) or None)

    async def __aenter__(self) -> Remote:
        await self._client.__aenter__()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._client.__aexit__(*exc_info)  # type: ignore[arg-type]

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def where(self) -> str:
        return f"the server at {self.url}"

    async def check(self) -> str | None:
        """The server's version; ``None`` when what listens is not an Ollama-style server.

        A server that wants an API key this client does not have is an error, not a
        reason to run in-process behind the user's back.
        """
        try:
            response = await self._client.get("/api/version", timeout=_CHECK_TIMEOUT)
        except httpx.HTTPError:
            return None
        if response.status_code in (401, 403):
            raise ServerRefusedError(
                f"the server at {self.url} wants an API key: set {API_KEY_ENV} "
                f"(it answered {response.status_code})"
            )
        if response.status_code != 200:
            return None
        try:
            return Version.model_validate_json(response.content).version
        except ValueError:
            return None

    # -- the commands -----------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def infer(
        self,
        model: str,
        messages: str | Sequence[ChatMessage],
        *,
        config: InferenceConfig,
        keep_alive: float | None,
    ) -> AsyncIterator[AsyncIterator[RequestEvent]]:
        """The answer's events; leaving early closes the connection, which cancels it."""
        path, body = request_body(model, messages, config=config, keep_alive=keep_alive)
        reader = AnswerLines(model, chat=path == "/api/chat")  # its clock starts now
        async with (
            self._lines("POST", path, body) as lines,
            aclosing(_answer(reader, lines)) as events,
        ):
            yield events

    async def ps(self) -> tuple[ModelStatus, ...]:
        reply = RunningModels.model_validate_json(await self._get("/api/ps"))
        return tuple(status_of_running(m) for m in reply.models)

    async def list_models(self) -> tuple[ModelStatus, ...]:
        reply = Tags.model_validate_json(await self._get("/api/tags"))
        return tuple(
            ModelStatus(
                name=tag.name,
                quantization=tag.details.quantization_level,
                size=tag.size,
                downloaded=True,
            )
            for tag in reply.models
        )

    async def show(self, model: str) -> dict[str, Any] | None:
        """``genius info``'s record from ``/api/show``; ``None`` when it is not downloaded."""
        response = await self._send("POST", "/api/show", {"model": model})
        if response.status_code == 404:
            return None
        self._raise_for(response)
        return info_record_of(ShowResponse.model_validate_json(response.content))

    async def remove_model(self, model: str) -> bool:
        """``False`` when the server has no such model downloaded."""
        response = await self._send("DELETE", "/api/delete", {"model": model})
        if response.status_code == 404:
            return False
        self._raise_for(response)
        return True

    async def create(self, body: dict[str, Any]) -> AsyncIterator[str]:
        """``POST /api/create`` with ``body``: its status lines, ``success`` last."""
        async with self._lines("POST", "/api/create", {**body, "stream": True}) as lines:
            async for data in lines:
                yield str(data.get("status", ""))

    async def copy(self, source: str, destination: str) -> None:
        body = {"source": source, "destination": destination}
        self._raise_for(await self._send("POST", "/api/copy", body))

    async def upload_blob(self, path: Path, digest: str) -> None:
        """Send the file at ``path`` as the blob ``digest``, unless the server has it."""
        try:
            if (await self._client.head(f"/api/blobs/{digest}")).status_code == 200:
                return
            response = await self._client.post(f"/api/blobs/{digest}", content=_chunks(path))
        except httpx.HTTPError as exc:
            raise self._broken(exc) from exc
        self._raise_for(response)

    async def unload(self, model: str) -> None:
        """Unload ``model`` now, the Ollama way: a request without a prompt, ``keep_alive`` 0."""
        response = await self._send("POST", "/api/generate", {"model": model, "keep_alive": 0})
        self._raise_for(response)

    @contextlib.asynccontextmanager
    async def pull(self, model: str) -> AsyncIterator[AsyncIterator[AssetEvent]]:
        async with (
            self._lines("POST", "/api/pull", {"model": model}) as lines,
            aclosing(_pulled(model, lines, where=self.url)) as events,
        ):
            yield events

    # -- HTTP -------------------------------------------------------------------------------

    async def _send(self, method: str, path: str, body: dict[str, Any]) -> httpx.Response:
        try:
            return await self._client.request(method, path, json=body)
        except httpx.HTTPError as exc:
            raise self._broken(exc) from exc

    async def _get(self, path: str) -> bytes:
        try:
            response = await self._client.get(path)
        except httpx.HTTPError as exc:
            raise self._broken(exc) from exc
        self._raise_for(response)
        return response.content

    @contextlib.asynccontextmanager
    async def _lines(
        self, method: str, path: str, body: dict[str, Any]
    ) -> AsyncIterator[AsyncIterator[dict[str, Any]]]:
        """The NDJSON objects of a streamed reply; an ``{"error": …}`` line raises."""
        try:
            async with self._client.stream(method, path, json=body) as response:
                try:
                    if response.status_code >= 400:
                        await response.aread()
                        self._raise_for(response)
                    async with aclosing(self._objects(response)) as objects:
                        yield objects
                finally:
                    # Shielded: a cancelled answer (Ctrl-C) must still close its connection,
                    # which is how the server learns to cancel the request.
                    with anyio.CancelScope(shield=True):
                        await response.aclose()
        except httpx.HTTPError as exc:
            raise self._broken(exc) from exc

    async def _objects(self, response: httpx.Response) -> AsyncGenerator[dict[str, Any], None]:
        async for line in response.aiter_lines():
            if not line.strip():
                continue
            try:
                data = json.loads(line)
            except ValueError:
                raise ServerFailedError(
                    f"the server at {self.url} sent a line that is not JSON: {line[:80]!r}"
                ) from None
            if not isinstance(data, dict):
                raise ServerFailedError(f"the server at {self.url} sent {line[:80]!r}")
            if "error" in data:
                raise ServerFailedError(str(data["error"]))
            yield data

    def _raise_for(self, response: httpx.Response) -> None:
        if response.status_code < 400:
            return
        try:
            message = OllamaErrorResponse.model_validate_json(response.content).error
        except ValueError:
            message = response.text.strip()[:200] or response.reason_phrase
        if response.status_code < 500:
            raise ServerRefusedError(message)
        raise ServerFailedError(f"the server at {self.url} failed: {message}")

    def _broken(self, exc: httpx.HTTPError) -> ServerFailedError:
        return ServerFailedError(
            f"lost the server at {self.url}: {exc or type(exc).__name__} "
            f"(is `genius serve` still running?)"
        )


async def _chunks(path: Path) -> AsyncGenerator[bytes, None]:
    async with await anyio.open_file(path, "rb") as f:
        while chunk := await f.read(1 << 20):
            yield chunk


async def _answer(
    reader: AnswerLines, lines: AsyncIterator[dict[str, Any]]
) -> AsyncGenerator[InferenceEvent, None]:
    async for data in lines:
        for event in reader.feed(data):
            yield event
        if reader.done:
            return
    raise ServerFailedError(
        f"the answer from the server for {reader.model!r} ended before it was done"
    )


async def _pulled(
    model: str, lines: AsyncIterator[dict[str, Any]], *, where: str
) -> AsyncGenerator[AssetEvent, None]:
    reader = PullLines(model, where=where)
    async for data in lines:
        for event in reader.feed(PullStatus.model_validate(data)):
            yield event
    if not reader.done:
        raise ServerFailedError(f"the server's download of {model!r} ended before it was done")
