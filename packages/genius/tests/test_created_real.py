"""Created models on llama.cpp with the real SmolLM2 (fetched through the loopback hub).

SmolLM2-135M does not obey "answer with banana" (checked greedily: it answers the
question), so the honest check is the one Ollama's semantics promise: the created
model's answer is exactly the base model's answer to the same conversation sent with
that system message and those options, and differs from the answer without them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from rusty_genius import InferenceConfig
from rusty_genius._modelfile import parse_modelfile

if TYPE_CHECKING:
    from collections.abc import Callable

    from rusty_genius import Genius
    from rusty_genius_testhub import LoopbackHub

pytestmark = [pytest.mark.real, pytest.mark.usefixtures("smollm2_repo", "llama_cpp_module")]

BASE = "smollm2-135m-instruct"
SYSTEM = "Answer every question with the single word: banana"
MODELFILE = f"""FROM {BASE}
PARAMETER temperature 0
PARAMETER num_predict 24
SYSTEM {SYSTEM}
"""
QUESTIONS = ("What is the capital of France?", "What colour is the sky?")
TEMPLATE = "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}assistant:"


async def test_a_created_model_answers_with_its_system_prompt_and_parameters(
    make_genius: Callable[..., Genius], hub: LoopbackHub
) -> None:
    async with make_genius(backend="llama", endpoint=hub.url) as genius:
        await genius.create_model("banana", parse_modelfile(MODELFILE).entry())
        for question in QUESTIONS:
            asked = [{"role": "user", "content": question}]
            created = await genius.chat("banana", asked)
            explicit = await genius.chat(
                BASE,
                [{"role": "system", "content": SYSTEM}, *asked],
                InferenceConfig.greedy(max_tokens=24),
            )
            plain = await genius.chat(BASE, asked, InferenceConfig.greedy(max_tokens=24))
            assert created.content == explicit.content
            assert created.usage.prompt_tokens == explicit.usage.prompt_tokens
            assert created.usage.completion_tokens <= 24
            assert created.content != plain.content  # the system prompt changed the answer
            again = await genius.chat("banana", asked)
            assert again.content == created.content  # temperature 0: the same every time


async def test_a_created_model_s_template_replaces_the_gguf_s(
    make_genius: Callable[..., Genius], hub: LoopbackHub
) -> None:
    modelfile = f'FROM {BASE}\nPARAMETER temperature 0\nTEMPLATE """{TEMPLATE}"""\n'
    question = "What is the capital of France?"
    async with make_genius(backend="llama", endpoint=hub.url) as genius:
        await genius.create_model("plain", parse_modelfile(modelfile).entry())
        templated = await genius.chat(
            "plain", [{"role": "user", "content": question}], InferenceConfig.greedy(max_tokens=16)
        )
        raw: Any = await genius.complete(
            BASE,
            f"user: {question}\nassistant:",
            InferenceConfig.greedy(max_tokens=16, raw=True),
        )
        native = await genius.chat(
            BASE, [{"role": "user", "content": question}], InferenceConfig.greedy(max_tokens=16)
        )
    assert templated.content == raw.content
    assert templated.usage.prompt_tokens == raw.usage.prompt_tokens
    assert templated.usage.prompt_tokens != native.usage.prompt_tokens
