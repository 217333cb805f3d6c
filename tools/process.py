"""Run the real ``annolog serve`` as a child process (the benchmark and end-to-end tests)."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """``annolog serve`` on 127.0.0.1 with its own data directory; output goes to a log."""

    def __init__(self, data_dir: Path, port: int, token: str, *,
                 host: str | None = "127.0.0.1", **env: str) -> None:
        """``host`` None leaves the address to the server's own default."""
        data_dir.mkdir(parents=True, exist_ok=True)
        self.base = f"http://127.0.0.1:{port}"
        self.log_path = data_dir.parent / "serve.log"
        environment = {**os.environ, "API_AUTH_TOKEN": token,
                       "ANNOLOG_DATA_DIR": str(data_dir), "PORT": str(port), **env}
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tools.cli", "serve", "--quiet",
                 *(["--host", host] if host else [])],
                env=environment, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)

    @property
    def pid(self) -> int:
        return self.process.pid

    async def ready(self, timeout: float = 30.0) -> None:
        """Wait for ``/healthcheck``; raise with the log's name if the process exits."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        async with aiohttp.ClientSession() as session:
            while loop.time() < deadline:
                if self.process.poll() is not None:
                    tail = self.log_path.read_text(errors="replace").splitlines()[-8:]
                    raise RuntimeError(f"annolog serve exited; {self.log_path} ends with:\n"
                                       + "\n".join(tail))
                try:
                    async with session.get(f"{self.base}/healthcheck") as response:
                        if response.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
        raise TimeoutError(f"annolog serve did not become ready; see {self.log_path}")

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs."""
        self.process.kill()
        self.process.wait()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()
