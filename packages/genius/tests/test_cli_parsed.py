"""The command line's parts in-process: typed commands from the parser, exit codes by class."""

from __future__ import annotations

import io
import json

import pytest

from facecrab import (
    DEFAULT_MODEL,
    AmbiguousQuantizationError,
    DownloadError,
    ModelNotFoundError,
    OfflineError,
    QuantizationNotFoundError,
)
from rusty_genius._cli import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_USAGE, _main, build_parser, main
from rusty_genius._cli import _parsed as parsed
from rusty_genius._cli._exit import exit_code
from rusty_genius._cli._parsed import ChatCommand, Options, RunCommand
from rusty_genius._cli._render import Output
from rusty_genius_core import (
    BusyError,
    ConfigError,
    EngineError,
    GeniusError,
    InferenceConfig,
    ManifestError,
    ProtocolError,
    Sampling,
)

REF = "HuggingFaceTB/SmolLM2-135M-Instruct-GGUF:Q4_1"


def parse(*argv: str) -> parsed.Command:
    args = build_parser().parse_args(argv)
    return parsed.parse_command(args, parsed.parse_options(args))


def test_run_parses_every_flag_into_one_typed_command() -> None:
    command = parse(
        "--backend=pinky",
        "run",
        "--json",
        "--temperature",
        "0",
        "--top-p",
        "0.5",
        "--max-tokens",
        "64",
        "--seed",
        "7",
        "--stop",
        "END",
        "--stop",
        "\n\n",
        "--context-size",
        "2048",
        "--system",
        "be brief",
        "--raw",
        "--hide-thinking",
        "--keep-alive",
        "30",
        "--home",
        "/h",
        REF,
        "Hello there",
    )
    assert command == RunCommand(
        options=Options(backend="pinky", json=True, home="/h"),
        model=REF,
        prompt="Hello there",
        config=InferenceConfig(
            max_tokens=64,
            context_size=2048,
            show_thinking=False,
            stop=("END", "\n\n"),
            seed=7,
            raw=True,
            # --temperature 0 starts from greedy sampling; a flag still wins over it
            sampling=Sampling(temperature=0.0, top_p=0.5, top_k=1, min_p=0.0, repeat_penalty=1.0),
        ),
        system="be brief",
        keep_alive=30.0,
    )


def test_run_without_flags_takes_the_library_defaults() -> None:
    command = parse("run", "hi")
    assert command == RunCommand(
        options=Options(), model=DEFAULT_MODEL, prompt="hi", config=InferenceConfig()
    )
    assert command.config.sampling == Sampling()


def test_a_nonzero_temperature_keeps_the_default_sampling_otherwise() -> None:
    command = parse("run", "--temperature", "0.3", "--top-k", "5", "hi")
    assert isinstance(command, RunCommand)
    assert command.config.sampling == Sampling(temperature=0.3, top_k=5)


@pytest.mark.parametrize(
    ("words", "model", "prompt"),
    [
        ((), DEFAULT_MODEL, None),
        (("-",), DEFAULT_MODEL, None),
        (("a question",), DEFAULT_MODEL, "a question"),
        ((f"  {REF} ", "-"), REF, None),
        ((REF, "a question"), REF, "a question"),
    ],
)
def test_run_reads_ref_and_prompt_from_its_words(
    words: tuple[str, ...], model: str, prompt: str | None
) -> None:
    command = parse("run", *words)
    assert isinstance(command, RunCommand)
    assert (command.model, command.prompt) == (model, prompt)


