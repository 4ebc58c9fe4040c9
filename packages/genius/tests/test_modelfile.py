"""The Modelfile parser: Ollama's syntax, the supported instructions, errors by line."""

from __future__ import annotations

import pytest

from rusty_genius._modelfile import parse_modelfile
from rusty_genius_core import ChatMessage, ManifestError, Parameters, Role

FULL = '''# a router over SmolLM2
FROM smollm2-135m-instruct
adapter ./router.gguf
ADAPTER acme/tone-lora:tone-f16.gguf
PARAMETER temperature 0
PARAMETER num_ctx 2048
PARAMETER stop "<|im_end|>"
PARAMETER stop END
parameter TOP_K 5
SYSTEM """You are a router.
Answer with one word."""
TEMPLATE "{% for m in messages %}{{ m['content'] }}
{% endfor %}"
MESSAGE user Hi there
MESSAGE assistant "Hello."
License MIT
LICENSE """second
licence"""
'''


def test_every_supported_instruction() -> None:
    parsed = parse_modelfile(FULL)
    assert parsed.base == "smollm2-135m-instruct"
    assert parsed.adapters == ("./router.gguf", "acme/tone-lora:tone-f16.gguf")
    assert parsed.parameters == Parameters(
        temperature=0.0, context_size=2048, stop=("<|im_end|>", "END"), top_k=5
    )
    assert parsed.system == "You are a router.\nAnswer with one word."
    assert parsed.template == "{% for m in messages %}{{ m['content'] }}\n{% endfor %}"
    assert parsed.messages == (
        ChatMessage(role=Role.USER, content="Hi there"),
        ChatMessage(role=Role.ASSISTANT, content="Hello."),
    )
    assert parsed.license == "MIT\n\nsecond\nlicence"


def test_a_minimal_modelfile_and_crlf_and_bom() -> None:
    parsed = parse_modelfile("\ufeffFROM org/repo-GGUF:Q8_0\r\nSYSTEM  be brief  \r\n")
    assert parsed.base == "org/repo-GGUF:Q8_0"
    assert parsed.system == "be brief"
    assert parsed.parameters.empty
    assert parsed.adapters == ()


def test_a_repeated_parameter_keeps_the_last_and_stop_accumulates() -> None:
    parsed = parse_modelfile(
        "FROM x\nPARAMETER seed 1\nPARAMETER seed 2\nPARAMETER stop a\nPARAMETER stop b\n"
    )
    assert parsed.parameters == Parameters(seed=2, stop=("a", "b"))


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("FROM x\nFOO bar\n", r"line 2: unknown instruction 'FOO'"),
        ("FROM x\n\n  # c\n  QUANTIZE q4\n", r"line 4: unknown instruction 'QUANTIZE'"),
        ("FROM x\nPARAMETER mirostat 1\n", r"line 2: unknown parameter 'mirostat'"),
        (
            "FROM x\nPARAMETER temperature hot\n",
            r"line 2: parameter 'temperature' must be a number",
        ),
        (
            "FROM x\nPARAMETER temperature 9\n",
            r"line 2: parameter 'temperature' must be between 0 and 5",
        ),
        ("FROM x\nPARAMETER num_ctx 1.5\n", r"line 2: parameter 'num_ctx' must be an integer"),
        ("FROM x\nPARAMETER temperature\n", r"line 2: PARAMETER temperature needs a value"),
        (
            "FROM x\nMESSAGE robot hi\n",
            r"line 2: MESSAGE role must be one of system, user, assistant",
        ),
        (
            "FROM x\nTEMPLATE {{ .System }} {{ .Prompt }}\n",
            r"line 2: TEMPLATE is a Go template.*only Jinja",
        ),
        (
            'FROM x\nTEMPLATE """{{- if .Messages }}\n{{ end }}"""\n',
            r"line 2: TEMPLATE is a Go template",
        ),
        (
            'FROM x\nSYSTEM """never\nclosed\n',
            r"line 2: SYSTEM: the \"\"\" opened here is never closed",
        ),
        (
            "FROM x\nREQUIRES 0.5.0\n",
            r"line 2: REQUIRES is an Ollama instruction this framework does not support",
        ),
        ("FROM x\nFROM y\n", r"line 2: a second FROM"),
        ("SYSTEM hi\n", r"no FROM line"),
        ("FROM\n", r"line 1: FROM needs a value"),
        ("FROM x\n123 go\n", r"line 2: unknown instruction '123'"),
    ],
)
def test_errors_name_the_line_and_what_is_wrong(text: str, words: str) -> None:
    with pytest.raises(ManifestError, match=words):
        parse_modelfile(text)


def test_too_many_stop_strings_are_refused() -> None:
    text = "FROM x\n" + "".join(f"PARAMETER stop s{i}\n" for i in range(17))
    with pytest.raises(ManifestError, match="stop"):
        parse_modelfile(text)
