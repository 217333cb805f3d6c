"""Time travel: after any sequence of creates, updates, deletes, snapshots and restores, the
export at every past revision equals the state after that many writes, snapshots never
move, and a replay of the log equals the live read model."""

from __future__ import annotations

import copy
import tempfile
from pathlib import Path

import orjson
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from eventstore.blobs import BlobStore
from eventstore.commands import (
    Accepted,
    CopyAnnotation,
    CreateAnnotation,
    CreateLayer,
    DeleteAnnotation,
    UpdateAnnotation,
    UploadDocument,
)
from eventstore.log import open_log
from eventstore.writer import Writer
from projections.instant_json import export_annotation
from projections.projector import Projector
from projections.queries import ReadModel
from projections.replays import instant_json_of, revert_commands
from tests.properties.machines import check_replay_and_close

LAYERS = st.sampled_from(["", "a"])
IDS = st.sampled_from(["x", "y", "z"])
TEXTS = st.text(max_size=4)
USERS = st.none() | st.sampled_from(["alice", "bob"])


def note(text: str) -> dict:
    return {"v": 2, "type": "pspdfkit/note", "pageIndex": 0, "bbox": [1, 2, 3, 4],
            "opacity": 1, "text": {"format": "plain", "value": text}}


class TimeTravel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp())
        self.log = open_log(self.dir / "log")
        self.projector = Projector(self.log, self.dir / "read.sqlite")
        self.writer = Writer(self.log, on_commit=self.projector.offer)
        self.writer.start()
        self.read = ReadModel(self.dir / "read.sqlite")
        self.blobs = BlobStore(self.dir / "blobs")
        self.state: dict[str, dict[str, dict]] = {"": {}, "a": {}}
        self.past: list[tuple[int, dict[str, dict[str, dict]]]] = []
        self.snapshots: dict[str, dict[str, dict]] = {}
        self.write([UploadDocument("d", None, "00", 1, False, None)], atomic=False)

    def write(self, commands: list, atomic: bool = True) -> list:
        outcomes = self.writer.execute(commands, atomic=atomic)
        self.projector.catch_up()
        revision = max((o.revision for o in outcomes if isinstance(o, Accepted)), default=0)
        if revision:
            self.past.append((revision, copy.deepcopy(self.state)))
        return outcomes

    def export(self, layer: str, upto: int | None = None) -> dict[str, dict]:
        document = instant_json_of(self.read, self.blobs, "d", layer, upto)
        return {a["id"]: a for a in document.get("annotations", [])}

    @staticmethod
    def expected(records: dict[str, dict]) -> dict[str, dict]:
        return {i: export_annotation(r) for i, r in records.items()}

    @rule(layer=LAYERS, annotation_id=IDS, text=TEXTS, user=USERS)
    def create(self, layer, annotation_id, text, user):
        if annotation_id in self.state[layer]:
            return
        record = {"id": annotation_id, "content": note(text), "createdBy": user,
                  "updatedBy": user, "group": None}
        self.state[layer][annotation_id] = record
        self.write([CreateAnnotation("d", layer, annotation_id, note(text), None, user)])

    @rule(layer=LAYERS, annotation_id=IDS, text=TEXTS, user=USERS)
    def update(self, layer, annotation_id, text, user):
        if annotation_id not in self.state[layer]:
            return
        record = self.state[layer][annotation_id]
        if record["content"] != note(text):  # the same again records nothing
            record.update(content=note(text), updatedBy=user)
        self.write([UpdateAnnotation("d", layer, annotation_id, note(text), user)])

    @rule(layer=LAYERS, annotation_id=IDS)
    def delete(self, layer, annotation_id):
        if self.state[layer].pop(annotation_id, None) is not None:
            self.write([DeleteAnnotation("d", layer, annotation_id)])

    @precondition(lambda self: len(self.past) > 1)
    @rule(data=st.data(), layer=LAYERS)
    def snapshot(self, data, layer):
        revision, state = data.draw(st.sampled_from(self.past))
        name = f"snap{len(self.snapshots)}"
        records = [orjson.loads(r) for r in self.read.layer_state("d", layer, revision)]
        self.snapshots[name] = copy.deepcopy(state[layer])
        self.write([CreateLayer("d", name)] + [
            CopyAnnotation("d", name, r["id"], r["content"], r["group"], r["createdBy"],
                           r["updatedBy"]) for r in records])

    @precondition(lambda self: len(self.past) > 1)
    @rule(data=st.data(), layer=LAYERS)
    def restore(self, data, layer):
        revision, state = data.draw(st.sampled_from(self.past))
        then = [orjson.loads(r) for r in self.read.layer_state("d", layer, revision)]
        now = [orjson.loads(r) for r in self.read.layer_state("d", layer)]
        commands = revert_commands("d", layer, then, now)
        self.state[layer] = copy.deepcopy(state[layer])
        if commands:
            assert all(isinstance(o, Accepted) for o in self.write(commands))

    @invariant()
    def every_past_revision_exports_as_it_was(self):
        for revision, state in self.past:
            for layer in ("", "a"):
                assert self.export(layer, revision) == self.expected(state[layer])

    @invariant()
    def snapshots_never_move(self):
        for name, records in self.snapshots.items():
            assert self.export(name) == self.expected(records)

    def teardown(self):
        check_replay_and_close(self)


TimeTravel.TestCase.settings = settings(max_examples=60, stateful_step_count=20,
                                        deadline=None)
test_time_travel = TimeTravel.TestCase
