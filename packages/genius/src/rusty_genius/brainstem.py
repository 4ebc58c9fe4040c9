"""The brainstem actor under :class:`~rusty_genius.Genius`, for driving it directly.

:func:`open_brainstem` runs an :class:`Orchestrator` (one actor owning the engine and the
asset authority) and hands back a :class:`BrainstemClient` that routes its answers to each
caller; one frozen :class:`BrainstemConfig` carries its settings. A :class:`CortexStrategy` (:class:`Immediate`, :class:`HibernateAfter`) decides when
an idle model is unloaded; :class:`KeepAlive` is a per-request override. The messages it
speaks are in :mod:`rusty_genius.protocol`.
"""

from __future__ import annotations

from rusty_genius_stem import DEFAULT_HIBERNATE_AFTER as DEFAULT_HIBERNATE_AFTER
from rusty_genius_stem import DEFAULT_MAX_QUEUE as DEFAULT_MAX_QUEUE
from rusty_genius_stem import DEFAULT_STOP_TIMEOUT as DEFAULT_STOP_TIMEOUT
from rusty_genius_stem import AssetSource as AssetSource
from rusty_genius_stem import BrainstemClient as BrainstemClient
from rusty_genius_stem import BrainstemConfig as BrainstemConfig
from rusty_genius_stem import BrainstemSettings as BrainstemSettings
from rusty_genius_stem import CortexStrategy as CortexStrategy
from rusty_genius_stem import HibernateAfter as HibernateAfter
from rusty_genius_stem import Immediate as Immediate
from rusty_genius_stem import KeepAlive as KeepAlive
from rusty_genius_stem import LocalModelInfo as LocalModelInfo
from rusty_genius_stem import Orchestrator as Orchestrator
from rusty_genius_stem import RegistryRecord as RegistryRecord
from rusty_genius_stem import __all__ as _stem_names
from rusty_genius_stem import default_engine_factory as default_engine_factory
from rusty_genius_stem import open_brainstem as open_brainstem

# The package's names but one: ``ProgressCallback`` is facecrab's, in rusty_genius.assets.
__all__ = [name for name in _stem_names if name != "ProgressCallback"]
