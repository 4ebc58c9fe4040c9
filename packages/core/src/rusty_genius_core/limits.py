"""Every numeric bound of the public API (re-exported from the private ``_limits``).

``from rusty_genius_core.limits import TEMPERATURE`` gives the range both the library's
validators and the HTTP server's request models enforce.
"""

from __future__ import annotations

from ._limits import ADAPTER_SCALE as ADAPTER_SCALE
from ._limits import BYTE_SIZE as BYTE_SIZE
from ._limits import CONTEXT_SIZE as CONTEXT_SIZE
from ._limits import DEFAULT_PARALLEL as DEFAULT_PARALLEL
from ._limits import DURATION as DURATION
from ._limits import EMBED_DIMENSIONS as EMBED_DIMENSIONS
from ._limits import GPU_LAYERS as GPU_LAYERS
from ._limits import KEEP_ALIVE as KEEP_ALIVE
from ._limits import MAX_ADAPTERS as MAX_ADAPTERS
from ._limits import MAX_CONTEXT as MAX_CONTEXT
from ._limits import MAX_EMBED_INPUTS as MAX_EMBED_INPUTS
from ._limits import MAX_STOP_STRINGS as MAX_STOP_STRINGS
from ._limits import MAX_TOKENS as MAX_TOKENS
from ._limits import MAX_TOOLS as MAX_TOOLS
from ._limits import MIN_P as MIN_P
from ._limits import PARALLEL as PARALLEL
from ._limits import REPEAT_PENALTY as REPEAT_PENALTY
from ._limits import REQUEST_ID_MAX_LENGTH as REQUEST_ID_MAX_LENGTH
from ._limits import SEED as SEED
from ._limits import TEMPERATURE as TEMPERATURE
from ._limits import THREADS as THREADS
from ._limits import TOKEN_COUNT as TOKEN_COUNT
from ._limits import TOOL_NAME_MAX_LENGTH as TOOL_NAME_MAX_LENGTH
from ._limits import TOP_K as TOP_K
from ._limits import TOP_P as TOP_P
from ._limits import Limit as Limit
from ._limits import __all__ as __all__  # the same names, declared once there
from ._public import publish as _publish

_publish(__name__)
