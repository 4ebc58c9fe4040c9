"""schemathesis against a live ``genius serve`` (Pinky, offline hub): no request gets a 5xx.

The server runs in a thread with its own event loop (a blocking portal), because
schemathesis drives synchronous ``requests`` calls. Every operation of the
server's own ``/openapi.json`` gets a bounded number of generated requests, valid
and invalid; the only check is that none is answered with a server error.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import pytest
import requests
import schemathesis
from anyio.from_thread import start_blocking_portal
from hypothesis import HealthCheck, settings

from rusty_genius import Genius
from rusty_genius._serve._routes import openapi_document
from rusty_genius.server import create_app, open_server

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator
    from pathlib import Path

CLOSED_ENDPOINT = "http://127.0.0.1:9"


@pytest.fixture(scope="module", params=["asyncio", "trio"])
def live_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    root: Path = tmp_path_factory.mktemp("serve-schema")

    @asynccontextmanager
    async def running() -> AsyncIterator[str]:
        async with (
            Genius(
                backend="pinky",
                home=root / "home",
                cache=root / "cache",
                endpoint=CLOSED_ENDPOINT,
                offline=True,
            ) as genius,
            open_server(create_app(genius), port=0) as address,
        ):
            yield address.url

    with (
        start_blocking_portal(request.param) as portal,
        portal.wrap_async_context_manager(running()) as url,
    ):
        yield url


@pytest.fixture(scope="module")
def session() -> Iterator[requests.Session]:
    with requests.Session() as made:
        yield made


schema = schemathesis.openapi.from_dict(openapi_document())


@schema.parametrize()
@settings(
    max_examples=30,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_request_gets_a_server_error(
    case: Any, live_url: str, session: requests.Session
) -> None:
    response = case.call(base_url=live_url, session=session, timeout=30)
    assert response.status_code < 500, (
        f"{response.status_code} {response.text[:500]}\n{case.as_curl_command()}"
    )
