"""Run a subprocess and keep what the benchmarks need: its lines with their arrival time,
its exit status and its own peak RSS.

Peak RSS is read from ``/proc/PID/status`` (``VmHWM``, the high-water mark of the
process's own memory) every few milliseconds while it runs, keeping the last value
(it only grows). ``ru_maxrss`` from ``wait4`` cannot be used: Linux carries the
forking parent's RSS over ``exec`` into it, so every child of this (large) Python
process would report at least the parent's size.
"""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path
from typing import IO, TYPE_CHECKING, Final

import attrs

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

__all__ = ["Finished", "run_measured"]

_RSS_POLL: Final = 0.002


def _vm_hwm_kib(status: str) -> int | None:
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return None


@attrs.frozen(kw_only=True)
class Finished:
    started: float  # perf_counter just before the process was spawned
    lines: list[tuple[float, str]]  # stdout lines and the perf_counter when each arrived
    stderr: str
    returncode: int
    max_rss_kib: int  # VmHWM; 0 when the process ended before the first read
    wall: float

    @property
    def stdout(self) -> str:
        return "".join(line for _, line in self.lines)

    def check(self, what: str) -> Finished:
        if self.returncode != 0:
            raise RuntimeError(
                f"{what} exited with {self.returncode}: {self.stderr.strip()[-2000:]}"
            )
        return self


def run_measured(
    command: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 600,
) -> Finished:
    """Run ``command`` to the end; stdout is read line by line as it arrives."""
    lines: list[tuple[float, str]] = []
    errors: list[str] = []
    started = time.perf_counter()
    proc = subprocess.Popen(
        list(command),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env=None if env is None else dict(env),
        cwd=cwd,
        text=True,
        bufsize=1,
    )

    def read_out(stream: IO[str]) -> None:
        for line in stream:
            lines.append((time.perf_counter(), line))

    def read_err(stream: IO[str]) -> None:
        errors.append(stream.read())

    assert proc.stdout is not None
    assert proc.stderr is not None
    readers = [
        threading.Thread(target=read_out, args=(proc.stdout,), daemon=True),
        threading.Thread(target=read_err, args=(proc.stderr,), daemon=True),
    ]
    for reader in readers:
        reader.start()
    peak = [0]
    exited = threading.Event()

    def watch_rss() -> None:
        status_file = Path(f"/proc/{proc.pid}/status")
        while not exited.is_set():
            try:
                text = status_file.read_text()
            except OSError:
                return
            hwm = _vm_hwm_kib(text)
            if hwm is None:  # a zombie: it has exited
                return
            peak[0] = max(peak[0], hwm)
            exited.wait(_RSS_POLL)

    watcher = threading.Thread(target=watch_rss, daemon=True)
    watcher.start()
    killer = threading.Timer(timeout, proc.kill)
    killer.start()
    try:
        proc.wait()
    finally:
        killer.cancel()
        exited.set()
    watcher.join()
    wall = time.perf_counter() - started
    for reader in readers:
        reader.join()
    proc.stdout.close()
    proc.stderr.close()
    return Finished(
        started=started,
        lines=lines,
        stderr="".join(errors),
        returncode=proc.returncode,
        max_rss_kib=peak[0],
        wall=wall,
    )
