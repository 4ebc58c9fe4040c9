"""Created models in the manifest: base, system, template, parameters, messages."""

from __future__ import annotations

import tomllib
from typing import Any

import pytest
import tomli_w

from rusty_genius_core import (
    ChatMessage,
    InferenceConfig,
    LoadOptions,
    ManifestError,
    ModelEntry,
    Parameters,
    Role,
    Sampling,
    UserManifest,
    is_go_template,
)
from rusty_genius_core.limits import MAX_CONTEXT

from .manifests import entry_fields

JINJA = "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}{% endfor %}"

CREATED: dict[str, Any] = {
    "models": {
        "base-model": {"repo": "org/base-GGUF", "quantization": "Q4_K_M", "purpose": "chat"},
        "bot": {
            "base": "base-model",
            "system": "Answer with one word.",
            "template": JINJA,
            "parameters": {"temperature": 0.0, "stop": ["\n\n", "END"], "context_size": 2048},
            "messages": [
                {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": "Hello"},
            ],
            "license": "MIT",
        },
    }
}


def test_a_created_entry_round_trips_through_toml() -> None:
    manifest = UserManifest.from_dict(CREATED)
    text = tomli_w.dumps(manifest.to_dict())
    again = UserManifest.from_dict(tomllib.loads(text))
    assert again.to_dict() == manifest.to_dict() == CREATED
    bot = again.models["bot"]
    assert bot.parameters == Parameters(temperature=0.0, stop=("\n\n", "END"), context_size=2048)
    assert bot.messages == (
        ChatMessage(role=Role.USER, content="Hi"),
        ChatMessage(role=Role.ASSISTANT, content="Hello"),
    )
    assert bot.created
    assert not again.models["base-model"].created


def test_a_created_entry_runs_on_its_base() -> None:
    manifest = UserManifest.from_dict(CREATED)
    assert entry_fields(manifest, "bot", "repo", "quantization", "system") == (
        "org/base-GGUF",
        "Q4_K_M",
        "Answer with one word.",
    )


def test_a_created_entry_over_a_created_entry_inherits_and_merges_parameters() -> None:
    data = {
        "models": {
            **CREATED["models"],
            "bot2": {"base": "bot", "system": "Other.", "parameters": {"top_k": 5}},
        }
    }
    bot2 = UserManifest.from_dict(data).entry("bot2")
    assert bot2 is not None
    assert bot2.system == "Other."
    assert bot2.template == JINJA
    assert bot2.repo == "org/base-GGUF"
    assert bot2.parameters == Parameters(
        temperature=0.0, top_k=5, stop=("\n\n", "END"), context_size=2048
    )


def test_a_created_entry_on_a_repo_reference() -> None:
    for text in ("org/other-GGUF:Q8_0", "org/other-GGUF:q8_0"):
        bot = UserManifest.from_dict({"models": {"bot": {"base": text}}}).entry("bot")
        assert bot is not None
        assert (bot.repo, bot.quantization) == ("org/other-GGUF", "Q8_0")


def test_a_missing_or_looping_base_is_refused_naming_the_entry() -> None:
    missing = UserManifest.from_dict({"models": {"bot": {"base": "nowhere"}}})
    with pytest.raises(ManifestError, match=r"\[models.bot\].*'nowhere'"):
        missing.entry("bot")
    loop = UserManifest.from_dict({"models": {"a": {"base": "b"}, "b": {"base": "a"}}})
    with pytest.raises(ManifestError, match="loops"):
        loop.entry("a")


@pytest.mark.parametrize(
    ("entry", "words"),
    [
        (
            {"parameters": {"temperature": 9}},
            r"\[models.bot\]\.parameters\.temperature: must be between 0 and 5",
        ),
        ({"parameters": {"top_k": -1}}, r"parameters\.top_k: must be between 0"),
        ({"parameters": {"stop": [""]}}, r"parameters\.stop\[0\]: must be a non-empty string"),
        ({"parameters": {"mirostat": 1}}, r"parameters: unknown field\(s\) mirostat"),
        ({"base": "a:b"}, r"\.base: model reference 'a:b'"),
        ({"base": "x", "repo": "org/r"}, r"both 'base' and a repo"),
        ({"template": "{{ .System }} {{ .Prompt }}"}, r"\.template: is a Go template"),
        ({"template": " "}, r"\.template: must be a non-empty Jinja chat template"),
        ({"messages": [{"role": "robot", "content": "x"}]}, r"\.messages\[0\]\.role: 'robot'"),
        ({"messages": [{"role": "user"}]}, r"\.messages\[0\]\.content: missing required field"),
        ({"system": 3}, r"\.system"),
    ],
)
def test_bad_created_fields_are_refused_naming_the_field(entry: dict[str, Any], words: str) -> None:
    with pytest.raises(ManifestError, match=words):
        UserManifest.from_dict({"models": {"bot": entry}})


@pytest.mark.parametrize(
    ("text", "go"),
    [
        ("{{ .System }}", True),
        ("{{- .Prompt -}}", True),
        ("{{ if .System }}x{{ end }}", True),
        ("{{- range .Messages }}{{ end }}", True),
        (JINJA, False),
        ("{{ bos_token }}{% if messages %}{{ messages[0].content }}{% endif %}", False),
    ],
)
def test_go_templates_are_told_apart_from_jinja(text: str, go: bool) -> None:
    assert is_go_template(text) is go


def test_parameters_fill_only_what_the_request_left_at_the_defaults() -> None:
    params = Parameters(temperature=0.0, top_k=7, max_tokens=5, stop=("END",), seed=3)
    plain = params.under(InferenceConfig())
    assert plain.sampling.temperature == 0.0
    assert plain.sampling.top_k == 7
    assert (plain.max_tokens, plain.stop, plain.seed) == (5, ("END",), 3)
    assert params.under(InferenceConfig(max_tokens=MAX_CONTEXT)).max_tokens == 5
    own = InferenceConfig(max_tokens=9, stop=("x",), seed=1, sampling=Sampling(temperature=0.5))
    kept = params.under(own)
    assert (kept.max_tokens, kept.stop, kept.seed, kept.sampling.temperature) == (9, ("x",), 1, 0.5)
    assert kept.sampling.top_k == 7
    assert Parameters().under(own) is own


def test_parameters_give_the_context_size_a_load_left_open() -> None:
    params = Parameters(context_size=1024)
    assert params.load_options(LoadOptions()).context_size == 1024
    assert params.load_options(LoadOptions(context_size=512)).context_size == 512
    assert params.under(InferenceConfig()).context_size is None  # a load's, not a request's


def test_parameters_list_as_ollama_names() -> None:
    params = Parameters(temperature=0.0, top_p=0.9, max_tokens=5, stop=("a", "b"), context_size=64)
    assert params.ollama_lines() == [
        ("temperature", "0"),
        ("top_p", "0.9"),
        ("num_predict", "5"),
        ("stop", '"a"'),
        ("stop", '"b"'),
        ("num_ctx", "64"),
    ]


def test_model_entry_checks_apply_to_direct_construction() -> None:
    with pytest.raises(ManifestError, match="Go template"):
        ModelEntry(base="x", template="{{ .Prompt }}")
