"""The engine oracle's tests: they skip where Node.js or the engine's package cannot be had,
except under ANNOLOG_REQUIRE_ENGINE=1 (CI), where that is a failure."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import make_pdf
from tests.engine.oracle import Engine, install

REQUIRED = os.environ.get("ANNOLOG_REQUIRE_ENGINE") == "1"


@pytest.fixture(scope="session")
def engine() -> Iterator[Engine]:
    node = install()
    if node is None:
        message = ("the engine oracle needs Node.js and npm's @nutrient-sdk/node "
                   "(npm ci --prefix tests/engine)")
        if REQUIRED:
            pytest.fail(f"{message}; ANNOLOG_REQUIRE_ENGINE=1")
        pytest.skip(message)
    oracle = Engine(node)
    yield oracle
    oracle.close()


@pytest.fixture(scope="session")
def blank_pdf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two letter pages, as the API tests' documents have."""
    path = tmp_path_factory.mktemp("engine") / "blank.pdf"
    path.write_bytes(make_pdf(2))
    return path
