"""The soak of ``genius serve`` keeps running: ``--only soak`` in quick mode, and its own entry.

Like the stem smoke test it checks the command, the table and the JSON, never the
timings; the soak's own targets that are counts (answers lost, 5xx) are held to 0.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
HEADER = ["measurement", "ours", "reference", "ratio", "target", "result", "spread"]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def test_quick_soak_prints_the_table_and_writes_json(tmp_path: Path) -> None:
    done = _run("benchmarks", "--quick", "--only", "soak", "--results-dir", str(tmp_path))
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.splitlines()[0].split() == HEADER

    latest = json.loads((tmp_path / "latest.json").read_text())
    rows = latest["rows"]
    assert {row["measurement"] for row in rows} == {"soak"}
    names = [row["name"] for row in rows]
    assert names == [
        f"{what} (3x20, {loop})"
        for loop in ("asyncio", "trio")
        for what in (
            "soak answers lost",
            "soak 5xx answers",
            "soak server RSS, after vs before the waves",
        )
    ]
    for row in rows:
        assert row["name"] in done.stdout
        assert row["verdict"] in {"pass", "miss"}
        if row["unit"] in {"lost", "5xx"}:
            assert row["ours"] == 0, row
            assert row["verdict"] == "pass"
        else:
            assert row["ours"] > 0
            assert row["reference"] > 0
    lost = next(row for row in rows if row["unit"] == "lost")
    total = lost["samples"]["total"]
    assert sum(total.values()) == 3 * 20
    assert total["answered"] > 0
    assert total["left"] > 0  # some clients disconnected mid-stream, as planned


def test_the_soak_entry_takes_waves_clients_and_a_loop() -> None:
    done = _run("benchmarks.soak", "--waves", "1", "--clients", "5", "--loop", "trio", "--json")
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.splitlines()[0].split() == HEADER
    document = json.loads(done.stdout.strip().splitlines()[-1])
    assert document["plan"]["waves"] == 1
    assert document["plan"]["clients"] == 5
    assert [row["name"].rsplit("(", 1)[1] for row in document["rows"]] == ["1x5, trio)"] * 3
