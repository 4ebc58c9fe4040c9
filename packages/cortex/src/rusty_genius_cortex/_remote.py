"""The remote engine: forwards requests to an OpenAI-compatible server over HTTP.

This is how a deployment outgrows one machine: brainstem routes a model to a
server that already scales (vLLM with tensor parallelism, llama.cpp's
``llama-server``, another ``genius serve``) instead of a home-made cluster.

How a request runs:

* Chat messages, and prompts without ``raw``, go to ``POST /v1/chat/completions``
  (a prompt becomes one user message, as the local engines template it); a
  ``raw`` prompt goes to ``POST /v1/completions``. Both ask for ``stream=True``
  and ``stream_options.include_usage``.
* The server-sent events are parsed here (no SSE dependency). Reasoning deltas
  (``reasoning_content``, or ``reasoning`` as newer vLLM names it) and content
  deltas are turned back into the raw ``<think>…</think>`` text a local model
  would have written and pushed through the shared :class:`TokenPipeline`, so a
  server that leaves ``<think>`` in its content is split the same way, and
  ``show_thinking`` applies locally. One server chunk is one pipeline token.
* Stop strings and ``max_tokens`` are the server's job (sent with the request);
  the pipeline does not cut again, which would only move event boundaries.
* The server's ``usage`` gives the token counts of :class:`Complete`; timings are
  measured here, as the client sees them. ``finish_reason`` maps back
  (``stop``, ``length``; anything else is ``stop``).
* :class:`StopSignal` is polled every ``poll_interval`` seconds while a read
  waits (also before the first byte, while the server queues or evaluates the
  prompt); when set, or when the consumer closes the iterator or is cancelled,
  the HTTP response is closed, which a server like ``genius serve`` takes as a
  cancellation of its own request.

``load`` asks ``GET /v1/models`` (server reachable, key accepted, model listed;
a model the list lacks is tried with ``GET /v1/models/{id}``, which ``genius
serve`` answers for every model it can serve; ``check_model=False`` skips the
model check); ``unload`` only forgets. The
engine does not serialize its requests: the server queues, and the brainstem's
``parallelism`` bounds how many run at once.
"""

from __future__ import annotations

import codecs
import json
import math
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote

import anyio
import attrs
import httpx

from rusty_genius_core import (
    BusyError,
    ChatMessage,
    Complete,
    ConfigError,
    EngineError,
    FinishReason,
    InferenceConfig,
    InferenceEvent,
    LoadOptions,
    ModelSpec,
    ProcessStart,
    Role,
    Usage,
)

from ._pipeline import TokenPipeline
from ._think import THINK_CLOSE, THINK_OPEN
from ._usage import UsageMeter

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Sequence
    from pathlib import Path

    from ._engine import StopSignal

__all__ = ["RemoteEngine"]

DEFAULT_TIMEOUT: Final = httpx.Timeout(10.0, read=600.0)
"""Connect, write and pool waits of 10 s; a read may wait 10 minutes (queues, long prompts)."""

_MAX_EVENT_BYTES: Final = 4 * 1024 * 1024
_MAX_ERROR_BYTES: Final = 64 * 1024
_FINISH: Final = {"stop": FinishReason.STOP, "length": FinishReason.LENGTH}


def _base_url(url: object) -> str:
    if not isinstance(url, str) or not url.strip():
        raise ConfigError(f"RemoteEngine base_url must be an http(s) URL, got {url!r}")
    parsed = httpx.URL(url.strip())
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ConfigError(f"RemoteEngine base_url must be an http(s) URL, got {url!r}")
    base = str(parsed).rstrip("/")
    # Clients write the OpenAI base either with or without ``/v1``; paths here add it.
    return base.removesuffix("/v1")


