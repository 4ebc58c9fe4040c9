"""facecrab's errors: every one is an :class:`~rusty_genius_core.AssetError` (an ``OSError``)::

    AssetError (core)                  status
    ├── ModelNotFoundError          404   an alias the manifest does not know
    ├── RepoNotFoundError           404   the hub has no such repo (or hides a private one)
    ├── RevisionNotFoundError       404   the repo has no such branch, tag or commit
    ├── QuantizationNotFoundError   404   no GGUF in the repo for the quantization or filename
    ├── AmbiguousQuantizationError  400   several GGUFs match; pin a filename in the manifest
    ├── OfflineError                404   the model is not local and the network is off
    ├── DownloadError               502   the transfer failed (HTTP error, retries used up)
    ├── IntegrityError              502   the bytes are not the ones the hub listed (sha256, size)
    ├── RegistryError               500   registry.toml cannot be read or written
    └── DigestMismatchError         400   an uploaded blob's bytes do not hash to its name

Messages name the reference and file and, where it helps, list what does exist
(``alternatives``). No message ever contains the access token.
"""

from __future__ import annotations

from rusty_genius_core import AssetError

__all__ = [
    "AmbiguousQuantizationError",
    "DigestMismatchError",
    "DownloadError",
    "IntegrityError",
    "ModelNotFoundError",
    "OfflineError",
    "QuantizationNotFoundError",
    "RegistryError",
    "RepoNotFoundError",
    "RevisionNotFoundError",
]


class _WithAlternatives(AssetError):
    """A lookup that failed (404 unless a subclass says otherwise), listing what exists instead."""

    http_status = 404

    def __init__(self, message: str, alternatives: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.alternatives = alternatives

    def __reduce__(self) -> tuple[type, tuple[str, tuple[str, ...]]]:
        return (type(self), (self.message, self.alternatives))


class ModelNotFoundError(_WithAlternatives):
    """The reference is an alias no manifest defines; ``alternatives`` are the known aliases."""


class RepoNotFoundError(_WithAlternatives):
    """The hub answered 404 for the repo; ``alternatives`` are known models' repos."""


class RevisionNotFoundError(AssetError):
    """The repo exists but the revision does not."""

    http_status = 404


class QuantizationNotFoundError(_WithAlternatives):
    """No GGUF matches; ``alternatives`` are the quantizations (or files) that exist."""


class AmbiguousQuantizationError(_WithAlternatives):
    """More than one GGUF matches; ``alternatives`` are the candidates."""

    http_status = 400


class OfflineError(AssetError):
    """The model is not in the registry and the network is off (``HF_HUB_OFFLINE``)."""

    http_status = 404


class DownloadError(AssetError):
    """The hub could not be reached or kept failing; the partial file is kept for a resume."""

    http_status = 502


class IntegrityError(AssetError):
    """Downloaded bytes do not match the expected sha256 or size; nothing was kept."""

    http_status = 502


class RegistryError(AssetError):
    """``registry.toml`` is unreadable or malformed; it is left untouched for a human."""


class DigestMismatchError(AssetError):
    """An uploaded blob does not hash to the digest it was sent as; nothing was kept."""

    http_status = 400
