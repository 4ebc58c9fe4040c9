"""Created models: manifest edits that are atomic and checked, and the blob store."""

from __future__ import annotations

import hashlib
import tomllib
from typing import TYPE_CHECKING

import pytest

from facecrab import (
    AssetAuthority,
    BlobStore,
    CreatedModels,
    DigestMismatchError,
    ManifestFile,
    ModelNotFoundError,
)
from rusty_genius_core import ManifestError, ModelEntry, Parameters, ProtocolError, UserManifest

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

BOT = ModelEntry(
    base="smollm2-135m-instruct", system="Be brief.", parameters=Parameters(temperature=0.0)
)
HAND = '[models.mine]\nrepo = "org/mine-GGUF"\nquantization = "Q8_0"\n'


def authority(tmp_path: Path) -> AssetAuthority:
    return AssetAuthority(
        home=tmp_path / "home", cache=tmp_path / "cache", environ={}, offline=True
    )


async def test_create_writes_the_entry_and_the_authority_sees_it(tmp_path: Path) -> None:
    assets = authority(tmp_path)
    created = CreatedModels(assets)
    assert await assets.resolve("smollm2-135m-instruct", network=False)  # the cache is filled
    await created.create("bot", BOT)
    data = tomllib.loads((tmp_path / "home" / "manifest.toml").read_text("utf-8"))
    assert data == {
        "models": {
            "bot": {
                "base": "smollm2-135m-instruct",
                "system": "Be brief.",
                "parameters": {"temperature": 0.0},
            }
        }
    }
    spec = await assets.resolve("bot", network=False)
    assert (spec.name, spec.repo) == ("bot", "HuggingFaceTB/SmolLM2-135M-Instruct-GGUF")
    assert spec.template is None
    await created.create("templated", ModelEntry(base="bot", template="{{ messages[0].content }}"))
    await created.create(
        "wide", ModelEntry(base="templated", parameters=Parameters(context_size=8192))
    )
    templated = await assets.resolve("templated", network=False)
    assert templated.template == "{{ messages[0].content }}"
    wide = await assets.resolve("wide", network=False)
    assert (wide.template, wide.context_size) == ("{{ messages[0].content }}", 8192)
    assert templated.context_size is None
    assert (await assets.resolve("smollm2-135m-instruct", network=False)).template is None
    assert await created.own("bot") == BOT
    assert await created.own("smollm2-135m-instruct") is None


async def test_copy_and_remove(tmp_path: Path) -> None:
    assets = authority(tmp_path)
    created = CreatedModels(assets)
    await created.create("bot", BOT)
    await created.copy("bot", "bot2")
    assert await created.own("bot2") == BOT
    await created.copy("smollm2-135m-instruct", "small")
    assert await created.own("small") == ModelEntry(base="smollm2-135m-instruct")
    await created.create("child", ModelEntry(base="bot"))
    with pytest.raises(ManifestError, match="'bot' is the base of child; remove those first"):
        await created.remove("bot")
    assert await created.remove("child")
    assert await created.remove("bot")
    assert not await created.remove("bot")
    assert not await created.remove("smollm2-135m-instruct")  # not a created model
    assert await created.own("bot") is None
    assert await created.own("bot2") == BOT


@pytest.mark.parametrize(
    ("name", "entry", "error", "words"),
    [
        ("smollm2-135m-instruct", BOT, ManifestError, "is a built-in model"),
        ("mine", BOT, ManifestError, "is defined by hand"),
        ("Org/Repo", BOT, ManifestError, "must be a name"),
        ("a:b", BOT, ManifestError, "model name 'a:b'"),
        (
            "bot",
            ModelEntry(base="nowhere"),
            ModelNotFoundError,
            "base model 'nowhere' is not an alias",
        ),
        ("bot", ModelEntry(base="bot"), ManifestError, "loops"),
        ("bot", ModelEntry(system="x"), ManifestError, "needs a base model"),
    ],
)
async def test_bad_creates_change_nothing(
    tmp_path: Path, name: str, entry: ModelEntry, error: type[Exception], words: str
) -> None:
    manifest = tmp_path / "home" / "manifest.toml"
    manifest.parent.mkdir(parents=True)
    manifest.write_text(HAND, "utf-8")
    with pytest.raises(error, match=words):
        await CreatedModels(authority(tmp_path)).create(name, entry)
    assert manifest.read_text("utf-8") == HAND
    assert [p.name for p in manifest.parent.iterdir() if p.name.endswith(".tmp")] == []


async def test_a_broken_manifest_is_reported_and_never_overwritten(tmp_path: Path) -> None:
    manifest = tmp_path / "home" / "manifest.toml"
    manifest.parent.mkdir(parents=True)
    manifest.write_text("[models.x\n", "utf-8")
    with pytest.raises(ManifestError, match="invalid TOML at line 1"):
        await CreatedModels(authority(tmp_path)).create("bot", BOT)
    assert manifest.read_text("utf-8") == "[models.x\n"


def test_manifest_file_keeps_the_old_file_when_the_change_fails(tmp_path: Path) -> None:
    path = tmp_path / "manifest.toml"
    path.write_text(HAND, "utf-8")

    def change(_: UserManifest) -> UserManifest:
        raise ManifestError("refused")

    with pytest.raises(ManifestError, match="refused"):
        ManifestFile(path).update_sync(change)
    assert path.read_text("utf-8") == HAND


async def chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def test_a_blob_lands_only_when_its_bytes_hash_to_its_name(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "blobs")
    body = b"adapter bytes" * 1000
    digest = "sha256:" + hashlib.sha256(body).hexdigest()
    assert not await store.has(digest)
    path = await store.receive(digest, chunks(body[:7], body[7:]))
    assert path.read_bytes() == body
    assert await store.has(digest)
    wrong = "sha256:" + "0" * 64
    with pytest.raises(DigestMismatchError) as caught:
        await store.receive(wrong, chunks(b"other"))
    assert str(caught.value) == (
        f"blob digest mismatch: expected {wrong}, got sha256:{hashlib.sha256(b'other').hexdigest()}"
    )
    assert not await store.has(wrong)
    assert sorted(p.name for p in (tmp_path / "blobs").iterdir()) == [path.name]


@pytest.mark.parametrize("digest", ["sha256:abc", "md5:" + "0" * 64, "sha256:" + "A" * 64, "../x"])
def test_malformed_digests_are_refused(tmp_path: Path, digest: str) -> None:
    with pytest.raises(ProtocolError, match="is not 'sha256:' followed by 64"):
        BlobStore(tmp_path).path(digest)


def test_importing_a_file_stores_it_by_its_digest(tmp_path: Path) -> None:
    source = tmp_path / "lora.gguf"
    source.write_bytes(b"GGUF adapter")
    digest, path = BlobStore(tmp_path / "blobs").import_sync(source)
    assert digest == "sha256:" + hashlib.sha256(b"GGUF adapter").hexdigest()
    assert path.read_bytes() == b"GGUF adapter"
    assert BlobStore(tmp_path / "blobs").import_sync(source) == (digest, path)