class SSEDecoder:
    """Server-sent events from arbitrary byte chunks: returns each event's ``data``.

    Follows the WHATWG rules that matter for OpenAI streams: lines end in
    ``\\n``, ``\\r\\n`` or ``\\r``; ``data:`` lines of one event are joined with
    ``\\n``; comments (``:``) and other fields are skipped; a blank line
    dispatches. An event larger than ``max_event_bytes`` is an error.
    """

    __slots__ = ("_data", "_decoder", "_line", "_max", "_size", "_skip_lf")

    def __init__(self, *, max_event_bytes: int = _MAX_EVENT_BYTES) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._line = ""
        self._data: list[str] = []
        self._size = 0
        self._max = max_event_bytes
        self._skip_lf = False

    def feed(self, chunk: bytes) -> list[str]:
        return self._lines(self._decoder.decode(chunk))

    def close(self) -> list[str]:
        """Flush: a last event without its blank line still counts."""
        out = self._lines(self._decoder.decode(b"", final=True))
        if self._line:
            out.extend(self._field(self._line))
            self._line = ""
        if self._data:
            out.append("\n".join(self._data))
            self._data.clear()
        return out

    def _lines(self, text: str) -> list[str]:
        out: list[str] = []
        start = 0
        if self._skip_lf and text.startswith("\n"):
            start = 1
        self._skip_lf = False
        n = len(text)
        while start < n:
            cr = text.find("\r", start)
            lf = text.find("\n", start)
            ends = [i for i in (cr, lf) if i != -1]
            if not ends:
                self._grow(text[start:])
                break
            end = min(ends)
            line = self._line + text[start:end]
            self._line = ""
            self._size = 0
            if text[end] == "\r":
                if end + 1 < n:
                    start = end + 2 if text[end + 1] == "\n" else end + 1
                else:
                    self._skip_lf = True
                    start = n
            else:
                start = end + 1
            if line:
                out.extend(self._field(line))
            elif self._data:
                out.append("\n".join(self._data))
                self._data.clear()
        return out

    def _grow(self, text: str) -> None:
        self._line += text
        self._size += len(text)
        if self._size > self._max:
            raise EngineError(f"a server-sent event line exceeds {self._max} bytes")

    def _field(self, line: str) -> list[str]:
        if line.startswith(":"):
            return []
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        return []


@attrs.define
class _Reply:
    """What the server said about one request besides its text."""

    finish: str | None = None
    usage: dict[str, Any] | None = None
    done: bool = False  # ``data: [DONE]`` arrived

    def ended(self) -> bool:
        return self.done


def _sampling_fields(config: InferenceConfig) -> dict[str, Any]:
    sampling = config.sampling
    body: dict[str, Any] = {
        "temperature": sampling.temperature,
        "top_p": sampling.top_p,
        "top_k": sampling.top_k,  # vLLM, llama-server and genius serve take it
        "min_p": sampling.min_p,
        "max_tokens": config.max_tokens,
    }
    if sampling.repeat_penalty != 1.0:
        body["repeat_penalty"] = sampling.repeat_penalty  # llama-server, genius serve
        body["repetition_penalty"] = sampling.repeat_penalty  # vLLM
    if config.seed is not None:
        body["seed"] = config.seed
    if config.stop:
        body["stop"] = list(config.stop)
    if not config.show_thinking:
        body["include_reasoning"] = False
    return body


def _error_text(body: bytes) -> str:
    try:
        data = json.loads(body)
    except ValueError:
        return body.decode("utf-8", errors="replace").strip()[:500]
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict):
        return str(error.get("message") or error)
    if error is not None:
        return str(error)
    return json.dumps(data)[:500]


def _count(usage: dict[str, Any] | None, key: str) -> int | None:
    value = usage.get(key) if usage else None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None


