"""What the state machines over the log share."""

from __future__ import annotations

import shutil
from typing import Any

from projections.queries import dump_tables
from projections.rebuild import replay
from projections.schema import connect


def check_replay_and_close(machine: Any) -> None:
    """A replay of the whole log equals the live read model; then release everything."""
    rebuilt = machine.dir / "rebuilt.sqlite"
    replay(machine.log, rebuilt)
    assert dump_tables(connect(rebuilt)) == dump_tables(connect(machine.dir / "read.sqlite"))
    machine.writer.stop()
    machine.projector.stop()
    machine.read.close()
    machine.log.close()
    shutil.rmtree(machine.dir, ignore_errors=True)
