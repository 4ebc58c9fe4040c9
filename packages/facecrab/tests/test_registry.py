"""registry.toml: atomic, locked, validated, and never overwritten when broken."""

from __future__ import annotations

import datetime as dt
import errno
import os
import threading
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
import pytest

from facecrab import Registry, RegistryEntry, RegistryError, RegistryPart
from rusty_genius_core import AssetError, Purpose

if TYPE_CHECKING:
    from collections.abc import Callable

    from facecrab import AssetAuthority
    from rusty_genius_testhub import HubRepo, LoopbackHub


def entry(n: int) -> RegistryEntry:
    return RegistryEntry(
        reference=f"acme/m{n}-GGUF:Q4_K_M",
        repo=f"acme/m{n}-GGUF",
        revision="main",
        commit="a" * 40,
        filename=f"m{n}.Q4_K_M.gguf",
        quantization="Q4_K_M",
        size=1000 + n,
        sha256=f"{n:064x}",
        path=Path(f"/models/m{n}.gguf"),
        downloaded_at=dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
    )


def test_entries_round_trip_through_toml(tmp_path: Path) -> None:
    registry = Registry(tmp_path / "registry.toml")
    split = RegistryEntry(
        reference="acme/big-GGUF:F16",
        repo="acme/big-GGUF",
        revision="v1",
        commit=None,
        filename="big-00001-of-00002.gguf",
        quantization="F16",
        size=10,
        sha256="b" * 64,
        path=Path("/m/big-00001-of-00002.gguf"),
        downloaded_at=dt.datetime(2025, 5, 6, 7, 8, 9, tzinfo=dt.UTC),
        purpose=Purpose.COMPLETION,
        parts=(
            RegistryPart(
                filename="big-00001-of-00002.gguf", size=10, sha256="b" * 64, path=Path("/m/1")
            ),
            RegistryPart(
                filename="big-00002-of-00002.gguf", size=11, sha256="c" * 64, path=Path("/m/2")
            ),
        ),
    )
    registry.update_sync(lambda _: [entry(1), split])
    assert registry.read_sync() == sorted([entry(1), split], key=lambda e: e.key)
    text = registry.path.read_text()
    assert text.startswith("# rusty-genius model registry")
    assert tomllib.loads(text)["version"] == 1
    assert not list(tmp_path.glob(".registry-*"))  # no temp file left behind


def test_record_replaces_the_same_repo_and_file(tmp_path: Path) -> None:
    async def main() -> list[RegistryEntry]:
        registry = Registry(tmp_path / "registry.toml")
        await registry.record(entry(1))
        await registry.record(entry(2))
        newer = RegistryEntry(**{**_fields(entry(1)), "sha256": "f" * 64, "repo": "ACME/m1-GGUF"})
        await registry.record(newer)
        return await registry.entries()

    entries = anyio.run(main)
    assert [(e.repo, e.sha256) for e in entries] == [
        ("ACME/m1-GGUF", "f" * 64),
        ("acme/m2-GGUF", f"{2:064x}"),
    ]


def _fields(e: RegistryEntry) -> dict[str, object]:
    return {a.name: getattr(e, a.name) for a in RegistryEntry.__attrs_attrs__}


def test_threads_writing_at_once_lose_nothing(tmp_path: Path) -> None:
    registry = Registry(tmp_path / "registry.toml")
    barrier = threading.Barrier(8)

    def writer(n: int) -> None:
        barrier.wait()
        Registry(registry.path).update_sync(lambda entries: [*entries, entry(n)])

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(e.repo for e in registry.read_sync()) == [f"acme/m{n}-GGUF" for n in range(8)]


BROKEN = """version = 1

[[models]]
reference = "acme/m1-GGUF:Q4_K_M"
repo = "acme/m1-GGUF
"""


def test_broken_toml_names_file_and_line_and_is_not_overwritten(tmp_path: Path) -> None:
    registry = Registry(tmp_path / "registry.toml")
    registry.path.write_text(BROKEN)
    with pytest.raises(
        RegistryError, match=r"registry .*registry\.toml: invalid TOML at line 5"
    ) as err:
        registry.update_sync(lambda entries: [*entries, entry(1)])
    assert isinstance(err.value, AssetError)
    assert str(registry.path) in str(err.value)
    assert registry.path.read_text() == BROKEN


def test_toml_broken_at_its_end_names_the_last_line_and_column(tmp_path: Path) -> None:
    """tomllib says only "at end of document" there; the registry names the place."""
    registry = Registry(tmp_path / "registry.toml")
    registry.path.write_text('version = 1\n\n[[models]]\nrepo = "acme/m1-GGUF')
    with pytest.raises(RegistryError, match=r"invalid TOML at line 4, column 21 \(") as err:
        registry.read_sync()
    assert "?" not in str(err.value).split("(")[0]


