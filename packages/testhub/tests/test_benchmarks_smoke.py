"""The benchmark suite keeps running: `python -m benchmarks` in quick mode, Pinky only.

It checks the command, the table and the JSON it writes, never the timings (those
belong to the benchmark's own report, taken on a quiet machine).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_quick_pinky_benchmark_prints_the_table_and_writes_json(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks",
            "--quick",
            "--only",
            "stem",
            "--rounds",
            "1",
            "--results-dir",
            str(tmp_path),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    header = done.stdout.splitlines()[0].split()
    assert header == ["measurement", "ours", "reference", "ratio", "target", "result", "spread"]

    stamped = sorted(p.name for p in tmp_path.glob("*.json"))
    assert len(stamped) == 2
    assert "latest.json" in stamped
    latest = json.loads((tmp_path / "latest.json").read_text())
    assert latest == json.loads(
        (tmp_path / next(n for n in stamped if n != "latest.json")).read_text()
    )
    machine = latest["machine"]
    for key in ("cpu_model", "cpu_count", "python", "llama_cpp_python"):
        assert machine[key], key
    rows = latest["rows"]
    assert {row["measurement"] for row in rows} == {"stem"}
    targeted = [row for row in rows if row["target"] != "-"]
    assert [row["name"].rsplit("(", 1)[1] for row in targeted] == ["asyncio)", "trio)"]
    for row in rows:
        assert row["ours"] > 0
        assert row["reference"] > 0
        assert row["verdict"] in {"pass", "miss", "info"}
        assert row["name"] in done.stdout
