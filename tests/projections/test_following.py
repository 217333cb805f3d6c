"""A process following a shared PostgreSQL log is woken by other processes' commits."""

from __future__ import annotations

import time
from pathlib import Path

from eventstore.commands import UploadDocument
from eventstore.log import open_log
from eventstore.postgres_store import LogListener
from eventstore.writer import Writer
from projections.projector import Projector
from tests.conftest import postgres_schema


def wait_until(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def test_another_process_commit_wakes_the_projector_at_once(tmp_path: Path):
    with postgres_schema() as url:
        writing, following = open_log(tmp_path, url), open_log(tmp_path, url)
        # polling alone would take a minute: only the notification can wake it in time
        projector = Projector(following, tmp_path / "read.sqlite", poll_seconds=60)
        projector.catch_up()
        projector.start()
        listener = LogListener(following.recorder, projector.poke)
        listener.start()
        writer = Writer(writing)
        writer.start()
        try:
            time.sleep(0.5)  # the listener is connected and LISTENing
            for i in range(3):
                [outcome] = writer.execute(
                    [UploadDocument(f"d{i}", None, "00", 1, False, None)])
                assert wait_until(lambda: projector.position >= outcome.revision, 5.0), (  # noqa: B023 (called at once)
                    f"write {i} was not followed within 5 s")
        finally:
            writer.stop()
            listener.stop()
            projector.stop()
            writing.close()
            following.close()


def test_a_listener_stops_promptly(tmp_path: Path):
    with postgres_schema() as url:
        log = open_log(tmp_path, url)
        listener = LogListener(log.recorder, lambda: None)
        listener.start()
        time.sleep(0.2)
        started = time.monotonic()
        listener.stop()
        assert time.monotonic() - started < 2.0
        log.close()
