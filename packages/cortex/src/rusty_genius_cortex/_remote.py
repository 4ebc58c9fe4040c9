"""The remote engine: forwards requests to an OpenAI-compatible server over HTTP.

This is how a deployment outgrows one machine: brainstem routes a model to a
server that already scales (vLLM with tensor parallelism, llama.cpp's
``llama-server``, another ``genius serve``) instead of a home-made cluster.

How a request runs:

* The request goes out in the OpenAI wire format (``_openai_wire.py``: chat
  completions, or completions for a ``raw`` prompt, streamed with usage).
* The server-sent events are decoded by httpx-sse (``_sse.py``). Reasoning deltas
  and content deltas are turned back into the raw ``<think>…</think>`` text a
  local model would have written and pushed through the shared
  :class:`TokenPipeline`, so a server that leaves ``<think>`` in its content is
  split the same way, and ``show_thinking`` applies locally. One server chunk is
  one pipeline token.
* Stop strings and ``max_tokens`` are the server's job (sent with the request);
  the pipeline does not cut again, which would only move event boundaries.
* The server's ``usage`` gives the token counts of :class:`Complete`; timings are
  measured here, as the client sees them. ``finish_reason`` maps back
  (``stop``, ``length``, ``tool_calls``; anything else is ``stop``).
* Tools, ``tool_choice`` and ``response_format`` pass through as OpenAI spells
  them; streamed ``tool_calls`` come back as ``ToolCallDelta`` events. ``embed``
  asks ``POST /v1/embeddings`` (``_remote_embed.py``).
* Every wait on the server (also before the first byte, while the server queues
  or evaluates the prompt) is bounded by the :class:`StopSignal`: its cancel
  scope ends the wait the moment the signal is set. Then, or when the consumer
  closes the iterator or is cancelled, the HTTP response is closed, which a
  server like ``genius serve`` takes as a cancellation of its own request.

``load`` asks ``GET /v1/models`` (server reachable, key accepted, model listed;
a model the list lacks is tried with ``GET /v1/models/{id}``, which ``genius
serve`` answers for every model it can serve; ``check_model=False`` skips the
model check); ``unload`` only forgets. The
engine does not serialize its requests (``EngineBase(serialize=False)``): the
server queues, and the brainstem's ``parallelism`` bounds how many run at once.
That defaults to the engine's :attr:`~EngineBase.parallel`: ``LoadOptions.parallel``,
else the ``parallel`` given to the engine, else the server's own slot count
(llama-server's ``GET /props`` ``total_slots``), else four.

A pooled keep-alive connection that the server closed while it sat idle fails the
next request before any byte of a response (``RemoteProtocolError``); such a
request never reached the server's model, so it is sent once more on a new
connection. A failure after response bytes arrived is never retried.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final, TypeVar
from urllib.parse import quote

import anyio
import attrs
import httpx

from rusty_genius_core import (
    BusyError,
    Complete,
    ConfigError,
    EngineError,
    FinishReason,
    InferenceConfig,
    InferenceEvent,
    LoadOptions,
    ModelSpec,
    ToolCallDelta,
)
from rusty_genius_core._record import Record

from ._base import EngineBase, EngineRequest
from ._engine import BACKEND_REMOTE
from ._openai_wire import Reply, deltas, error_text, finish_reason, request_body, usage_of
from ._pipeline import TokenPipeline
from ._remote_embed import remote_embeddings
from ._remote_lora import RemoteAdapters
from ._sse import SSEDecoder
from ._think import THINK_CLOSE, THINK_OPEN

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, AsyncIterator, Awaitable
    from pathlib import Path

    from ._embedding import EmbedRequest, RawEmbeddings
    from ._engine import StopSignal
    from ._usage import UsageMeter

__all__ = ["RemoteEngine"]

T = TypeVar("T")

DEFAULT_TIMEOUT: Final = httpx.Timeout(10.0, read=600.0)
"""Connect, write and pool waits of 10 s; a read may wait 10 minutes (queues, long prompts)."""

_MAX_ERROR_BYTES: Final = 64 * 1024
_NO_RESPONSE: Final = "without sending a response"  # httpcore's words for that case
_DEFAULT_PARALLEL: Final = 4  # when neither the caller nor the server says
_MAX_PARALLEL: Final = 256


def _base_url(url: object) -> str:
    if not isinstance(url, str) or not url.strip():
        raise ConfigError(f"RemoteEngine base_url must be an http(s) URL, got {url!r}")
    parsed = httpx.URL(url.strip())
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ConfigError(f"RemoteEngine base_url must be an http(s) URL, got {url!r}")
    base = str(parsed).rstrip("/")
    # Clients write the OpenAI base either with or without ``/v1``; paths here add it.
    return base.removesuffix("/v1")


@attrs.frozen(repr=False, eq=False)
class _Call(Record):
    """A request ready to send: where, and what."""

    url: str
    body: dict[str, Any]
    config_without_stops: InferenceConfig  # the server cuts at stop strings


class RemoteEngine(EngineBase[_Call]):
    """An engine whose model runs on an OpenAI-compatible server (``backend == "remote"``).

    ``base_url`` is the server (``http://host:8080`` or ``http://host:8080/v1``);
    ``api_key`` is sent as a bearer token; ``model`` is the server's name for the
    model (default: the name given to :meth:`load`); ``http_client`` is a client
    the caller owns (otherwise one is opened at ``load`` and closed at
    ``unload``); ``timeout`` applies to the client opened here; ``parallel`` is
    how many requests to send at once (default: the server's slots, see above). ``poll_interval``
    is still accepted (and checked) for compatibility, but unused: the stop
    signal is no longer polled.
    """

    _backend = BACKEND_REMOTE
    _needs_weights = False
    _charges_load = False  # asking the server for its model list is not a model load
    _supports_tools = True  # passed through to the server
    _supports_json = True
    _supports_adapters = True  # as the server takes them (_remote_lora.py), or refused

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        model: str | None = None,
        http_client: httpx.AsyncClient | None = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        poll_interval: float = 0.05,
        check_model: bool = True,
        parallel: int | None = None,
    ) -> None:
        self.base_url: Final = _base_url(base_url)
        if api_key is not None and (not isinstance(api_key, str) or not api_key):
            raise ConfigError("RemoteEngine api_key must be a non-empty string or None")
        if model is not None and (not isinstance(model, str) or not model.strip()):
            raise ConfigError(f"RemoteEngine model must be a non-empty string, got {model!r}")
        if (
            isinstance(poll_interval, bool)
            or not isinstance(poll_interval, int | float)
            or not 0 < poll_interval <= 10
        ):
            raise ConfigError(
                f"RemoteEngine poll_interval must be in (0, 10], got {poll_interval!r}"
            )
        if parallel is not None and (
            isinstance(parallel, bool)
            or not isinstance(parallel, int)
            or not 1 <= parallel <= _MAX_PARALLEL
        ):
            raise ConfigError(
                f"RemoteEngine parallel must be an integer from 1 to {_MAX_PARALLEL}, "
                f"got {parallel!r}"
            )
        super().__init__(serialize=False)  # the server queues
        self._configured_parallel = parallel
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._remote_model = model
        self._given_client = http_client
        self._timeout = timeout
        self._check_model = bool(check_model)
        self._client: httpx.AsyncClient | None = http_client
        self._served_as: str | None = None
        self._lora = RemoteAdapters(self.base_url, self._get, self._list_models)

    def __repr__(self) -> str:  # never shows the key
        return f"<RemoteEngine {self.base_url} model={self.model_name!r}>"

    @property
    def remote_model(self) -> str | None:
        """The name the server knows the loaded model by."""
        return self._served_as

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self._timeout)
        return self._client

    # -- load / unload ------------------------------------------------------------------------

    async def _load_model(
        self, name: str, path: Path | None, options: LoadOptions, spec: ModelSpec | None
    ) -> None:
        """Check that the server answers and serves the model; ``path`` and ``options`` are unused."""
        self._served_as = None
        remote = self._remote_model or name
        try:
            listed = await self._list_models()
            if self._check_model and remote not in listed and not await self._has_model(remote):
                shown = ", ".join(sorted(listed)[:20]) or "none"
                raise EngineError(
                    f"the server at {self.base_url} does not serve model {remote!r}; "
                    f"it lists: {shown}"
                )
            parallel = options.parallel or self._configured_parallel
            if parallel is None:
                parallel = await self._server_slots() or _DEFAULT_PARALLEL
        except BaseException:
            await self._unload_model()  # a failed load leaves no connection open
            raise
        self._served_as = remote
        self._parallel = parallel
        self._lora = RemoteAdapters(self.base_url, self._get, self._list_models)

    async def _server_slots(self) -> int | None:
        """llama-server's ``total_slots`` from ``GET /props``; ``None`` if it has none."""
        try:
            response = await self._http().get(f"{self.base_url}/props", headers=self._headers)
        except httpx.HTTPError:
            return None
        if response.status_code != 200:
            return None
        try:
            slots = response.json().get("total_slots")
        except (ValueError, AttributeError):
            return None
        if isinstance(slots, int) and not isinstance(slots, bool) and slots >= 1:
            return min(slots, _MAX_PARALLEL)
        return None

    async def _unload_model(self) -> None:
        """Forget the model and close the HTTP client this engine opened (idempotent)."""
        self._served_as = None
        if self._given_client is None and self._client is not None:
            client, self._client = self._client, None
            with anyio.CancelScope(shield=True):
                await client.aclose()

    async def _get(self, path: str) -> httpx.Response:
        url = f"{self.base_url}{path}"
        try:
            return await self._http().get(url, headers=self._headers)
        except httpx.HTTPError as exc:
            raise EngineError(f"cannot reach {url}: {exc!r}") from exc

    async def _list_models(self) -> set[str]:
        response = await self._get("/v1/models")
        if response.status_code != 200:
            raise EngineError(
                f"GET {self.base_url}/v1/models answered {response.status_code}: "
                f"{error_text(response.content)}"
            )
        try:
            data = response.json()["data"]
            return {str(row["id"]) for row in data}
        except (ValueError, KeyError, TypeError) as exc:
            raise EngineError(
                f"GET {self.base_url}/v1/models did not return an OpenAI model list"
            ) from exc

    async def _has_model(self, remote: str) -> bool:
        response = await self._get(f"/v1/models/{quote(remote, safe='')}")
        return response.status_code == 200

    async def _embed(self, model: str, request: EmbedRequest) -> RawEmbeddings:
        return await remote_embeddings(
            self._http(), self.base_url, self._headers, self._served_as, request
        )

    # -- inference --------------------------------------------------------------------------

    async def _prepare(self, model: str, request: EngineRequest) -> _Call:
        path, body = request_body(self._served_as, request)
        body = await self._lora.apply(body, request.adapters)
        # The server cuts at stop strings and max_tokens; cutting again here could only
        # move event boundaries. Thinking is still parsed (and hidden) here.
        return _Call(f"{self.base_url}{path}", body, attrs.evolve(request.config, stop=()))

    async def _generate(
        self, call: _Call, meter: UsageMeter, stop: StopSignal | None
    ) -> AsyncGenerator[InferenceEvent, None]:
        pipeline = TokenPipeline(call.config_without_stops, meter=meter)
        meter.prompt_started(0)
        url = call.url
        reply = Reply()
        reason = FinishReason.STOP
        try:
            request = self._http().build_request("POST", url, json=call.body, headers=self._headers)
        except httpx.HTTPError as exc:  # pragma: no cover - a malformed URL is caught earlier
            raise EngineError(f"cannot send to {url}: {exc!r}") from exc
        response: httpx.Response | None = None
        chunks: AsyncIterator[bytes] | None = None
        exhausted = False
        try:
            response, stopped = await _until_stopped(self._send(request), stop)
            if stopped:
                reason = FinishReason.CANCELLED
            else:
                assert response is not None
                await _check_status(response, url)
                chunks = response.aiter_bytes()
                decoder = SSEDecoder()
                thinking = False
                while not exhausted:
                    chunk, stopped = await _until_stopped(_next_chunk(chunks), stop)
                    if stopped:
                        reason = FinishReason.CANCELLED
                        break
                    exhausted = chunk is None
                    payloads = decoder.close() if chunk is None else decoder.feed(chunk)
                    for payload in payloads:
                        if reply.done:
                            continue  # nothing counts after [DONE]; the body ends right there
                        for piece in deltas(payload, reply, url):
                            if isinstance(piece, ToolCallDelta):
                                meter.token()
                                yield piece
                                continue
                            text, thought = piece
                            if thought != thinking:
                                text = (THINK_OPEN if thought else THINK_CLOSE) + text
                                thinking = thought
                            events, _ = pipeline.token(text)
                            for event in events:
                                yield event
                if reason is not FinishReason.CANCELLED:
                    reason = finish_reason(reply)
        finally:
            if response is not None:
                with anyio.CancelScope(shield=True):
                    await response.aclose()
                    if chunks is not None and not exhausted:
                        await _drain(chunks)
        final = pipeline.complete(reason)
        for event in final[:-1]:
            yield event
        yield Complete(usage=usage_of(meter.usage(reason), reply.usage))

    async def _send(self, request: httpx.Request) -> httpx.Response:
        client = self._http()
        try:
            try:
                return await client.send(request, stream=True)
            except httpx.RemoteProtocolError as exc:
                if _NO_RESPONSE not in str(exc):
                    raise
                # The server closed a pooled connection before any response byte (it
                # had timed out the idle keep-alive): the request never reached it.
                return await client.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise EngineError(f"cannot reach {request.url}: {exc!r}") from exc


async def _check_status(response: httpx.Response, url: str) -> None:
    if response.status_code == 200:
        kind = response.headers.get("content-type", "")
        if not kind.startswith("text/event-stream"):
            raise EngineError(f"{url} answered {kind or 'no content type'}, not an event stream")
        return
    body = b""
    async for piece in response.aiter_bytes():
        body += piece
        if len(body) > _MAX_ERROR_BYTES:
            break
    text = f"{url} answered {response.status_code}: {error_text(body)}"
    if response.status_code in (429, 503):
        raise BusyError(text)
    if response.status_code in (400, 422):
        raise ConfigError(text)
    raise EngineError(text)


async def _until_stopped(work: Awaitable[T], stop: StopSignal | None) -> tuple[T | None, bool]:
    """Await ``work`` unless ``stop`` is set first; ``(result, stopped)``.

    The stop's cancel scope ends the wait the moment the signal is set: no second
    task, no polling. The scope is left before the caller yields anything.
    """
    if stop is None:
        return await work, False
    result: T | None = None
    with stop.cancel_scope() as scope:
        result = await work
    return (None, True) if scope.cancelled_caught else (result, False)


async def _drain(chunks: AsyncIterator[bytes]) -> None:
    """Run a closed response's byte iterator to its end.

    Left suspended, httpx's nested async generators would be finalized by the
    garbage collector (trio warns); reading on from the closed connection raises
    inside the innermost one, which unwinds them all.
    """
    with anyio.move_on_after(5):
        try:
            while True:
                await chunks.__anext__()
        except Exception:  # StopAsyncIteration, or the closed connection's error
            return


async def _next_chunk(chunks: AsyncIterator[bytes]) -> bytes | None:
    try:
        return await chunks.__anext__()
    except StopAsyncIteration:
        return None
    except httpx.HTTPError as exc:
        raise EngineError(f"the server's stream broke: {exc!r}") from exc
