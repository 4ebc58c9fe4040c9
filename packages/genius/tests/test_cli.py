"""The ``genius`` command line, run as real subprocesses against the loopback hub."""

from __future__ import annotations

import json
import os
import platform
import pty
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from rusty_genius import InferenceEvent
from rusty_genius.protocol import from_dict
from rusty_genius_testhub import TEST_MODELS

if TYPE_CHECKING:
    from collections.abc import Callable

    from rusty_genius_testhub import LoopbackHub

SMOLLM2 = TEST_MODELS["smollm2"]
CLOSED_ENDPOINT = "http://127.0.0.1:9"  # the discard port: nothing listens, connect is refused
REF = f"{SMOLLM2.repo}:{SMOLLM2.quantization}"
PROGRESS = re.compile(
    r"SmolLM2-135M-Instruct\.Q4_1\.gguf: +\d+% [\d.]+ [kMG]?B/98\.4 MB  ([\d.]+ [kMG]?B|--) ?B?/s  ETA \d+:\d\d"
)
USAGE = re.compile(
    r"^genius: (\d+) tokens \(prompt (\d+)\), ttft [\d.]+ s, [\d.]+ tok/s(, load [\d.]+ s)?, finish stop$"
)


_READ_SYSCALL = {"x86_64": "0", "aarch64": "63"}.get(platform.machine())


def wait_until_blocked_reading_stdin(pid: int) -> None:
    """Until one of ``pid``'s threads sits in ``read(0, …)`` (Linux ``/proc``), or skip.

    Ctrl-C must work while a thread is blocked on stdin; sending the signal any earlier
    would test something easier.
    """
    tasks = Path(f"/proc/{pid}/task")
    if _READ_SYSCALL is None or not tasks.is_dir():
        pytest.skip("needs Linux /proc on x86_64 or aarch64 to see a thread blocked in read()")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for task in tasks.iterdir():
            try:
                fields = (task / "syscall").read_text().split()
            except OSError:  # the thread ended meanwhile
                continue
            if fields[:2] == [_READ_SYSCALL, "0x0"]:
                return
        time.sleep(0.01)  # polling an outside state; nothing here can notify us
    raise AssertionError(f"no thread of {pid} blocked reading stdin within 60 s")


def interrupt_once_reading_stdin(
    process: subprocess.Popen[bytes], ready: Callable[[bytes], bool]
) -> bytes:
    """Read ``process``'s stderr until ``ready`` says so, then send SIGINT once a thread is
    blocked reading stdin; what stderr said so far."""
    assert process.stderr is not None
    seen = b""
    while not ready(seen):
        chunk = os.read(process.stderr.fileno(), 4096)
        assert chunk, seen
        seen += chunk
    wait_until_blocked_reading_stdin(process.pid)
    process.send_signal(signal.SIGINT)
    return seen


def one_error_line(stderr: str) -> str:
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("genius: error: ")
    return lines[0]


def test_pull_shows_progress_and_resumes_after_a_cut(
    cli, smollm2_hub: LoopbackHub, async_backend: str
) -> None:
    cut = 10_000_000
    smollm2_hub.cut_after(SMOLLM2.filename, cut)
    done = cli("pull", REF, GENIUS_ASYNC_BACKEND=async_backend)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"{cli.model_path()}\n"
    assert cli.model_path().stat().st_size == SMOLLM2.size
    lines = done.stderr.splitlines()
    assert lines[0] == f"downloading {SMOLLM2.filename} (98.4 MB)"
    assert any(PROGRESS.fullmatch(line) for line in lines), done.stderr
    assert any(line.startswith(f"{SMOLLM2.filename}: 100% 98.4 MB/98.4 MB") for line in lines)
    assert lines[-1].startswith(f"pulled {REF} 98.4 MB in ")
    # the cut connection was resumed where it broke: every byte crossed the wire once
    assert smollm2_hub.ranges_seen(SMOLLM2.filename) == [None, f"bytes={cut}-"]
    assert smollm2_hub.bytes_served(SMOLLM2.filename) == SMOLLM2.size

    again = cli("pull", REF, GENIUS_ASYNC_BACKEND=async_backend)
    assert again.returncode == 0, again.stderr
    assert again.stderr == f"{REF} is already downloaded: {cli.model_path()}\n"
    assert smollm2_hub.bytes_served(SMOLLM2.filename) == SMOLLM2.size


