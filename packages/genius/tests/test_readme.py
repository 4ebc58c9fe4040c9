"""Every ``python`` example in the repository README runs, as a user would run it.

Each block is written to a file and run in a fresh interpreter, with its own
GENIUS_HOME/GENIUS_CACHE and HF_ENDPOINT pointing at a loopback hub that serves
the real SmolLM2 GGUF, so the download example really downloads.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from rusty_genius_testhub import add_smollm2_repo

if TYPE_CHECKING:
    from rusty_genius_testhub import LoopbackHub

README = Path(__file__).resolve().parents[3] / "README.md"
EXAMPLES = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


def _example_id(code: str) -> str:
    imports = re.findall(r"^from (\w+) import", code, re.M)
    return imports[-1] if imports else "example"


def test_the_readme_has_examples() -> None:
    assert len(EXAMPLES) >= 4


@pytest.mark.parametrize("code", EXAMPLES, ids=[_example_id(c) for c in EXAMPLES])
def test_readme_example_runs(
    code: str, tmp_path: Path, hub_thread: LoopbackHub, smollm2_gguf: Path
) -> None:
    add_smollm2_repo(hub_thread, smollm2_gguf)
    script = tmp_path / "example.py"
    script.write_text(code, encoding="utf-8")
    env = {
        **os.environ,
        "GENIUS_HOME": str(tmp_path / "home"),
        "GENIUS_CACHE": str(tmp_path / "cache"),
        "HF_ENDPOINT": hub_thread.url,
        "HF_TOKEN": "",
    }
    env.pop("HF_HUB_OFFLINE", None)
    done = subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip(), "the example printed nothing"
