"""The pytest plugin, run in a nested pytest on a scratch tree (pytester)."""

from __future__ import annotations

import textwrap

import pytest

pytest_plugins = ["pytester"]

SMOL = "fixtures/HuggingFaceTB/SmolLM2-135M-Instruct-GGUF/Q4_1"
CAPITAL = (
    '+++\nrequires_hub = "loopback"\ncontains = ["Paris"]\nmax_tokens = 32\n+++\n'
    "What is the capital of France? Answer in one word.\n"
)
HELLO = (
    '+++\ncontains = ["Hello, World!"]\nnot_contains = ["fn main"]\nmax_tokens = 64\n+++\n'
    "Write a hello world program in Rust.\n"
)
STUB_ONLY = '+++\nbackend = "pinky"\ncontains = ["Narf!"]\nmax_tokens = 8\n+++\nHi\n'

# A runner that answers like the real SmolLM2 on llama, and echoes the prompt on Pinky.
RUNNER = textwrap.dedent(
    r"""
    from rusty_genius_teaser import FixtureResult

    ANSWERS = {
        "capital-of-france": "The capital of France is Paris.",
        "rust-hello-world": '```rust\nlet hello_world = "Hello, World!";\n```',
    }

    def pytest_teaser_run_fixture(fixture, backend):
        if backend == "pinky":
            text = "Narf! " + fixture.prompt
        else:
            text = ANSWERS[fixture.name]
        return FixtureResult(
            model=fixture.reference, backend=backend, text=text, prompt_tokens=42,
            completion_tokens=7, time_to_first_token=0.25, tokens_per_second=88.0,
        )
    """
)


# The scratch directory is its own rootdir, not the workspace's (whose fixtures/ is real).
INI = "[pytest]\nfilterwarnings = error\n"