def test_an_interrupted_pull_exits_130_and_the_next_transfers_only_the_rest(
    cli, smollm2_hub: LoopbackHub
) -> None:
    stall = smollm2_hub.stall(SMOLLM2.filename, 30_000_000)
    with cli.popen("pull", REF) as first:
        assert stall.wait_reached_blocking(timeout=60)
        first.send_signal(signal.SIGINT)
        out, err = first.communicate(timeout=60)
    assert first.returncode == 130, err
    assert err.splitlines()[-1] == "genius: interrupted"
    assert out == ""
    partial = cli.model_path().with_name(SMOLLM2.filename + ".partial")
    kept = partial.stat().st_size
    assert 0 < kept <= 30_000_000
    assert not cli.model_path().exists()

    smollm2_hub.clear_faults()
    smollm2_hub.reset_stats()
    second = cli("pull", REF)
    assert second.returncode == 0, second.stderr
    assert smollm2_hub.ranges_seen(SMOLLM2.filename) == [f"bytes={kept}-"]
    assert smollm2_hub.bytes_served(SMOLLM2.filename) == SMOLLM2.size - kept
    assert cli.model_path().stat().st_size == SMOLLM2.size


def test_a_redirect_loop_or_a_stuck_hub_ends_the_pull_with_a_clear_error(
    cli, smollm2_hub: LoopbackHub
) -> None:
    """Issue 18: not ``unexpected TooManyRedirects``, and a stalled hub is given up on."""
    smollm2_hub.redirect_loop(SMOLLM2.filename)
    looped = cli("pull", REF, GENIUS_MIRRORS="0")  # the hub's own error, not PyPI's copy
    assert looped.returncode == 1, looped.stderr
    last = looped.stderr.splitlines()[-1]
    url = f"{smollm2_hub.url}/{SMOLLM2.repo}/resolve/main/{SMOLLM2.filename}"
    assert last == (
        f"genius: error: {SMOLLM2.filename}: the hub redirected more than 20 times from {url} "
        "(a redirect loop); check HF_ENDPOINT and any proxy in between"
    )
    smollm2_hub.clear_faults()
    smollm2_hub.stall(SMOLLM2.filename, 1000, times=None)
    stuck = cli(
        "pull", REF, GENIUS_STALL_TIMEOUT="60", GENIUS_ATTEMPT_DEADLINE="1", GENIUS_MIRRORS="0"
    )
    assert stuck.returncode == 1, stuck.stderr
    assert stuck.stderr.splitlines()[-1] == (
        f"genius: error: {SMOLLM2.filename}: the download did not finish within 1 s "
        f"(attempt_deadline) and was stopped at byte 1000 of {SMOLLM2.size}. The partial file "
        "is kept: pulling again resumes from byte 1000; for a slow link raise "
        "GENIUS_ATTEMPT_DEADLINE"
    )