def test_a_full_disk_while_writing_names_the_registry_and_keeps_the_old_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = Registry(tmp_path / "registry.toml")
    registry.update_sync(lambda entries: [entry(1)])
    before = registry.path.read_bytes()

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(RegistryError) as err:
        registry.update_sync(lambda entries: [*entries, entry(2)])
    assert str(err.value) == (
        f"registry {registry.path} cannot be written: No space left on device; "
        "it still holds what it held before"
    )
    monkeypatch.undo()
    assert registry.path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".registry-")] == []


_GOOD = (
    '[[models]]\nreference = "a/b:Q4_0"\nrepo = "a/b"\nrevision = "main"\nfilename = "x.gguf"\n'
    'quantization = "Q4_0"\nsize = 1\nsha256 = "a"\npath = "/m/x.gguf"\n'
    "downloaded_at = 2025-01-02T03:04:05Z\n"
)


def test_an_entry_reads_with_its_defaults_and_ignores_keys_it_does_not_know(
    tmp_path: Path,
) -> None:
    registry = Registry(tmp_path / "registry.toml")
    registry.path.write_text(_GOOD + 'written_by = "a newer facecrab"\n')
    (found,) = registry.read_sync()
    assert found.commit is None
    assert found.purpose is Purpose.CHAT
    assert found.parts == ()
    assert found.path == Path("/m/x.gguf")
    assert found.downloaded_at == dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    registry.update_sync(lambda entries: entries)
    rewritten = tomllib.loads(registry.path.read_text())["models"][0]
    assert "commit" not in rewritten  # unset keys stay unset
    assert "parts" not in rewritten
    assert rewritten["purpose"] == "chat"
    assert rewritten["path"] == "/m/x.gguf"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("version = 2\n", "has version 2"),
        ("models = 3\n", "'models' must be an array of tables"),
        ('[[models]]\nrepo = "a/b"\n', r"models\[0\] has no 'reference'"),
        (
            '[[models]]\nreference = "a/b:Q4_0"\nrepo = "a/b"\nrevision = "main"\n'
            'filename = "x.gguf"\nquantization = "Q4_0"\nsize = "big"\n',
            r"models\[0\]\.size must be int, got 'big'",
        ),
        (
            _GOOD + 'purpose = "poetry"\n',
            r"models\[0\]\.purpose: 'poetry' is not one of 'chat', 'completion', 'embedding'",
        ),
        (
            _GOOD + '[[models.parts]]\nfilename = "x.gguf"\nsize = 1\nsha256 = "a"\npath = 7\n',
            r"models\[0\]\.parts\[0\]\.path must be str, got 7",
        ),
        (
            _GOOD.replace("2025-01-02T03:04:05Z", '"yesterday"'),
            r"models\[0\]\.downloaded_at must be datetime, got 'yesterday'",
        ),
    ],
)
def test_malformed_entries_are_refused(tmp_path: Path, text: str, message: str) -> None:
    registry = Registry(tmp_path / "registry.toml")
    registry.path.write_text(text)
    with pytest.raises(RegistryError, match=message):
        registry.read_sync()
    assert registry.path.read_text() == text


async def test_authority_refuses_a_broken_registry_without_touching_it(
    hub: LoopbackHub,
    tiny_repo: HubRepo,
    make_authority: Callable[..., AssetAuthority],
    tmp_path: Path,
) -> None:
    path = tmp_path / "home" / "registry.toml"
    path.parent.mkdir(parents=True)
    path.write_text(BROKEN)
    async with make_authority() as assets:
        with pytest.raises(RegistryError, match="line 5"):
            await assets.ensure_model("acme/tiny-GGUF:Q8_0")
        with pytest.raises(RegistryError, match="line 5"):
            await assets.list_models()
    assert path.read_text() == BROKEN
    assert hub.body_requests("tiny.Q8_0.gguf") == []


def test_a_symlinked_registry_lock_is_refused_and_its_target_untouched(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_bytes(b"fourteen bytes")
    registry = Registry(tmp_path / "home" / "registry.toml")
    registry.path.parent.mkdir()
    lock = registry.path.with_name("registry.toml.lock")
    lock.symlink_to(victim)
    with pytest.raises(AssetError, match=rf"^{lock} is a symbolic link; "):
        registry.update_sync(lambda entries: [entry(1)])
    assert victim.read_bytes() == b"fourteen bytes"
    assert not registry.path.exists()
