"""The one writer of a process: decides commands against current state and appends the
resulting events of every waiting request in ONE transaction (group commit).

Requests hand it commands through a queue and get a ``concurrent.futures.Future``, so the
event loop never waits on the disk. A command that fails is a ``Rejected`` outcome and never
fails its neighbours; only a failure of the append itself fails the whole batch.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError
from ulid import ULID

from eventstore.commands import (
    Accepted,
    Command,
    Outcome,
    Rejected,
)
from eventstore.decider import Decider, HeadCache
from eventstore.errors import (
    AppendOutcomeUnknownError,
    ConflictError,
    DomainError,
    EncodingError,
    LogUnavailableError,
    NotAppliedError,
    UnstorableError,
)
from eventstore.log import EventLog, LoggedEvent

log = logging.getLogger(__name__)
UNSTORABLE = EncodingError  # data JSON cannot carry; any other error is the disk's or a bug
CONFLICT_ATTEMPTS = 4  # decisions of one batch against streams other processes append to



@dataclass
class _Request:
    commands: Sequence[Command]
    request_id: str
    atomic: bool = False  # all commands are applied, or none
    future: Future[list[Outcome]] = field(default_factory=Future)


def _unstorable(error: Exception) -> Rejected:
    log.warning("command refused: its events could not be encoded: %s", error)
    return Rejected(UnstorableError(f"this item could not be stored: {error}"))


class Writer:
    """Owns every append of this process. Start it, ``submit`` commands, stop it."""

    def __init__(self, log: EventLog, *, max_batch_commands: int = 50_000,
                 cache_size: int = 4096,
                 on_commit: Callable[[list[LoggedEvent]], None] | None = None) -> None:
        self.log = log
        self.max_batch_commands = max_batch_commands
        self.cache = HeadCache(cache_size)
        self.on_commit = on_commit
        self.last_revision = log.max_revision()
        self._queue: queue.SimpleQueue[_Request | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="annolog-writer", daemon=True)
        self.batches = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()

    def submit(self, commands: Sequence[Command], request_id: str, *,
               atomic: bool = False) -> Future[list[Outcome]]:
        """Queue commands; with ``atomic`` they are all applied or none is."""
        request = _Request(commands, request_id, atomic)
        self._queue.put(request)
        return request.future

    def execute(self, commands: Sequence[Command], request_id: str | None = None, *,
                atomic: bool = False) -> list[Outcome]:
        """Submit and wait: for tools and tests that have no event loop. Each call is a
        write of its own (a fresh request id: consecutive events sharing one are one write
        to time travel, see ``EventLog.whole_revision``)."""
        return self.submit(commands, request_id or str(ULID()), atomic=atomic).result()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch, stopping = self._drain(first)
            self._write(batch)
            del first, batch  # not kept alive while waiting for the next
            if stopping:
                return

    def _drain(self, first: _Request) -> tuple[list[_Request], bool]:
        batch, size = [first], len(first.commands)
        while size < self.max_batch_commands:
            try:
                request = self._queue.get_nowait()
            except queue.Empty:
                break
            if request is None:
                return batch, True
            batch.append(request)
            size += len(request.commands)
        return batch, False

    def _write(self, batch: list[_Request]) -> None:
        live = [r for r in batch if r.future.set_running_or_notify_cancel()]
        try:
            results = self._commit(live)
        except UNSTORABLE as error:  # one command (or atomic request) that cannot be encoded
            [request] = live
            request.future.set_result([_unstorable(error)] * len(request.commands))
            return
        except AppendOutcomeUnknownError as error:
            log.exception("append failed and its outcome is unknown; %d requests answered "
                          "with 503", len(live))
            failure = LogUnavailableError(
                f"the event log failed while saving this request and could not be asked "
                f"whether it was stored ({error}); read the records before writing again")
            for request in live:
                request.future.set_exception(failure)
            return
        except Exception as error:  # even alone, the append failed: nothing was stored
            log.exception("append failed; %d requests rejected", len(live))
            failure = LogUnavailableError(
                f"the event log could not be written ({type(error).__name__}: {error}); "
                "nothing of this request was saved"
            )
            for request in live:
                request.future.set_exception(failure)
            return
        for request, outcomes in zip(live, results, strict=True):
            request.future.set_result(outcomes)

    def _commit(self, batch: list[_Request], attempt: int = 1) -> list[list[Outcome]]:
        """Append the batch in one transaction. If that fails, nothing of it was stored:
        retry each request alone, then each command alone, so a command whose events
        cannot be stored fails by itself and never its neighbours."""
        try:
            outcomes, committed = self._decide_and_append(batch)
        except IntegrityError:
            # Another process appended to a stream this batch decided on (the store's
            # unique stream/version key said so): decide again on fresh state, a few times
            # (a busy comment thread is one stream that every process writes).
            self.cache.clear()
            if attempt < CONFLICT_ATTEMPTS:
                return self._commit(batch, attempt + 1)
            if len(batch) > 1:
                return [self._commit([request])[0] for request in batch]
            conflict = ConflictError("another writer changed these records at the same "
                                     f"time, {CONFLICT_ATTEMPTS} times in a row; nothing was "
                                     "saved, try again")
            return [[Rejected(conflict)] * len(batch[0].commands)]
        except AppendOutcomeUnknownError:
            self.cache.clear()
            raise  # deciding again could store the batch twice
        except Exception:
            self.cache.clear()
            if len(batch) > 1:
                return [self._commit([request])[0] for request in batch]
            request = batch[0]
            if len(request.commands) > 1 and not request.atomic:
                return [[self._commit_alone(c, request.request_id) for c in request.commands]]
            raise
        self.batches += 1
        if committed:
            self.last_revision = committed[-1].revision
            if self.on_commit is not None:
                self.on_commit(committed)
        return outcomes

    def _commit_alone(self, command: Command, request_id: str) -> Outcome:
        try:
            [[outcome]] = self._commit([_Request([command], request_id)])
        except UNSTORABLE as error:
            return _unstorable(error)
        return outcome

    def _decide_and_append(self, batch: list[_Request]
                           ) -> tuple[list[list[Outcome]], list[LoggedEvent]]:
        decider = Decider(self.log, self.cache)
        decider.preload([c for r in batch for c in r.commands])
        pending: list[list[tuple[Any, int, int, DomainError | None]]] = []
        for request in batch:
            checkpoint = decider.checkpoint()
            decided = [self._decide_one(decider, c, request.request_id)
                       for c in request.commands]
            if request.atomic and any(error for *_, error in decided):
                decider.rollback(checkpoint)
                decided = [(None, 0, 0, error or NotAppliedError(
                    "not applied: another record of this all-or-nothing request failed"))
                    for *_, error in decided]
            pending.append(decided)
        revisions, sizes = self._append(decider.events)
        # the last event of a stream wins
        for event, size in zip(decider.events, sizes, strict=True):
            decider.sizes[event.originator_id] = size
        self.cache.put_all({k: (v, decider.sizes[k]) for k, v in decider.heads.items()
                            if v is not None})
        outcomes, position = [], 0
        for decided in pending:
            request_outcomes: list[Outcome] = []
            for result, count, kept, error in decided:
                if error is not None:
                    request_outcomes.append(Rejected(error))
                    continue
                position += count
                revision = revisions[position - 1] if count else 0
                version = decider.events[position - 1].originator_version if count else kept
                request_outcomes.append(Accepted(result, revision, version))
            outcomes.append(request_outcomes)
        return outcomes, [LoggedEvent(r, e) for r, e in zip(revisions, decider.events, strict=True)]

    @staticmethod
    def _decide_one(decider: Decider, command: Command,
                    request_id: str) -> tuple[Any, int, int, DomainError | None]:
        try:
            result, count, kept = decider.decide(command, request_id)
        except DomainError as error:
            return None, 0, 0, error
        return result, count, kept, None

    def _append(self, events: list[Aggregate.Event]) -> tuple[list[int], list[int]]:
        """(revision, stored size) of each event."""
        if not events:
            return [], []
        stored = self.log.encode(events)
        return self.log.append_encoded(stored), [len(s.state) for s in stored]
