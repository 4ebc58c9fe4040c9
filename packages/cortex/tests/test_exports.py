"""The package's public surface: __all__ is complete, sorted and resolvable."""

from __future__ import annotations

import subprocess
import sys
import types

import rusty_genius_cortex
from rusty_genius_testhub.exports import misplaced_names, private_module_names, private_modules

INTERNAL = {
    "FORMATS",
    "next_group",
    "RemoteAdapters",
    "adapter_mark",
    "native_adapters",
    "FORMATS_ALSO",
    "FRACTION_DIGITS",
    "INT_DIGITS",
    "PRIMITIVES",
    "CallScanner",
    "EmbeddingContext",
    "Grammar",
    "GrammarBuilder",
    "OutputPlan",
    "Rendered",
    "ToolCallFilter",
    "chat_dicts",
    "check_grammar",
    "decimal_range",
    "detect_style",
    "format_literal",
    "grammar_sampler",
    "int_range",
    "llama_grammar",
    "plan_output",
    "pooling_of",
    "render_prompt",
    "repetition",
    "tool_style_of",
    "tools_for_template",
    "GGML_TYPES",
    "PINKY_DIMENSIONS",
    "Piece",
    "PinkyReply",
    "pinky_reply",
    "pinky_vector",
    "remote_embeddings",
    "schema_instance",
    "split_tokens",
    "MAX_EVENT_BYTES",
    "PENALTY_LAST_N",
    "GATHER_SECONDS",
    "DEFAULT_CACHE_RAM",
    "Arrival",
    "BatchEntry",
    "CachedPrompt",
    "DecodeLoop",
    "GgmlType",
    "Job",
    "LoadedModel",
    "Placement",
    "PromptCache",
    "Reply",
    "Request",
    "RequestQueue",
    "SlotPlanner",
    "SSEDecoder",
    "ThreadRelay",
    "WakeBatch",
    "deltas",
    "error_text",
    "finish_reason",
    "import_llama_cpp",
    "merge_batch",
    "argmax_row",
    "output_plan",
    "build_sampler",
    "common_prefix",
    "free_sampler",
    "plain_greedy",
    "request_body",
    "tensor_data_problem",
    "usage_of",
}
"""Names private modules share with each other, not exported."""


def _isort_key(name: str) -> tuple[int, str]:
    # ruff's RUF022 order: CONSTANTS, then Classes, then functions.
    if name.isupper():
        return (0, name)
    return (1, name) if name[0].isupper() else (2, name)


def test_all_is_complete_and_sorted() -> None:
    exported = rusty_genius_cortex.__all__
    public = {
        name
        for name in dir(rusty_genius_cortex)  # with the names imported on first use
        if not name.startswith("_")
        and not isinstance(getattr(rusty_genius_cortex, name), types.ModuleType)
        and name not in ("annotations", "TYPE_CHECKING")
    }
    assert set(exported) == public
    assert list(exported) == sorted(exported, key=_isort_key)
    assert len(set(exported)) == len(exported)


def test_every_private_declaration_is_exported() -> None:
    assert not misplaced_names(rusty_genius_cortex, internal=INTERNAL)
    assert all(
        m.__all__ == sorted(m.__all__, key=_isort_key) for m in private_modules(rusty_genius_cortex)
    )


def test_every_export_comes_from_cortex_and_names_it() -> None:
    for name in rusty_genius_cortex.__all__:
        value = getattr(rusty_genius_cortex, name)
        module = getattr(value, "__module__", None)
        if isinstance(value, type | types.FunctionType):
            assert module == "rusty_genius_cortex", (name, module)
    assert not private_module_names([rusty_genius_cortex], {"rusty_genius_cortex"})


def test_the_remote_engine_and_httpx_load_on_first_use() -> None:
    code = (
        "import sys, rusty_genius_cortex as c\n"
        "c.create_engine('pinky'); c.LlamaEngine()\n"
        "assert 'httpx' not in sys.modules, 'httpx was imported'\n"
        "from rusty_genius_cortex._remote import RemoteEngine\n"
        "assert c.RemoteEngine is RemoteEngine and RemoteEngine.__module__ == c.__name__\n"
        "assert type(c.create_engine('remote', base_url='http://127.0.0.1:9')) is RemoteEngine\n"
        "try:\n"
        "    c.NoSuchName\n"
        "except AttributeError as exc:\n"
        "    assert 'NoSuchName' in str(exc)\n"
        "else:\n"
        "    raise AssertionError('an unknown name resolved')\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
