"""One real app on its own event loop, for hypothesis tests, which are plain functions: each
example runs its requests with ``live.run(...)`` against the same server."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

from aiohttp.test_utils import TestClient, TestServer

from api.app import create_app
from api.settings import Settings

T = TypeVar("T")


class Live:
    """The app, its loop and a client of it."""

    def __init__(self, settings: Settings) -> None:
        self.loop = asyncio.new_event_loop()
        self.client = TestClient(TestServer(create_app(settings)), loop=self.loop)
        self.run(self.client.start_server())

    def run(self, step: Awaitable[T]) -> T:
        return self.loop.run_until_complete(step)

    def close(self) -> None:
        self.run(self.client.close())
        self.loop.close()
