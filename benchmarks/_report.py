"""Rows, statistics, the printed table, the JSON file and the machine they describe.

Every comparison is taken side by side: each round runs ours and the reference back
to back (in alternating order), so a busy machine slows both alike. A row's ratio is
the median of the per-round ratios, and its spread is their range (min-max), which
says how much the machine's load moved the figure while it was measured.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any, Literal

import attrs

__all__ = [
    "Row",
    "higher_is_better",
    "lower_is_better",
    "machine_info",
    "paired_delta",
    "paired_ratio",
    "pending",
    "render_table",
    "write_results",
]

Verdict = Literal["pass", "miss", "info", "pending"]


@attrs.frozen(kw_only=True)
class Row:
    """One line of the table: ours against the reference, with the target it is held to."""

    measurement: str  # the --only name it belongs to
    name: str
    ours: float | None
    reference: float | None
    unit: str
    ratio: float | None  # or, for "delta" rows, ours - reference in ``unit``
    kind: Literal["ratio", "delta", "info"]
    target: str
    verdict: Verdict
    spread: str
    note: str = ""
    samples: dict[str, Any] = attrs.field(factory=dict)


def _median(values: list[float]) -> float:
    return statistics.median(values)


def _range(values: list[float], fmt: str) -> str:
    return f"{format(min(values), fmt)}-{format(max(values), fmt)} (n={len(values)})"


def paired_ratio(
    *,
    measurement: str,
    name: str,
    ours: list[float],
    reference: list[float],
    unit: str,
    target: float | None,
    higher_is_better: bool,
    note: str = "",
    samples: dict[str, Any] | None = None,
) -> Row:
    """``ours[i] / reference[i]`` per round; the median ratio is held to ``target``."""
    if len(ours) != len(reference) or not ours:
        raise ValueError(f"{name}: {len(ours)} samples of ours, {len(reference)} of reference")
    ratios = [o / r for o, r in zip(ours, reference, strict=True)]
    ratio = _median(ratios)
    if target is None:
        verdict: Verdict = "info"
        target_text = "-"
    elif higher_is_better:
        verdict = "pass" if ratio >= target else "miss"
        target_text = f">= {target:g}"
    else:
        verdict = "pass" if ratio <= target else "miss"
        target_text = f"<= {target:g}"
    return Row(
        measurement=measurement,
        name=name,
        ours=_median(ours),
        reference=_median(reference),
        unit=unit,
        ratio=ratio,
        kind="ratio",
        target=target_text,
        verdict=verdict,
        spread=_range(ratios, ".3f"),
        note=note,
        samples={"ours": ours, "reference": reference, "ratios": ratios, **(samples or {})},
    )


def paired_delta(
    *,
    measurement: str,
    name: str,
    ours: list[float],
    reference: list[float],
    unit: str,
    max_delta: float | None,
    note: str = "",
    samples: dict[str, Any] | None = None,
) -> Row:
    """``ours[i] - reference[i]`` per round; the median difference is held to ``max_delta``."""
    if len(ours) != len(reference) or not ours:
        raise ValueError(f"{name}: {len(ours)} samples of ours, {len(reference)} of reference")
    deltas = [o - r for o, r in zip(ours, reference, strict=True)]
    delta = _median(deltas)
    if max_delta is None:
        verdict: Verdict = "info"
        target_text = "-"
    else:
        verdict = "pass" if delta <= max_delta else "miss"
        target_text = f"<= +{max_delta:g} {unit}"
    return Row(
        measurement=measurement,
        name=name,
        ours=_median(ours),
        reference=_median(reference),
        unit=unit,
        ratio=delta,
        kind="delta",
        target=target_text,
        verdict=verdict,
        spread=_range(deltas, "+.1f") + f" {unit}",
        note=note,
        samples={"ours": ours, "reference": reference, "deltas": deltas, **(samples or {})},
    )


def higher_is_better(**kwargs: Any) -> Row:
    return paired_ratio(higher_is_better=True, **kwargs)


def lower_is_better(**kwargs: Any) -> Row:
    return paired_ratio(higher_is_better=False, **kwargs)


def pending(measurement: str, name: str, target: str, note: str) -> Row:
    """A measurement that cannot be taken yet (the thing to measure does not exist)."""
    return Row(
        measurement=measurement,
        name=name,
        ours=None,
        reference=None,
        unit="",
        ratio=None,
        kind="info",
        target=target,
        verdict="pending",
        spread="-",
        note=note,
    )


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _ratio_text(row: Row) -> str:
    if row.ratio is None:
        return "-"
    if row.kind == "delta":
        return f"{row.ratio:+.1f} {row.unit}"
    return f"{row.ratio:.3f}"


def render_table(rows: list[Row]) -> str:
    """The table the issue asks for: measurement, ours, reference, ratio, target, result, spread."""
    header = ["measurement", "ours", "reference", "ratio", "target", "result", "spread"]
    lines = [
        [
            row.name,
            f"{_number(row.ours)} {row.unit}".strip() if row.ours is not None else "-",
            f"{_number(row.reference)} {row.unit}".strip() if row.reference is not None else "-",
            _ratio_text(row),
            row.target,
            row.verdict,
            row.spread,
        ]
        for row in rows
    ]
    widths = [max(len(line[i]) for line in [header, *lines]) for i in range(len(header))]
    out = []
    for i, line in enumerate([header, *lines]):
        out.append("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip())
        if i == 0:
            out.append("  ".join("-" * w for w in widths))
    notes = [f"  {row.name}: {row.note}" for row in rows if row.note]
    if notes:
        out += ["", "notes:", *notes]
    return "\n".join(out)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _mem_total_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / (1 << 20), 1)
    except OSError:
        pass
    return None


_BUILD_PROBE = """
import json, llama_cpp
info = llama_cpp.llama_print_system_info()
info = info.decode() if isinstance(info, bytes) else str(info)
gpu = bool(llama_cpp.llama_supports_gpu_offload())
names = [n for n in ("CUDA", "Metal", "Vulkan", "HIP", "SYCL") if n.upper() in info.upper()]
print(json.dumps({"gpu_offload": gpu, "build": (names[0] if gpu and names else "GPU" if gpu else "CPU"),
                  "system_info": info.strip()}))