@pytest.fixture(autouse=True)
def _isolated(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makeini(INI)
    # Only our plugin: loading (and assert-rewriting) every installed one costs a second a run.
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    # The runner here is a stub: fixtures that would need the real hub run without it.
    monkeypatch.setenv("GENIUS_ONLINE", "1")


@pytest.fixture
def tree(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makefile(".md", **{f"{SMOL}/capital-of-france": CAPITAL})
    pytester.makefile(".md", **{f"{SMOL}/rust-hello-world": HELLO})
    pytester.makeconftest(RUNNER)
    return pytester


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_inprocess("-p", "rusty_genius_teaser.plugin", "fixtures", *args)


def test_one_item_per_fixture_and_backend(tree: pytest.Pytester) -> None:
    result = run(tree, "--collect-only", "-q")
    result.stdout.fnmatch_lines(
        [
            f"{SMOL}/capital-of-france.md::capital-of-france[[]pinky[]]",
            f"{SMOL}/capital-of-france.md::capital-of-france[[]llama[]]",
            f"{SMOL}/rust-hello-world.md::rust-hello-world[[]pinky[]]",
            f"{SMOL}/rust-hello-world.md::rust-hello-world[[]llama[]]",
            "4 tests collected*",
        ]
    )


def test_k_selects_fixtures_by_name(tree: pytest.Pytester) -> None:
    result = run(tree, "-k", "capital", "-v")
    result.assert_outcomes(passed=2, deselected=2)
    result.stdout.fnmatch_lines(["*capital-of-france[[]pinky[]] PASSED*"])
    result.stdout.no_fnmatch_line("*rust-hello-world*PASSED*")


def test_real_mark_splits_the_backends(tree: pytest.Pytester) -> None:
    run(tree, "-m", "real", "-v").stdout.fnmatch_lines(["*[[]llama[]] PASSED*"] * 2)
    pinky = run(tree, "-m", "not real", "-v")
    pinky.assert_outcomes(passed=2, deselected=2)
    pinky.stdout.no_fnmatch_line("*[[]llama[]]*PASSED*")


def test_expectations_fail_on_llama_with_the_output(tree: pytest.Pytester) -> None:
    # This hello-world answer contains `fn main`, which the fixture forbids.
    tree.makeconftest(
        RUNNER.replace("ANSWERS[fixture.name]", """'fn main() { println!("Hello, World!"); }'""")
    )
    result = run(tree, "-k", "rust and llama")
    result.assert_outcomes(failed=1, deselected=3)
    result.stdout.fnmatch_lines(
        [
            f"*fixture */{SMOL}/rust-hello-world.md failed on llama:",
            "*'fn main' must not appear in the output, found at index 0",
            "output:",
            'fn main() { println!("Hello, World!"); }',
        ]
    )


def test_pinky_checks_the_pipeline_not_a_real_model_s_answer(tree: pytest.Pytester) -> None:
    # "Narf! What is the capital..." has no "Paris", yet the pinky item passes.
    run(tree, "-k", "capital and pinky").assert_outcomes(passed=1, deselected=3)


def test_problems_from_the_runner_fail_the_item(pytester: pytest.Pytester) -> None:
    pytester.makefile(".md", **{f"{SMOL}/capital-of-france": CAPITAL})
    pytester.makeconftest(
        textwrap.dedent(
            """
            from rusty_genius_teaser import FixtureResult

            def pytest_teaser_run_fixture(fixture, backend):
                return FixtureResult(
                    model="m", backend=backend, text="Paris", problems=("no ProcessStart event",)
                )
            """
        )
    )
    result = run(pytester)
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*  - no ProcessStart event"])


def test_a_pinky_only_fixture_checks_its_expectations_on_pinky(tree: pytest.Pytester) -> None:
    tree.makefile(".md", **{f"{SMOL}/narf": STUB_ONLY})
    result = run(tree, "-k", "narf", "-v")
    result.assert_outcomes(passed=1, deselected=4)
    result.stdout.fnmatch_lines(["*narf[[]pinky[]] PASSED*"])
    tree.makefile(".md", **{f"{SMOL}/narf": STUB_ONLY.replace("Narf!", "Zort!")})
    run(tree, "-k", "narf").assert_outcomes(failed=1, deselected=4)


def test_the_report_has_model_tokens_ttft_and_speed(tree: pytest.Pytester) -> None:
    result = run(tree, "-k", "capital and llama", "-rP")
    result.assert_outcomes(passed=1, deselected=3)
    result.stdout.fnmatch_lines(
        [
            "*- Captured brainteaser call -*",
            "model: HuggingFaceTB/SmolLM2-135M-Instruct-GGUF:Q4_1 (llama)",
            "tokens: 42 prompt, 7 completion",
            "ttft: 0.250 s",
            "tok/s: 88.0",
            "*= brainteaser =*",
            "*capital-of-france[[]llama[]]: model HuggingFaceTB/SmolLM2-135M-Instruct-GGUF:Q4_1, "
            "7 tokens, ttft 0.250s, 88.0 tok/s",
        ]
    )


def test_a_malformed_fixture_fails_collection_naming_the_file(tree: pytest.Pytester) -> None:
    tree.makefile(".md", **{f"{SMOL}/broken": "+++\nexpect = ['x']\nmax_tokens = 1\n+++\nHi\n"})
    result = run(tree)
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(
        [
            f"*malformed brainteaser fixture: */{SMOL}/broken.md: unknown front-matter key(s) expect;*",
            "*1 error*",
        ]
    )
    result.stdout.no_fnmatch_line("*Traceback*")


@pytest.mark.parametrize(
    "relative",
    ["fixtures/Org/Repo/capital.md", "fixtures/Org/Repo/Q4_0/notes.txt", "fixtures/README.md"],
)
def test_misplaced_files_fail_collection(tree: pytest.Pytester, relative: str) -> None:
    target = tree.path / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(CAPITAL)
    result = run(tree)
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines([f"*malformed brainteaser fixture: */{relative}: *"])


def test_hidden_files_and_other_directories_are_left_alone(tree: pytest.Pytester) -> None:
    (tree.path / "fixtures/.DS_Store").write_bytes(b"\x00")
    tree.makepyfile(test_other="def test_plain():\n    pass\n")
    result = tree.runpytest_inprocess("-p", "rusty_genius_teaser.plugin")
    result.assert_outcomes(passed=5)


def test_the_fixtures_directory_is_configurable(pytester: pytest.Pytester) -> None:
    pytester.makefile(".md", **{"qa/Org/Repo/Q4_0/capital": CAPITAL})
    pytester.makeconftest(RUNNER.replace("ANSWERS[fixture.name]", '"Paris"'))
    pytester.makeini(INI + "teaser_fixtures = qa\n")
    result = pytester.runpytest_inprocess("-p", "rusty_genius_teaser.plugin", "qa")
    result.assert_outcomes(passed=2)


def test_without_a_runner_the_fixture_runs_through_genius(pytester: pytest.Pytester) -> None:
    """The default runner: loopback hub, facecrab download, Genius on Pinky, pipeline checks."""
    pytester.makefile(".md", **{f"{SMOL}/capital-of-france": CAPITAL})
    # In a subprocess: an in-process run would re-import httpx/httpcore under the
    # outer session (pytester restores sys.modules), splitting their exception classes.
    result = pytester.runpytest_subprocess(
        "-p", "rusty_genius_teaser.plugin", "fixtures", "-k", "pinky"
    )
    result.assert_outcomes(passed=1, deselected=1)
    result.stdout.fnmatch_lines(
        ["*capital-of-france*pinky*: model HuggingFaceTB/SmolLM2-135M-Instruct-GGUF:Q4_1*"]
    )
