"""The client library (api/console/static/annolog-client.js) runs its own tests, with
node's test runner, against a real ``annolog serve``: REST, and the sync protocol's resume
without gap or repeat, conflicts and presence (tests/console/client.test.mjs)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.conftest import make_pdf
from tests.console.conftest import TOKEN, need, node_or_skip
from tools.process import ROOT, ServerProcess

TESTS = Path(__file__).with_name("client.test.mjs")


def node_flags(node: str) -> list[str]:
    """Node 20.10+ has WebSocket behind a flag; 22 and later have it on; older has none."""
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=True)
    major, minor = (int(n) for n in version.stdout.strip().lstrip("v").split(".")[:2])
    need((major, minor) >= (20, 10), f"Node.js 20.10 or later (found {version.stdout.strip()})")
    return ["--experimental-websocket"] if major < 22 else []


def run_node_tests(tests: Path, server: ServerProcess, tmp_path: Path) -> None:
    """A file of node's test runner against ``server``: every test declared ran and passed."""
    node = node_or_skip()
    pdf = tmp_path / "two-pages.pdf"
    pdf.write_bytes(make_pdf(2))
    environment = {"ANNOLOG_URL": server.base, "ANNOLOG_TOKEN": TOKEN, "ANNOLOG_PDF": str(pdf),
                   "PATH": "/usr/bin:/bin"}
    done = subprocess.run([node, *node_flags(node), "--test", "--test-reporter=tap",
                           str(tests)], cwd=ROOT, env=environment, capture_output=True,
                          text=True, timeout=120)
    failures = [line for line in done.stdout.splitlines() if line.startswith("not ok")]
    assert done.returncode == 0 and not failures, done.stdout[-4000:] + done.stderr[-2000:]
    declared = tests.read_text().count('\ntest("')
    assert f"# pass {declared}" in done.stdout, done.stdout[-2000:]


def test_the_client_library_passes_its_protocol_tests(server: ServerProcess, tmp_path):
    run_node_tests(TESTS, server, tmp_path)


def test_the_web_sdk_adapter_passes_its_own_tests(server: ServerProcess, tmp_path):
    """annolog-nutrient.js: load, save, conflicts and errors (the real SDK: tests/websdk)."""
    run_node_tests(TESTS.with_name("nutrient.test.mjs"), server, tmp_path)
