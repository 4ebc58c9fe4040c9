"""The one cattrs converter every package shares (re-exported from the private ``_converter``).

Protocol JSON, manifests and facecrab's registry all go through :data:`converter`;
:func:`structure` decodes with an error naming the path of the first bad field.
"""

from __future__ import annotations

from ._converter import TAG_KEY as TAG_KEY
from ._converter import Describe as Describe
from ._converter import Refusal as Refusal
from ._converter import WrongType as WrongType
from ._converter import __all__ as __all__  # the same names, declared once there
from ._converter import allow_extra_keys as allow_extra_keys
from ._converter import check_after as check_after
from ._converter import converter as converter
from ._converter import describe as describe
from ._converter import enums as enums
from ._converter import omit_defaults as omit_defaults
from ._converter import structure as structure
from ._converter import tag as tag
from ._converter import tag_union as tag_union
from ._public import publish as _publish

_publish(__name__)
