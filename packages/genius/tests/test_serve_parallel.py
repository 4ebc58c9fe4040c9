"""``genius serve --parallel N`` (``GENIUS_NUM_PARALLEL``, ``--parallelism``) and ``--threads``."""

from __future__ import annotations

import argparse

import pytest

from rusty_genius._serve._command import add_serve_options
from rusty_genius._serve._parallel import PARALLEL_ENV, parallel_setting, threads_setting
from rusty_genius_core import ConfigError


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_serve_options(parser)
    return parser.parse_args(argv)


def test_parallel_and_its_old_spelling_and_threads() -> None:
    assert parse().parallel is None
    assert parse("--parallel", "8").parallel == 8
    assert parse("--parallelism", "3").parallel == 3  # the deprecated alias still works
    assert parse("--threads", "2").threads == 2


def test_the_setting_comes_from_the_flag_else_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(PARALLEL_ENV, raising=False)
    assert parallel_setting(None) is None  # the engine decides
    monkeypatch.setenv(PARALLEL_ENV, "6")
    assert parallel_setting(None) == 6
    assert parallel_setting(2) == 2  # the flag wins


@pytest.mark.parametrize(
    ("flag", "env", "message"),
    [
        (0, None, r"--parallel 0: the requests served at once must be an integer from 1 to 256"),
        (257, None, r"--parallel 257"),
        (None, "lots", r"GENIUS_NUM_PARALLEL='lots'"),
        (None, "0", r"GENIUS_NUM_PARALLEL='0'"),
    ],
)
def test_bad_settings_are_config_errors_naming_where_they_came_from(
    monkeypatch: pytest.MonkeyPatch, flag: int | None, env: str | None, message: str
) -> None:
    if env is None:
        monkeypatch.delenv(PARALLEL_ENV, raising=False)
    else:
        monkeypatch.setenv(PARALLEL_ENV, env)
    with pytest.raises(ConfigError, match=message):
        parallel_setting(flag)


def test_threads_are_checked() -> None:
    assert threads_setting(None) is None
    assert threads_setting(4) == 4
    with pytest.raises(ConfigError, match="--threads 0"):
        threads_setting(0)


def test_cache_ram_is_mib_in_bytes_and_bad_values_name_the_flag(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert parse().cache_ram is None  # the engine's default
    assert parse("--cache-ram", "0").cache_ram == 0
    assert parse("--cache-ram", "256").cache_ram == 256 << 20
    for bad in ("-1", "lots", "2.5", str((1 << 20) + 1)):
        with pytest.raises(SystemExit):
            parse("--cache-ram", bad)
        assert f"--cache-ram must be a whole number of MiB from 0 to 1048576, got {bad!r}" in (
            capsys.readouterr().err
        )


@pytest.mark.real
def test_the_llama_engines_get_the_cache_size_and_the_threads(llama_cpp_module: object) -> None:
    from rusty_genius._serve._command import _llama_engines

    name, factory = _llama_engines("llama", 2, 5 << 20)
    engine = factory()
    assert name == "llama"
    assert (engine._default_threads, engine._cache_ram) == (2, 5 << 20)


def test_pinky_takes_neither_threads_nor_a_prompt_cache() -> None:
    from rusty_genius._serve._command import _llama_engines

    name, factory = _llama_engines("pinky", 2, 5 << 20)
    assert (name, factory().backend) == ("pinky", "pinky")
