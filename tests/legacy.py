"""Logs as annolog 0.7 and 0.8 wrote them, for the tests that read such logs."""

from __future__ import annotations

from typing import Any

from ulid import ULID

from eventstore.domain import (
    Document,
    LayerSections,
    aggregate_from_head,
    document_stream_id,
    sections_stream_id,
)
from eventstore.log import EventLog


def append_legacy_comments(log: EventLog, document_id: str, layer: str,
                           comments: list[dict[str, Any]]) -> int:
    """Append what 0.8 wrote for comments: the layer's sections holding them whole. Run it
    with no writer running on the log (a writer caches heads). Returns the revision."""
    document = log.heads([document_stream_id(document_id)])[document_stream_id(document_id)][0]
    assert not isinstance(document, Document.Deleted)
    stream_id = sections_stream_id(document.instance, layer)
    found = log.heads([stream_id]).get(stream_id)
    fields = dict(document_id=document_id, instance=document.instance, layer=layer,
                  request_id=str(ULID()))
    if found is None:
        aggregate = LayerSections._create(LayerSections.Started, id=stream_id,
                                          sections={"comments": comments}, **fields)
    else:
        aggregate = aggregate_from_head(found[0])
        sections = {**found[0].sections, "comments": comments}
        aggregate.trigger_event(LayerSections.Changed, sections=sections, **fields)
    return log.append_encoded(log.encode(aggregate.collect_events()))[-1]