class RemoteEngine:
    """An engine whose model runs on an OpenAI-compatible server (``backend == "remote"``).

    ``base_url`` is the server (``http://host:8080`` or ``http://host:8080/v1``);
    ``api_key`` is sent as a bearer token; ``model`` is the server's name for the
    model (default: the name given to :meth:`load`); ``http_client`` is a client
    the caller owns (otherwise one is opened at ``load`` and closed at
    ``unload``); ``timeout`` applies to the client opened here;
    ``poll_interval`` is how often a waiting read checks the stop signal.
    """

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
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._remote_model = model
        self._given_client = http_client
        self._timeout = timeout
        self._poll = float(poll_interval)
        self._check_model = bool(check_model)
        self._client: httpx.AsyncClient | None = http_client
        self._model: str | None = None
        self._served_as: str | None = None
        self._cold = False

    def __repr__(self) -> str:  # never shows the key
        return f"<RemoteEngine {self.base_url} model={self._model!r}>"

    @property
    def backend(self) -> str:
        return "remote"

    @property
    def needs_weights(self) -> bool:
        return False

    @property
    def is_loaded(self) -> bool:
        return self._model is not None

    @property
    def model_name(self) -> str | None:
        return self._model

    @property
    def remote_model(self) -> str | None:
        """The name the server knows the loaded model by."""
        return self._served_as

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self._timeout)
        return self._client

    async def load(
        self,
        name: str,
        path: Path | None,
        options: LoadOptions,
        spec: ModelSpec | None = None,
    ) -> float:
        """Check that the server answers and serves the model; ``path`` and ``options`` are unused."""
        if not isinstance(name, str) or not name.strip():
            raise EngineError("RemoteEngine.load() needs a model name")
        started = anyio.current_time()
        self._model = None
        remote = self._remote_model or name
        try:
            listed = await self._list_models()
            if self._check_model and remote not in listed and not await self._has_model(remote):
                shown = ", ".join(sorted(listed)[:20]) or "none"
                raise EngineError(
                    f"the server at {self.base_url} does not serve model {remote!r}; "
                    f"it lists: {shown}"
                )
        except BaseException:
            await self.unload()  # a failed load leaves no connection open
            raise
        self._model, self._served_as, self._cold = name, remote, True
        return max(0.0, anyio.current_time() - started)

    async def unload(self) -> None:
        """Forget the model and close the HTTP client this engine opened (idempotent)."""
        self._model = self._served_as = None
        self._cold = False
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
                f"{_error_text(response.content)}"
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

    # -- inference --------------------------------------------------------------------------

    def infer(
        self,
        *,
        prompt: str | None = None,
        messages: Sequence[ChatMessage] | None = None,
        config: InferenceConfig,
        stop: StopSignal | None = None,
    ) -> AsyncIterator[InferenceEvent]:
        return self._stream(prompt, messages, config, stop)

    def _request(
        self,
        prompt: str | None,
        messages: Sequence[ChatMessage] | None,
        config: InferenceConfig,
    ) -> tuple[str, dict[str, Any]]:
        if (prompt is None) == (messages is None):
            raise ConfigError("infer() takes exactly one of prompt= or messages=")
        if messages is not None and not messages:
            raise ConfigError("infer(messages=...) needs at least one message")
        if messages is not None and config.raw:
            raise ConfigError("InferenceConfig(raw=True) sends a prompt as-is; pass prompt=")
        body: dict[str, Any] = {
            "model": self._served_as,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        body.update(_sampling_fields(config))
        if prompt is not None and config.raw:
            body["prompt"] = prompt
            return "/v1/completions", body
        if messages is None:
            assert prompt is not None
            messages = [ChatMessage(role=Role.USER, content=prompt)]
        body["messages"] = [{"role": m.role.value, "content": m.content} for m in messages]
        return "/v1/chat/completions", body

    async def _stream(
        self,
        prompt: str | None,
        messages: Sequence[ChatMessage] | None,
        config: InferenceConfig,
        stop: StopSignal | None,
    ) -> AsyncIterator[InferenceEvent]:
        if self._model is None:
            raise EngineError("RemoteEngine has no model loaded; call load() first")
        path, body = self._request(prompt, messages, config)
        model = self._model
        meter = UsageMeter(clock=anyio.current_time)
        # The server cuts at stop strings and max_tokens; cutting again here could only
        # move event boundaries. Thinking is still parsed (and hidden) here.
        pipeline = TokenPipeline(attrs.evolve(config, stop=()), meter=meter)
        cold, self._cold = self._cold, False
        yield ProcessStart(model=model, cold=cold)
        meter.prompt_started(0)
        url = f"{self.base_url}{path}"
        reply = _Reply()
        reason = FinishReason.STOP
        try:
            request = self._http().build_request("POST", url, json=body, headers=self._headers)
        except httpx.HTTPError as exc:  # pragma: no cover - a malformed URL is caught earlier
            raise EngineError(f"cannot send to {url}: {exc!r}") from exc
        response: httpx.Response | None = None
        chunks: AsyncIterator[bytes] | None = None
        exhausted = False
        try:
            response, stopped = await self._until_stopped(self._send(request), stop)
            if stopped:
                reason = FinishReason.CANCELLED
            else:
                assert response is not None
                await self._check_status(response, url)
                chunks = response.aiter_bytes()
                decoder = SSEDecoder()
                thinking = False
                while not exhausted:
                    chunk, stopped = await self._until_stopped(_next_chunk(chunks), stop)
                    if stopped:
                        reason = FinishReason.CANCELLED
                        break
                    exhausted = chunk is None
                    payloads = decoder.close() if chunk is None else decoder.feed(chunk)
                    for payload in payloads:
                        if reply.ended():
                            continue  # nothing counts after [DONE]; the body ends right there
                        for text, thought in _deltas(payload, reply, url):
                            if thought != thinking:
                                text = (THINK_OPEN if thought else THINK_CLOSE) + text
                                thinking = thought
                            events, _ = pipeline.token(text)
                            for event in events:
                                yield event
                if reason is not FinishReason.CANCELLED:
                    reason = _FINISH.get(reply.finish or "stop", FinishReason.STOP)
        finally:
            if response is not None:
                with anyio.CancelScope(shield=True):
                    await response.aclose()
                    if chunks is not None and not exhausted:
                        await _drain(chunks)
        final = pipeline.complete(reason)
        for event in final[:-1]:
            yield event
        yield Complete(usage=_usage(meter.usage(reason), reply.usage))

    async def _send(self, request: httpx.Request) -> httpx.Response:
        try:
            return await self._http().send(request, stream=True)
        except httpx.HTTPError as exc:
            raise EngineError(f"cannot reach {request.url}: {exc!r}") from exc

    async def _check_status(self, response: httpx.Response, url: str) -> None:
        if response.status_code == 200:
            kind = response.headers.get("content-type", "")
            if not kind.startswith("text/event-stream"):
                raise EngineError(
                    f"{url} answered {kind or 'no content type'}, not an event stream"
                )
            return
        body = b""
        async for piece in response.aiter_bytes():
            body += piece
            if len(body) > _MAX_ERROR_BYTES:
                break
        text = f"{url} answered {response.status_code}: {_error_text(body)}"
        if response.status_code in (429, 503):
            raise BusyError(text)
        if response.status_code in (400, 422):
            raise ConfigError(text)
        raise EngineError(text)

    async def _until_stopped(self, work: Any, stop: StopSignal | None) -> tuple[Any, bool]:
        """Await ``work``, abandoning it when ``stop`` is set; ``(result, stopped)``.

        The task group opens and closes within this call, never across a ``yield``.
        """
        if stop is None:
            return await work, False
        if stop.is_set():
            work.close()
            return None, True
        result: list[Any] = []
        failure: list[Exception] = []
        async with anyio.create_task_group() as tg:

            async def watch() -> None:
                # StopSignal is a threading.Event (set from any thread): polled, not awaited.
                while not stop.is_set():  # noqa: ASYNC110
                    await anyio.sleep(self._poll)
                tg.cancel_scope.cancel()

            tg.start_soon(watch)
            try:
                result.append(await work)
            except Exception as exc:  # raised below as itself, not as a task group's
                failure.append(exc)
            tg.cancel_scope.cancel()
        if failure:
            raise failure[0]
        return (result[0], False) if result else (None, True)


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


def _deltas(payload: str, reply: _Reply, url: str) -> list[tuple[str, bool]]:
    """``(text, is_thought)`` pieces of one SSE payload; records finish and usage in ``reply``."""
    if payload.strip() == "[DONE]":
        reply.done = True
        return []
    try:
        data = json.loads(payload)
    except ValueError as exc:
        raise EngineError(f"{url} sent an event that is not JSON: {payload[:200]!r}") from exc
    if not isinstance(data, dict):
        raise EngineError(f"{url} sent an event that is not a JSON object: {payload[:200]!r}")
    if "error" in data:
        raise EngineError(f"{url} reported an error mid-stream: {_error_text(payload.encode())}")
    usage = data.get("usage")
    if isinstance(usage, dict):
        reply.usage = usage
    out: list[tuple[str, bool]] = []
    choices = data.get("choices")
    for choice in choices if isinstance(choices, list) else []:
        if not isinstance(choice, dict) or choice.get("index", 0) != 0:
            continue
        delta = choice.get("delta")
        part = delta if isinstance(delta, dict) else choice
        reasoning = part.get("reasoning_content") or part.get("reasoning")
        if isinstance(reasoning, str) and reasoning:
            out.append((reasoning, True))
        content = part.get("content") if isinstance(delta, dict) else choice.get("text")
        if isinstance(content, str) and content:
            out.append((content, False))
        finish = choice.get("finish_reason")
        if isinstance(finish, str):
            reply.finish = finish
    return out


def _usage(measured: Usage, reported: dict[str, Any] | None) -> Usage:
    """Token counts from the server when it sent them; timings as measured here."""
    prompt = _count(reported, "prompt_tokens")
    completion = _count(reported, "completion_tokens")
    changes: dict[str, Any] = {}
    if prompt is not None:
        changes["prompt_tokens"] = prompt
    if completion is not None:
        changes["completion_tokens"] = completion
        rate = 0.0
        if completion > 1 and measured.decode_duration > 0:
            rate = (completion - 1) / measured.decode_duration
        changes["decode_tokens_per_second"] = rate if math.isfinite(rate) else 0.0
    return attrs.evolve(measured, **changes)
