"""facecrab, the rusty-genius asset authority: a model reference in, a verified GGUF out.

``async with AssetAuthority() as assets: model = await assets.ensure_model("org/repo:Q4_K_M")``
resolves the reference (built-in ``models.toml``, the user's ``manifest.toml``, the Hugging
Face hub's file tree), downloads with resume and retries, verifies sha256 and size, and
records the file in ``registry.toml``. A recorded model is served with no network at all.
"""

from __future__ import annotations

from rusty_genius_core._public import publish as _publish

from ._authority import DEFAULT_ENDPOINT as DEFAULT_ENDPOINT
from ._authority import AssetAuthority as AssetAuthority
from ._authority import ProgressCallback as ProgressCallback
from ._blobs import BlobStore as BlobStore
from ._blobs import check_digest as check_digest
from ._created import CreatedModels as CreatedModels
from ._download import FetchResult as FetchResult
from ._download import RetryPolicy as RetryPolicy
from ._download import Sleep as Sleep
from ._download import fetch_file as fetch_file
from ._errors import AmbiguousQuantizationError as AmbiguousQuantizationError
from ._errors import DigestMismatchError as DigestMismatchError
from ._errors import DownloadError as DownloadError
from ._errors import IntegrityError as IntegrityError
from ._errors import ModelNotFoundError as ModelNotFoundError
from ._errors import OfflineError as OfflineError
from ._errors import QuantizationNotFoundError as QuantizationNotFoundError
from ._errors import RegistryError as RegistryError
from ._errors import RepoNotFoundError as RepoNotFoundError
from ._errors import RevisionNotFoundError as RevisionNotFoundError
from ._local import LocalModel as LocalModel
from ._manifest import DEFAULT_MODEL as DEFAULT_MODEL
from ._manifest import embedded_manifest as embedded_manifest
from ._manifest import load_manifest as load_manifest
from ._paths import APP_NAME as APP_NAME
from ._paths import GeniusPaths as GeniusPaths
from ._progress import ProgressThrottle as ProgressThrottle
from ._registry import REGISTRY_VERSION as REGISTRY_VERSION
from ._registry import Registry as Registry
from ._registry import RegistryEntry as RegistryEntry
from ._registry import RegistryPart as RegistryPart
from ._resolve import RemoteFile as RemoteFile
from ._resolve import Resolution as Resolution
from ._resolve import Wanted as Wanted
from ._resolve import quantization_of as quantization_of
from ._resolve import select_gguf as select_gguf
from ._user_manifest import ManifestFile as ManifestFile

__all__ = [
    "APP_NAME",
    "DEFAULT_ENDPOINT",
    "DEFAULT_MODEL",
    "REGISTRY_VERSION",
    "AmbiguousQuantizationError",
    "AssetAuthority",
    "BlobStore",
    "CreatedModels",
    "DigestMismatchError",
    "DownloadError",
    "FetchResult",
    "GeniusPaths",
    "IntegrityError",
    "LocalModel",
    "ManifestFile",
    "ModelNotFoundError",
    "OfflineError",
    "ProgressCallback",
    "ProgressThrottle",
    "QuantizationNotFoundError",
    "Registry",
    "RegistryEntry",
    "RegistryError",
    "RegistryPart",
    "RemoteFile",
    "RepoNotFoundError",
    "Resolution",
    "RetryPolicy",
    "RevisionNotFoundError",
    "Sleep",
    "Wanted",
    "check_digest",
    "embedded_manifest",
    "fetch_file",
    "load_manifest",
    "quantization_of",
    "select_gguf",
]

_publish(__name__)  # reprs and pickles name this package, not its private modules
