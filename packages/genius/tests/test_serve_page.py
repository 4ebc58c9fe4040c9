"""The chat page of ``genius serve``, driven in a real Chromium (Debian's ``chromium``).

Each test runs the server on its own thread and event loop (asyncio and trio) and the
browser through Playwright's sync API: an answer streams in token by token (a gated
engine hands out each token only when the test says so), Stop ends the request as
``cancelled`` in the brainstem (its log), a pull from the loopback hub fills the
progress bar, the conversation survives a reload, a wrong API key shows an error, and
the page loads nothing from outside the server. Structured output shows as a JSON block,
tool calls as cards filled as their arguments stream, and an invalid schema or tool shows
an inline error and sends nothing. Screenshots (light, dark, a tool call) land in
``.tmp/screenshots``. On the real SmolLM2 (``real``) the page shows "Paris".
"""

from __future__ import annotations

import itertools
import json
import logging
import re
import threading
from contextlib import asynccontextmanager, closing, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import jsonschema
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from playwright.sync_api import Browser, Page, expect, sync_playwright

from rusty_genius import Complete, Content, FinishReason, Genius, InferenceEvent, Usage
from rusty_genius.server import GeniusApp, create_app, open_server
from rusty_genius_core import ToolCallDelta
from rusty_genius_cortex import EngineRequest
from rusty_genius_testhub import TEST_MODELS, fake_gguf

from .conftest import Gate, WeightlessEngine, strict_schema_format

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator

    from rusty_genius.engines import StopSignal
    from rusty_genius_cortex import UsageMeter
    from rusty_genius_testhub import LoopbackHub

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[3] / ".tmp" / "screenshots"
TIMEOUT_MS = 30_000
CLOSED_ENDPOINT = "http://127.0.0.1:9"
SMOLLM2 = TEST_MODELS["smollm2"]
expect.set_options(timeout=TIMEOUT_MS)  # the machine is shared: Playwright's 5 s is short


# -- a gated engine: one token per grant, until told to stop -------------------------------


class GatedEngine(WeightlessEngine[str]):
    """Echoes the last message word by word, each word after a grant, and completes at
    one more grant; ``endless`` repeats the words until the request is stopped (waiting
    for a grant ends at the stop)."""

    _backend = "gated"

    def __init__(self, gate: Gate, *, endless: bool) -> None:
        super().__init__()
        self.gate = gate
        self.endless = endless

    async def _prepare(self, model: str, request: EngineRequest) -> str:
        return request.messages[-1].content if request.messages else request.prompt or ""

    async def _generate(
        self, text: str, meter: UsageMeter, stop: StopSignal | None
    ) -> AsyncGenerator[InferenceEvent, None]:
        assert stop is not None
        words = text.split()
        produced = 0
        while not stop.is_set():
            with stop.cancel_scope():
                await self.gate.permit()  # the last grant of a finite answer completes it
            if stop.is_set() or (produced == len(words) and not self.endless):
                break
            yield Content(text=f"{words[produced % len(words)]} ")
            produced += 1
        reason = FinishReason.CANCELLED if stop.is_set() else FinishReason.STOP
        yield Complete(usage=Usage(completion_tokens=produced, finish_reason=reason))


class GatedToolEngine(WeightlessEngine[EngineRequest]):
    """Calls the request's first tool, its arguments one fragment per grant, then
    completes with ``tool_calls`` at one more grant."""

    _backend = "gated-tools"
    _supports_tools = True
    FRAGMENTS = ('{"city": ', '"Lisbon", ', '"days": ', "3}")

    def __init__(self, gate: Gate) -> None:
        super().__init__()
        self.gate = gate

    async def _prepare(self, model: str, request: EngineRequest) -> EngineRequest:
        return request

    async def _generate(
        self, request: EngineRequest, meter: UsageMeter, stop: StopSignal | None
    ) -> AsyncGenerator[InferenceEvent, None]:
        yield ToolCallDelta(index=0, id="call_gated", name=request.tools[0].name)
        for fragment in self.FRAGMENTS:
            await self.gate.permit()
            yield ToolCallDelta(index=0, arguments=fragment)
        await self.gate.permit()
        reason = FinishReason.TOOL_CALLS
        yield Complete(usage=Usage(completion_tokens=len(self.FRAGMENTS), finish_reason=reason))


