"""Repos the tests serve: the real SmolLM2 GGUF beside small fake quantizations."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Final

from ._models import TEST_MODELS

if TYPE_CHECKING:
    from pathlib import Path

    from ._catalog import HubRepo
    from ._hub import LoopbackHub

__all__ = ["SMOLLM2_FAKE_QUANTS", "add_smollm2_repo", "fake_gguf"]

SMOLLM2_FAKE_QUANTS: Final = ("Q8_0", "F16")
"""Quantizations :func:`add_smollm2_repo` serves as small fake files beside the real Q4_1."""


def fake_gguf(label: str, size: int = 64 * 1024) -> bytes:
    """``size`` bytes that start like a GGUF and differ per ``label`` (not a loadable model)."""
    if size < 4:
        raise ValueError(f"a fake GGUF needs at least 4 bytes, got {size}")
    out = bytearray(b"GGUF")
    block = hashlib.sha256(label.encode()).digest()
    while len(out) < size:
        block = hashlib.sha256(block).digest()
        out += block
    return bytes(out[:size])


def add_smollm2_repo(
    hub: LoopbackHub,
    model_path: Path,
    *,
    revision: str = "main",
    fake_quants: tuple[str, ...] = SMOLLM2_FAKE_QUANTS,
) -> HubRepo:
    """Serve the real SmolLM2 Q4_1 GGUF as Hugging Face names it, plus fake other quants.

    The repo is ``HuggingFaceTB/SmolLM2-135M-Instruct-GGUF``; the fakes (a few KiB each)
    make quantization choice and "list the alternatives" testable.
    """
    model = TEST_MODELS["smollm2"]
    stem = model.filename.removesuffix(f".{model.quantization}.gguf")
    files: dict[str, Path | bytes] = {model.filename: model_path}
    for quant in fake_quants:
        files[f"{stem}.{quant}.gguf"] = fake_gguf(f"smollm2-{quant}")
    files["README.md"] = b"# SmolLM2-135M-Instruct GGUF (served by the loopback test hub)\n"
    return hub.add_repo(model.repo, files, revision=revision)
