"""The loopback hub speaks Hugging Face's shapes and injects faults exactly."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
import httpx
import pytest

from rusty_genius_testhub import TEST_MODELS, fake_gguf, open_hub

if TYPE_CHECKING:
    from rusty_genius_testhub import HubRepo, LoopbackHub

REPO = "acme/tiny-GGUF"
BLOB = bytes(range(256)) * 400  # 102400 bytes
NAME = "tiny-Q4_K_M.gguf"


@pytest.fixture
def tiny(hub: LoopbackHub) -> HubRepo:
    return hub.add_repo(
        REPO,
        {NAME: BLOB, "sub/tiny-Q8_0.gguf": fake_gguf("q8", 5000), "README.md": b"hello\n"},
    )


def resolve_url(hub: LoopbackHub, path: str = NAME, revision: str = "main") -> str:
    return f"{hub.url}/{REPO}/resolve/{revision}/{path}"


async def test_tree_lists_files_with_lfs_metadata(hub: LoopbackHub, tiny: HubRepo) -> None:
    async with httpx.AsyncClient() as client:
        flat = (await client.get(f"{hub.url}/api/models/{REPO}/tree/main")).json()
        deep = (await client.get(f"{hub.url}/api/models/{REPO}/tree/main?recursive=true")).json()
        sub = (await client.get(f"{hub.url}/api/models/{REPO}/tree/main/sub")).json()
    assert {(e["type"], e["path"]) for e in flat} == {
        ("directory", "sub"),
        ("file", NAME),
        ("file", "README.md"),
    }
    by_path = {e["path"]: e for e in deep}
    assert set(by_path) == {"sub", NAME, "sub/tiny-Q8_0.gguf", "README.md"}
    gguf = by_path[NAME]
    assert gguf["size"] == len(BLOB)
    assert gguf["lfs"]["oid"] == hashlib.sha256(BLOB).hexdigest()
    assert gguf["lfs"]["size"] == len(BLOB)
    assert gguf["lfs"]["pointerSize"] > 0
    assert len(gguf["oid"]) == 40
    assert "lfs" not in by_path["README.md"]  # small text files stay in plain git
    assert [e["path"] for e in sub] == ["sub/tiny-Q8_0.gguf"]


async def test_errors_carry_hugging_face_error_codes(hub: LoopbackHub, tiny: HubRepo) -> None:
    async with httpx.AsyncClient() as client:
        no_repo = await client.get(f"{hub.url}/api/models/acme/nothing/tree/main")
        no_rev = await client.get(f"{hub.url}/api/models/{REPO}/tree/v9")
        no_file = await client.head(resolve_url(hub, "missing.gguf"))
        no_path = await client.get(f"{hub.url}/api/models/{REPO}/tree/main/nowhere")
    assert (no_repo.status_code, no_repo.headers["x-error-code"]) == (404, "RepoNotFound")
    assert no_repo.json() == {"error": "Repository not found"}
    assert (no_rev.status_code, no_rev.headers["x-error-code"]) == (404, "RevisionNotFound")
    assert (no_file.status_code, no_file.headers["x-error-code"]) == (404, "EntryNotFound")
    assert (no_path.status_code, no_path.headers["x-error-code"]) == (404, "EntryNotFound")


async def test_resolve_redirects_lfs_files_and_serves_ranges(
    hub: LoopbackHub, tiny: HubRepo
) -> None:
    sha = hashlib.sha256(BLOB).hexdigest()
    async with httpx.AsyncClient() as client:
        head = await client.head(resolve_url(hub))
        assert head.status_code == 302
        assert head.headers["location"].startswith(f"{hub.url}/cdn/{REPO}/{tiny.commit}/")
        assert head.headers["x-repo-commit"] == tiny.commit
        assert head.headers["x-linked-etag"] == f'"{sha}"'
        assert head.headers["x-linked-size"] == str(len(BLOB))
        full = await client.get(resolve_url(hub), follow_redirects=True)
        assert (full.status_code, full.content) == (200, BLOB)
        assert full.headers["accept-ranges"] == "bytes"
        tail = await client.get(
            resolve_url(hub), headers={"Range": "bytes=100000-"}, follow_redirects=True
        )
        assert tail.status_code == 206
        assert tail.headers["content-range"] == f"bytes 100000-{len(BLOB) - 1}/{len(BLOB)}"
        assert tail.content == BLOB[100000:]
        mid = await client.get(
            resolve_url(hub), headers={"Range": "bytes=10-19"}, follow_redirects=True
        )
        assert (mid.status_code, mid.content) == (206, BLOB[10:20])
        suffix = await client.get(
            resolve_url(hub), headers={"Range": "bytes=-5"}, follow_redirects=True
        )
        assert suffix.content == BLOB[-5:]
        past = await client.get(
            resolve_url(hub), headers={"Range": f"bytes={len(BLOB)}-"}, follow_redirects=True
        )
        assert past.status_code == 416
        assert past.headers["content-range"] == f"bytes */{len(BLOB)}"
        by_commit = await client.get(resolve_url(hub, revision=tiny.commit), follow_redirects=True)
        assert by_commit.content == BLOB
        readme = await client.get(resolve_url(hub, "README.md"))
        assert (readme.status_code, readme.content) == (200, b"hello\n")  # no redirect
    assert hub.bytes_served(NAME) == len(BLOB) * 2 + (len(BLOB) - 100000) + 10 + 5
    assert hub.ranges_seen(NAME) == [
        None,
        "bytes=100000-",
        "bytes=10-19",
        "bytes=-5",
        "bytes=102400-",
        None,
    ]
    assert hub.request_count("HEAD", file=NAME) == 1
    assert len(hub.body_requests(f"{REPO}/{NAME}")) == 5


async def test_cut_after_sends_exactly_n_bytes_once(hub: LoopbackHub, tiny: HubRepo) -> None:
    hub.cut_after(NAME, 1234)
    received = bytearray()

    async def fetch(client: httpx.AsyncClient) -> None:
        async with client.stream("GET", resolve_url(hub)) as response:
            async for chunk in response.aiter_raw():
                received.extend(chunk)

    async with httpx.AsyncClient(follow_redirects=True) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            await fetch(client)
        assert bytes(received) == BLOB[:1234]
        again = await client.get(resolve_url(hub))  # the fault counted down
        assert again.content == BLOB
    first, second = hub.body_requests(NAME)
    assert (first.body_bytes, first.completed) == (1234, False)
    assert (second.body_bytes, second.completed) == (len(BLOB), True)


async def test_abrupt_cut_resets_the_connection(hub: LoopbackHub, tiny: HubRepo) -> None:
    hub.cut_after(NAME, 0, abrupt=True)
    async with httpx.AsyncClient(follow_redirects=True) as client:
        with pytest.raises(httpx.TransportError):
            await client.get(resolve_url(hub))
    assert hub.bytes_served(NAME) == 0


async def test_stall_holds_until_released(hub: LoopbackHub, tiny: HubRepo) -> None:
    release = anyio.Event()
    stall = hub.stall(NAME, 5000, release)
    got: list[bytes] = []
    async with httpx.AsyncClient(follow_redirects=True) as client, anyio.create_task_group() as tg:

        async def fetch() -> None:
            got.append((await client.get(resolve_url(hub))).content)

        tg.start_soon(fetch)
        await stall.wait_reached()
        await hub.wait_for(lambda h: h.bytes_served(NAME) == 5000)
        assert not got
        release.set()
    assert got == [BLOB]


@pytest.mark.virtual_time
async def test_drip_sends_one_byte_per_interval_after_the_first_bytes(
    hub: LoopbackHub, tiny: HubRepo
) -> None:
    hub.drip("README.md", 2, 20.0)
    got = bytearray()
    arrivals: list[float] = []
    async with (
        httpx.AsyncClient(timeout=30) as client,
        client.stream("GET", resolve_url(hub, "README.md")) as response,
    ):
        start = anyio.current_time()
        async for chunk in response.aiter_raw():
            got += chunk
            arrivals.append(anyio.current_time() - start)
    assert bytes(got) == b"hello\n"
    assert arrivals == [0.0, 20.0, 40.0, 60.0, 80.0]  # virtual seconds: one byte every 20
    with pytest.raises(ValueError, match="interval must be positive"):
        hub.drip(NAME, 0, 0)


async def test_redirect_loop_sends_resolve_back_to_itself(hub: LoopbackHub, tiny: HubRepo) -> None:
    hub.redirect_loop(NAME)
    async with httpx.AsyncClient(follow_redirects=True, max_redirects=5) as client:
        with pytest.raises(httpx.TooManyRedirects):
            await client.get(resolve_url(hub))
    assert [(r.kind, r.status) for r in hub.requests] == [("resolve", 302)] * 6
    assert {r.path for r in hub.requests} == {f"/{REPO}/resolve/main/{NAME}"}


async def test_status_faults_send_retry_after(hub: LoopbackHub, tiny: HubRepo) -> None:
    hub.status(NAME, 429, retry_after="7")
    hub.status(REPO, 503, retry_after="Wed, 21 Oct 2015 07:28:00 GMT")
    async with httpx.AsyncClient(follow_redirects=True) as client:
        limited = await client.get(resolve_url(hub))
        tree = await client.get(f"{hub.url}/api/models/{REPO}/tree/main")
        fine = await client.get(resolve_url(hub))
    assert (limited.status_code, limited.headers["retry-after"]) == (429, "7")
    assert (tree.status_code, tree.headers["retry-after"]) == (503, "Wed, 21 Oct 2015 07:28:00 GMT")
    assert "retry-after" not in fine.headers
    assert fine.content == BLOB


async def test_corrupt_keeps_the_length_and_changes_the_bytes(
    hub: LoopbackHub, tiny: HubRepo
) -> None:
    hub.corrupt(NAME, times=1)
    async with httpx.AsyncClient(follow_redirects=True) as client:
        bad = await client.get(resolve_url(hub))
        good = await client.get(resolve_url(hub))
    assert len(bad.content) == len(BLOB)
    assert all(a != b for a, b in zip(bad.content, BLOB, strict=True))
    assert good.content == BLOB


async def test_status_faults_count_down(hub: LoopbackHub, tiny: HubRepo) -> None:
    hub.status(NAME, 500, times=2)
    hub.status(REPO, 404)
    async with httpx.AsyncClient(follow_redirects=True) as client:
        tree = await client.get(f"{hub.url}/api/models/{REPO}/tree/main")
        codes = [(await client.get(resolve_url(hub))).status_code for _ in range(3)]
    assert (tree.status_code, tree.headers["x-error-code"]) == (404, "RepoNotFound")
    assert codes == [500, 500, 200]


async def test_after_lets_the_first_requests_through(hub: LoopbackHub, tiny: HubRepo) -> None:
    hub.status(NAME, 503, times=2, after=1)
    hub.cut_after(NAME, 7, after=1)  # counts the requests that reach the bytes
    async with httpx.AsyncClient(follow_redirects=True) as client:
        codes = [(await client.get(resolve_url(hub))).status_code for _ in range(3)]
        with pytest.raises(httpx.RemoteProtocolError):
            await client.get(resolve_url(hub))
        whole = await client.get(resolve_url(hub))
    assert codes == [200, 503, 503]
    assert [r.body_bytes for r in hub.body_requests(NAME)] == [len(BLOB), 7, len(BLOB)]
    assert whole.content == BLOB
    with pytest.raises(ValueError, match="after must not be negative"):
        hub.corrupt(NAME, after=-1)


async def test_status_faults_answer_the_resolve_step(hub: LoopbackHub, tiny: HubRepo) -> None:
    hub.status(NAME, 416)
    hub.status(f"{REPO}/{NAME}", 404)
    async with httpx.AsyncClient(follow_redirects=True) as client:
        refused = await client.get(resolve_url(hub), headers={"Range": "bytes=5-"})
        missing = await client.get(resolve_url(hub))
        fine = await client.get(resolve_url(hub))
    assert (refused.status_code, refused.headers["content-range"]) == (416, f"bytes */{len(BLOB)}")
    assert (missing.status_code, missing.headers["x-error-code"]) == (404, "EntryNotFound")
    assert fine.content == BLOB
    assert [r.kind for r in hub.requests] == ["resolve", "resolve", "resolve", "cdn"]


async def test_ignore_range_answers_200_with_the_whole_file(
    hub: LoopbackHub, tiny: HubRepo
) -> None:
    hub.ignore_range(NAME, times=1)
    async with httpx.AsyncClient(follow_redirects=True) as client:
        ignored = await client.get(resolve_url(hub), headers={"Range": "bytes=100-"})
        honoured = await client.get(resolve_url(hub), headers={"Range": "bytes=100-"})
    assert (ignored.status_code, ignored.content) == (200, BLOB)
    assert (honoured.status_code, honoured.content) == (206, BLOB[100:])


async def test_keep_alive_and_connection_close_on_one_socket(
    hub: LoopbackHub, tiny: HubRepo
) -> None:
    path = f"/{REPO}/resolve/main/README.md"
    request = f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\nGET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    async with await anyio.connect_tcp("127.0.0.1", hub.port) as stream:
        await stream.send(request.encode())
        data = b""
        with anyio.fail_after(10):
            while True:
                try:
                    data += await stream.receive()
                except anyio.EndOfStream:
                    break
    assert data.count(b"HTTP/1.1 200 OK") == 2
    assert data.count(b"hello\n") == 2
    assert b"Connection: keep-alive" in data
    assert data.endswith(b"Connection: close\r\n\r\nhello\n")


async def test_two_hubs_run_side_by_side() -> None:
    async with open_hub() as one, open_hub(redirect_lfs=False) as two:
        one.add_repo(REPO, {NAME: b"one"})
        two.add_repo(REPO, {NAME: b"two"})
        async with httpx.AsyncClient(follow_redirects=True) as client:
            assert (await client.get(resolve_url(one))).content == b"one"
            direct = await client.get(resolve_url(two))
    assert one.port != two.port
    assert (direct.content, direct.history) == (b"two", [])


def test_thread_hub_serves_blocking_clients(hub_thread: LoopbackHub) -> None:
    hub_thread.add_repo(REPO, {NAME: BLOB})
    stall = hub_thread.stall(NAME, 10)
    hub_thread.cut_after(NAME, 10)

    def fetch(client: httpx.Client) -> None:
        # stalls after 10 bytes until released, then the cut closes the connection
        with client.stream("GET", resolve_url(hub_thread)) as response:
            assert stall.wait_reached_blocking(10)
            stall.release()
            response.read()

    with httpx.Client(follow_redirects=True) as client:
        with pytest.raises(httpx.TransportError):
            fetch(client)
        assert client.get(resolve_url(hub_thread)).content == BLOB
    assert hub_thread.wait_for_blocking(lambda h: h.bytes_served(NAME) == 10 + len(BLOB), 10)


def test_huggingface_hub_client_understands_the_hub(hub_thread: LoopbackHub, tmp_path) -> None:
    hf = pytest.importorskip("huggingface_hub")
    errors = pytest.importorskip("huggingface_hub.utils")
    repo = hub_thread.add_repo(REPO, {NAME: BLOB, "README.md": b"hello\n"})
    api = hf.HfApi(endpoint=hub_thread.url, token=False)
    files = {f.path: f for f in api.list_repo_tree(REPO, recursive=True)}
    assert files[NAME].lfs.sha256 == hashlib.sha256(BLOB).hexdigest()
    assert files[NAME].size == len(BLOB)
    info = api.model_info(REPO, files_metadata=True)
    assert info.sha == repo.commit
    assert {s.rfilename for s in info.siblings} == {NAME, "README.md"}
    with pytest.raises(errors.RepositoryNotFoundError):
        list(api.list_repo_tree("acme/nothing"))
    with pytest.raises(errors.RevisionNotFoundError):
        list(api.list_repo_tree(REPO, revision="v9"))
    path = hf.hf_hub_download(REPO, NAME, cache_dir=tmp_path, endpoint=hub_thread.url, token=False)
    assert hashlib.sha256(Path(path).read_bytes()).hexdigest() == repo.files[NAME].sha256
    assert repo.commit in path  # the snapshot folder is named after X-Repo-Commit


async def test_smollm2_repo_serves_the_real_model(hub: LoopbackHub, smollm2_repo: HubRepo) -> None:
    model = TEST_MODELS["smollm2"]
    served = smollm2_repo.files[model.filename]
    assert (served.sha256, served.size) == (model.sha256, model.size)
    fakes = sorted(p for p in smollm2_repo.files if p != model.filename and p.endswith(".gguf"))
    assert fakes == ["SmolLM2-135M-Instruct.F16.gguf", "SmolLM2-135M-Instruct.Q8_0.gguf"]
    async with httpx.AsyncClient(follow_redirects=True) as client:
        tail = await client.get(
            f"{hub.url}/{model.repo}/resolve/main/{model.filename}",
            headers={"Range": "bytes=-4096"},
        )
    assert isinstance(served.source, Path)
    async with await anyio.open_file(served.source, "rb") as f:
        await f.seek(model.size - 4096)
        assert tail.content == await f.read()


def test_fake_gguf_is_deterministic_and_distinct() -> None:
    assert fake_gguf("a", 100) == fake_gguf("a", 100)
    assert fake_gguf("a", 100) != fake_gguf("b", 100)
    assert fake_gguf("a", 100).startswith(b"GGUF")
    assert len(fake_gguf("a", 12345)) == 12345


def test_exports_are_complete_and_sorted() -> None:
    import rusty_genius_testhub as pkg

    public = {n for n in vars(pkg) if not n.startswith("_") and n not in {"annotations"}}
    public -= {
        "engines",
        "exports",
        "gbnf",
        "lora",
        "memory",
        "pytest_plugin",
        "requests",
    }  # public submodules, loaded on use
    assert set(pkg.__all__) == public
    key = [(0 if n.isupper() else 1 if n[0].isupper() else 2, n) for n in pkg.__all__]
    assert key == sorted(key)