"""


def _llama_build(probe: bool) -> dict[str, Any]:
    """Asked in a subprocess, so a run that needs no llama.cpp never imports it here."""
    try:
        version = importlib.metadata.version("llama_cpp_python")
    except importlib.metadata.PackageNotFoundError:
        return {"version": None, "build": "not installed"}
    if not probe:
        return {"version": version, "build": "not probed (no llama.cpp measurement ran)"}
    try:
        done = subprocess.run(
            [sys.executable, "-c", _BUILD_PROBE],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        probed: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    except (subprocess.SubprocessError, OSError, ValueError, IndexError) as exc:
        probed = {"build": f"unknown ({type(exc).__name__})"}
    return {"version": version, **probed}


def _git() -> dict[str, Any]:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            # results/latest.json is the previous run's output, not a change to what is measured
            [
                "git",
                "status",
                "--porcelain",
                "--untracked-files=no",
                ":(top,exclude)benchmarks/results",
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        ).stdout.strip()
    except (subprocess.SubprocessError, OSError):
        return {"commit": None, "dirty": None}
    return {"commit": head, "dirty": bool(dirty)}


def _loadavg() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def machine_info(*, probe_llama: bool = True) -> dict[str, Any]:
    """What the figures were taken on: CPU, cores, memory, Python, llama-cpp-python build."""
    usable: int | None
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return {
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "usable_cores": usable,
        "memory_gib": _mem_total_gib(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "llama_cpp_python": _llama_build(probe_llama),
        "git": _git(),
        "loadavg_at_start": _loadavg(),
    }


def write_results(
    directory: Path, *, machine: dict[str, Any], options: dict[str, Any], rows: list[Row]
) -> tuple[Path, Path]:
    """``<directory>/<UTC timestamp>.json`` and a copy as ``latest.json``."""
    now = dt.datetime.now(dt.UTC)
    document = {
        "taken_at": now.isoformat(timespec="seconds"),
        "machine": {**machine, "loadavg_at_end": _loadavg()},
        "options": options,
        "rows": [attrs.asdict(row) for row in rows],
    }
    directory.mkdir(parents=True, exist_ok=True)
    text = json.dumps(document, indent=2, sort_keys=False) + "\n"
    stamped = directory / f"{now.strftime('%Y%m%dT%H%M%SZ')}.json"
    latest = directory / "latest.json"
    stamped.write_text(text)
    latest.write_text(text)
    return stamped, latest
