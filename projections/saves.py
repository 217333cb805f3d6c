"""A whole-document save: an Instant JSON export that means "this is the layer now" (what a
viewer's ``exportInstantJSON()`` gives), recorded as the difference from what the layer
holds, and merged three ways when the save names the revision its export was based on.

For each record (annotations and comments by id, the other sections each as a whole), with
``mine`` the save's, ``theirs`` the layer's now and ``base`` the layer's at the save's base
revision (None where absent):

- mine equals theirs: unchanged, nothing is recorded;
- no base revision given, or theirs equals base (no one else changed it since): mine is
  recorded (a create, an update or a delete);
- mine equals base (this save did not change it, someone else did): theirs stays (merged);
- otherwise both changed it: a conflict; theirs stays, and the save reports it.

"Equal" is equal as exported Instant JSON (what ``GET …/document.json`` gives), so a viewer
that re-exports what it loaded changes nothing (the times and defaults a viewer fills in on
records that left them out do not count). A record standing for an annotation of the
PDF (``pdfObjectId``) that the save leaves out is kept unless the save lists it in
``skippedPdfObjectIds``: a viewer exports only what differs from its PDF.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from eventstore.commands import (
    Command,
    CreateAnnotation,
    CreateComment,
    DeleteAnnotation,
    DeleteComment,
    NewAttachment,
    SetSections,
    UpdateAnnotation,
    UpdateComment,
)
from eventstore.domain import SECTIONS, same_json
from projections.instant_json import (
    DEFAULTS,
    OMITTED,
    TIMESTAMP_KEYS,
    ImportPlan,
    canonical_timestamp,
    export_annotation,
)
from projections.queries import ReadModel, instant_comment
from projections.sections import export_sections

Sees = Callable[[dict[str, Any], str], bool]  # may a caller view this record (of a kind)
OTHER_SECTIONS = tuple(name for name in SECTIONS if name != "comments")
OUTCOMES = ("created", "updated", "deleted", "unchanged", "merged")


@dataclass
class View:
    """A layer as a save compares it: every record in its exported form."""

    annotations: dict[str, dict[str, Any]]
    comments: dict[str, dict[str, Any]]
    sections: dict[str, list[dict[str, Any]]]
    stored: dict[str, list[dict[str, Any]]]  # the other sections as stored (or sent)


def layer_view(read_model: ReadModel, document_id: str, layer: str, upto: int | None,
               sees: Sees | None = None) -> View:
    """The layer at revision ``upto`` (now when None), as a caller who ``sees`` only some
    records exported it (a save can neither keep nor delete what its caller never saw)."""
    records = [r for r in map(orjson.loads, read_model.layer_state(document_id, layer, upto))
               if sees is None or sees(r, "annotations")]
    comments = [instant_comment(r) for r in read_model.comment_state(document_id, layer, upto)
                if sees is None or sees(r, "comments")]
    stored = read_model.sections(document_id, layer, upto, comments=False)
    return View({r["id"]: export_annotation(r) for r in records},
                _by_id(export_sections({"comments": comments}, canonical_timestamp)),
                export_sections(stored, canonical_timestamp), stored)


def incoming_view(plan: ImportPlan) -> View:
    """A checked save in the same form."""
    stored = {name: plan.sections[name] for name in OTHER_SECTIONS if name in plan.sections}
    return View({annotation_id: export_annotation({"id": annotation_id, "content": content})
                 for annotation_id, content, _ in plan.annotations},
                _by_id(export_sections({"comments": plan.sections.get("comments", [])},
                                       canonical_timestamp)),
                export_sections(stored, canonical_timestamp), stored)


def as_loaded(record: Any, reference: Any) -> Any:
    """``record`` (a save's annotation) without what a viewer fills in on loading
    ``reference`` (the stored record it compares with), where ``reference`` left it out:
    'createdAt' and 'updatedAt' (the moment it loaded it), and keys at the engine's default
    ('color' and 'icon' of a note, ...). That alone is no change: compared without them, a
    record is unchanged; changed anyway, it is saved as sent, these keys included. A key
    whose default is the viewer's own choice (None in DEFAULTS) counts, as a user may have
    set it."""
    if record is None or reference is None:
        return record
    defaults = DEFAULTS.get(str(record.get("type")), {})
    filled = [key for key, value in record.items() if key not in reference and (
        key in TIMESTAMP_KEYS or (key in OMITTED and same_json(OMITTED[key], value))
        or (defaults.get(key) is not None and same_json(defaults[key], value)))]
    return {k: v for k, v in record.items() if k not in filled} if filled else record


def _by_id(sections: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    return {record["id"]: record for record in sections.get("comments", [])}


@dataclass
class SavePlan:
    """The commands that record a save, how each record fared, and the conflicts."""

    commands: list[Command] = field(default_factory=list)
    refused: list[dict[str, Any]] = field(default_factory=list)  # what the caller may not
    done: list[tuple[str, str, str]] = field(default_factory=list)  # per command: kind, id, outcome
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    attachments: set[str] = field(default_factory=set)  # those the commands bring


def merge(mine: Any, theirs: Any, base: Any, based: bool,
          loaded: Callable[[Any, Any], Any] = lambda record, _: record) -> str:
    """How one record of a save fares (see the module's docstring); ``loaded(mine,
    reference)`` is mine as compared with ``reference``."""
    if same_json(loaded(mine, theirs), theirs):
        return "unchanged"
    if not based or same_json(theirs, base):
        return "apply"
    if same_json(loaded(mine, base), base):
        return "merged"
    return "conflict"


def plan_save(document_id: str, layer: str, plan: ImportPlan, theirs: View,
              base: View | None, versions: Mapping[str, Mapping[str, int]], *,
              sections: bool = True) -> SavePlan:
    """The commands that make the layer ``plan``'s document, record by record; ``versions``
    holds the live version of each annotation and comment, so that a record changed while
    the save is written is refused (and reported) rather than overwritten. Without
    ``sections``, the save leaves the other sections as they are."""
    mine = incoming_view(plan)
    if not sections:
        mine.sections, mine.stored = dict(theirs.sections), dict(theirs.stored)
    removed = {record_id for _, record_id in plan.removed}
    for annotation_id, record in theirs.annotations.items():
        if isinstance(record.get("pdfObjectId"), int) and annotation_id not in removed:
            mine.annotations.setdefault(annotation_id, record)  # the PDF still shows it
    saving = SavePlan()
    contents = {annotation_id: (content, references)
                for annotation_id, content, references in plan.annotations}
    brought = {a.attachment_id: a for a in plan.attachments.values()}
    sent_comments = {c["id"]: c for c in plan.sections.get("comments", [])}

    def annotation(annotation_id: str, kind: str) -> Command:
        version = versions["annotations"].get(annotation_id)
        if kind == "deleted":
            return DeleteAnnotation(document_id, layer, annotation_id, missing_ok=True,
                                    base_version=version)
        content, references = contents[annotation_id]
        attachments = tuple(NewAttachment(r, brought[r].content_type, len(brought[r].data),
                                          brought[r].sha256)
                            for r in references if r in brought)
        saving.attachments.update(a.attachment_id for a in attachments)
        if kind == "created":
            return CreateAnnotation(document_id, layer, annotation_id, content, None, None,
                                    references, attachments)
        return UpdateAnnotation(document_id, layer, annotation_id, content, None,
                                references=references, attachments=attachments,
                                base_version=version)

    def comment(comment_id: str, kind: str) -> Command:
        version = versions["comments"].get(comment_id)
        if kind == "deleted":
            return DeleteComment(document_id, layer, comment_id, missing_ok=True,
                                 base_version=version)
        content = {k: v for k, v in sent_comments[comment_id].items() if k != "id"}
        if kind == "created":
            return CreateComment(document_id, layer, comment_id, content, None, None)
        return UpdateComment(document_id, layer, comment_id, content, None,
                             base_version=version)

    writes = _records(saving, "annotation", mine.annotations, theirs.annotations,
                      base.annotations if base else None, annotation, as_loaded)
    comment_writes = _records(saving, "comment", mine.comments, theirs.comments,
                              base.comments if base else None, comment)
    target = _sections(saving, mine, theirs, base)
    # Roots before their comments; comments deleted before the roots that would take them.
    sections_write: list[Planned] = [] if target is None else [
        (SetSections(document_id, layer, target, replace=True), ("sections", "", "updated"))]
    ordered = writes["write"] + comment_writes["write"] + sections_write + \
        comment_writes["delete"] + writes["delete"]
    saving.commands = [command for command, _ in ordered]
    saving.done = [done for _, done in ordered]
    return saving


def unwritten(saving: SavePlan, index: int, error: Exception, forbidden: bool) -> None:
    """A command of the save that was refused when written: the record changed in the
    meantime (a conflict), or the caller may not change it (``forbidden``)."""
    kind, record_id, outcome = saving.done[index]
    saving.counts[outcome] -= 1
    if forbidden:
        saving.refused.append({"kind": kind, "id": record_id, "reason": str(error)})
        return
    saving.conflicts.append({"kind": kind, "id": record_id,
                             "current": getattr(error, "current", None),
                             "reason": str(error)})


Planned = tuple[Command, tuple[str, str, str]]


def _records(saving: SavePlan, kind: str, mine: dict[str, Any], theirs: dict[str, Any],
             base: dict[str, Any] | None, command: Callable[[str, str], Command],
             loaded: Callable[[Any, Any], Any] = lambda record, _: record
             ) -> dict[str, list[Planned]]:
    """Merge records by id; the commands that write them, and those that delete them."""
    commands: dict[str, list[Planned]] = {"write": [], "delete": []}
    for record_id in dict.fromkeys([*theirs, *mine]):
        ours, current = mine.get(record_id), theirs.get(record_id)
        fate = merge(ours, current, (base or {}).get(record_id), base is not None, loaded)
        if fate == "conflict":
            saving.conflicts.append({"kind": kind, "id": record_id, "current": current})
            continue
        if fate != "apply":
            saving.counts[fate] += 1
            continue
        done = "created" if current is None else "deleted" if ours is None else "updated"
        saving.counts[done] += 1
        commands["delete" if done == "deleted" else "write"].append(
            (command(record_id, done), (kind, record_id, done)))
    return commands


def _sections(saving: SavePlan, mine: View, theirs: View, base: View | None
              ) -> dict[str, list[dict[str, Any]]] | None:
    """Each other section merged as a whole (as stored, or as sent when the save's is
    recorded); the sections to set, None when none changes."""
    target, changed = {}, False
    for name in OTHER_SECTIONS:
        ours, current = mine.sections.get(name), theirs.sections.get(name)
        kept = theirs.stored.get(name)
        fate = merge(ours, current, base.sections.get(name) if base else None,
                     base is not None)
        if fate == "conflict":
            saving.conflicts.append({"kind": name, "id": name, "current": current})
        elif fate == "apply":
            saving.counts["created" if current is None else "deleted" if ours is None
                          else "updated"] += 1
            changed, kept = True, mine.stored.get(name)
        elif ours is not None or current is not None:
            saving.counts[fate] += 1
        if kept:
            target[name] = kept
    return target if changed else None
