"""Any sequence of creates, updates and deletes leaves the read model equal to a replay of
the log and to a plain model of the expected state; revisions strictly increase."""

from __future__ import annotations

import tempfile
from pathlib import Path

import orjson
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from eventstore.commands import (
    Accepted,
    CreateAnnotation,
    DeleteAnnotation,
    Rejected,
    UpdateAnnotation,
    UploadDocument,
)
from eventstore.domain import same_json
from eventstore.log import open_log
from eventstore.writer import Writer
from projections.projector import Projector
from projections.queries import ReadModel
from tests.properties.machines import check_replay_and_close

LAYERS = st.sampled_from(["", "a", "b/c"])
IDS = st.sampled_from(["x", "y", "z", "01BS98XZSCFV5QARF948FZWNG5"])
USERS = st.none() | st.sampled_from(["alice", "bob"])
GROUPS = st.none() | st.sampled_from(["g1", "g2"])
CONTENT = st.fixed_dictionaries({
    "pageIndex": st.integers(0, 3),
    "customData": st.dictionaries(st.text(max_size=3),
                                  st.integers(-2 ** 63, 2 ** 63 - 1) | st.text(max_size=3),
                                  max_size=2),
})


class LogMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp())
        self.log = open_log(self.dir / "log")
        self.projector = Projector(self.log, self.dir / "read.sqlite")
        # live: events handed over by the writer; teardown's replay reads them from the log
        self.writer = Writer(self.log, on_commit=self.projector.offer)
        self.writer.start()
        self.read = ReadModel(self.dir / "read.sqlite")
        self.expected: dict[tuple[str, str], dict] = {}
        self.last_revision = 0
        self.execute([UploadDocument("d", None, "00", 1, False, None)])

    def execute(self, commands: list) -> list:
        outcomes = self.writer.execute(commands)
        for outcome in outcomes:
            if isinstance(outcome, Accepted) and outcome.revision:
                assert outcome.revision > self.last_revision
                self.last_revision = outcome.revision
        self.projector.catch_up()
        return outcomes

    @rule(layer=LAYERS, annotation_id=IDS, content=CONTENT, user=USERS, group=GROUPS)
    def create(self, layer, annotation_id, content, user, group):
        [outcome] = self.execute([CreateAnnotation("d", layer, annotation_id, content, group,
                                                   user)])
        key = (layer, annotation_id)
        assert isinstance(outcome, Rejected) == (key in self.expected)
        if key not in self.expected:
            self.expected[key] = {"id": annotation_id, "content": content, "createdBy": user,
                                  "updatedBy": user, "group": group}

    @rule(layer=LAYERS, annotation_id=IDS, content=CONTENT, user=USERS,
          group=GROUPS | st.just("keep"))
    def update(self, layer, annotation_id, content, user, group):
        keep = group == "keep"
        [outcome] = self.execute([UpdateAnnotation("d", layer, annotation_id, content, user,
                                                   group=None if keep else group,
                                                   keep_group=keep)])
        key = (layer, annotation_id)
        assert isinstance(outcome, Rejected) == (key not in self.expected)
        if key in self.expected:
            record = self.expected[key]
            target = record["group"] if keep else group
            if same_json(record["content"], content) and record["group"] == target:
                return  # already as asked: nothing is recorded, not even who asked
            record.update(content=content, updatedBy=user, group=target)

    @rule(layer=LAYERS, annotation_id=IDS)
    def delete(self, layer, annotation_id):
        [outcome] = self.execute([DeleteAnnotation("d", layer, annotation_id)])
        assert isinstance(outcome, Rejected) == ((layer, annotation_id) not in self.expected)
        self.expected.pop((layer, annotation_id), None)

    @precondition(lambda self: self.expected)
    @rule(layer=LAYERS)
    def delete_all(self, layer):
        ids = self.read.live_annotation_ids("d", layer)
        self.execute([DeleteAnnotation("d", layer, i, missing_ok=True) for i in ids])
        for key in [k for k in self.expected if k[0] == layer]:
            del self.expected[key]

    @invariant()
    def read_model_matches_the_expected_state(self):
        actual = {}
        for layer in ["", "a", "b/c"]:
            for record in self.read.iter_records("d", layer):
                parsed = orjson.loads(record)
                actual[(layer, parsed["id"])] = parsed
        assert actual == self.expected

    def teardown(self):
        check_replay_and_close(self)


LogMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=25,
                                        deadline=None)
test_log_state_machine = LogMachine.TestCase
