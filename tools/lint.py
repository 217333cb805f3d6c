"""``annolog lint``: stored records that break the current rules, so that an operator can
repair them with ordinary updates and deletes before a client trips over them (the Web SDK
refuses a whole layer for one bad record)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

import orjson

from eventstore.names import name_problem
from eventstore.validation import ContentError, accepted_content
from projections.queries import DocumentRow, ReadModel
from projections.sections import plan_sections


@dataclass(frozen=True)
class Finding:
    document_id: str
    layer: str
    record: str  # "annotation 'x'", "comments[0]", "layer", "document"
    reason: str

    def line(self) -> str:
        layer = "the default layer" if self.layer == "" else f"layer {self.layer!r}"
        return f"document {self.document_id!r}, {layer}, {self.record}: {self.reason}"

    def json(self) -> bytes:
        return orjson.dumps(asdict(self))


def lint(read_model: ReadModel) -> Iterator[Finding]:
    """Every finding, document by document, layer by layer."""
    for document in read_model.live_documents():
        problem = name_problem(document.document_id)
        if problem is not None:
            yield Finding(document.document_id, "", "document", f"its id: {problem}")
        for layer in ["", *read_model.layers(document.document_id)]:
            yield from _layer_findings(read_model, document, layer)


def _layer_findings(read_model: ReadModel, document: DocumentRow, layer: str
                    ) -> Iterator[Finding]:
    def found(record: str, reason: str) -> Finding:
        return Finding(document.document_id, layer, record, reason)

    if layer and (problem := name_problem(layer)) is not None:
        yield found("layer", f"its name: {problem}")
    ids = []
    for text in read_model.iter_records(document.document_id, layer):
        record = orjson.loads(text)
        ids.append(record["id"])
        yield from (found(f"annotation {record['id']!r}", reason)
                    for reason in _record_problems(record, document.page_count))
    sections = read_model.sections(document.document_id, layer)
    if sections:
        problems: list[tuple[str, str]] = []
        plan_sections(sections, document.page_count, set(ids),
                      lambda path, reason: problems.append((path, reason)))
        yield from (found(path.removeprefix("$."), reason) for path, reason in problems)


def _record_problems(record: dict[str, Any], page_count: int | None) -> list[str]:
    problems = []
    id_problem = name_problem(record["id"])
    if id_problem is not None:
        problems.append(f"its id: {id_problem}; delete it and create it again under another "
                        "id")
    try:
        accepted_content(record["content"], page_count)
    except ContentError as error:
        problems.append(str(error))
    return problems
