"""The fixture scanner: the format, what it accepts, and every way a fixture can be malformed."""

from __future__ import annotations

import os
from pathlib import Path

import attrs
import pytest

import rusty_genius_teaser
from rusty_genius_core import ConfigError, GeniusError, Role, Sampling
from rusty_genius_teaser import (
    Expectations,
    Fixture,
    FixtureBackend,
    FixtureError,
    FixtureResult,
    HubRequirement,
    PromptMode,
    check_expectations,
    load_fixture,
    run_fixture,
    scan_fixtures,
)

CAPITAL = "fixtures-org/Some.Repo-GGUF/Q4_K_M/capital-of-france.md"
GOOD = '+++\ncontains = ["Paris"]\nmax_tokens = 32\n+++\nWhat is the capital of France?\n'


def write(root: Path, relative: str, text: str | bytes = GOOD) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_bytes(text.encode())
    return path


def test_a_valid_tree(tmp_path: Path) -> None:
    write(tmp_path, CAPITAL)
    write(
        tmp_path,
        "ggml-org/gemma-3-270m-GGUF/Q4_K_M/rust-hello-world.md",
        "+++\n"
        "# a comment\n"
        'requires_hub = "loopback"\n'
        'mode = "raw"\n'
        'backend = "llama"\n'
        "temperature = 0.5\n"
        "contains = ['Hello, world!\");']\n"
        'not_contains = ["fn main"]\n'
        "max_tokens = 16\n"
        "+++\n"
        'fn main() {\n    println!("\n',
    )
    write(tmp_path, ".git/HEAD", "ignored")
    write(tmp_path, "fixtures-org/.DS_Store", b"\x00\x01")
    write(tmp_path, "fixtures-org/Some.Repo-GGUF/Q4_K_M/.gitkeep", "")

    found = scan_fixtures(tmp_path)

    assert [f.test_id for f in found] == [
        "fixtures-org/Some.Repo-GGUF/Q4_K_M/capital-of-france",
        "ggml-org/gemma-3-270m-GGUF/Q4_K_M/rust-hello-world",
    ]
    capital, hello = found
    assert capital.path == tmp_path / CAPITAL
    assert capital.repo == "fixtures-org/Some.Repo-GGUF"
    assert capital.quantization == "Q4_K_M"
    assert capital.name == "capital-of-france"
    assert capital.reference == "fixtures-org/Some.Repo-GGUF:Q4_K_M"
    assert capital.prompt == "What is the capital of France?"
    assert capital.expectations == Expectations(contains=("Paris",), max_tokens=32)
    assert capital.expectations.temperature == 0.0
    assert capital.expectations.backend is FixtureBackend.ANY
    assert capital.expectations.backends == ("pinky", "llama")
    assert capital.expectations.mode is PromptMode.CHAT
    assert capital.expectations.requires_hub is HubRequirement.INTERNET
    assert capital.expectations.system is None

    assert hello.prompt == 'fn main() {\n    println!("'
    assert hello.expectations == Expectations(
        contains=('Hello, world!");',),
        not_contains=("fn main",),
        max_tokens=16,
        temperature=0.5,
        backend=FixtureBackend.LLAMA,
        mode=PromptMode.RAW,
        requires_hub=HubRequirement.LOOPBACK,
    )
    assert hello.expectations.backends == ("llama",)


@pytest.mark.parametrize(
    ("body", "prompt"),
    [
        ("Say hi", "Say hi"),  # no final newline
        ("Say hi\n", "Say hi"),  # the file's final newline is dropped
        ("Say hi\n\n", "Say hi\n"),  # only one: a prompt may end in a newline
        ("Say hi  \n", "Say hi  "),  # trailing spaces are kept
        ("\nSay hi\n", "\nSay hi"),  # nothing is stripped at the start
        ("line one\r\nline two\r\n", "line one\nline two"),  # line endings become \n
        ("a +++ b\n+++\n", "a +++ b\n+++"),  # only the first closing line counts
    ],
)
def test_the_prompt_is_the_body_less_one_final_newline(
    tmp_path: Path, body: str, prompt: str
) -> None:
    path = write(tmp_path, CAPITAL, '+++\ncontains = ["x"]\nmax_tokens = 1\n+++\n' + body)
    assert load_fixture(path, tmp_path).prompt == prompt


