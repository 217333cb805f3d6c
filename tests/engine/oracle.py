"""The Nutrient engine (npm ``@nutrient-sdk/node``, offline, no key) as the tests' judge of
what a record means: ``oracle.mjs`` runs it in a Node.js process that answers one request
a line. Loading a PDF with Instant JSON is the engine's strict import; its export says how it
normalised what it took."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
MARKER = "@@oracle "
FORMAT = "https://pspdfkit.com/instant-json/v1"


class EngineError(RuntimeError):
    """Raised when the oracle process itself fails (not when the engine refuses input)."""


class Engine:
    """One Node.js process running the engine; requests are answered in order."""

    def __init__(self, node: str) -> None:
        self.process = subprocess.Popen(
            [node, str(HERE / "oracle.mjs")], cwd=HERE, text=True, encoding="utf-8",
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)

    def ask(self, **request: Any) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        while True:
            line = self.process.stdout.readline()
            if not line:
                raise EngineError("the engine's process ended")
            if line.startswith(MARKER):
                return json.loads(line[len(MARKER):])

    def load(self, pdf: Path, annotations: list[dict[str, Any]] | None = None, *,
             document: dict[str, Any] | None = None, read: bool = False,
             pdf_out: Path | None = None) -> dict[str, Any]:
        """The engine's answer to loading ``pdf`` with an Instant JSON document (or just
        these annotations): ``ok``, and ``error`` or ``instantJSON`` (and ``annotations``,
        how it reads the PDF's own, with ``read``)."""
        if document is None and annotations is not None:
            document = {"format": FORMAT, "annotations": annotations}
        return self.ask(pdf=str(pdf), instantJSON=document, read=read,
                        pdfOut=str(pdf_out) if pdf_out else None)

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


def install() -> str | None:
    """The ``node`` that runs the oracle, once its package is installed (``npm ci`` from the
    lockfile, the first time); None where Node.js or the package cannot be had."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None:
        return None
    if not (HERE / "node_modules" / "@nutrient-sdk" / "node").is_dir():
        if npm is None:
            return None
        done = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--silent"], cwd=HERE,
                              capture_output=True, text=True, timeout=900,
                              env={**os.environ, "NODE_ENV": "production"})
        if done.returncode != 0:
            return None
    return node