# -- the server on its own thread ---------------------------------------------------------


@attrs.frozen
class Served:
    portal: BlockingPortal
    app: GeniusApp
    url: str


@asynccontextmanager
async def _serving(
    genius_options: dict[str, Any], app_options: dict[str, Any]
) -> AsyncIterator[tuple[GeniusApp, str]]:
    app = None
    async with Genius(**genius_options) as genius:
        app = create_app(genius, **app_options)
        async with open_server(app, port=0) as address:
            yield app, address.url


@pytest.fixture(params=["asyncio", "trio"])
def serve(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[..., Any]:
    """``with serve(**options) as served``: a Genius and its server on a thread of their own."""

    @contextmanager
    def run(*, api_key: str | None = None, **options: Any) -> Iterator[Served]:
        options.setdefault("home", tmp_path / "home")
        options.setdefault("cache", tmp_path / "cache")
        options.setdefault("endpoint", CLOSED_ENDPOINT)
        options.setdefault("backend", "pinky")
        with (
            start_blocking_portal(request.param) as portal,
            portal.wrap_async_context_manager(_serving(options, {"api_key": api_key})) as (
                app,
                url,
            ),
        ):
            yield Served(portal, app, url)

    return run


@pytest.fixture
def gate() -> Iterator[Gate]:
    with closing(Gate()) as made:
        yield made


@pytest.fixture
def endless(
    serve: Callable[..., Any], gate: Gate, open_tab: Callable[..., Tab]
) -> Iterator[tuple[Served, Page]]:
    """A server whose gated engine answers until stopped, and a page open on it."""
    with serve(engine_factory=lambda: GatedEngine(gate, endless=True)) as served:
        yield served, open_tab(served.url).page


class FinishLog(logging.Handler):
    """The brainstem's ``request ID finished: REASON`` lines, waited for across threads."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.reasons: list[str] = []
        self._changed = threading.Condition()

    def emit(self, record: logging.LogRecord) -> None:
        found = re.fullmatch(r"request \S+ finished: (\w+)", record.getMessage())
        if found:
            with self._changed:
                self.reasons.append(found[1])
                self._changed.notify_all()

    def wait_for(self, reason: str, timeout: float = 30) -> list[str]:
        with self._changed:
            self._changed.wait_for(lambda: reason in self.reasons, timeout)
            return list(self.reasons)


@pytest.fixture
def finish_log() -> Iterator[FinishLog]:
    handler = FinishLog()
    logger = logging.getLogger("rusty_genius_stem")
    level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(level)


# -- the browser ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"the browser tests need Chromium at {CHROMIUM}: install Debian's package as root "
            "with `apt-get install -y chromium` (scripts/pinky.sh does so when it runs as root)"
        )
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, timeout=TIMEOUT_MS
        )
        yield launched
        launched.close()


@attrs.define
class Tab:
    """A page with its network log and its console errors."""

    page: Page
    origin: str
    requests: list[str] = attrs.Factory(list)
    errors: list[str] = attrs.Factory(list)

    def outside(self) -> list[str]:
        return [url for url in self.requests if not url.startswith(f"{self.origin}/")]


@pytest.fixture
def open_tab(browser: Browser) -> Iterator[Callable[..., Tab]]:
    contexts = []

    def open_(url: str, *, dark: bool = False) -> Tab:
        context = browser.new_context(
            color_scheme="dark" if dark else "light", viewport={"width": 1280, "height": 800}
        )
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        tab = Tab(page, url)
        context.on("request", lambda r: tab.requests.append(r.url))
        page.on("console", lambda m: tab.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: tab.errors.append(str(e)))
        page.goto(f"{url}/")
        expect(page.locator("body[data-ready=true]")).to_be_attached()
        return tab

    yield open_
    for context in contexts:
        context.close()


COUNT_UPDATES = """
() => {
  window.__updates = [];
  const messages = document.getElementById("messages");
  new MutationObserver(() => {
    const answers = messages.querySelectorAll(".message.assistant");
    const last = answers[answers.length - 1];
    if (!last) return;
    const text = last.querySelector(".content").textContent.trim();
    const done = last.querySelector(".usage").textContent !== "";
    const seen = window.__updates;
    if (!done && text && seen[seen.length - 1] !== text) seen.push(text);
  }).observe(messages, { childList: true, subtree: true, characterData: true });
}
"""


WATCH_PULL = """
() => {
  window.__pull = [];
  const label = document.getElementById("pull-label");
  new MutationObserver(() => window.__pull.push(label.textContent))
    .observe(label, { childList: true, characterData: true, subtree: true });
}
"""


def ask(page: Page, model: str, question: str) -> None:
    page.fill("#model", model)
    page.dispatch_event("#model", "change")
    page.fill("#prompt", question)
    page.press("#prompt", "Enter")


def last_answer(page: Page) -> Any:
    return page.locator(".message.assistant").last


def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / name, full_page=True)


# -- the tests ------------------------------------------------------------------------------


def test_an_answer_streams_token_by_token_and_the_conversation_survives_a_reload(
    serve: Callable[..., Any], gate: Gate, open_tab: Callable[..., Tab]
) -> None:
    words = ["alpha", "beta", "gamma", "delta", "epsilon"]
    with serve(engine_factory=lambda: GatedEngine(gate, endless=False)) as served:
        tab = open_tab(served.url)
        page = tab.page
        page.evaluate(COUNT_UPDATES)
        ask(page, "gated", " ".join(words))
        answer = last_answer(page)
        for n in range(1, len(words) + 1):
            served.portal.call(gate.grant, 1)
            expect(answer.locator(".content")).to_have_text(" ".join(words[:n]))
            expect(answer.locator(".usage")).to_have_text("")  # not complete yet
        served.portal.call(gate.grant, 1)
        expect(answer.locator(".usage")).to_contain_text("5 tokens")
        updates = page.evaluate("window.__updates")
        assert len(updates) >= 3, updates
        assert updates == [" ".join(words[:n]) for n in range(1, 6)]
        expect(page.locator("#conversation-list [aria-current=true]")).to_have_text(" ".join(words))

        page.reload()
        expect(page.locator("body[data-ready=true]")).to_be_attached()
        expect(page.locator(".message.user")).to_contain_text(" ".join(words))
        expect(last_answer(page).locator(".content")).to_have_text(" ".join(words))
        expect(page.locator("#model")).to_have_value("gated")
        assert tab.outside() == []
        assert tab.errors == []


def test_stop_cancels_the_request_in_the_brainstem(
    endless: tuple[Served, Page], gate: Gate, finish_log: FinishLog
) -> None:
    served, page = endless
    ask(page, "gated", "on and on")
    served.portal.call(gate.grant, 2)
    expect(last_answer(page).locator(".content")).to_have_text("on and")
    expect(page.locator("#stop")).to_be_enabled()
    page.click("#stop")
    expect(last_answer(page).locator(".usage")).to_contain_text("stopped")
    assert finish_log.wait_for("cancelled") == ["cancelled"]
    assert served.app.statistics().disconnected == 1
    assert served.app.statistics().served == 0
    expect(page.locator("#send")).to_be_enabled()
    expect(page.locator("#stop")).to_be_disabled()


def test_escape_stops_and_keyboard_alone_drives_the_page(
    endless: tuple[Served, Page], gate: Gate, finish_log: FinishLog
) -> None:
    served, page = endless
    page.focus("#model")
    page.keyboard.type("gated")
    page.focus("#prompt")
    page.keyboard.type("first line")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("second")
    expect(page.locator("#prompt")).to_have_value("first line\nsecond")
    page.keyboard.press("Enter")
    served.portal.call(gate.grant, 1)
    expect(last_answer(page).locator(".content")).to_have_text("first")
    page.keyboard.press("Escape")
    expect(last_answer(page).locator(".usage")).to_contain_text("stopped")
    assert finish_log.wait_for("cancelled") == ["cancelled"]
    expect(page.locator("#prompt")).to_be_focused()


def test_conversations_keep_their_own_settings_and_can_be_renamed_and_deleted(
    serve: Callable[..., Any], open_tab: Callable[..., Tab]
) -> None:
    with serve() as served:
        page = open_tab(served.url).page
        bodies: list[Any] = []
        page.on(
            "request",
            lambda r: bodies.append(r.post_data_json) if r.url.endswith("/completions") else None,
        )
        page.fill("#system", "You are terse.")
        page.fill("#temperature", "0.3")
        page.fill("#max-tokens", "64")
        ask(page, "pinky-test", "first question")
        expect(last_answer(page).locator(".usage")).to_contain_text("tokens")
        page.click("#new-conversation")
        expect(page.locator("#system")).to_have_value("")
        expect(page.locator("#temperature")).to_have_value("")
        expect(page.locator(".message")).to_have_count(0)
        page.fill("#prompt", "second question")
        page.press("#prompt", "Enter")
        expect(last_answer(page).locator(".usage")).to_contain_text("tokens")

        assert bodies[0]["messages"] == [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "first question"},
        ]
        assert (bodies[0]["temperature"], bodies[0]["max_completion_tokens"]) == (0.3, 64)
        assert bodies[1]["messages"] == [{"role": "user", "content": "second question"}]
        assert "temperature" not in bodies[1]
        assert bodies[1]["model"] == "pinky-test"

        page.click("button[aria-label='Rename second question']")
        page.fill("#rename-input", "Renamed")
        page.press("#rename-input", "Enter")
        titles = page.locator("#conversation-list .open")
        expect(titles).to_have_text(["Renamed", "first question"])
        page.click("#conversation-list .open >> text=first question")
        expect(page.locator("#system")).to_have_value("You are terse.")
        expect(page.locator("#max-tokens")).to_have_value("64")
        expect(page.locator(".message.user .content")).to_have_text("first question")

        page.once("dialog", lambda dialog: dialog.accept())
        page.click("button[aria-label='Delete Renamed']")
        expect(titles).to_have_text(["first question"])
        page.reload()
        expect(page.locator("body[data-ready=true]")).to_be_attached()
        expect(titles).to_have_text(["first question"])


def test_pulling_a_model_fills_the_progress_bar(
    serve: Callable[..., Any], hub_thread: LoopbackHub, open_tab: Callable[..., Tab]
) -> None:
    stem = SMOLLM2.filename.removesuffix(f".{SMOLLM2.quantization}.gguf")
    size = 3 * 1024 * 1024
    hub_thread.add_repo(SMOLLM2.repo, {f"{stem}.Q8_0.gguf": fake_gguf("page-pull", size)})
    reference = f"{SMOLLM2.repo}:Q8_0"
    with serve(endpoint=hub_thread.url) as served:
        tab = open_tab(served.url)
        page = tab.page
        page.evaluate(WATCH_PULL)
        page.fill("#pull-ref", reference)
        page.click("#pull-button")
        label = page.locator("#pull-label")
        expect(label).to_have_text(f"Pulled {reference}: 100 % (3.0 MiB / 3.0 MiB)")
        shown = page.evaluate("window.__pull")
        moving = [t for t in shown if re.fullmatch(r".+\.gguf: \d+ %, .+ / 3\.0 MiB, .+", t)]
        assert moving, shown  # per-file progress: percent, bytes, then speed and ETA
        assert any(re.search(r"/s, ETA \d", t) for t in moving), moving
        assert page.eval_on_selector("#pull-progress", "p => p.value / p.max") == 1
        expect(page.locator(f"#model-list option[value='{reference}']")).to_be_attached()
        expect(page.locator("#model")).to_have_value(reference)
        assert tab.outside() == []


def test_a_wrong_api_key_shows_an_error_then_the_right_one_works(
    serve: Callable[..., Any], open_tab: Callable[..., Tab]
) -> None:
    with serve(api_key="sesame") as served:
        tab = open_tab(served.url)
        page = tab.page
        dialog = page.locator("#key-dialog")
        expect(dialog).to_be_visible()  # the page loaded; its first API call answered 401
        expect(page.locator("#key-error")).to_be_hidden()
        page.fill("#key-input", "wrong")
        page.press("#key-input", "Enter")
        expect(page.locator("#key-error")).to_have_text("The server refused that API key.")
        expect(dialog).to_be_visible()
        page.fill("#key-input", "sesame")
        page.press("#key-input", "Enter")
        expect(dialog).to_be_hidden()
        expect(page.locator("#banner")).to_be_hidden()
        ask(page, "pinky-test", "hello there")
        expect(last_answer(page).locator(".content")).to_have_text("hello there")
        assert page.evaluate("sessionStorage.getItem('rusty-genius.api-key')") == "sesame"
        assert tab.outside() == []


def test_cancelling_the_key_dialog_shows_the_error(
    serve: Callable[..., Any], open_tab: Callable[..., Tab]
) -> None:
    with serve(api_key="sesame") as served:
        page = open_tab(served.url).page
        expect(page.locator("#key-dialog")).to_be_visible()
        page.click("#key-cancel")
        expect(page.locator("#banner")).to_contain_text("a valid API key is required")
        expect(page.locator("#composer")).to_be_visible()


def test_the_page_and_its_files_are_public_and_locked_down(
    serve: Callable[..., Any], open_tab: Callable[..., Tab]
) -> None:
    with serve(api_key="sesame") as served:
        tab = open_tab(served.url)
        response = tab.page.request.get(f"{served.url}/", headers={"Accept": "text/html"})
        assert response.headers["content-type"] == "text/html; charset=utf-8"
        plain = tab.page.request.get(f"{served.url}/", headers={"Accept": "*/*"})
        assert plain.text() == "rusty-genius is running"  # curl and health checks
        csp = response.headers["content-security-policy"]
        assert "script-src 'self'" in csp
        assert "default-src 'none'" in csp
        assert "unsafe-inline" not in csp
        for path in ("/ui/js/main.js", "/ui/vendor/marked/LICENSE.md", "/ui/app.css"):
            assert tab.page.request.get(f"{served.url}{path}").status == 200, path
        assert tab.page.request.get(f"{served.url}/ui/..%2f_page.py").status == 404
        assert tab.page.request.get(f"{served.url}/ui/nothing.js").status == 404
        assert tab.page.request.get(f"{served.url}/api/ps").status == 401


def test_markdown_thinking_and_screenshots_in_light_and_dark(
    serve: Callable[..., Any], open_tab: Callable[..., Tab]
) -> None:
    question = "Here is **bold** and code:\n\n```python\nprint('hi')\n```\n"
    with serve() as served:
        for dark in (False, True):
            tab = open_tab(served.url, dark=dark)
            page = tab.page
            ask(page, "pinky-test", question)
            answer = last_answer(page)
            expect(answer.locator(".usage")).to_contain_text("tok/s")
            expect(answer.locator(".content strong")).to_have_text("bold")
            expect(answer.locator(".content pre code")).to_have_text("print('hi')\n")
            copy = answer.locator(".code-block button.copy")
            expect(copy).to_have_accessible_name("Copy the python code")
            page.context.grant_permissions(["clipboard-read", "clipboard-write"])
            copy.click()
            expect(copy).to_have_text("Copied")
            assert page.evaluate("navigator.clipboard.readText()") == "print('hi')\n"
            expect(answer.locator(".thinking-text")).to_have_text("Narf!")
            expect(answer.locator(".thinking")).not_to_have_attribute("open", "")
            expect(page.locator("#ps-list li")).to_have_count(1)
            expect(page.locator("#ps-list")).to_contain_text("pinky-test")
            expect(page.locator("#ps-list")).to_contain_text(
                re.compile(r"unloads in (5 min|4 min \d+ s)")  # the default keep_alive
            )
            screenshot(page, f"chat-{'dark' if dark else 'light'}.png")
            page.click("#ps-list button")
            expect(page.locator("#ps-list li")).to_have_count(0)
            expect(page.locator("#ps-empty")).to_be_visible()
            assert tab.outside() == []
            assert tab.errors == []


WEATHER_PARAMETERS = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "minLength": 2},
        "days": {"type": "integer", "minimum": 3},
        "metric": {"type": "boolean"},
    },
    "required": ["city", "days"],
}


def shown_json(block: Any, schema: dict[str, Any]) -> tuple[str, Any]:
    """The text a page element shows and its JSON value, which must be valid for ``schema``."""
    shown = block.text_content()
    assert shown is not None
    value = json.loads(shown)
    jsonschema.validate(value, schema)
    return shown, value


def completion_bodies(page: Page) -> list[Any]:
    """The bodies the page posts to ``/v1/chat/completions``, as it sends them."""
    bodies: list[Any] = []
    page.on(
        "request",
        lambda r: bodies.append(r.post_data_json) if r.url.endswith("/completions") else None,
    )
    return bodies


def test_a_json_schema_answer_is_shown_as_a_json_block(
    serve: Callable[..., Any], open_tab: Callable[..., Tab]
) -> None:
    schema = {
        "type": "object",
        "properties": {
            "name": {"type": "string", "minLength": 3},
            "year": {"type": "integer", "minimum": 1900},
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2},
        },
        "required": ["name", "year", "tags"],
    }
    with serve() as served:
        tab = open_tab(served.url)
        page = tab.page
        bodies = completion_bodies(page)
        expect(page.locator("#schema")).to_be_hidden()
        page.select_option("#format-mode", "schema")
        expect(page.locator("#schema")).to_be_visible()
        page.fill("#schema", json.dumps(schema))
        expect(page.locator("#schema-error")).to_be_hidden()
        ask(page, "pinky-test", "a film, as JSON")
        answer = last_answer(page)
        expect(answer.locator(".usage")).to_contain_text("finish reason: stop")
        expect(answer.locator(".json-block .badge")).to_have_text("valid JSON")
        shown, value = shown_json(answer.locator(".json-block code"), schema)
        assert set(schema["required"]) <= set(value), value
        assert shown == json.dumps(value, indent=2)  # pretty-printed, not the wire's text
        assert bodies[0]["response_format"] == strict_schema_format("response", schema)
        assert "tools" not in bodies[0]

        page.select_option("#format-mode", "json")  # any JSON object: json_object
        page.fill("#prompt", "anything, as JSON")
        page.press("#prompt", "Enter")
        expect(page.locator(".message.assistant")).to_have_count(2)
        expect(last_answer(page).locator(".json-block .badge")).to_have_text("valid JSON")
        assert bodies[1]["response_format"] == {"type": "json_object"}

        page.reload()  # kept with the conversation
        expect(page.locator("body[data-ready=true]")).to_be_attached()
        expect(page.locator("#format-mode")).to_have_value("json")
        page.select_option("#format-mode", "schema")
        expect(page.locator("#schema")).to_have_value(json.dumps(schema))
        expect(page.locator(".message.assistant .json-block")).to_have_count(2)
        assert tab.outside() == []
        assert tab.errors == []


def test_a_tool_call_is_shown_as_a_card_with_its_arguments(
    serve: Callable[..., Any], open_tab: Callable[..., Tab]
) -> None:
    tools = [
        {"name": "get_time", "description": "The time", "parameters": {"type": "object"}},
        {"name": "get_weather", "description": "The forecast", "parameters": WEATHER_PARAMETERS},
    ]
    with serve() as served:
        tab = open_tab(served.url)
        page = tab.page
        bodies = completion_bodies(page)
        page.fill("#tools", json.dumps(tools))
        expect(page.locator("#tools-error")).to_be_hidden()
        expect(page.locator("#tool-choice option")).to_have_text(
            [
                "auto (the model decides)",
                "required (call a tool)",
                "none (answer in text)",
                "only get_time",
                "only get_weather",
            ]
        )
        page.select_option("#tool-choice", "get_weather")
        ask(page, "pinky-test", "the weather in Lisbon")
        answer = last_answer(page)
        expect(answer.locator(".usage")).to_contain_text("finish reason: tool_calls")
        card = answer.locator(".tool-call")
        expect(card).to_have_count(1)
        expect(card.locator(".tool-name")).to_have_text("get_weather")
        expect(card.locator(".badge")).to_have_text("valid JSON")
        _, arguments = shown_json(card.locator(".tool-arguments"), WEATHER_PARAMETERS)
        assert {"city", "days"} <= set(arguments), arguments
        expect(card.locator(".tool-id")).to_contain_text("id call_")
        screenshot(page, "chat-tool-call-light.png")

        assert bodies[0]["tools"] == [{"type": "function", "function": t} for t in tools]
        assert bodies[0]["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
        page.reload()
        expect(page.locator("body[data-ready=true]")).to_be_attached()
        expect(page.locator("#tool-choice")).to_have_value("get_weather")
        expect(last_answer(page).locator(".tool-call .tool-name")).to_have_text("get_weather")
        assert tab.outside() == []
        assert tab.errors == []


def test_a_tool_call_card_fills_as_its_arguments_stream(
    serve: Callable[..., Any], gate: Gate, open_tab: Callable[..., Tab]
) -> None:
    tools = [{"type": "function", "function": {"name": "get_weather"}}]
    with serve(engine_factory=lambda: GatedToolEngine(gate)) as served:
        page = open_tab(served.url).page
        page.fill("#tools", json.dumps(tools))
        ask(page, "gated", "the weather")
        card = last_answer(page).locator(".tool-call")
        expect(card.locator(".tool-name")).to_have_text("get_weather")
        fragments = GatedToolEngine.FRAGMENTS
        for n in range(1, len(fragments)):
            served.portal.call(gate.grant, 1)
            expect(card.locator(".tool-arguments")).to_have_text("".join(fragments[:n]))
            expect(card.locator(".badge")).to_have_text("receiving…")
        served.portal.call(gate.grant, 1)  # the last fragment: the arguments parse
        expect(card.locator(".tool-arguments")).to_have_text(
            json.dumps({"city": "Lisbon", "days": 3}, indent=2)
        )
        expect(last_answer(page).locator(".usage")).to_have_text("")  # not complete yet
        served.portal.call(gate.grant, 1)
        expect(last_answer(page).locator(".usage")).to_contain_text("finish reason: tool_calls")
        expect(card.locator(".badge")).to_have_text("valid JSON")
        expect(card.locator(".tool-id")).to_have_text("id call_gated")


def test_an_invalid_schema_or_tool_shows_an_inline_error_and_sends_nothing(
    serve: Callable[..., Any], open_tab: Callable[..., Tab]
) -> None:
    with serve() as served:
        tab = open_tab(served.url)
        page = tab.page
        bodies = completion_bodies(page)
        page.select_option("#format-mode", "schema")
        page.fill("#schema", '{"type": "object",')
        error = page.locator("#schema-error")
        expect(error).to_contain_text("the JSON Schema is not valid JSON")
        expect(page.locator("#schema")).to_have_attribute("aria-invalid", "true")
        ask(page, "pinky-test", "never sent")
        expect(page.locator("#schema")).to_be_focused()
        expect(page.locator("#prompt")).to_have_value("never sent")  # kept to send once fixed
        expect(page.locator(".message")).to_have_count(0)

        page.fill("#schema", "[1, 2]")
        expect(error).to_have_text("the JSON Schema must be a JSON object ({...})")
        page.select_option("#format-mode", "off")
        expect(error).to_be_hidden()
        page.fill("#tools", '[{"description": "no name"}]')
        expect(page.locator("#tools-error")).to_have_text(
            'tool 1: "name" must be 1 to 64 letters, digits, "_", "." or "-" (got null)'
        )
        page.press("#prompt", "Enter")
        expect(page.locator("#tools")).to_be_focused()
        expect(page.locator(".message")).to_have_count(0)
        assert bodies == []
        assert not [url for url in tab.requests if url.endswith("/chat/completions")]
        statistics = served.app.statistics()
        assert (statistics.served, statistics.waiting, statistics.streaming) == (0, 0, 0)
        assert (statistics.refused, statistics.disconnected) == (0, 0)

        page.fill("#tools", "")  # fixed: the same message goes
        expect(page.locator("#tools-error")).to_be_hidden()
        page.press("#prompt", "Enter")
        expect(last_answer(page).locator(".content")).to_have_text("never sent")
        assert len(bodies) == 1
        assert tab.errors == []


@pytest.mark.real
@pytest.mark.usefixtures("llama_cpp_module")
def test_smollm2_answers_paris_in_the_page(
    serve: Callable[..., Any], smollm2_hub: LoopbackHub, open_tab: Callable[..., Tab]
) -> None:
    reference = f"{SMOLLM2.repo}:{SMOLLM2.quantization}"
    with serve(backend="llama", endpoint=smollm2_hub.url) as served:
        page = open_tab(served.url).page
        page.evaluate(COUNT_UPDATES)
        page.fill("#temperature", "0")
        page.fill("#max-tokens", "16")
        ask(page, reference, "What is the capital of France? Answer in one word.")
        answer = last_answer(page)
        expect(answer.locator(".usage")).to_contain_text("tokens", timeout=600_000)
        expect(answer.locator(".content")).to_contain_text("Paris")
        updates = page.evaluate("window.__updates")
        assert len(updates) >= 3, updates  # "The capital of France is Paris.", token by token
        assert all(a != b and b.startswith(a) for a, b in itertools.pairwise(updates)), updates
        screenshot(page, "chat-smollm2-light.png")


@pytest.mark.real
@pytest.mark.usefixtures("llama_cpp_module")
def test_stop_cancels_smollm2_mid_answer(
    serve: Callable[..., Any],
    smollm2_hub: LoopbackHub,
    open_tab: Callable[..., Tab],
    finish_log: FinishLog,
) -> None:
    reference = f"{SMOLLM2.repo}:{SMOLLM2.quantization}"
    with serve(backend="llama", endpoint=smollm2_hub.url) as served:
        page = open_tab(served.url).page
        page.fill("#temperature", "0")
        # Greedy, SmolLM2 writes this story past 1500 tokens (about 30 s here): the Stop
        # click lands mid-answer however fast the machine (its counting answer ends at 121).
        ask(page, reference, "Write a long story about a dragon who learns to bake bread.")
        answer = last_answer(page)
        expect(answer.locator(".content")).not_to_be_empty(timeout=600_000)
        page.click("#stop")
        expect(answer.locator(".usage")).to_contain_text("stopped")
        assert finish_log.wait_for("cancelled") == ["cancelled"]
        assert served.app.statistics().disconnected == 1
