"""``genius run`` on llama.cpp with the real SmolLM2, fetched through the loopback hub."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from rusty_genius_testhub import TEST_MODELS

SMOLLM2 = TEST_MODELS["smollm2"]
REF = f"{SMOLLM2.repo}:{SMOLLM2.quantization}"
QUESTION = "What is the capital of France? Answer in one word."
HTTP_STACK = ("httpx", "starlette", "hypercorn", "huggingface_hub")
MAIN_THEN_IMPORTS = f"""
import sys
from rusty_genius._cli import main
code = main(sys.argv[1:])
print(code, *[name for name in {HTTP_STACK!r} if name in sys.modules], file=sys.stderr)
"""

pytestmark = pytest.mark.real


def test_genius_run_on_llama_answers_paris(cli, llama_cpp_module: object) -> None:
    done = cli("run", "--backend", "llama", REF, QUESTION, "--temperature", "0", timeout=600)
    assert done.returncode == 0, done.stderr
    assert "Paris" in done.stdout
    lines = done.stderr.splitlines()
    assert lines[0] == f"downloading {SMOLLM2.filename} (98.4 MB)"  # fetched on the way
    assert re.fullmatch(
        r"genius: \d+ tokens \(prompt \d+\), ttft [\d.]+ s, [\d.]+ tok/s, load [\d.]+ s, finish stop",
        lines[-1],
    ), lines[-1]

    # now that it is downloaded, `auto` picks llama.cpp without asking the hub
    again = cli("--json", "run", "smollm2-135m-instruct", QUESTION, "--temperature", "0")
    assert again.returncode == 0, again.stderr
    assert again.stderr == ""  # no fallback notice, no download
    assert '"text":"Paris' in again.stdout or '"text":" Paris' in again.stdout

    # and that cold path loads llama.cpp without importing an HTTP client, server or hub API
    args = (
        "--json",
        "run",
        "--backend",
        "llama",
        "--endpoint",
        "http://127.0.0.1:9",
        REF,
        QUESTION,
    )
    third = subprocess.run(
        [sys.executable, "-c", MAIN_THEN_IMPORTS, *args],
        capture_output=True,
        text=True,
        env=cli.environment(),
        timeout=600,
        check=False,
    )
    assert third.stderr == "0\n", third.stderr
    assert json.loads(third.stdout.splitlines()[-1])["type"] == "complete"