def test_system_prompt_and_messages(tmp_path: Path) -> None:
    text = (
        '+++\nsystem = "Be brief."\ncontains = ["Rome"]\nmax_tokens = 8\n+++\nCapital of Italy?\n'
    )
    fixture = load_fixture(write(tmp_path, CAPITAL, text), tmp_path)
    assert fixture.expectations.system == "Be brief."
    system, user = fixture.messages()
    assert (system.role, system.content) == (Role.SYSTEM, "Be brief.")
    assert (user.role, user.content) == (Role.USER, "Capital of Italy?")
    plain = load_fixture(write(tmp_path, CAPITAL), tmp_path)
    assert [m.role for m in plain.messages()] == [Role.USER]


def test_inference_config(tmp_path: Path) -> None:
    greedy = load_fixture(write(tmp_path, CAPITAL), tmp_path).expectations.inference_config()
    assert greedy.max_tokens == 32
    assert greedy.sampling == Sampling.greedy()
    assert not greedy.raw
    raw = Expectations(contains=("x",), max_tokens=4, mode=PromptMode.RAW, temperature=0.7)
    config = raw.inference_config()
    assert config.raw
    assert config.sampling.temperature == 0.7
    assert not config.sampling.is_greedy


_FRONT = "+++\n{}\n+++\nprompt\n"


