"""The log's transcoder: the library's JSON wire format, written and read with orjson.

The library's ``JSONTranscoder`` turns *any* nested object shaped ``{"_type_": …, "_data_": …}``
back into a Python object on read. Annotation content is client data, so a ``customData``
of that shape would come back as a UUID or fail the replay. Only top-level event fields are
ever tagged here (our events hold no other non-JSON values), so nested client data is
returned exactly as it was stored.
"""

from __future__ import annotations

from typing import Any

import orjson
from eventsourcing.persistence import Transcoder, Transcoding, TranscodingNotRegisteredError

from eventstore.errors import EncodingError


class TopLevelOrjsonTranscoder(Transcoder):
    def __init__(self) -> None:
        self.types: dict[type, Transcoding] = {}
        self.names: dict[str, Transcoding] = {}

    def register(self, transcoding: Transcoding) -> None:
        self.types[transcoding.type] = transcoding
        self.names[transcoding.name] = transcoding

    def encode(self, obj: Any) -> bytes:
        if not isinstance(obj, dict):
            raise TranscodingNotRegisteredError(f"event state must be a dict, not {type(obj)}")
        state = obj
        for key, value in obj.items():  # inline, no call per field: this runs per event
            transcoding = self.types.get(type(value))
            if transcoding is not None:
                if state is obj:
                    state = dict(obj)
                state[key] = {"_type_": transcoding.name, "_data_": transcoding.encode(value)}
        try:
            return orjson.dumps(state)
        except orjson.JSONEncodeError as error:
            raise EncodingError(str(error)) from None

    def decode(self, data: bytes) -> Any:
        state = orjson.loads(data)
        for key, value in state.items():
            if type(value) is dict and len(value) == 2 and "_type_" in value and "_data_" in value:
                transcoding = self.names.get(value["_type_"])
                if transcoding is not None:
                    state[key] = transcoding.decode(value["_data_"])
        return state


def timestamp_sql(state: str) -> str:
    """SQL that reads an event's stored timestamp text (UTC isoformat) from its JSON
    ``state``, where this transcoder tags it."""
    return f"json_extract({state}, '$.timestamp._data_')"
