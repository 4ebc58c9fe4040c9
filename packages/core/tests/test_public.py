"""Public objects name their public module, and annotations still resolve after the rewrite.

``_public.publish`` sets ``__module__`` to the module users import from. Annotations are
strings (``from __future__ import annotations``) that typing, attrs and cattrs evaluate in
``sys.modules[cls.__module__]``; these tests pin that they still resolve to the right
objects. (test_codec.py round-trips every message type through the rewritten classes.)
"""

from __future__ import annotations

import pickle
import sys
import textwrap
import types
import typing
from typing import TYPE_CHECKING, Any

import attrs
import pytest

import rusty_genius_core
from rusty_genius_core import GeniusError, error_class, message_types
from rusty_genius_core._lazy import lazy_exports
from rusty_genius_core._public import publish, publish_object

if TYPE_CHECKING:
    from collections.abc import Iterator

CLASSES = [pytest.param(cls, id=cls.__name__) for cls in message_types()]
ERRORS = [
    getattr(rusty_genius_core, n)
    for n in rusty_genius_core.__all__
    if isinstance(getattr(rusty_genius_core, n), type)
    and issubclass(getattr(rusty_genius_core, n), GeniusError)
]


@pytest.mark.parametrize("cls", CLASSES)
def test_message_types_resolve_their_fields_in_the_public_module(cls: type[Any]) -> None:
    assert cls.__module__ == "rusty_genius_core"
    hints = typing.get_type_hints(cls)
    for field in attrs.fields(cls):
        assert not isinstance(field.type, str), (cls, field.name)
        assert hints[field.name] == field.type, (cls, field.name)


@pytest.mark.parametrize("cls", CLASSES)
def test_message_types_round_trip_after_the_rewrite(cls: type[Any]) -> None:
    fields = {f.name: f for f in attrs.fields(cls)}
    if any(f.default is attrs.NOTHING for f in fields.values()):
        return  # needs values: test_codec.py builds these with hypothesis
    message = cls()
    assert rusty_genius_core.from_json(rusty_genius_core.to_json(message), cls) == message


@pytest.mark.parametrize("cls", ERRORS, ids=lambda c: c.__name__)
def test_errors_pickle_by_their_public_name(cls: type[GeniusError]) -> None:
    assert cls.__module__ == "rusty_genius_core"
    error = pickle.loads(pickle.dumps(cls("what went wrong")))
    assert type(error) is cls
    assert str(error) == "what went wrong"
    assert error_class(cls.__name__) is (None if cls is GeniusError else cls)
    assert typing.get_type_hints(cls)["http_status"] == typing.ClassVar[int]


def test_enums_and_messages_pickle_by_their_public_name() -> None:
    role, reason = rusty_genius_core.Role.USER, rusty_genius_core.FinishReason.STOP
    assert pickle.loads(pickle.dumps(role)) is role
    assert pickle.loads(pickle.dumps(reason)) is reason
    message = rusty_genius_core.ChatMessage(role=role, content="hi")
    assert pickle.loads(pickle.dumps(message)) == message
    assert type(message).__module__ == "rusty_genius_core"


@pytest.fixture
def fake_package() -> Iterator[tuple[types.ModuleType, types.ModuleType]]:
    """``fakepkg`` with a private ``fakepkg._impl`` that uses names fakepkg lacks."""
    package = types.ModuleType("fakepkg")
    impl = types.ModuleType("fakepkg._impl")
    source = textwrap.dedent(
        """
        from __future__ import annotations
        from pathlib import Path
        from typing import TYPE_CHECKING
        import attrs
        if TYPE_CHECKING:
            from decimal import Decimal

        class _Hidden:
            pass

        @attrs.frozen
        class Record:
            where: Path
            hidden: _Hidden | None = None

        class Plain:
            size: int = 0

        class Unresolvable:
            price: Decimal

        def helper(x: Path) -> _Hidden:
            return _Hidden()
        """
    )
    sys.modules.update({"fakepkg": package, "fakepkg._impl": impl})
    try:
        exec(compile(source, "fakepkg/_impl.py", "exec"), vars(impl))
        for name in ("Record", "Plain", "Unresolvable", "helper"):
            setattr(package, name, getattr(impl, name))
        package.__all__ = ["Plain", "Record", "Unresolvable", "helper"]
        yield package, impl
    finally:
        del sys.modules["fakepkg"], sys.modules["fakepkg._impl"]


