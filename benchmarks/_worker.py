"""Subprocess entry points: ``python -m benchmarks._worker KIND ...`` prints one JSON line.

Downloads run in their own processes so that each one's peak RSS is its own and so
that they never share a GIL with the loopback hub, which serves from a thread of the
parent. Each first fetches a tiny file from the same hub (imports, HTTP clients and
their TLS set-up, thread pools: costs a process pays once, about 0.5 s here for both
Python tools) and then times the file that is measured; curl is timed by its own
``time_total`` in the same spirit.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path


def _facecrab(
    endpoint: str, warm_reference: str, reference: str, home: str, cache: str
) -> dict[str, object]:
    import anyio

    from facecrab import AssetAuthority

    async def pull() -> dict[str, object]:
        async with AssetAuthority(
            home=home, cache=cache, endpoint=endpoint, token=False, environ={}
        ) as assets:
            started = time.perf_counter()
            await assets.ensure_model(warm_reference)
            warm = time.perf_counter() - started
            started = time.perf_counter()
            local = await assets.ensure_model(reference)
            seconds = time.perf_counter() - started
        return {
            "seconds": seconds,
            "warm_up_seconds": warm,
            "bytes": local.path.stat().st_size,
            "path": str(local.path),
        }

    return anyio.run(pull)


def _huggingface_hub(
    endpoint: str, warm_repo: str, warm_file: str, repo: str, filename: str, cache: str
) -> dict[str, object]:
    from huggingface_hub import hf_hub_download

    started = time.perf_counter()
    hf_hub_download(warm_repo, warm_file, cache_dir=cache, endpoint=endpoint, token=False)
    warm = time.perf_counter() - started
    started = time.perf_counter()
    path = hf_hub_download(repo, filename, cache_dir=cache, endpoint=endpoint, token=False)
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "warm_up_seconds": warm,
        "bytes": Path(path).stat().st_size,
        "path": str(path),
    }


def _openai(spec_json: str) -> dict[str, object]:
    """Stream chat completions from each target in turn; TTFT and decode rate per run."""
    from openai import OpenAI

    spec = json.loads(spec_json)
    labels = list(spec["targets"])
    clients = {
        label: (OpenAI(base_url=url + "/v1", api_key="none", max_retries=0), model)
        for label, (url, model) in spec["targets"].items()
    }
    max_tokens = spec["max_tokens"]
    results: dict[str, list[dict[str, object]]] = {label: [] for label in labels}

    def one(label: str, prompt: str, limit: int = max_tokens) -> dict[str, object]:
        client, model = clients[label]
        pieces: list[str] = []
        first = last = 0.0
        finish = None
        started = time.perf_counter()
        stream = client.chat.completions.create(
            model=model,
            messages=[{"role": "user", "content": prompt}],
            stream=True,
            max_tokens=limit,
            temperature=0.0,
            top_p=1.0,
            extra_body={"top_k": 1, "min_p": 0.0, "repeat_penalty": 1.0},
        )
        for chunk in stream:
            if not chunk.choices:
                continue
            choice = chunk.choices[0]
            if choice.delta.content:
                last = time.perf_counter()
                if not pieces:
                    first = last
                pieces.append(choice.delta.content)
            finish = choice.finish_reason or finish
        tokens = limit if finish == "length" else len(pieces)
        rate = (tokens - 1) / (last - first) if tokens > 1 and last > first else float("nan")
        return {
            "ttft": first - started,
            "rate": rate,
            "tokens": tokens,
            "finish": finish,
            "text": "".join(pieces),
        }

    for label in labels:  # warm-up, not counted
        one(label, spec["prompts"][-1])
    for i in range(spec["rounds"]):
        prompt = spec["prompts"][i % len(spec["prompts"])]
        for label in labels if i % 2 == 0 else labels[::-1]:
            results[label].append(one(label, prompt))
        # The same prompt again, short: each server's context holds it, so one token is
        # evaluated and the TTFT difference is the servers' own cost. Median of three.
        again: dict[str, list[float]] = {label: [] for label in labels}
        for j in range(3):
            for label in labels if (i + j) % 2 == 0 else labels[::-1]:
                again[label].append(one(label, prompt, 4)["ttft"])  # type: ignore[arg-type]
        for label in labels:
            results[label][-1]["again_ttft"] = statistics.median(again[label])
    return results  # type: ignore[return-value]


def main(argv: list[str]) -> int:
    kind, *args = argv
    if kind == "facecrab":
        result = _facecrab(*args)
    elif kind == "huggingface_hub":
        result = _huggingface_hub(*args)
    elif kind == "openai":
        result = _openai(*args)
    else:
        raise SystemExit(f"unknown worker {kind!r}")
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