@pytest.mark.parametrize(
    ("relative", "text", "problem"),
    [
        # The path.
        ("Org/Repo/capital.md", GOOD, "must sit at ORG/REPO/QUANT/TEST.md"),
        ("Org/Repo/Q4_0/extra/capital.md", GOOD, "(5 levels)"),
        ("capital.md", GOOD, "(1 levels)"),
        ("Org/Repo/Q4_0/capital.txt", GOOD, "is not a fixture"),
        ("Org/Repo/Q4_0/README", GOOD, "is not a fixture"),
        ("my org/Repo/Q4_0/capital.md", GOOD, "ORG segment 'my org'"),
        ("-org/Repo/Q4_0/capital.md", GOOD, "ORG segment '-org'"),
        ("Org/re$po/Q4_0/capital.md", GOOD, "REPO segment 're$po'"),
        ("Org/repo../Q4_0/capital.md", GOOD, "REPO segment 'repo..'"),
        ("Org/a..b/Q4_0/capital.md", GOOD, "REPO segment 'a..b'"),
        ("Org/Repo/q4_k_m/capital.md", GOOD, "QUANT segment 'q4_k_m' must be upper-case"),
        ("Org/Repo/Q4-K/capital.md", GOOD, "QUANT segment 'Q4-K'"),
        ("Org/Repo/Q4_0/Capital.md", GOOD, "TEST segment 'Capital'"),
        ("Org/Repo/Q4_0/capital.of.md", GOOD, "TEST segment 'capital.of'"),
        ("Org/Repo/Q4_0/cap ital.md", GOOD, "TEST segment 'cap ital'"),
        ("Org/Repo/Q4_0/.md", GOOD, None),  # hidden: ignored by the scan, refused when loaded
        # The front matter.
        ("Org/Repo/Q4_0/t.md", "What is the capital?\n", "must start with a '+++' line"),
        ("Org/Repo/Q4_0/t.md", "\ufeff" + GOOD, "must start with a '+++' line"),
        ("Org/Repo/Q4_0/t.md", '+++\ncontains = ["x"]\n', "no closing '+++' line"),
        ("Org/Repo/Q4_0/t.md", _FRONT.format("contains = [Paris]"), "not valid TOML"),
        (
            "Org/Repo/Q4_0/t.md",
            _FRONT.format("max_tokens = 3\nexpect = ['x']"),
            "unknown front-matter key(s) expect",
        ),
        (
            "Org/Repo/Q4_0/t.md",
            _FRONT.format("max_tokens = 3\ncontains = 'x'"),
            "contains must be a list of non-empty strings",
        ),
        (
            "Org/Repo/Q4_0/t.md",
            _FRONT.format("max_tokens = 3\ncontains = [1]"),
            "contains must be a list",
        ),
        (
            "Org/Repo/Q4_0/t.md",
            _FRONT.format("max_tokens = 3\ncontains = ['']"),
            "contains must be a list",
        ),
        (
            "Org/Repo/Q4_0/t.md",
            _FRONT.format("max_tokens = 3\nnot_contains = 'x'"),
            "not_contains must be a list",
        ),
        ("Org/Repo/Q4_0/t.md", _FRONT.format("max_tokens = 3"), "needs at least one expectation"),
        (
            "Org/Repo/Q4_0/t.md",
            _FRONT.format("max_tokens = 3\ncontains = []"),
            "needs at least one expectation",
        ),
        (
            "Org/Repo/Q4_0/t.md",
            _FRONT.format("max_tokens = 3\ncontains = ['a']\nnot_contains = ['a']"),
            "both in contains and in not_contains",
        ),
        ("Org/Repo/Q4_0/t.md", _FRONT.format("contains = ['a']"), "max_tokens is required"),
        (
            "Org/Repo/Q4_0/t.md",
            _FRONT.format("contains = ['a']\nmax_tokens = 0"),
            "max_tokens must be an integer in [1, 32768], got 0",
        ),
        (
            "Org/Repo/Q4_0/t.md",
            _FRONT.format("contains = ['a']\nmax_tokens = true"),
            "max_tokens must be an integer",
        ),
        (
            "Org/Repo/Q4_0/t.md",
            _FRONT.format("contains = ['a']\nmax_tokens = '32'"),
            "max_tokens must be an integer",
        ),
        (
            "Org/Repo/Q4_0/t.md",
            _FRONT.format("contains = ['a']\nmax_tokens = 1\ntemperature = 'hot'"),
            "temperature must be a number in [0, 2]",
        ),
        (
            "Org/Repo/Q4_0/t.md",
            _FRONT.format("contains = ['a']\nmax_tokens = 1\ntemperature = 2.5"),
            "temperature must be a number",
        ),
        (
            "Org/Repo/Q4_0/t.md",
            _FRONT.format("contains = ['a']\nmax_tokens = 1\nbackend = 'gpu'"),
            "backend must be one of 'pinky', 'llama', 'any', got 'gpu'",
        ),
        (
            "Org/Repo/Q4_0/t.md",
            _FRONT.format("contains = ['a']\nmax_tokens = 1\nmode = 'json'"),
            "mode must be one of 'chat', 'raw'",
        ),
        (
            "Org/Repo/Q4_0/t.md",
            _FRONT.format("contains = ['a']\nmax_tokens = 1\nrequires_hub = 'lan'"),
            "requires_hub must be one of 'loopback', 'internet'",
        ),
        (
            "Org/Repo/Q4_0/t.md",
            _FRONT.format("contains = ['a']\nmax_tokens = 1\nsystem = ' '"),
            "system must be a non-empty string",
        ),
        (
            "Org/Repo/Q4_0/t.md",
            _FRONT.format("contains = ['a']\nmax_tokens = 1\nsystem = 'x'\nmode = 'raw'"),
            "system needs mode = 'chat'",
        ),
        # The prompt.
        ("Org/Repo/Q4_0/t.md", '+++\ncontains = ["x"]\nmax_tokens = 1\n+++\n', "the prompt"),
        ("Org/Repo/Q4_0/t.md", '+++\ncontains = ["x"]\nmax_tokens = 1\n+++', "the prompt"),
        ("Org/Repo/Q4_0/t.md", '+++\ncontains = ["x"]\nmax_tokens = 1\n+++\n \n\t\n', "is empty"),
        (
            "Org/Repo/Q4_0/t.md",
            b'+++\ncontains = ["x"]\nmax_tokens = 1\n+++\n\xff\xfe\n',
            "is not UTF-8 text",
        ),
    ],
)
def test_malformed_fixtures_name_the_file(
    tmp_path: Path, relative: str, text: str | bytes, problem: str | None
) -> None:
    path = write(tmp_path, relative, text)
    with pytest.raises(FixtureError) as caught:
        load_fixture(path, tmp_path)
    error = caught.value
    assert error.path == path
    assert error.message.startswith(f"{path}: ")
    if problem is not None:
        assert problem in error.message
        # The scan of the tree fails on it the same way.
        with pytest.raises(FixtureError, match=str(path).replace("$", r"\$")) as scanned:
            scan_fixtures(tmp_path)
        assert scanned.value.problem == error.problem
    assert isinstance(error, GeniusError)
    assert isinstance(error, ValueError)


