"""The three-way merge of whole-document saves (projections.saves)."""

from __future__ import annotations

import pytest

from eventstore.commands import (
    CreateAnnotation,
    CreateComment,
    DeleteAnnotation,
    DeleteComment,
    SetSections,
    UpdateAnnotation,
)
from projections.instant_json import ImportPlan
from projections.saves import View, merge, plan_save

A, B, C = {"x": 1}, {"x": 2}, {"x": 3}


@pytest.mark.parametrize("mine, theirs, base, based, fate", [
    (A, A, None, False, "unchanged"),
    (A, A, B, True, "unchanged"),  # both made the same change
    (B, A, None, False, "apply"),  # no base: the last save wins
    (B, A, A, True, "apply"),  # only this save changed it
    (None, A, A, True, "apply"),  # only this save deleted it
    (A, None, None, True, "apply"),  # only this save created it
    (A, B, A, True, "merged"),  # only someone else changed it
    (None, A, None, True, "merged"),  # someone else created it since
    (A, None, A, True, "merged"),  # someone else deleted it since
    (B, C, A, True, "conflict"),  # both changed it, differently
    (None, B, A, True, "conflict"),  # deleted here, changed there
    (B, None, A, True, "conflict"),  # changed here, deleted there
    ({"x": 1.0}, A, A, True, "apply"),  # 1.0 is not 1 as JSON text
])
def test_merge(mine, theirs, base, based, fate):
    assert merge(mine, theirs, base, based) == fate


def note(text: str) -> dict:
    return {"v": 2, "type": "pspdfkit/note", "pageIndex": 0, "bbox": [1, 2, 3, 4],
            "opacity": 1, "text": {"format": "plain", "value": text}}


def test_the_commands_write_roots_first_delete_them_last_and_carry_versions():
    theirs = View({"old": {"id": "old", **note("old")}, "kept": {"id": "kept", **note("k")}},
                  {"gone": {"id": "gone", "rootId": "old"}}, {}, {})
    plan = ImportPlan(annotations=[("kept", note("changed"), ()), ("new", note("new"), ())],
                      sections={"comments": [{"id": "c", "v": 2, "type": "pspdfkit/comment",
                                              "rootId": "new", "text": {"format": "plain",
                                                                        "value": "hi"}}],
                                "bookmarks": [{"id": "b", "v": 1, "type": "pspdfkit/bookmark",
                                               "action": {"type": "goTo", "pageIndex": 0}}]})
    saving = plan_save("d", "", plan, theirs, None,
                       {"annotations": {"old": 4, "kept": 7}, "comments": {"gone": 2}})
    kinds = [type(c) for c in saving.commands]
    assert kinds == [UpdateAnnotation, CreateAnnotation, CreateComment, SetSections,
                     DeleteComment, DeleteAnnotation]
    update, *_, delete_comment, delete = saving.commands
    assert update.base_version == 7 and delete.base_version == 4
    assert delete_comment.base_version == 2
    assert saving.counts == {"created": 3, "updated": 1, "deleted": 2, "unchanged": 0,
                             "merged": 0}


def test_times_a_viewer_stamps_on_records_without_them_are_no_change():
    stored = {"id": "a", **note("a")}
    theirs = View({"a": stored}, {}, {}, {})
    stamped = {**note("a"), "createdAt": "2026-12-06T10:00:00Z",
               "updatedAt": "2026-12-06T10:00:01Z"}
    saving = plan_save("d", "", ImportPlan(annotations=[("a", stamped, ())]), theirs, None,
                       {"annotations": {"a": 1}, "comments": {}})
    assert saving.commands == [] and saving.counts["unchanged"] == 1
    moved = {**stamped, "bbox": [5, 6, 7, 8]}
    saving = plan_save("d", "", ImportPlan(annotations=[("a", moved, ())]), theirs, None,
                       {"annotations": {"a": 1}, "comments": {}})
    [update] = saving.commands
    assert update.content["createdAt"] == "2026-12-06T10:00:00Z"  # saved as sent


@pytest.mark.parametrize("filled, unchanged", [
    ({"color": "#FCED8C", "icon": "note"}, True),  # a note's defaults, as the SDK fills them
    ({"blendMode": "normal"}, True),  # what no value means, for every type
    ({"color": "#FF0000"}, False),  # not the default: the user's
    ({"icon": "comment"}, False),
])
def test_defaults_a_viewer_fills_in_are_no_change(filled, unchanged):
    theirs = View({"a": {"id": "a", **note("a")}}, {}, {}, {})
    saving = plan_save("d", "", ImportPlan(annotations=[("a", {**note("a"), **filled}, ())]),
                       theirs, None, {"annotations": {"a": 1}, "comments": {}})
    assert (saving.commands == []) is unchanged