def test_every_command_parses_into_its_own_class() -> None:
    assert parse("pull", REF) == parsed.PullCommand(options=Options(), model=REF)
    assert parse("list", "--json") == parsed.ListCommand(options=Options(json=True))
    assert parse("--debug", "rm", REF) == parsed.RemoveCommand(
        options=Options(debug=True), model=REF
    )
    assert parse("ps", "--cache", "/c") == parsed.PsCommand(options=Options(cache="/c"))
    assert parse("info", REF, "--endpoint", "http://hub") == parsed.InfoCommand(
        options=Options(endpoint="http://hub"), model=REF
    )
    assert parse("chat", "--seed", "3", "--system", "hi") == ChatCommand(
        options=Options(),
        model=DEFAULT_MODEL,
        config=InferenceConfig(seed=3),
        system="hi",
    )
    serve = parse("serve", "--port", "0", "--backend", "pinky")
    assert isinstance(serve, parsed.ServeCommand)
    assert serve.options == Options(backend="pinky")
    assert serve.arguments.port == 0  # serve's own options travel as parsed


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--temperature", "9", "--temperature must be between 0 and 5, got 9.0"),
        ("--temperature", "nan", "--temperature must be between 0 and 5, got nan"),
        ("--top-p", "0", "--top-p must be greater than 0 and at most 1, got 0.0"),
        ("--top-k", "-1", "--top-k must be between 0 and 1048576, got -1"),
        ("--max-tokens", "0", "--max-tokens must be between 1 and 16777216, got 0"),
        ("--seed", "-1", "--seed must be between 0 and 4294967295, got -1"),
        ("--context-size", "8", "--context-size must be between 16 and 16777216, got 8"),
        ("--stop", "", "--stop must be a non-empty string"),
    ],
)
@pytest.mark.parametrize("name", ["run", "chat"])
def test_a_flag_out_of_range_is_named_with_its_range(
    name: str, flag: str, value: str, message: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        parse(name, flag, value)
    assert str(raised.value) == message
    assert exit_code(raised.value) == EXIT_USAGE


def test_too_many_stop_strings_are_refused() -> None:
    stops = [arg for i in range(17) for arg in ("--stop", f"s{i}")]
    with pytest.raises(ConfigError, match=r"^--stop may be given at most 16 times, got 17$"):
        parse("run", *stops, "hi")
    assert isinstance(parse("run", *stops[:32], "hi"), RunCommand)


@pytest.mark.parametrize(
    "argv",
    [("pull", "org/repo:"), ("rm", "not a reference!"), ("info", "a/b/c"), ("run", "x:", "hi")],
)
def test_a_malformed_reference_fails_while_parsing(argv: tuple[str, ...]) -> None:
    with pytest.raises(ManifestError):
        parse(*argv)


def test_run_with_three_words_is_a_usage_error() -> None:
    with pytest.raises(GeniusError, match=r"run takes \[REF\] \[PROMPT\], got 3") as raised:
        parse("run", "a", "b", "c")
    assert exit_code(raised.value) == EXIT_USAGE


USER_FAULTS = (
    ManifestError,
    ConfigError,
    ProtocolError,
    ModelNotFoundError,
    QuantizationNotFoundError,
    AmbiguousQuantizationError,
    OfflineError,
)
FAILURES = (GeniusError, DownloadError, EngineError, BusyError, ValueError, RuntimeError)


@pytest.mark.parametrize("kind", USER_FAULTS)
def test_an_error_of_a_class_that_is_the_callers_fault_exits_2(kind: type[GeniusError]) -> None:
    assert kind.user_fault
    assert 400 <= kind.http_status < 500
    assert exit_code(kind("bad")) == EXIT_USAGE


@pytest.mark.parametrize("kind", FAILURES)
def test_any_other_error_exits_1(kind: type[Exception]) -> None:
    assert not getattr(kind, "user_fault", False)
    assert exit_code(kind("failed")) == EXIT_FAILURE
    assert exit_code(OSError(28, "No space left on device")) == EXIT_FAILURE


def test_ctrl_c_exits_130() -> None:
    assert exit_code(KeyboardInterrupt()) == EXIT_INTERRUPTED


@pytest.mark.parametrize(
    ("raised", "code", "kind", "err"),
    [
        (  # a task group's one error exits by its class
            ExceptionGroup("outer", [ExceptionGroup("inner", [ConfigError("too hot")])]),
            EXIT_USAGE,
            "ConfigError",
            "genius: error: too hot\n",
        ),
        (  # Ctrl-C anywhere in a task group
            BaseExceptionGroup(
                "g", [EngineError("x"), BaseExceptionGroup("i", [KeyboardInterrupt()])]
            ),
            EXIT_INTERRUPTED,
            None,
            "genius: interrupted\n",
        ),
        (  # several errors: a failure, named as the group
            ExceptionGroup("two", [ConfigError("a"), ManifestError("b")]),
            EXIT_FAILURE,
            "ExceptionGroup",
            "genius: error: unexpected ExceptionGroup: two (2 sub-exceptions) (run with --debug",
        ),
    ],
)
def test_main_reads_the_exit_code_from_the_leaves_of_a_group(
    raised: BaseException,
    code: int,
    kind: str | None,
    err: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    async def execute(command: parsed.Command, out: Output) -> None:
        raise raised

    monkeypatch.setattr(_main, "execute", execute)
    assert main(["--json", "ps"]) == code
    captured = capsys.readouterr()
    assert captured.err.startswith(err)
    if kind is None:
        assert captured.out == ""
    else:
        assert json.loads(captured.out)["kind"] == kind


def test_output_renders_a_table_and_json_lines() -> None:
    stdout, stderr = io.StringIO(), io.StringIO()
    out = Output(as_json=False, stdout=stdout, stderr=stderr)
    out.table(["NAME", "SIZE"], [["a-long-name", "1 B"], ["b", "22 MB"]])
    out.emit({"type": "x", "text": "é"})
    assert stdout.getvalue() == (
        'NAME         SIZE\na-long-name  1 B\nb            22 MB\n{"type":"x","text":"é"}\n'
    )
    assert stderr.getvalue() == ""


def test_the_genius_command_is_console_main() -> None:
    from importlib.metadata import entry_points

    (script,) = entry_points(group="console_scripts", name="genius")
    assert script.value == "rusty_genius._cli:console_main"


def test_console_main_freezes_what_start_up_made_then_runs_main(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import gc

    frozen_when_main_ran: list[int] = []

    def fake_main() -> int:
        frozen_when_main_ran.append(gc.get_freeze_count())
        return 7

    monkeypatch.setattr(_main, "main", fake_main)
    try:
        assert _main.console_main() == 7
    finally:
        gc.unfreeze()  # this test process is not genius's: give its objects back
    assert len(frozen_when_main_ran) == 1
    assert frozen_when_main_ran[0] > 0
