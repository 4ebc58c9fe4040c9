"""The users' GitHub workflow passes zizmor and actionlint; the dependency check bites.

zizmor runs offline (no GitHub API), pedantic, without any config that could
silence it; actionlint runs on the same file. A deliberately bad workflow proves
both tools do report findings here, so a clean result means something.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
WORKFLOW = ROOT / ".github" / "workflows" / "code-review.yml"
CHECK_DEPS = ROOT / "scripts" / "check_deps.py"

BAD_WORKFLOW = """\
name: bad
on: [pull_request_target]
jobs:
  greet:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: echo "${{ github.event.pull_request.title }}"
      - run: echo ${{ steps.nope.outputs.x }}
        shell: bashh
"""


def _tool(name: str) -> str:
    """The dev-group executable next to this interpreter, else on PATH."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: run `uv sync --group dev`")
    return found


def _run(*argv: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


def _zizmor(path: Path) -> subprocess.CompletedProcess[str]:
    return _run(
        _tool("zizmor"),
        "--offline",
        "--no-config",
        "--persona=pedantic",
        "--no-progress",
        "--color=never",
        "--format=plain",
        str(path),
    )


def test_zizmor_finds_nothing_in_the_workflow() -> None:
    result = _zizmor(WORKFLOW)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings to report" in result.stdout + result.stderr


def test_actionlint_finds_nothing_in_the_workflow() -> None:
    result = _run(_tool("actionlint"), "-no-color", str(WORKFLOW))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""


def test_both_tools_report_a_bad_workflow(tmp_path: Path) -> None:
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text(BAD_WORKFLOW, encoding="utf-8")
    zizmor = _zizmor(bad)
    assert zizmor.returncode != 0
    for audit in ("unpinned-uses", "template-injection", "dangerous-triggers"):
        assert audit in zizmor.stdout, zizmor.stdout
    actionlint = _run(_tool("actionlint"), "-no-color", str(bad), cwd=tmp_path)
    assert actionlint.returncode == 1, actionlint.stdout + actionlint.stderr
    assert "steps.nope" in actionlint.stdout


def test_the_workflow_keeps_its_promises() -> None:
    """What the issue asks for, spelled out where a reader of the YAML can check it."""
    text = WORKFLOW.read_text(encoding="utf-8")
    assert re.search(r"^permissions: \{\}$", text, re.MULTILINE)
    assert "pull_request:" in text
    assert re.search(r"push:\n\s+branches: \[main\]", text)
    uses = re.findall(r"uses: (\S+)(.*)", text)
    assert {u.split("@")[0] for u, _ in uses} == {
        "actions/checkout",
        "actions/setup-python",
        "astral-sh/setup-uv",
        "actions/upload-artifact",
    }
    for action, comment in uses:
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", action), action
        assert re.fullmatch(r" # v\d+\.\d+\.\d+", comment), f"{action}{comment}"
    assert "persist-credentials: false" in text
    assert re.search(r"^    timeout-minutes: \d+$", text, re.MULTILINE)
    assert re.search(r"^      contents: read$", text, re.MULTILINE)
    assert ": write" not in text
    assert "secrets." not in text
    assert "github.event." not in text
    for step in (
        "uv sync --locked",
        "ruff check",
        "ruff format --check",
        "mypy",
        "lint-imports",
        "scripts/check_deps.py",
        "./scripts/pinky.sh",
        "review-report-$(date -u +%Y%m%dT%H%M%SZ).md",
    ):
        assert step in text, step
    assert (ROOT / ".github" / "scripts" / "review_step.sh").stat().st_mode & 0o111


# ----------------------------------------------------------------- check_deps.py


def _check_deps(*args: str) -> subprocess.CompletedProcess[str]:
    return _run(sys.executable, str(CHECK_DEPS), *args)


def _lock(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "uv.lock"
    path.write_text("version = 1\nrevision = 3\n" + body, encoding="utf-8")
    return path


def _pypi_package(name: str, version: str, more: str = "") -> str:
    """One ``[[package]]`` from PyPI in a uv.lock (braces doubled: SYNTHETIC is formatted)."""
    return (
        f'\n[[package]]\nname = "{name}"\nversion = "{version}"\n'
        f'source = {{{{ registry = "https://pypi.org/simple" }}}}\n{more}'
    )


SYNTHETIC = (
    """
[[package]]
name = "facecrab"
version = "0.1.0"
source = {{ editable = "packages/facecrab" }}
dependencies = [{{ name = "huggingface-hub" }}]

[package.dev-dependencies]
dev = [{{ name = "aiohttp" }}]
"""
    + _pypi_package(
        "huggingface-hub",
        "0.30.0",
        'dependencies = [{{ name = "{hub_dep}" }}, {{ name = "plugins", extra = [{extras}] }}]\n',
    )
    + _pypi_package("Requests", "2.32.3")
    + _pypi_package("filelock", "3.16.1")
    + _pypi_package(
        "plugins", "1.0", '\n[package.optional-dependencies]\nspeed = [{{ name = "uvloop" }}]\n'
    )
    + _pypi_package("uvloop", "0.21.0")
    + _pypi_package("aiohttp", "3.11.0")
)


def test_check_deps_passes_on_the_real_lock() -> None:
    result = _check_deps()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OK: no forbidden package in the runtime tree" in result.stdout
    for name in ("rusty-genius-core", "facecrab", "rusty-genius-cortex", "anyio", "httpx"):
        assert re.search(rf"^  {name}==", result.stdout, re.MULTILINE), name
    assert re.search(r"^  huggingface-hub==.*\(via facecrab\)$", result.stdout, re.MULTILINE)


def test_check_deps_fails_when_requests_is_in_the_runtime_tree(tmp_path: Path) -> None:
    lock = _lock(tmp_path, SYNTHETIC.format(hub_dep="requests", extras=""))
    result = _check_deps("--lock", str(lock), "--root", "facecrab")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "FORBIDDEN requests" in result.stdout
    assert "facecrab -> huggingface-hub -> requests" in result.stdout
    assert "aiohttp" not in result.stdout.split("forbidden:")[0]  # dev group only
    assert "uvloop" not in result.stdout.split("forbidden:")[0]  # extra not asked for


def test_check_deps_follows_requested_extras(tmp_path: Path) -> None:
    lock = _lock(tmp_path, SYNTHETIC.format(hub_dep="filelock", extras='"speed"'))
    result = _check_deps("--lock", str(lock), "--root", "facecrab")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "FORBIDDEN uvloop" in result.stdout
    assert "requests" not in result.stdout.split("forbidden:")[0]


def test_check_deps_passes_a_clean_synthetic_lock(tmp_path: Path) -> None:
    lock = _lock(tmp_path, SYNTHETIC.format(hub_dep="filelock", extras=""))
    result = _check_deps("--lock", str(lock), "--root", "facecrab")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "filelock==3.16.1  (via huggingface-hub <- facecrab)" in result.stdout


@pytest.mark.parametrize(
    ("body", "root"),
    [("", "facecrab"), ("this is [not toml", "facecrab"), (SYNTHETIC, "rusty-genius")],
)
def test_check_deps_refuses_an_unusable_lock(tmp_path: Path, body: str, root: str) -> None:
    lock = _lock(tmp_path, body.format(hub_dep="filelock", extras="") if body else body)
    result = _check_deps("--lock", str(lock), "--root", root)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "check_deps: cannot read" in result.stderr