def test_pull_on_a_terminal_redraws_one_bar(cli) -> None:
    leader, follower = pty.openpty()
    received = bytearray()

    def drain() -> None:
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the child closed its end
                return
            if not chunk:
                return
            received.extend(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        done = subprocess.run(
            cli.command("pull", REF),
            env=cli.environment(COLUMNS="100"),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=follower,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        os.close(follower)
        reader.join(timeout=30)
        os.close(leader)
    screen = received.decode("utf-8", "replace")
    assert done.returncode == 0, screen
    assert "\r\x1b[K" in screen  # redrawn in place
    assert "█" in screen
    assert re.search(r"100% 98\.4 MB/98\.4 MB .*B/s  ETA 0:00", screen), screen
    assert f"pulled {REF} 98.4 MB in " in screen


def test_list_info_rm(cli) -> None:
    empty = cli("list")
    assert (empty.returncode, empty.stdout) == (0, "")
    assert "no models downloaded" in empty.stderr
    assert cli("pull", "smollm2-135m-instruct").returncode == 0

    listed = cli("list")
    assert listed.returncode == 0, listed.stderr
    header, row = listed.stdout.splitlines()
    assert header.split() == ["NAME", "QUANT", "SIZE", "PATH"]
    assert row.split() == [REF, "Q4_1", "98.4", "MB", str(cli.model_path())]
    [as_json] = [json.loads(line) for line in cli("--json", "list").stdout.splitlines()]
    assert as_json["type"] == "model_status"
    assert (as_json["name"], as_json["size"], as_json["downloaded"]) == (REF, SMOLLM2.size, True)

    info = cli("info", REF)
    assert info.returncode == 0, info.stderr
    fields = dict(re.split(r"\s{2,}", line, maxsplit=1) for line in info.stdout.splitlines())
    assert fields["architecture"] == "llama"
    assert fields["quantization"] == "Q4_1"
    assert fields["chat template"] == "yes"
    assert int(fields["context length"]) >= 2048
    data = json.loads(cli("info", "--json", "smollm2-135m-instruct").stdout)
    assert data["chat_template"] is True
    assert (data["architecture"], data["quantization"], data["model"]) == ("llama", "Q4_1", REF)

    removed = cli("rm", REF)
    assert removed.returncode == 0, removed.stderr
    assert removed.stderr == f"genius: removed {REF}\n"
    assert not cli.model_path().exists()
    assert cli("list").stdout == ""
    gone = cli("rm", REF)
    assert gone.returncode == 1
    assert "is not downloaded" in one_error_line(gone.stderr)
    missing = cli("info", REF)
    assert missing.returncode == 1
    assert f"run `genius pull {REF}` first" in one_error_line(missing.stderr)


HTTP_STACK = ("httpx", "starlette", "hypercorn", "huggingface_hub")
MAIN_THEN_IMPORTS = f"""
import sys
from rusty_genius._cli import main
code = main(sys.argv[1:])
print(code, *[name for name in {HTTP_STACK!r} if name in sys.modules], file=sys.stderr)
"""


def test_run_with_a_downloaded_model_imports_no_http_stack(
    cli, smollm2_hub: LoopbackHub, async_backend: str
) -> None:
    """The cold path of ``genius run``: a registry hit needs no HTTP client, server or hub API."""
    assert cli("pull", REF).returncode == 0
    before = len(smollm2_hub.requests)
    args = ("--json", "run", "--backend", "pinky", "--endpoint", CLOSED_ENDPOINT, REF, "Hi there")
    done = subprocess.run(
        [sys.executable, "-c", MAIN_THEN_IMPORTS, *args],
        capture_output=True,
        text=True,
        env=cli.environment(GENIUS_ASYNC_BACKEND=async_backend),
        timeout=120,
        check=False,
    )
    assert done.stderr == "0\n"  # exit code 0, and none of HTTP_STACK imported
    assert json.loads(done.stdout.splitlines()[-1])["type"] == "complete"
    assert len(smollm2_hub.requests) == before


def test_run_on_pinky_streams_the_answer_and_a_usage_line(offline_cli, async_backend: str) -> None:
    done = offline_cli(
        "run",
        "--backend",
        "pinky",
        "smollm2-135m-instruct",
        "Hello there, friend",
        GENIUS_ASYNC_BACKEND=async_backend,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "Thinking...\nNarf!\n...done thinking.\n\nHello there, friend\n"
    [usage] = done.stderr.splitlines()
    found = USAGE.fullmatch(usage)
    assert found, usage
    assert int(found[1]) > 3
    hidden = offline_cli("run", "--backend", "pinky", "--hide-thinking", "Hi there")
    assert hidden.stdout == "Hi there\n"


def test_run_reads_the_prompt_from_stdin_and_takes_sampling_flags(offline_cli) -> None:
    prompt = "piped words one two three four five six seven eight nine ten"
    done = offline_cli(
        "--backend=pinky",
        "run",
        "--temperature",
        "0",
        "--seed",
        "7",
        "--max-tokens",
        "14",
        "--stop",
        "never",
        "-",
        stdin=f"{prompt}\n",
    )
    assert done.returncode == 0, done.stderr
    thought, _, content = done.stdout.partition("...done thinking.\n\n")
    assert thought == "Thinking...\nNarf!\n"
    assert content.strip()
    assert prompt.startswith(content.strip())
    assert len(content.strip()) < len(prompt)  # cut short by --max-tokens
    assert done.stderr.endswith(", finish length\n")


def test_run_json_prints_one_event_per_line(offline_cli) -> None:
    done = offline_cli("run", "--json", "--backend", "pinky", "smollm2-135m-instruct", "a b c")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    events = [from_dict(json.loads(line), InferenceEvent) for line in done.stdout.splitlines()]
    kinds = [type(e).__name__ for e in events]
    assert kinds[0] == "ProcessStart"
    assert kinds[-1] == "Complete"
    assert kinds.count("Content") == 3


def test_run_auto_without_the_model_or_the_hub_answers_with_pinky(offline_cli) -> None:
    # No mirror either: the default model's PyPI mirror would serve it to llama.cpp.
    done = offline_cli(
        "run", "What is the capital of France? Answer in one word.", GENIUS_MIRRORS="0"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.endswith("What is the capital of France? Answer in one word.\n")
    note, usage = done.stderr.splitlines()
    assert note.startswith("genius: note: ")
    assert note.endswith("answering with the Pinky stub engine") or "not installed" in note
    assert USAGE.fullmatch(usage)


def test_chat_keeps_the_history_with_piped_stdin(offline_cli, async_backend: str) -> None:
    done = offline_cli(
        "chat",
        "--json",
        "--backend",
        "pinky",
        stdin="first question\n\n/ps\nsecond one\n/exit\nnever read\n",
        GENIUS_ASYNC_BACKEND=async_backend,
    )
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert "".join(r["text"] for r in rows if r["type"] == "content") == "first questionsecond one"
    statuses = [r for r in rows if r["type"] == "model_status"]
    assert [s["name"] for s in statuses] == ["smollm2-135m-instruct"]  # the default model
    completes = [r["usage"] for r in rows if r["type"] == "complete"]
    assert len(completes) == 2
    # the second turn's prompt holds the first question and answer too
    assert completes[1]["prompt_tokens"] > completes[0]["prompt_tokens"] + 2


def test_chat_prints_answers_as_text(offline_cli) -> None:
    done = offline_cli(
        "chat", "--backend", "pinky", "--hide-thinking", "smollm2-135m-instruct", stdin="hi\nbye\n"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "hi\nbye\n"
    assert len(done.stderr.splitlines()) == 2  # a usage line per answer


def test_ps_in_a_fresh_process_has_nothing_loaded(offline_cli) -> None:
    done = offline_cli("ps")
    assert (done.returncode, done.stdout) == (0, "")
    assert "no model is loaded" in done.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("run", "--backend", "pinky", "org/repo:", "hi"), "empty quantization"),
        (("pull", "not a reference!"), "is not a valid alias"),
        (("run", "no-such-model", "hi"), "is not an alias any manifest defines"),
        (("info", "org/repo:q4!"), "quantization"),
        (("run", "--temperature", "9", "--backend", "pinky", "hi"), "temperature"),
        (("run", "--backend", "pinky", "a", "b", "c"), "takes [REF] [PROMPT]"),
        (("frobnicate",), "invalid choice: 'frobnicate'"),
        (("run", "--top-k", "many", "hi"), "invalid int value: 'many'"),
        (("--backend", "gpu", "list"), "invalid choice: 'gpu'"),
    ],
)
def test_bad_input_exits_2_with_one_line(offline_cli, args: tuple[str, ...], message: str) -> None:
    done = offline_cli(*args)
    assert done.returncode == 2, done.stderr
    assert message in one_error_line(done.stderr)
    assert done.stdout == ""


def test_runtime_failures_exit_1_and_debug_shows_the_traceback(offline_cli) -> None:
    plain = offline_cli("info", "smollm2-135m-instruct")
    assert plain.returncode == 1
    assert "is not downloaded" in one_error_line(plain.stderr)
    debug = offline_cli("info", "--debug", "smollm2-135m-instruct")
    assert debug.returncode == 1
    assert "Traceback (most recent call last)" in debug.stderr
    assert debug.stderr.splitlines()[-1] == one_error_line(plain.stderr)
    as_json = offline_cli("--json", "info", "smollm2-135m-instruct")
    assert json.loads(as_json.stdout) == {
        "type": "error",
        "kind": "GeniusError",
        "message": one_error_line(plain.stderr).removeprefix("genius: error: "),
    }


def test_an_unknown_async_backend_is_bad_input(offline_cli) -> None:
    done = offline_cli("ps", GENIUS_ASYNC_BACKEND="curio")
    assert done.returncode == 2
    assert "GENIUS_ASYNC_BACKEND='curio'" in one_error_line(done.stderr)


def test_help_lists_every_command(offline_cli) -> None:
    done = offline_cli("--help")
    assert done.returncode == 0
    for command in ("pull", "list", "rm", "run", "chat", "ps", "info"):
        assert re.search(rf"^    {command} ", done.stdout, flags=re.MULTILINE), command
    assert "exit codes: 0 ok, 1 failure, 2 bad input, 130 interrupted" in done.stdout


def test_ctrl_c_at_the_chat_prompt_exits_130_at_once(offline_cli, async_backend: str) -> None:
    leader, follower = pty.openpty()  # a terminal for stdin: the chat is interactive
    try:
        with subprocess.Popen(
            offline_cli.command("chat", "--backend", "pinky"),
            env=offline_cli.environment(GENIUS_ASYNC_BACKEND=async_backend),
            stdin=follower,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        ) as chat:
            # waiting for a line from the terminal
            interrupt_once_reading_stdin(chat, lambda seen: seen.endswith(b">>> "))
            # nothing is typed: a reader thread still blocked on the terminal must not hold it
            try:
                _, err = chat.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                chat.kill()
                raise
    finally:
        os.close(follower)
        os.close(leader)
    assert chat.returncode == 130, err
    assert err.decode().splitlines()[-1] == "genius: interrupted"


def test_ctrl_c_while_run_waits_for_a_piped_prompt_exits_130_at_once(offline_cli) -> None:
    with subprocess.Popen(
        offline_cli.command("run", "--debug", "--backend", "pinky", "-"),
        env=offline_cli.environment(),
        stdin=subprocess.PIPE,  # open, and nothing is ever written
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as run:
        assert run.stdin is not None
        assert run.stderr is not None
        seen = interrupt_once_reading_stdin(
            run, lambda seen: b"reading the prompt from stdin\n" in seen
        )
        try:
            run.wait(timeout=30)  # stdin stays open: only the signal can end it
        except subprocess.TimeoutExpired:
            run.kill()
            raise
        finally:
            run.stdin.close()
        seen += run.stderr.read()
    assert run.returncode == 130, seen
    assert seen.decode().splitlines()[-1] == "genius: interrupted"


def test_serve_max_memory_takes_a_size() -> None:
    from rusty_genius._cli import build_parser

    assert build_parser().parse_args(["serve", "--max-memory", "8GiB"]).max_memory == 8 * 2**30
    assert build_parser().parse_args(["serve", "--max-memory", "512MB"]).max_memory == 512 * 10**6
    assert build_parser().parse_args(["serve"]).max_memory is None


_SIZE_RULE = "a positive size such as 8GiB or 512MB"
_SECONDS_RULE = "a positive number of seconds"


@pytest.mark.parametrize(
    ("flag", "bad", "rule"),
    [
        *(("--max-memory", bad, _SIZE_RULE) for bad in ["0", "-1", "8XB", "lots", "0.1"]),
        *(("--stop-timeout", bad, _SECONDS_RULE) for bad in ["0", "-1", "inf", "nan", "soon"]),
    ],
)
def test_serve_names_a_bad_value(
    flag: str, bad: str, rule: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from rusty_genius._cli import build_parser

    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["serve", flag, bad])
    assert exit_info.value.code == 2
    assert f"{flag} must be {rule}, got {bad!r}" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("flag", "given", "option", "expected"),
    [
        ("--max-memory", "2GiB", "max_memory", 2 * 2**30),
        ("--stop-timeout", "3", "stop_timeout", 3.0),
    ],
)
async def test_serve_hands_its_brainstem_settings_to_genius(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    flag: str,
    given: str,
    option: str,
    expected: object,
) -> None:
    from rusty_genius._cli import build_parser
    from rusty_genius._serve import _command

    seen: dict[str, object] = {}

    class Seen(Exception):
        pass

    def genius(**options: object) -> None:
        seen.update(options)
        raise Seen

    monkeypatch.setattr(_command, "Genius", genius)
    dirs = ["--home", str(tmp_path / "h"), "--cache", str(tmp_path / "c")]
    args = build_parser().parse_args(["serve", *dirs, flag, given, "--port", "0"])
    with pytest.raises(Seen):
        await _command.serve_command(args, info=lambda _: None, note=lambda _: None)
    assert seen[option] == expected
