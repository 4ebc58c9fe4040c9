"""Download progress, rendered for a log and for a terminal, on a clock the test drives."""

from __future__ import annotations

import io

import pytest

from rusty_genius import AssetComplete, AssetFailed, AssetProgress, AssetStarted
from rusty_genius._progress import ProgressBar, format_duration, format_size

MB = 1_000_000


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Utf8(io.StringIO):
    encoding = "utf-8"  # type: ignore[assignment]


@pytest.mark.parametrize(
    ("size", "text"),
    [(0, "0 B"), (999, "999 B"), (1000, "1.0 kB"), (98_362_432, "98.4 MB"), (5 * 10**12, "5.0 TB")],
)
def test_format_size(size: int, text: str) -> None:
    assert format_size(size) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "--:--"),
        (float("inf"), "--:--"),
        (-1, "--:--"),
        (0, "0:00"),
        (61.4, "1:01"),
        (3725, "1:02:05"),
    ],
)
def test_format_duration(seconds: float | None, text: str) -> None:
    assert format_duration(seconds) == text


def test_a_log_gets_a_line_per_tenth_with_speed_and_eta() -> None:
    out, clock = io.StringIO(), Clock()
    bar = ProgressBar(out, tty=False, clock=clock)
    bar.event(AssetStarted(reference="org/m:Q4_0", filename="m.gguf", total=100 * MB))
    for step in range(1, 101):  # 1 MB every 0.1 s: 10 MB/s
        clock.now += 0.1
        bar.event(AssetProgress(filename="m.gguf", done=step * MB, total=100 * MB))
    bar.event(AssetComplete(reference="org/m:Q4_0", path="/models/m.gguf"))
    lines = out.getvalue().splitlines()
    assert lines[0] == "downloading m.gguf (100.0 MB)"
    assert lines[1] == "m.gguf:   1% 1.0 MB/100.0 MB  -- B/s  ETA --:--"
    assert lines[2] == "m.gguf:  10% 10.0 MB/100.0 MB  10.0 MB/s  ETA 0:09"
    assert lines[10] == "m.gguf:  90% 90.0 MB/100.0 MB  10.0 MB/s  ETA 0:01"
    assert lines[11] == "m.gguf: 100% 100.0 MB/100.0 MB  10.0 MB/s  ETA 0:00"
    assert lines[12] == "pulled org/m:Q4_0 100.0 MB in 10.0 s: /models/m.gguf"
    assert len(lines) == 13


def test_resumed_bytes_do_not_count_toward_the_speed() -> None:
    out, clock = io.StringIO(), Clock()
    bar = ProgressBar(out, tty=False, clock=clock)
    bar.event(AssetStarted(reference="r", filename="m.gguf", total=100 * MB))
    bar.event(AssetProgress(filename="m.gguf", done=50 * MB, total=100 * MB))  # the partial
    clock.now += 1.0
    bar.event(AssetProgress(filename="m.gguf", done=62 * MB, total=100 * MB))
    assert out.getvalue().splitlines()[-1] == "m.gguf:  62% 62.0 MB/100.0 MB  12.0 MB/s  ETA 0:03"


def test_a_terminal_gets_one_redrawn_line_at_most_ten_times_a_second() -> None:
    out, clock = Utf8(), Clock()
    bar = ProgressBar(out, tty=True, clock=clock, width=80)
    bar.event(AssetStarted(reference="r", filename="m.gguf", total=10 * MB))
    for step in range(1, 11):
        clock.now += 0.0625  # 16 events a second
        bar.event(AssetProgress(filename="m.gguf", done=step * MB, total=10 * MB))
    bar.event(AssetComplete(reference="r", path="/m.gguf"))
    text = out.getvalue()
    frames = text.split("\r\x1b[K")[1:]
    assert len(frames) == 6  # events 1, 3, 5, 7 and 9, then the final one
    assert frames[0].startswith("m.gguf ███░")
    assert frames[0].endswith(" 10% 1.0 MB/10.0 MB  -- B/s  ETA --:--")
    final, _, after = frames[-1].partition("\n")
    assert "░" not in final
    assert final.endswith(" 100% 10.0 MB/10.0 MB  16.0 MB/s  ETA 0:00")
    assert after == "pulled r 10.0 MB in 0.6 s: /m.gguf\n"
    assert all(len(frame.partition("\n")[0]) <= 80 for frame in frames)


def test_cached_unknown_size_and_failure() -> None:
    out, clock = io.StringIO(), Clock()
    bar = ProgressBar(out, tty=False, clock=clock)
    bar.event(AssetComplete(reference="r", path="/m.gguf", cached=True))
    bar.event(AssetStarted(reference="r", filename="n.gguf"))
    bar.event(AssetProgress(filename="n.gguf", done=2 * MB))
    bar.event(AssetFailed(reference="r", message="cut"))
    bar.close()
    assert out.getvalue().splitlines() == [
        "r is already downloaded: /m.gguf",
        "downloading n.gguf (unknown size)",
        "n.gguf: 2.0 MB  -- B/s",
    ]
    quiet = io.StringIO()
    ProgressBar(quiet, tty=False, quiet_cached=True).event(
        AssetComplete(reference="r", path="/m.gguf", cached=True)
    )
    assert quiet.getvalue() == ""
    ascii_bar = ProgressBar(io.StringIO(), tty=True, clock=clock, width=80)
    assert (ascii_bar._fill, ascii_bar._empty) == ("#", "-")
