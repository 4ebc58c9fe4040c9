"""Every shell command in the repository README runs as written after the set-up.

The README's ``sh`` blocks are split into commands (at ``;``, ``&&``, ``|`` and a
trailing ``&``). Each must start with something that exists after the two set-up
commands: one of the scripts, ``uv run genius`` (never a bare ``genius``, which is
not on PATH), ``uv run pytest``, ``curl`` or ``source``. Every ``genius`` command is
parsed by the CLI's own parser and turned into its typed command, so a subcommand or
flag the CLI does not have fails here; ``serve`` is checked by argparse alone (it
reads its options where it starts the server).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from rusty_genius._cli import _parsed as parsed
from rusty_genius._cli import build_parser

ROOT = Path(__file__).resolve().parents[3]
README = ROOT / "README.md"
BLOCKS = re.findall(r"```(?:sh|bash|console)\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
_PROGRAMS = ("./scripts/", "uv run genius", "uv run pytest", "uv run --no-sync", "curl", "source")


def _logical_lines(block: str) -> list[str]:
    """Lines with continuations joined: a line ending in ``\\``, or a quote left open."""
    lines: list[str] = []
    pending = ""
    for raw in block.splitlines():
        pending = f"{pending}\n{raw}" if pending else raw
        if pending.endswith("\\"):
            pending = pending[:-1]
            continue
        try:
            shlex.split(pending, comments=True)
        except ValueError:  # an open quote: the command goes on
            continue
        lines.append(pending)
        pending = ""
    assert not pending, f"unterminated command in the README: {pending!r}"
    return lines


def _commands(block: str) -> list[list[str]]:
    found: list[list[str]] = []
    for line in _logical_lines(block):
        lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|")
        lexer.whitespace_split = True
        lexer.commenters = "#"
        words: list[str] = []
        for token in lexer:
            if token in {";", "&", "&&", "|", "||"}:
                if words:
                    found.append(words)
                words = []
            else:
                words.append(token)
        if words:
            found.append(words)
    return found


COMMANDS = [command for block in BLOCKS for command in _commands(block)]
GENIUS = [c[3:] for c in COMMANDS if c[:3] == ["uv", "run", "genius"]]


def test_the_readme_shows_the_set_up_and_the_cli() -> None:
    assert ["./scripts/genius.sh"] in COMMANDS
    assert ["./scripts/pinky.sh"] in COMMANDS
    assert {argv[0] for argv in GENIUS} >= {"pull", "run", "chat", "list", "ps", "info", "rm"}


@pytest.mark.parametrize("argv", COMMANDS, ids=[shlex.join(c)[:60] for c in COMMANDS])
def test_each_command_starts_with_something_that_exists(argv: list[str]) -> None:
    text = shlex.join(argv)
    assert argv[0] != "genius", f"`{text}`: genius is not on PATH; write `uv run genius`"
    assert text.startswith(_PROGRAMS), f"`{text}` does not run after the two set-up commands"
    if argv[0].startswith("./scripts/"):
        script = ROOT / argv[0]
        assert script.is_file(), f"{argv[0]} does not exist"
        assert script.stat().st_mode & 0o111, f"{argv[0]} is not executable"


@pytest.mark.parametrize("argv", GENIUS, ids=[shlex.join(c)[:60] for c in GENIUS])
def test_each_genius_command_parses(argv: list[str]) -> None:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # argparse's way of refusing
        pytest.fail(f"`genius {shlex.join(argv)}` does not parse (exit {exc.code})")
    if args.command != "serve":
        parsed.parse_command(args, parsed.parse_options(args))


def test_a_bad_flag_in_the_readme_would_be_caught() -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["run", "smollm2-135m-instruct", "hi", "--temprature", "0"])
    bad = _commands("uv run genius list; genius ps\ncurl -s localhost:8080/health &\n")
    assert bad == [
        ["uv", "run", "genius", "list"],
        ["genius", "ps"],
        ["curl", "-s", "localhost:8080/health"],
    ]
