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
from rusty_genius._cli._exit import exit_code
from rusty_genius._cli._parsed import (
    ChatCommand,
    Command,
    InfoCommand,
    ListCommand,
    Options,
    PsCommand,
    PullCommand,
    RemoveCommand,
    RunCommand,
    ServeCommand,
    parse_command,
    parse_options,
)
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


def parse(*argv: str) -> Command:
    args = build_parser().parse_args(argv)
    return parse_command(args, parse_options(args))


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
    assert parse("pull", REF) == PullCommand(options=Options(), model=REF)
    assert parse("list", "--json") == ListCommand(options=Options(json=True))
    assert parse("--debug", "rm", REF) == RemoveCommand(options=Options(debug=True), model=REF)
    assert parse("ps", "--cache", "/c") == PsCommand(options=Options(cache="/c"))
    assert parse("info", REF, "--endpoint", "http://hub") == InfoCommand(
        options=Options(endpoint="http://hub"), model=REF
    )
    assert parse("chat", "--seed", "3", "--system", "hi") == ChatCommand(
        options=Options(),
        model=DEFAULT_MODEL,
        config=InferenceConfig(seed=3),
        system="hi",
    )
    serve = parse("serve", "--port", "0", "--backend", "pinky")
    assert isinstance(serve, ServeCommand)
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


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (ManifestError("bad"), EXIT_USAGE),
        (ConfigError("bad"), EXIT_USAGE),
        (ProtocolError("bad"), EXIT_USAGE),
        (ModelNotFoundError("no alias"), EXIT_USAGE),
        (QuantizationNotFoundError("no Q9"), EXIT_USAGE),
        (AmbiguousQuantizationError("which one"), EXIT_USAGE),
        (OfflineError("not here"), EXIT_USAGE),
        (GeniusError("failed"), EXIT_FAILURE),
        (DownloadError("cut"), EXIT_FAILURE),
        (EngineError("crashed"), EXIT_FAILURE),
        (BusyError("full"), EXIT_FAILURE),
        (ValueError("a bug"), EXIT_FAILURE),
        (OSError(28, "No space left on device"), EXIT_FAILURE),
        (KeyboardInterrupt(), EXIT_INTERRUPTED),
    ],
)
def test_the_exit_code_comes_from_the_error_class(error: BaseException, code: int) -> None:
    assert exit_code(error) == code
    if isinstance(error, GeniusError):
        assert (code == EXIT_USAGE) == (400 <= error.http_status < 500)


def run_main_raising(
    error: BaseException, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str, str]:
    async def execute(command: Command, out: Output) -> None:
        raise error

    monkeypatch.setattr(_main, "execute", execute)
    code = main(["--json", "ps"])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_a_task_groups_single_error_exits_by_its_class(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    group = ExceptionGroup("outer", [ExceptionGroup("inner", [ConfigError("too hot")])])
    code, out, err = run_main_raising(group, monkeypatch, capsys)
    assert code == EXIT_USAGE
    assert json.loads(out) == {"type": "error", "kind": "ConfigError", "message": "too hot"}
    assert err == "genius: error: too hot\n"


def test_ctrl_c_anywhere_in_a_task_group_exits_130(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    group = BaseExceptionGroup(
        "outer", [EngineError("x"), BaseExceptionGroup("in", [KeyboardInterrupt()])]
    )
    code, out, err = run_main_raising(group, monkeypatch, capsys)
    assert (code, out, err) == (EXIT_INTERRUPTED, "", "genius: interrupted\n")


def test_several_errors_from_a_task_group_are_a_failure(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    group = ExceptionGroup("two", [ConfigError("a"), ManifestError("b")])
    code, out, err = run_main_raising(group, monkeypatch, capsys)
    assert code == EXIT_FAILURE
    assert json.loads(out)["kind"] == "ExceptionGroup"
    assert err.startswith("genius: error: unexpected ExceptionGroup: two (2 sub-exceptions)")


def test_output_renders_a_table_and_json_lines() -> None:
    stdout, stderr = io.StringIO(), io.StringIO()
    out = Output(as_json=False, stdout=stdout, stderr=stderr)
    out.table(["NAME", "SIZE"], [["a-long-name", "1 B"], ["b", "22 MB"]])
    out.emit({"type": "x", "text": "é"})
    assert stdout.getvalue() == (
        'NAME         SIZE\na-long-name  1 B\nb            22 MB\n{"type":"x","text":"é"}\n'
    )
    assert stderr.getvalue() == ""
