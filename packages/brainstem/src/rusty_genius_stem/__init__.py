"""rusty-genius brainstem: the actor loop that routes requests to assets and engines.

:class:`Orchestrator` reads ``BrainstemInput`` from one stream and answers with
``BrainstemOutput`` on another; :func:`open_brainstem` runs one and hands back a
:class:`BrainstemClient` that routes the answers to each caller; one frozen
:class:`BrainstemConfig` carries its settings. The scheduling policy is a state
machine with no I/O (``_scheduler``) that the orchestrator feeds and obeys.
"""

from __future__ import annotations

from rusty_genius_core._public import publish as _publish

from ._assets import AssetSource as AssetSource
from ._assets import LocalModelInfo as LocalModelInfo
from ._assets import ProgressCallback as ProgressCallback
from ._assets import RegistryRecord as RegistryRecord
from ._client import BrainstemClient as BrainstemClient
from ._client import open_brainstem as open_brainstem
from ._config import DEFAULT_MAX_QUEUE as DEFAULT_MAX_QUEUE
from ._config import DEFAULT_STOP_TIMEOUT as DEFAULT_STOP_TIMEOUT
from ._config import BrainstemConfig as BrainstemConfig
from ._config import BrainstemSettings as BrainstemSettings
from ._config import default_engine_factory as default_engine_factory
from ._orchestrator import Orchestrator as Orchestrator
from ._strategy import DEFAULT_HIBERNATE_AFTER as DEFAULT_HIBERNATE_AFTER
from ._strategy import CortexStrategy as CortexStrategy
from ._strategy import HibernateAfter as HibernateAfter
from ._strategy import Immediate as Immediate
from ._strategy import KeepAlive as KeepAlive

__all__ = [
    "DEFAULT_HIBERNATE_AFTER",
    "DEFAULT_MAX_QUEUE",
    "DEFAULT_STOP_TIMEOUT",
    "AssetSource",
    "BrainstemClient",
    "BrainstemConfig",
    "BrainstemSettings",
    "CortexStrategy",
    "HibernateAfter",
    "Immediate",
    "KeepAlive",
    "LocalModelInfo",
    "Orchestrator",
    "ProgressCallback",
    "RegistryRecord",
    "default_engine_factory",
    "open_brainstem",
]

_publish(__name__)  # reprs and pickles name this package, not its private modules
