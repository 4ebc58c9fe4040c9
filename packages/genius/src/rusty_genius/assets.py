"""Models on disk: facecrab's asset authority, its registry and downloads, and manifests.

:class:`AssetAuthority` turns a reference (``"org/repo:Q4_K_M"`` or a manifest alias) into a
verified local GGUF, downloading with :func:`fetch_file` under a :class:`RetryPolicy` and
recording it in the :class:`Registry`. Manifests (:class:`UserManifest`,
:class:`ModelEntry`, :class:`ModelSpec`...) name the models; :class:`GeniusPaths` says where
files live. Created models (``genius create``): :func:`parse_modelfile` reads a Modelfile,
:class:`CreatedModels` writes them into the user's manifest. Asset events (``AssetStarted``...) are in :mod:`rusty_genius`, the errors in
:mod:`rusty_genius.errors`.
"""

from __future__ import annotations

from facecrab import APP_NAME as APP_NAME
from facecrab import DEFAULT_ENDPOINT as DEFAULT_ENDPOINT
from facecrab import DEFAULT_MODEL as DEFAULT_MODEL
from facecrab import REGISTRY_VERSION as REGISTRY_VERSION
from facecrab import AssetAuthority as AssetAuthority
from facecrab import BlobStore as BlobStore
from facecrab import CreatedModels as CreatedModels
from facecrab import FetchResult as FetchResult
from facecrab import GeniusPaths as GeniusPaths
from facecrab import LocalModel as LocalModel
from facecrab import ProgressCallback as ProgressCallback
from facecrab import ProgressThrottle as ProgressThrottle
from facecrab import Registry as Registry
from facecrab import RegistryEntry as RegistryEntry
from facecrab import RegistryPart as RegistryPart
from facecrab import RemoteFile as RemoteFile
from facecrab import Resolution as Resolution
from facecrab import RetryPolicy as RetryPolicy
from facecrab import Sleep as Sleep
from facecrab import Wanted as Wanted
from facecrab import embedded_manifest as embedded_manifest
from facecrab import fetch_file as fetch_file
from facecrab import load_manifest as load_manifest
from facecrab import quantization_of as quantization_of
from facecrab import select_gguf as select_gguf
from rusty_genius_core import DEFAULT_REVISION as DEFAULT_REVISION
from rusty_genius_core import ModelEntry as ModelEntry
from rusty_genius_core import ModelReference as ModelReference
from rusty_genius_core import ModelSpec as ModelSpec
from rusty_genius_core import Parameters as Parameters
from rusty_genius_core import Purpose as Purpose
from rusty_genius_core import UserManifest as UserManifest
from rusty_genius_core import filename_matches_quant as filename_matches_quant
from rusty_genius_core import merge_manifests as merge_manifests
from rusty_genius_core._public import publish as _publish

from ._adapter_check import check_pulled as check_pulled
from ._created import adapter_name as adapter_name
from ._created import check_created_adapters as check_created_adapters
from ._created import created_entry as created_entry
from ._created import created_statuses as created_statuses
from ._created import with_created as with_created
from ._modelfile import Modelfile as Modelfile
from ._modelfile import parse_modelfile as parse_modelfile

__all__ = [
    "APP_NAME",
    "DEFAULT_ENDPOINT",
    "DEFAULT_MODEL",
    "DEFAULT_REVISION",
    "REGISTRY_VERSION",
    "AssetAuthority",
    "BlobStore",
    "CreatedModels",
    "FetchResult",
    "GeniusPaths",
    "LocalModel",
    "ModelEntry",
    "ModelReference",
    "ModelSpec",
    "Modelfile",
    "Parameters",
    "ProgressCallback",
    "ProgressThrottle",
    "Purpose",
    "Registry",
    "RegistryEntry",
    "RegistryPart",
    "RemoteFile",
    "Resolution",
    "RetryPolicy",
    "Sleep",
    "UserManifest",
    "Wanted",
    "adapter_name",
    "check_created_adapters",
    "check_pulled",
    "created_entry",
    "created_statuses",
    "embedded_manifest",
    "fetch_file",
    "filename_matches_quant",
    "load_manifest",
    "merge_manifests",
    "parse_modelfile",
    "quantization_of",
    "select_gguf",
    "with_created",
]

_publish(__name__)  # reprs and pickles name this module, not the private ones
