"""Typed commands: argparse's ``Namespace`` read once, checked, into one frozen object each.

:func:`parse_command` is the only place that reads the ``Namespace`` (except ``serve``,
whose options belong to :mod:`rusty_genius._serve._command` and travel as parsed). What it
checks fails as the library's own errors, so the exit code and ``--json`` error line come
from one rule (:mod:`._exit`): a malformed reference is a ``ManifestError``, a number out
of range a ``ConfigError`` that names the flag and the range from
:mod:`rusty_genius_core.limits`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final, TypeAlias

import attrs

from facecrab import DEFAULT_MODEL, GeniusPaths, load_manifest
from rusty_genius_core import (
    ConfigError,
    GeniusError,
    InferenceConfig,
    ManifestError,
    ModelReference,
)
from rusty_genius_core._record import PlainRecord
from rusty_genius_core.limits import (
    CONTEXT_SIZE,
    MAX_STOP_STRINGS,
    MAX_TOKENS,
    SEED,
    TEMPERATURE,
    TOP_K,
    TOP_P,
)

from ._exit import _UsageError

if TYPE_CHECKING:
    import argparse

    from rusty_genius_core.limits import Limit

    from .._backend import BackendName

__all__ = [
    "ChatCommand",
    "Command",
    "CopyCommand",
    "CreateCommand",
    "InfoCommand",
    "ListCommand",
    "Options",
    "PsCommand",
    "PullCommand",
    "RemoveCommand",
    "RunCommand",
    "ServeCommand",
    "StopCommand",
    "parse_command",
    "parse_options",
]


class Options(PlainRecord):
    """What every command accepts, before or after its name."""

    __match_args__ = ("backend", "json", "debug", "verbose", "home", "cache", "endpoint")
    __slots__ = ("backend", "cache", "debug", "endpoint", "home", "json", "verbose")

    def __init__(
        self,
        *,
        backend: BackendName = "auto",
        json: bool = False,
        debug: bool = False,
        verbose: bool = False,
        home: str | None = None,
        cache: str | None = None,
        endpoint: str | None = None,
    ) -> None:
        self.backend: Final = backend
        self.json: Final = json
        self.debug: Final = debug
        self.verbose: Final = verbose
        self.home: Final = home
        self.cache: Final = cache
        self.endpoint: Final = endpoint


# The commands are plain records (fields: each class's __slots__, its bases' first): one
# run builds one of them, and building a dozen attrs classes cost more than the whole parse.


class _Command(PlainRecord):
    __slots__ = ("options",)

    def __init__(self, *, options: Options) -> None:
        self.options: Final = options


class _ModelCommand(_Command):
    __slots__ = ("model",)

    def __init__(self, *, options: Options, model: str) -> None:
        super().__init__(options=options)
        self.model: Final = model
        """A checked model reference (an alias or ``org/repo[:QUANT]``), stripped."""


class _GenerateCommand(_ModelCommand):
    __slots__ = ("config", "keep_alive", "system")

    def __init__(
        self,
        *,
        options: Options,
        model: str,
        config: InferenceConfig,
        system: str | None = None,
        keep_alive: float | None = None,
    ) -> None:
        super().__init__(options=options, model=model)
        self.config: Final = config
        self.system: Final = system
        self.keep_alive: Final = keep_alive


class PullCommand(_ModelCommand):
    """``genius pull``: download ``model``."""

    __slots__ = ()


class ListCommand(_Command):
    """``genius list``: the downloaded models."""

    __slots__ = ()


class RemoveCommand(_ModelCommand):
    """``genius rm``: delete ``model``'s files."""

    __slots__ = ()


class CreateCommand(_ModelCommand):
    """``genius create``: ``model`` (a name) from the Modelfile at ``file``."""

    __slots__ = ("file",)

    def __init__(self, *, options: Options, model: str, file: str) -> None:
        super().__init__(options=options, model=model)
        self.file: Final = file


class CopyCommand(_Command):
    """``genius cp``: ``destination`` becomes a model that runs as ``source`` does."""

    __slots__ = ("destination", "source")

    def __init__(self, *, options: Options, source: str, destination: str) -> None:
        super().__init__(options=options)
        self.source: Final = source
        self.destination: Final = destination


class PsCommand(_Command):
    """``genius ps``: the models this process has loaded."""

    __slots__ = ()


class StopCommand(_ModelCommand):
    """``genius stop``: unload ``model`` on the running server."""

    __slots__ = ()


class InfoCommand(_ModelCommand):
    """``genius info``: a downloaded model's GGUF metadata."""

    __slots__ = ()


class RunCommand(_GenerateCommand):
    """``genius run``: one prompt, answered; ``prompt`` ``None`` reads it from stdin
    (``-``, or no prompt from a pipe) or, with no prompt on a terminal, opens a chat."""

    __slots__ = ("prompt", "stdin")

    def __init__(
        self,
        *,
        options: Options,
        model: str,
        config: InferenceConfig,
        prompt: str | None,
        stdin: bool = False,
        system: str | None = None,
        keep_alive: float | None = None,
    ) -> None:
        super().__init__(
            options=options, model=model, config=config, system=system, keep_alive=keep_alive
        )
        self.prompt: Final = prompt
        self.stdin: Final = stdin
        """The prompt was given as ``-``: read stdin even from a terminal."""


class ChatCommand(_GenerateCommand):
    """``genius chat``: a conversation read line by line from stdin."""

    __slots__ = ()


class ServeCommand(_Command):
    """``genius serve``: its options stay as parsed, for ``serve_command`` to read."""

    __slots__ = ("arguments",)

    def __init__(self, *, options: Options, arguments: argparse.Namespace) -> None:
        super().__init__(options=options)
        self.arguments: Final = arguments


