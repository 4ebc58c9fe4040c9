"""Created models through the facade on Pinky: system, messages and parameters take effect."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from rusty_genius import Genius, InferenceConfig
from rusty_genius._modelfile import parse_modelfile
from rusty_genius.errors import ManifestError, ModelNotFoundError
from rusty_genius_core import ChatMessage, LoadOptions, ModelEntry, Parameters, Role
from rusty_genius_cortex import EngineRequest, PinkyEngine

if TYPE_CHECKING:
    from collections.abc import Callable

    from rusty_genius_core import ModelSpec

BASE = "smollm2-135m-instruct"
MODELFILE = """FROM smollm2-135m-instruct
PARAMETER temperature 0
PARAMETER stop gamma
PARAMETER num_ctx 2048
SYSTEM Answer every question with the single word: banana
MESSAGE user Is it ripe?
MESSAGE assistant Yes.
TEMPLATE "{% for m in messages %}{{ m['content'] }}{% endfor %}"
"""


class Recording(PinkyEngine):
    """Pinky that keeps each request and load as the engine received them."""

    seen: list[EngineRequest]
    loads: list[LoadOptions]

    async def _prepare(self, model: str, request: EngineRequest) -> EngineRequest:
        self.seen.append(request)
        return await super()._prepare(model, request)

    async def _load_model(
        self, name: str, path: Any, options: LoadOptions, spec: ModelSpec | None
    ) -> None:
        self.loads.append(options)
        await super()._load_model(name, path, options, spec)


class Recorded:
    """What the :class:`Recording` engines saw and loaded, and a Genius (not yet entered)
    whose engines they are."""

    def __init__(self, make_genius: Callable[..., Genius]) -> None:
        self.seen: list[EngineRequest] = []
        self.loads: list[LoadOptions] = []
        self.genius = make_genius(engine_factory=self._engine)

    def _engine(self) -> Recording:
        engine = Recording()
        engine.seen, engine.loads = self.seen, self.loads
        return engine


@pytest.fixture
def recorded(make_genius: Callable[..., Genius]) -> Recorded:
    return Recorded(make_genius)


def _entry() -> ModelEntry:
    return parse_modelfile(MODELFILE).entry()


async def test_a_created_model_answers_under_its_system_messages_and_parameters(
    recorded: Recorded,
) -> None:
    seen, loads = recorded.seen, recorded.loads
    async with recorded.genius as genius:
        await genius.create_model("banana", _entry())
        question = [{"role": "user", "content": "alpha beta gamma delta"}]
        created = await genius.chat("banana", question)
        explicit = [
            {"role": "system", "content": "Answer every question with the single word: banana"},
            {"role": "user", "content": "Is it ripe?"},
            {"role": "assistant", "content": "Yes."},
            *question,
        ]
        base = await genius.chat(BASE, explicit, InferenceConfig.greedy(stop=("gamma",)))
    assert seen[0].messages == tuple(
        ChatMessage(role=m["role"], content=m["content"]) for m in explicit
    )
    assert seen[0].config.sampling.temperature == 0.0
    assert seen[0].config.stop == ("gamma",)
    assert created.content == base.content == "alpha beta "  # Pinky echoes; the model's stop cut it
    assert created.usage.prompt_tokens == base.usage.prompt_tokens
    assert loads[0].chat_template == "{% for m in messages %}{{ m['content'] }}{% endfor %}"
    assert loads[0].context_size == 2048  # num_ctx loads the model with that context
    assert seen[0].config.context_size is None
    assert (loads[1].chat_template, loads[1].context_size) == (None, None)  # the base's own


async def test_the_request_s_own_options_and_system_win(
    recorded: Recorded,
) -> None:
    seen = recorded.seen
    async with recorded.genius as genius:
        await genius.create_model("banana", _entry())
        own = [{"role": "system", "content": "Mine."}, {"role": "user", "content": "alpha gamma"}]
        answer = await genius.chat("banana", own, InferenceConfig(stop=("alpha",), max_tokens=64))
    assert [m.content for m in seen[0].messages or ()] == [
        "Mine.",
        "Is it ripe?",
        "Yes.",
        "alpha gamma",
    ]
    assert seen[0].config.stop == ("alpha",)
    assert seen[0].config.sampling.temperature == 0.0  # left at the default: the model's
    assert answer.content == ""


async def test_a_prompt_becomes_a_chat_unless_raw(
    recorded: Recorded,
) -> None:
    seen = recorded.seen
    async with recorded.genius as genius:
        await genius.create_model("brief", ModelEntry(base=BASE, system="Be brief."))
        await genius.complete("brief", "Hello")
        await genius.complete("brief", "Hello", InferenceConfig(raw=True))
    assert seen[0].prompt is None
    assert seen[0].messages == (
        ChatMessage(role=Role.SYSTEM, content="Be brief."),
        ChatMessage(role=Role.USER, content="Hello"),
    )
    assert (seen[1].prompt, seen[1].messages) == ("Hello", None)


async def test_num_predict_limits_the_answer(make_genius: Callable[..., Genius]) -> None:
    async with make_genius() as genius:
        await genius.create_model(
            "short", ModelEntry(base=BASE, parameters=Parameters(max_tokens=2))
        )
        short = await genius.complete("short", "one two three four five")
        full = await genius.complete(BASE, "one two three four five")
    assert short.usage.completion_tokens == 2
    assert full.usage.completion_tokens > 2


async def test_copy_and_remove_leave_the_base_alone(make_genius: Callable[..., Genius]) -> None:
    async with make_genius() as genius:
        await genius.create_model("brief", ModelEntry(base=BASE, system="Be brief."))
        await genius.copy_model("brief", "brief2")
        assert (await genius.model_entry("brief2") or ModelEntry()).system == "Be brief."
        assert await genius.remove_model("brief")
        assert await genius.model_entry("brief") is None
        assert (await genius.model_entry(BASE) or ModelEntry()).repo is not None
        with pytest.raises(ModelNotFoundError, match="base model 'brief' is not an alias"):
            await genius.copy_model("brief", "again")
        with pytest.raises(ManifestError, match="built-in"):
            await genius.create_model(BASE, ModelEntry(base="brief2"))
