"""Structured output, tools and embeddings on the real SmolLM2 (``real``).

Twenty schemas are answered greedily and at temperature 1 (seeded): every answer
that stops parses and validates, and none is cut, since ``max_tokens`` is the
largest number of bytes the schema's bounds allow (a token is at least one byte).
SmolLM2's template has no tool support, so tools run in the generic mode.
Embeddings are compared with llama-cpp-python's own ``create_embedding`` on the
same file and pooling.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

import anyio
import jsonschema
import pytest

from rusty_genius_core import (
    ChatMessage,
    Complete,
    Content,
    ContextLengthError,
    FinishReason,
    InferenceConfig,
    InferenceEvent,
    ResponseFormat,
    Sampling,
    Tool,
    ToolCallCollector,
    ToolCallDelta,
    ToolChoice,
    ToolChoiceMode,
)

if TYPE_CHECKING:
    from pathlib import Path

    from rusty_genius_cortex import LlamaEngine

pytestmark = pytest.mark.real

S = {"type": "string", "maxLength": 12}


def obj(props: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": props,
        "required": list(props) if required is None else required,
    }


SCHEMAS: list[dict[str, Any]] = [
    obj({"name": S, "age": {"type": "integer", "minimum": 0, "maximum": 120}}),
    obj(
        {
            "city": S,
            "country": S,
            "population": {"type": "integer", "minimum": 1, "maximum": 40000000},
        }
    ),
    obj(
        {
            "title": {"type": "string", "minLength": 3, "maxLength": 20},
            "year": {"type": "integer", "minimum": 1900, "maximum": 2030},
        }
    ),
    obj(
        {
            "color": {"enum": ["red", "green", "blue"]},
            "shade": {"type": "number", "minimum": 0, "maximum": 1},
        }
    ),
    obj({"tags": {"type": "array", "items": S, "minItems": 1, "maxItems": 3}}),
    obj(
        {
            "point": obj(
                {
                    "x": {"type": "number", "minimum": -10, "maximum": 10},
                    "y": {"type": "number", "minimum": -10, "maximum": 10},
                }
            )
        }
    ),
    obj({"ok": {"type": "boolean"}, "reason": S}, ["ok"]),
    obj(
        {
            "temperature": {"type": "number", "exclusiveMinimum": -50, "exclusiveMaximum": 60},
            "unit": {"const": "celsius"},
        }
    ),
    obj(
        {
            "scores": {
                "type": "array",
                "items": {"type": "integer", "minimum": 0, "maximum": 10},
                "minItems": 2,
                "maxItems": 4,
            }
        }
    ),
    obj(
        {"person": obj({"first": S, "last": S}), "email": {"type": "string", "maxLength": 24}},
        ["person"],
    ),
    obj(
        {
            "answer": {"enum": ["yes", "no", "maybe"]},
            "confidence": {"type": "integer", "minimum": 0, "maximum": 100},
        }
    ),
    obj(
        {
            "items": {
                "type": "array",
                "items": obj({"name": S, "qty": {"type": "integer", "minimum": 1, "maximum": 9}}),
                "maxItems": 2,
            }
        }
    ),
    obj(
        {
            "day": {"enum": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]},
            "hour": {"type": "integer", "minimum": 0, "maximum": 23},
        }
    ),
    obj(
        {
            "price": {"type": "number", "minimum": 0.5, "maximum": 99.99},
            "currency": {"enum": ["EUR", "USD"]},
        }
    ),
    obj(
        {
            "note": {"type": ["string", "null"], "maxLength": 16},
            "count": {"type": "integer", "minimum": -5, "maximum": 5},
        }
    ),
    obj(
        {
            "code": {"type": "string", "minLength": 2, "maxLength": 4},
            "level": {"type": "integer", "minimum": 1, "maximum": 3},
        }
    ),
    obj(
        {
            "matrix": {
                "type": "array",
                "items": {
                    "type": "array",
                    "items": {"type": "integer", "minimum": 0, "maximum": 9},
                    "minItems": 2,
                    "maxItems": 2,
                },
                "minItems": 2,
                "maxItems": 2,
            }
        }
    ),
    obj(
        {
            "book": obj({"title": S, "pages": {"type": "integer", "minimum": 10, "maximum": 999}}),
            "read": {"type": "boolean"},
        }
    ),
    obj(
        {
            "lat": {"type": "number", "minimum": -90, "maximum": 90},
            "lon": {"type": "number", "minimum": -180, "maximum": 180},
            "label": S,
        },
        ["lat", "lon"],
    ),
    obj(
        {
            "steps": {
                "type": "array",
                "items": {"enum": ["mix", "bake", "cool", "serve"]},
                "minItems": 1,
                "maxItems": 4,
            },
            "minutes": {"type": "integer", "minimum": 5, "maximum": 240},
        }
    ),
]
PROMPTS = [
    "Describe a person.",
    "Describe a city.",
    "Name a film.",
    "Pick a color.",
    "Give some tags for a blog post about cats.",
    "Give a point on a plane.",
    "Is water wet?",
    "What is the temperature today?",
    "Give some scores.",
    "Who are you?",
    "Will it rain tomorrow?",
    "List what to buy.",
    "When shall we meet?",
    "How much is a coffee?",
    "Count something.",
    "Give a short code.",
    "Give a 2x2 matrix.",
    "Describe a book.",
    "Where is Paris?",
    "How do I bake a cake?",
]


def max_bytes(schema: dict[str, Any]) -> int:
    """The most bytes a compact-or-spaced instance of these bounded schemas can take."""
    if "const" in schema:
        return len(json.dumps(schema["const"]))
    if "enum" in schema:
        return max(len(json.dumps(v)) for v in schema["enum"])
    kind = schema.get("type")
    if isinstance(kind, list):
        return max(max_bytes({**schema, "type": k}) for k in kind)
    if kind == "object":
        return 4 + sum(
            len(json.dumps(k)) + 4 + max_bytes(v) for k, v in schema["properties"].items()
        )
    if kind == "array":
        return 4 + schema["maxItems"] * (max_bytes(schema["items"]) + 2)
    if kind == "string":
        return 2 + 6 * schema["maxLength"]  # a character is at most a \\uXXXX escape
    if kind == "integer":
        return 1 + max(len(str(abs(schema["minimum"]))), len(str(abs(schema["maximum"]))))
    if kind == "number":
        bounds = [
            schema.get(k, 0) for k in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")
        ]
        return 2 + max(len(str(int(abs(b)))) for b in bounds) + 1 + 16
    if kind == "boolean":
        return 5
    assert kind == "null"
    return 4


async def collect(engine: LlamaEngine, **kwargs: Any) -> list[InferenceEvent]:
    return [event async for event in engine.infer(**kwargs)]


def text_of(events: list[InferenceEvent]) -> str:
    return "".join(e.text for e in events if isinstance(e, Content))


def finish_of(events: list[InferenceEvent]) -> FinishReason:
    last = events[-1]
    assert isinstance(last, Complete)
    return last.usage.finish_reason


def test_the_schemas_are_twenty_and_valid() -> None:
    assert len(SCHEMAS) == len(PROMPTS) == 20
    for schema in SCHEMAS:
        jsonschema.Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize("temperature", [0.0, 1.0], ids=["greedy", "temperature-1"])
def test_twenty_schemas_always_parse_and_validate(smol: LlamaEngine, temperature: float) -> None:
    sampling = (
        Sampling.greedy()
        if temperature == 0
        else Sampling(temperature=1.0, top_k=0, top_p=1.0, min_p=0.0)
    )

    async def run() -> list[tuple[int, FinishReason, str]]:
        out = []
        for i, (schema, prompt) in enumerate(zip(SCHEMAS, PROMPTS, strict=True)):
            config = InferenceConfig(
                max_tokens=max_bytes(schema) + 1, seed=1000 + i, sampling=sampling
            )
            events = await collect(
                smol,
                messages=[ChatMessage(role="user", content=f"{prompt} Answer in JSON.")],
                config=config,
                response_format=ResponseFormat.json(schema),
            )
            out.append((i, finish_of(events), text_of(events)))
        return out

    results = anyio.run(run)
    problems = []
    for i, reason, text in results:
        if reason is not FinishReason.STOP:
            problems.append(f"schema {i}: finish {reason.value}: {text!r}")
            continue
        try:
            jsonschema.validate(json.loads(text), SCHEMAS[i])
        except (ValueError, jsonschema.ValidationError) as exc:
            problems.append(f"schema {i}: {exc}: {text!r}")
    assert not problems, "\n".join(problems)


async def test_max_tokens_cuts_a_constrained_answer_with_length(smol: LlamaEngine) -> None:
    events = await collect(
        smol,
        messages=[ChatMessage(role="user", content="Describe a person in JSON.")],
        config=InferenceConfig.greedy(max_tokens=3),
        response_format=ResponseFormat.json(SCHEMAS[0]),
    )
    assert finish_of(events) is FinishReason.LENGTH
    text = text_of(events)
    assert text.startswith("{")
    with pytest.raises(json.JSONDecodeError):  # returned as is, unfinished
        json.loads(text)


async def test_json_object_gives_a_json_object(smol: LlamaEngine) -> None:
    events = await collect(
        smol,
        messages=[ChatMessage(role="user", content="Give me a JSON object about dogs.")],
        config=InferenceConfig.greedy(max_tokens=200),
        response_format=ResponseFormat.json(),
    )
    if finish_of(events) is FinishReason.STOP:
        assert isinstance(json.loads(text_of(events)), dict)
    else:
        assert text_of(events).startswith("{")


WEATHER = Tool(
    name="get_weather",
    description="Get the current weather in a city",
    parameters={
        "type": "object",
        "properties": {
            "city": {"type": "string", "maxLength": 30},
            "unit": {"enum": ["celsius", "fahrenheit"]},
        },
        "required": ["city"],
    },
)
ADD = Tool(
    name="add",
    description="Add two integers",
    parameters={
        "type": "object",
        "properties": {
            "a": {"type": "integer", "minimum": -1000, "maximum": 1000},
            "b": {"type": "integer", "minimum": -1000, "maximum": 1000},
        },
        "required": ["a", "b"],
    },
)


@pytest.mark.parametrize(
    "choice",
    [
        ToolChoice(mode=ToolChoiceMode.REQUIRED),
        ToolChoice.named("get_weather"),
        ToolChoice.named("add"),
    ],
    ids=["required", "named-weather", "named-add"],
)
async def test_a_required_call_is_a_valid_call(smol: LlamaEngine, choice: ToolChoice) -> None:
    events = await collect(
        smol,
        messages=[ChatMessage(role="user", content="What is the weather in Paris?")],
        config=InferenceConfig.greedy(max_tokens=120),
        tools=[WEATHER, ADD],
        tool_choice=choice,
    )
    assert finish_of(events) is FinishReason.TOOL_CALLS
    collector = ToolCallCollector()
    collector.extend(e for e in events if isinstance(e, ToolCallDelta))
    (call,) = collector.calls()
    if choice.function is not None:
        assert call.name == choice.function
    tool = WEATHER if call.name == "get_weather" else ADD
    jsonschema.validate(call.parsed_arguments(), tool.parameters)
    assert text_of(events) == ""


async def test_auto_is_a_valid_call_or_plain_text(smol: LlamaEngine) -> None:
    events = await collect(
        smol,
        messages=[ChatMessage(role="user", content="Please add 2 and 3 with the add tool.")],
        config=InferenceConfig(max_tokens=120, seed=7),
        tools=[WEATHER, ADD],
    )
    deltas = [e for e in events if isinstance(e, ToolCallDelta)]
    if deltas:
        assert finish_of(events) is FinishReason.TOOL_CALLS
        collector = ToolCallCollector()
        collector.extend(deltas)
        for call in collector.calls():
            tool = WEATHER if call.name == "get_weather" else ADD
            jsonschema.validate(call.parsed_arguments(), tool.parameters)
    else:
        assert not text_of(events).lstrip().startswith("{")


TRIPLES = [
    (
        "The cat is sleeping on the sofa.",
        "A cat naps on the couch.",
        "The stock market fell sharply today.",
    ),
    (
        "How do I bake bread at home?",
        "What is a simple recipe for homemade bread?",
        "My car needs new tires.",
    ),
    (
        "It is raining heavily outside.",
        "There is a lot of rain falling right now.",
        "She plays the violin beautifully.",
    ),
    (
        "I am going to the supermarket to buy milk.",
        "I'm heading to the grocery store to get some milk.",
        "The football match ended in a draw.",
    ),
    (
        "The train to London is delayed.",
        "The London train is running late.",
        "Tomatoes grow best in full sun.",
    ),
]


def cosine(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    return math.fsum(x * y for x, y in zip(a, b, strict=True))


def test_embeddings_equal_llama_cpp_pythons(
    smol: LlamaEngine, smol_path: Path, llama_cpp_module: Any
) -> None:
    texts = [t for triple in TRIPLES for t in triple]
    ours = anyio.run(smol.embed, texts)
    reference = llama_cpp_module.Llama(
        str(smol_path),
        embedding=True,
        pooling_type=llama_cpp_module.LLAMA_POOLING_TYPE_MEAN,
        n_ctx=2048,
        verbose=False,
    )
    try:
        answer = reference.create_embedding(texts)
        counts = [len(reference.tokenize(t.encode("utf-8"))) for t in texts]
    finally:
        reference.close()
    assert list(ours.token_counts) == counts
    assert ours.prompt_tokens == answer["usage"]["prompt_tokens"]
    for vector, item in zip(ours.vectors, answer["data"], strict=True):
        raw = item["embedding"]
        norm = math.sqrt(math.fsum(x * x for x in raw))
        assert len(vector) == len(raw) == 576
        assert max(abs(a - b / norm) for a, b in zip(vector, raw, strict=True)) < 1e-4
        assert math.isclose(math.fsum(x * x for x in vector), 1.0, rel_tol=1e-6)


def test_a_paraphrase_ranks_above_an_unrelated_sentence(smol: LlamaEngine) -> None:
    wins = 0
    for anchor, paraphrase, unrelated in TRIPLES:
        a, p, u = anyio.run(smol.embed, [anchor, paraphrase, unrelated]).vectors
        wins += cosine(a, p) > cosine(a, u)
    assert wins >= 4


def test_embedding_a_text_longer_than_the_context(smol: LlamaEngine) -> None:
    long_text = "word " * 3000
    with pytest.raises(ContextLengthError, match="truncate"):
        anyio.run(smol.embed, [long_text])
    cut = anyio.run(lambda: smol.embed(["short", long_text], truncate=True))
    assert cut.token_counts[1] == 2048
    assert len(cut.vectors) == 2
