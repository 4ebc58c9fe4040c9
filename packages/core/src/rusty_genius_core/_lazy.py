"""Names a package exports but imports on first use (PEP 562), written once for all packages.

``__getattr__, __dir__ = lazy_exports(__name__, {"RemoteEngine": "._remote"})`` in a package's
``__init__`` makes ``package.RemoteEngine`` import ``package._remote`` when first asked for,
so ``import package`` does not pay for (say) httpx. The loaded object is cached in the
package's namespace and, for a public package, given that package as its ``__module__``
(see :func:`~rusty_genius_core._public.publish`). Private: the rusty-genius packages share it.
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING

from ._public import publish_object

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, names: Mapping[str, str], *, public: bool = True
) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``, whose ``names`` load on first use.

    ``names`` maps each name to the module that defines it, absolute or relative to
    ``package``. With ``public`` (the default) the loaded object's ``__module__`` becomes
    ``package`` when it was a private module of the same distribution.
    """
    table = dict(names)

    def __getattr__(name: str) -> object:
        module = table.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module, package), name)
        if public:
            publish_object(package, value)
        vars(sys.modules[package])[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*vars(sys.modules[package]), *table})

    return __getattr__, __dir__