def test_traversal_in_a_given_path(tmp_path: Path) -> None:
    write(tmp_path, CAPITAL)
    with pytest.raises(FixtureError, match=r"REPO segment '\.\.'"):
        load_fixture(tmp_path / "fixtures-org/../Q4_K_M/capital-of-france.md", tmp_path)
    outside = write(tmp_path, "elsewhere/Org/Repo/Q4_0/t.md")
    with pytest.raises(FixtureError, match="is not inside the fixtures root"):
        load_fixture(outside, tmp_path / "fixtures")


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symlinks on this platform")
def test_symbolic_links_are_refused(tmp_path: Path) -> None:
    target = write(tmp_path, "outside/secret.md")
    root = tmp_path / "fixtures"
    link = root / "Org/Repo/Q4_0/linked.md"
    link.parent.mkdir(parents=True)
    link.symlink_to(target)
    with pytest.raises(FixtureError, match="is a symbolic link") as caught:
        scan_fixtures(root)
    assert caught.value.path == link

    link.unlink()
    (root / "Org/Repo/Q5_0").symlink_to(target.parent, target_is_directory=True)
    with pytest.raises(FixtureError, match="Q5_0: is a symbolic link"):
        scan_fixtures(root)


def test_names_that_differ_only_in_case_collide(tmp_path: Path) -> None:
    write(tmp_path, "Org/Repo/Q4_0/t.md")
    write(tmp_path, "org/Repo/Q4_0/t.md")
    with pytest.raises(FixtureError, match="names the same test as"):
        scan_fixtures(tmp_path)


def test_a_missing_root(tmp_path: Path) -> None:
    with pytest.raises(FixtureError, match="is not a directory of fixtures"):
        scan_fixtures(tmp_path / "absent")


def test_an_empty_tree(tmp_path: Path) -> None:
    assert scan_fixtures(tmp_path) == []


def _fixture(contains: tuple[str, ...] = (), not_contains: tuple[str, ...] = ()) -> Fixture:
    return Fixture(
        path=Path("f.md"),
        repo="Org/Repo",
        quantization="Q4_0",
        name="t",
        prompt="p",
        expectations=Expectations(contains=contains, not_contains=not_contains, max_tokens=8),
    )


def test_check_expectations() -> None:
    fixture = _fixture(contains=("Paris", "France"), not_contains=("fn main", "London"))
    assert check_expectations(fixture, "The capital of France is Paris.") == []
    assert check_expectations(fixture, "The capital of France is paris. fn main") == [
        "expected 'Paris' in the output, but it is not there",
        "'fn main' must not appear in the output, found at index 32",
    ]
    assert len(check_expectations(fixture, "")) == 2


def test_fixture_result_report() -> None:
    result = FixtureResult(
        model="Org/Repo:Q4_0",
        backend="llama",
        text="Paris",
        prompt_tokens=42,
        completion_tokens=7,
        time_to_first_token=0.0123,
        tokens_per_second=123.456,
        problems=["x"],
    )
    assert result.problems == ("x",)
    assert result.report() == (
        "model: Org/Repo:Q4_0 (llama)\n"
        "tokens: 42 prompt, 7 completion\n"
        "ttft: 0.012 s\n"
        "tok/s: 123.5\n"
    )
    assert "ttft: n/a" in FixtureResult(model="m", backend="pinky", text="").report()
    with pytest.raises(ConfigError, match="backend must be one of"):
        FixtureResult(model="m", backend="metal", text="")


def test_the_runner_refuses_unknown_backends_and_unshipped_loopback_models() -> None:
    with pytest.raises(ConfigError, match="backend must be one of"):
        run_fixture(_fixture(contains=("x",)), "metal")
    fixture = attrs.evolve(
        _fixture(contains=("x",)),
        expectations=Expectations(
            contains=("x",), max_tokens=8, requires_hub=HubRequirement.LOOPBACK
        ),
    )
    with pytest.raises(FixtureError, match="Org/Repo:Q4_0 is not a wheel-shipped test model"):
        run_fixture(fixture, "pinky")


def test_exports_are_complete_and_sorted() -> None:
    public = {
        name
        for name, value in vars(rusty_genius_teaser).items()
        if not name.startswith("_")
        and getattr(value, "__module__", "").startswith("rusty_genius_teaser")
    }
    assert set(rusty_genius_teaser.__all__) == public
    assert rusty_genius_teaser.__all__ == sorted(rusty_genius_teaser.__all__)