Command: TypeAlias = (
    PullCommand
    | CreateCommand
    | CopyCommand
    | ListCommand
    | RemoveCommand
    | PsCommand
    | InfoCommand
    | RunCommand
    | ChatCommand
    | ServeCommand
    | StopCommand
)


def parse_options(args: argparse.Namespace) -> Options:
    """The options every command has (parsing cannot fail: argparse checked them).

    Each field of :class:`Options` (its ``__slots__``) is read from the parser's option of
    the same name, so the fields are listed in the class, not again here.
    """
    return Options(**{name: getattr(args, name) for name in Options.__slots__})


def parse_command(args: argparse.Namespace, options: Options) -> Command:
    """The command ``args`` asks for, with its input checked.

    Raises ``ManifestError`` for a malformed model reference, ``ConfigError`` for a
    generation flag out of range, and a usage error for arguments argparse cannot judge.
    """
    name: str = args.command
    if name == "pull":
        return PullCommand(options=options, model=_model(args.ref))
    if name == "list":
        return ListCommand(options=options)
    if name == "rm":
        return RemoveCommand(options=options, model=_model(args.ref))
    if name == "create":
        return CreateCommand(options=options, model=_name(args.name), file=args.file)
    if name == "cp":
        return CopyCommand(
            options=options, source=_model(args.source), destination=_name(args.destination)
        )
    if name == "ps":
        return PsCommand(options=options)
    if name == "stop":
        return StopCommand(options=options, model=_model(args.ref))
    if name == "info":
        return InfoCommand(options=options, model=_model(args.ref))
    if name == "run":
        return _run(args, options)
    if name == "chat":
        return ChatCommand(
            options=options,
            model=_model(args.ref or DEFAULT_MODEL),
            config=_config(args),
            system=args.system,
            keep_alive=args.keep_alive,
        )
    if name == "serve":
        return ServeCommand(options=options, arguments=args)
    raise AssertionError(f"the parser has a command {name!r} that parse_command does not")


def _run(args: argparse.Namespace, options: Options) -> RunCommand:
    words: list[str] = list(args.words)
    if len(words) > 2:
        raise _UsageError(f"run takes [REF] [PROMPT], got {len(words)} arguments; quote the prompt")
    if len(words) == 1 and _names_a_model(words[0], options):
        words.append("")  # `genius run MODEL`: a chat on a terminal, else the prompt from stdin
    model = _model(words[0] if len(words) == 2 else DEFAULT_MODEL)
    prompt = words[-1] if words else ""
    return RunCommand(
        options=options,
        model=model,
        prompt=prompt if prompt not in ("", "-") else None,
        stdin=prompt == "-",
        config=_config(args),
        system=args.system,
        keep_alive=args.keep_alive,
    )


def _names_a_model(word: str, options: Options) -> bool:
    """Whether ``genius run WORD``'s one word is a model (a repo, or a manifest's alias)."""
    word = word.strip()
    if not word or word == "-" or any(c.isspace() for c in word):
        return False
    try:
        reference = ModelReference.parse(word)
    except GeniusError:
        return False
    if reference.repo is not None:
        return True
    paths = GeniusPaths.from_env(home=options.home, cache=options.cache)
    try:
        return reference.alias in load_manifest(paths.manifest_file).models
    except (GeniusError, OSError):  # a broken manifest.toml: said when the model is used
        return False


def _model(text: str) -> str:
    ModelReference.parse(text)  # ManifestError for a malformed reference
    return text.strip()


def _name(text: str) -> str:
    """A created model's name: an alias (lower case), not a repo reference."""
    if ModelReference.parse(text).alias is None:
        raise ManifestError(f"model name {text.strip()!r} must be a name, not a repo reference")
    return text.strip().lower()


def _config(args: argparse.Namespace) -> InferenceConfig:
    """The flags over core's defaults; ``--temperature 0`` starts from ``InferenceConfig.greedy()``."""
    sampling = _given(
        temperature=_flag("--temperature", args.temperature, TEMPERATURE),
        top_p=_flag("--top-p", args.top_p, TOP_P),
        top_k=_flag("--top-k", args.top_k, TOP_K),
    )
    behaviour = _given(
        max_tokens=_flag("--max-tokens", args.max_tokens, MAX_TOKENS),
        seed=_flag("--seed", args.seed, SEED),
        context_size=_flag("--context-size", args.context_size, CONTEXT_SIZE),
    )
    base = InferenceConfig.greedy() if sampling.get("temperature") == 0 else InferenceConfig()
    return attrs.evolve(
        base,
        sampling=attrs.evolve(base.sampling, **sampling),
        stop=_stops(args.stop),
        raw=args.raw,
        show_thinking=not args.hide_thinking,
        **behaviour,
    )


def _flag(flag: str, value: float | None, limit: Limit) -> float | None:
    """``value`` when it is absent or inside ``limit``; a ``ConfigError`` naming ``flag`` if not."""
    if value is not None and not limit.contains(value):
        raise ConfigError(f"{flag} must be {limit.describe()}, got {value!r}")
    return value


def _stops(stops: list[str]) -> tuple[str, ...]:
    if "" in stops:
        raise ConfigError("--stop must be a non-empty string")
    if len(stops) > MAX_STOP_STRINGS:
        raise ConfigError(f"--stop may be given at most {MAX_STOP_STRINGS} times, got {len(stops)}")
    return tuple(stops)


def _given(**values: float | None) -> dict[str, Any]:
    return {name: value for name, value in values.items() if value is not None}
