"""Measurement 4: download speed and peak RSS, facecrab vs huggingface_hub vs curl.

One loopback hub (``run_hub_in_thread``, real HTTP on 127.0.0.1, LFS redirect to its
``/cdn/`` path as the real hub does) serves two files: a 16 MiB synthetic GGUF and the
real 98 MB SmolLM2 Q4_1. Each download runs in a fresh subprocess into an empty
directory, in rotating order per round:

- facecrab: ``AssetAuthority.ensure_model("org/repo:QUANT")`` (tree listing, download
  with sha256 as it streams, fsync, rename, registry write);
- huggingface_hub: ``hf_hub_download(repo, filename)`` (HEAD, download, cache layout);
- curl: ``curl -L -o FILE URL`` of the resolve URL, timed by its own ``time_total``.

curl neither verifies nor syncs what it wrote; an info row adds ``openssl dgst -sha256``
of its file (the same OpenSSL SHA-256 that hashlib runs), timed as a process, to show
what fetch-then-verify costs with the fastest tools at hand.

The Python tools first fetch a 64 KiB file from the same hub in the same process, so
what is timed is the download, not the process's one-time set-up (imports, HTTP
client and TLS context, thread pool: about 0.5 s each; kept in the JSON as
``warm_up_seconds``). Throughput is file size over that time. Peak RSS is each
process's VmHWM; "flat" compares the 98 MB download with the 16 MiB one.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import sys
from typing import TYPE_CHECKING, Any

from ._proc import run_measured
from ._report import Row, higher_is_better, lower_is_better
from ._setup import ROOT

if TYPE_CHECKING:
    from pathlib import Path

    from ._setup import Plan, Workspace

__all__ = ["run_download"]

HF_TARGET = 1.0
CURL_TARGET = 0.8
RSS_FLAT_TARGET = 1.10  # peak RSS for the 98 MB file at most 10 % above the 16 MiB one
SYNTHETIC_SIZE = 16 * 1024 * 1024
SYNTHETIC_REPO = "bench/synthetic-16M-GGUF"
SYNTHETIC_FILE = "synthetic-16M.Q4_K_M.gguf"
TINY_REPO = "bench/tiny-GGUF"  # fetched first by each Python tool: its one-time set-up
TINY_FILE = "tiny.Q4_K_M.gguf"
TOOLS = ("facecrab", "huggingface_hub", "curl")


def _synthetic(path: Path) -> Path:
    from rusty_genius_testhub import fake_gguf

    if not path.exists():
        path.write_bytes(fake_gguf("benchmarks-synthetic", SYNTHETIC_SIZE))
    return path


def _settle_disk() -> None:
    """Write back every dirty page before a timed download.

    curl and huggingface_hub leave their file in the page cache unsynced; on ext4's
    ordered mode the next fsync (facecrab's) commits the journal and so waits for that
    writeback too. Each tool starts from a clean disk instead of paying for the last.
    """
    if hasattr(os, "sync"):
        os.sync()


def _download(
    tool: str, endpoint: str, repo: str, filename: str, quant: str, where: Path
) -> dict[str, Any]:
    env = {
        **os.environ,
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_HUB_DISABLE_PROGRESS_BARS": "1",
        "HF_HUB_ENABLE_HF_TRANSFER": "0",
        "HF_ENDPOINT": endpoint,
    }
    env.pop("HF_TOKEN", None)
    worker = [sys.executable, "-m", "benchmarks._worker"]
    if tool == "facecrab":
        command = [
            *worker,
            "facecrab",
            endpoint,
            f"{TINY_REPO}:Q4_K_M",
            f"{repo}:{quant}",
            str(where / "home"),
            str(where / "cache"),
        ]
    elif tool == "huggingface_hub":
        command = [
            *worker,
            "huggingface_hub",
            endpoint,
            TINY_REPO,
            TINY_FILE,
            repo,
            filename,
            str(where / "hf"),
        ]
    else:
        command = [
            "curl",
            "--silent",
            "--show-error",
            "--fail",
            "--location",
            "--output",
            str(where / filename),
            "--write-out",
            '{"seconds": %{time_total}, "bytes": %{size_download}}',
            f"{endpoint}/{repo}/resolve/main/{filename}",
        ]
    done = run_measured(command, env=env, cwd=ROOT, timeout=300)
    done.check(f"{tool} download of {filename}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["max_rss_mib"] = done.max_rss_kib / 1024
    if tool == "curl" and shutil.which("openssl"):
        verify = run_measured(
            ["openssl", "dgst", "-sha256", str(where / filename)], env=env, cwd=ROOT, timeout=300
        )
        verify.check(f"openssl sha256 of {filename}")
        result["verify_seconds"] = verify.wall
    return result


def run_download(workspace: Workspace, plan: Plan) -> list[Row]:
    from rusty_genius_testhub import TEST_MODELS, fake_gguf, run_hub_in_thread

    if shutil.which("curl") is None:
        raise RuntimeError("curl is not installed (apt-get install -y curl)")
    rounds = plan.rounds_or(2, 8)
    smollm2 = TEST_MODELS["smollm2"]
    files = {
        "16 MiB": (SYNTHETIC_REPO, SYNTHETIC_FILE, "Q4_K_M", SYNTHETIC_SIZE),
        "98 MB": (smollm2.repo, smollm2.filename, smollm2.quantization, smollm2.size),
    }
    got: dict[tuple[str, str], list[dict[str, Any]]] = {
        (size, tool): [] for size in files for tool in TOOLS
    }
    synthetic = _synthetic(workspace.scratch("hub") / SYNTHETIC_FILE)
    with run_hub_in_thread() as hub:
        hub.add_repo(TINY_REPO, {TINY_FILE: fake_gguf("benchmarks-tiny")})
        hub.add_repo(SYNTHETIC_REPO, {SYNTHETIC_FILE: synthetic})
        hub.add_repo(smollm2.repo, {smollm2.filename: workspace.model_paths["smollm2"]})
        for i in range(rounds):
            for size, (repo, filename, quant, nbytes) in files.items():
                order = TOOLS[i % 3 :] + TOOLS[: i % 3]
                for tool in order:
                    where = workspace.scratch(f"download-{tool}")
                    _settle_disk()
                    try:
                        result = _download(tool, hub.url, repo, filename, quant, where)
                    finally:
                        shutil.rmtree(where, ignore_errors=True)
                    if result["bytes"] != nbytes:
                        raise RuntimeError(f"{tool} got {result['bytes']} bytes of {filename}")
                    result["mb_per_s"] = nbytes / result["seconds"] / 1e6
                    got[size, tool].append(result)

    def rate(size: str, tool: str) -> list[float]:
        return [r["mb_per_s"] for r in got[size, tool]]

    def rss(size: str, tool: str) -> float:
        return float(statistics.median(r["max_rss_mib"] for r in got[size, tool]))

    rows: list[Row] = []
    for size in files:
        for reference, target in (("huggingface_hub", HF_TARGET), ("curl", CURL_TARGET)):
            rows.append(
                higher_is_better(
                    measurement="download",
                    name=f"download MB/s, facecrab vs {reference} ({size})",
                    ours=rate(size, "facecrab"),
                    reference=rate(size, reference),
                    unit="MB/s",
                    target=target,
                    samples={
                        "seconds": {t: [r["seconds"] for r in got[size, t]] for t in TOOLS},
                        "warm_up_seconds": {
                            t: [r.get("warm_up_seconds") for r in got[size, t]] for t in TOOLS
                        },
                    },
                )
            )
        verified = [r for r in got[size, "curl"] if "verify_seconds" in r]
        if len(verified) == rounds:
            rows.append(
                higher_is_better(
                    measurement="download",
                    name=f"download MB/s, facecrab vs curl then openssl sha256 ({size})",
                    ours=rate(size, "facecrab"),
                    reference=[
                        files[size][3] / (r["seconds"] + r["verify_seconds"]) / 1e6
                        for r in verified
                    ],
                    unit="MB/s",
                    target=None,
                    note="fetch + verify, as facecrab does (facecrab also fsyncs)",
                    samples={"verify_seconds": [r["verify_seconds"] for r in verified]},
                )
            )
    small, big = files
    flat = {tool: {small: rss(small, tool), big: rss(big, tool)} for tool in TOOLS}
    others = ", ".join(
        f"{tool} {flat[tool][small]:.0f}->{flat[tool][big]:.0f} MiB" for tool in TOOLS[1:]
    )
    rows.append(
        lower_is_better(
            measurement="download",
            name=f"downloader peak RSS, {big} vs {small} file (facecrab)",
            ours=[r["max_rss_mib"] for r in got[big, "facecrab"]],
            reference=[r["max_rss_mib"] for r in got[small, "facecrab"]],
            unit="MiB",
            target=RSS_FLAT_TARGET,
            note=f"flat = ratio near 1; {others}",
            samples={"peak_rss_mib": flat},
        )
    )
    return rows
