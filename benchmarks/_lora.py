"""Measurement: LoRA adapters, ``Genius.infer`` on an adapter alias vs raw ``Llama(lora_path=)``.

An adapter for SmolLM2 is written with the ``gguf`` package (``rusty_genius_testhub.lora``,
rank 8 on attn_q/attn_v/ffn_up, random B) and two manifest aliases over the same base
file name their own adapter. Rows:

- decode tok/s with one adapter applied, ``Genius.infer("smollm2-router")`` vs
  ``Llama(model_path, lora_path=adapter).create_chat_completion(stream=True)``, timed
  and alternated as the ``decode`` row does (target >= 0.98);
- resident memory (``VmRSS``) of this process with both adapter aliases answered over
  the one loaded base, over with one (info, ``<= 1.1``: the second alias costs its
  adapter, not another copy of the base). Measured before the raw ``Llama`` exists.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import anyio
import attrs

from ._decode import (
    Sample,
    _ours,
    _raw,
    default_threads,
    interleaved_pair,
    loaded_genius,
    raw_llama,
)
from ._report import higher_is_better, lower_is_better
from ._setup import MODELS

if TYPE_CHECKING:
    from pathlib import Path

    from ._report import Row
    from ._setup import Plan, Workspace

__all__ = ["run_lora"]

DECODE_TARGET = 0.98
MEMORY_TARGET = 1.1


def _adapters(workspace: Workspace) -> dict[str, Path]:
    """Two adapters for SmolLM2, and the manifest aliases naming them."""
    from rusty_genius_testhub.lora import write_lora_gguf

    base = workspace.model_paths["smollm2"]
    folder = workspace.scratch("lora")
    made = {
        "smollm2-router": write_lora_gguf(folder / "router.gguf", base, b_std=0.05, seed=1),
        "smollm2-tone": write_lora_gguf(folder / "tone.gguf", base, b_std=0.05, seed=2),
    }
    entry = MODELS["smollm2"].alias
    manifest = workspace.home / "manifest.toml"
    manifest.write_text(
        "".join(
            f'[models.{alias}]\nrepo = "HuggingFaceTB/SmolLM2-135M-Instruct-GGUF"\n'
            f'quantization = "Q4_1"\n[[models.{alias}.adapters]]\npath = "{path}"\n\n'
            for alias, path in made.items()
        )
        + f"# over {entry}'s file: the aliases share its load\n",
        "utf-8",
    )
    return made


async def _run(
    workspace: Workspace, adapter: Path, rounds: int, max_tokens: int, threads: int
) -> tuple[dict[str, list[Sample]], list[float], list[float]]:
    from rusty_genius_testhub.memory import resident

    model = attrs.evolve(MODELS["smollm2"], alias="smollm2-router")
    tone = attrs.evolve(MODELS["smollm2"], alias="smollm2-tone")
    got: dict[str, list[Sample]] = {"ours": [], "raw": []}
    one: list[float] = []
    two: list[float] = []
    async with loaded_genius(workspace, model, threads) as genius:
        await _ours(genius, model, model.prompts[-1], 8)
        one.append(resident())
        await _ours(genius, tone, model.prompts[-1], 8)
        two.append(resident())
        llm = await anyio.to_thread.run_sync(_raw_llama, workspace, adapter, threads)
        try:
            _raw(llm, model, model.prompts[-1], 8)
            for i in range(rounds):
                prompt = model.prompts[i % len(model.prompts)]
                await interleaved_pair(
                    got, genius, llm, model, prompt, max_tokens, ours_first=i % 2 == 0
                )
        finally:
            llm.close()
    return got, one, two


def _raw_llama(workspace: Workspace, adapter: Path, threads: int) -> Any:
    return raw_llama(workspace.model_paths["smollm2"], threads, lora_path=str(adapter))


def run_lora(workspace: Workspace, plan: Plan) -> list[Row]:
    rounds = plan.rounds_or(3, 8)
    max_tokens = plan.pick(64, 128)
    threads = default_threads()
    made = _adapters(workspace)
    got, one, two = anyio.run(_run, workspace, made["smollm2-router"], rounds, max_tokens, threads)
    ours, raw = got["ours"], got["raw"]
    same = [o.text == r.text for o, r in zip(ours, raw, strict=True)]
    note = "" if all(same) else f"{same.count(False)} of {len(same)} rounds produced different text"
    return [
        higher_is_better(
            measurement="lora",
            name="decode tok/s with one LoRA adapter, Genius.infer vs Llama(lora_path=)",
            ours=[s.rate for s in ours],
            reference=[s.rate for s in raw],
            unit="tok/s",
            target=DECODE_TARGET,
            note=note,
            samples={"max_tokens": max_tokens, "threads": threads, "same_text": same},
        ),
        lower_is_better(
            measurement="lora",
            name="RSS with two adapter aliases over one base vs one",
            ours=[float(v) for v in two],
            reference=[float(v) for v in one],
            unit="bytes",
            target=MEMORY_TARGET,
            samples={"adapter_bytes": made["smollm2-tone"].stat().st_size},
        ),
    ]