def test_publish_rewrites_the_module_and_keeps_annotations_resolvable(
    fake_package: tuple[types.ModuleType, types.ModuleType],
) -> None:
    package, impl = fake_package
    publish("fakepkg")
    record, plain, helper = package.Record, package.Plain, package.helper
    assert (record.__module__, plain.__module__, helper.__module__) == ("fakepkg",) * 3
    # fakepkg has neither Path nor _Hidden: they resolved where they were written
    assert typing.get_type_hints(record) == {"where": impl.Path, "hidden": impl._Hidden | None}
    assert attrs.fields(record).where.type is impl.Path
    assert typing.get_type_hints(plain) == {"size": int}
    assert typing.get_type_hints(helper)["return"] is impl._Hidden
    assert pickle.loads(pickle.dumps(record(impl.Path("x")))) == record(impl.Path("x"))


def test_a_class_whose_annotations_cannot_resolve_keeps_its_private_module(
    fake_package: tuple[types.ModuleType, types.ModuleType],
) -> None:
    package, _ = fake_package
    publish("fakepkg")
    assert package.Unresolvable.__module__ == "fakepkg._impl"  # the export tests name it


def test_objects_of_another_distribution_or_a_public_module_are_left_alone() -> None:
    publish_object("rusty_genius.errors", rusty_genius_core.Content)
    assert rusty_genius_core.Content.__module__ == "rusty_genius_core"
    publish_object("fakepkg", pickle.dumps)
    assert pickle.dumps.__module__ == "_pickle"


def test_lazy_exports_load_on_first_use_and_publish(
    fake_package: tuple[types.ModuleType, types.ModuleType],
) -> None:
    package, impl = fake_package
    del package.Plain
    getattr_, dir_ = lazy_exports("fakepkg", {"Plain": "._impl", "Record": "fakepkg._impl"})
    assert {"Plain", "Record"} <= set(dir_())
    assert "Plain" not in vars(package)
    assert getattr_("Plain") is impl.Plain
    assert vars(package)["Plain"] is impl.Plain  # cached: no second __getattr__ call
    assert impl.Plain.__module__ == "fakepkg"
    with pytest.raises(AttributeError, match="'fakepkg' has no attribute 'Nope'"):
        getattr_("Nope")


def test_private_lazy_exports_keep_the_module(
    fake_package: tuple[types.ModuleType, types.ModuleType],
) -> None:
    _, impl = fake_package
    getattr_, _ = lazy_exports("fakepkg", {"Plain": "._impl"}, public=False)
    assert getattr_("Plain") is impl.Plain
    assert impl.Plain.__module__ == "fakepkg._impl"


def test_published_field_types_are_what_attrs_resolve_types_gives() -> None:
    """Own fields, inherited ones and hints holding a forward reference all end up with the
    types ``typing.get_type_hints`` gives, and attrs sees the class as resolved."""
    package = types.ModuleType("fakepkg2")
    impl = types.ModuleType("fakepkg2._impl")
    source = textwrap.dedent(
        """
        from __future__ import annotations
        from pathlib import Path
        from typing import Union
        import attrs

        Value = Union[int, tuple["Value", ...]]

        @attrs.frozen
        class Base:
            where: Path
            nothing: None = None

        @attrs.frozen
        class Child(Base):
            size: int = 0

        @attrs.frozen
        class Nested:
            values: dict[str, Value]
        """
    )
    sys.modules.update({"fakepkg2": package, "fakepkg2._impl": impl})
    try:
        exec(compile(source, "fakepkg2/_impl.py", "exec"), vars(impl))
        for name in ("Base", "Child", "Nested", "Value"):  # Value: as GgufValue is exported
            setattr(package, name, getattr(impl, name))
        package.__all__ = ["Base", "Child", "Nested", "Value"]
        publish("fakepkg2")
        for cls in (impl.Base, impl.Child, impl.Nested):
            assert cls.__module__ == "fakepkg2"
            hints = typing.get_type_hints(cls, include_extras=True)
            assert {f.name: f.type for f in attrs.fields(cls)} == hints
            assert cls.__attrs_types_resolved__ is cls
        assert attrs.fields(impl.Base).nothing.type is type(None)
        assert attrs.fields(impl.Child).where.type is impl.Path
    finally:
        del sys.modules["fakepkg2"], sys.modules["fakepkg2._impl"]
