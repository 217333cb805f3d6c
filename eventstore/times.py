"""ISO 8601 times as annolog reads them: one home for turning a client's text into UTC."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any


def utc(text: str) -> datetime:
    """``text`` (``Z``, an offset, or none, which means UTC) as an aware UTC datetime.
    Raises ValueError for text that is no time; a time UTC cannot hold (year 1 at +02:00,
    year 9999 at -02:00) becomes UTC's first or last moment."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text[:60]!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # year 1 at +02:00 is before UTC's first moment: the nearest one
        return (datetime.min if moment.year == 1 else datetime.max).replace(tzinfo=UTC)


# isoformat, never strftime: glibc's %Y writes the year 310 as "310", which no reader takes.


def utc_micro_text(moment: datetime) -> str:
    """The read model's form: microseconds always written, so text sorts as time does."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def utc_second_text(moment: datetime) -> str:
    """Whole seconds in UTC, as Instant JSON exports write times."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


def pdf_date(moment: datetime) -> str:
    """A PDF date string (PDF 32000-1, 7.9.4), in UTC."""
    text = moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds")
    return "D:" + text.replace("-", "").replace("T", "").replace(":", "") + "Z"


def read_model_time(timestamp: Any) -> str:
    """An event's timestamp (a datetime, or still tagged as the log stores it when read
    raw) in the read model's form (``utc_micro_text``), quickly: it runs for every event."""
    if isinstance(timestamp, dict):
        return stored_time_text(timestamp["_data_"])
    text = timestamp.isoformat(timespec="microseconds")  # far cheaper than strftime
    if text.endswith("+00:00"):
        return text[:-6] + "Z"
    return utc_micro_text(timestamp.astimezone(UTC))


def stored_time_text(text: str) -> str:
    """A timestamp as the log stores it (an isoformat, in UTC) in the read model's form."""
    if text.endswith("+00:00"):
        return text[:19] + (text[19:26] if text[19:20] == "." else ".000000") + "Z"
    return read_model_time(datetime.fromisoformat(text))


def iso_of_pdf_date(value: Any) -> str | None:
    """A PDF date (D:YYYYMMDDHHmmSS with an offset or Z) as ISO 8601 in UTC, or None."""
    if value is None:
        return None
    match = re.match(r"D:(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?([Z+\-])?(\d{2})?'?"
                     r"(\d{2})?", str(value))
    if match is None:
        return None
    year, month, day, hour, minute, second, sign, off_h, off_m = match.groups()
    offset = "Z" if sign in (None, "Z") else f"{sign}{off_h or '00'}:{off_m or '00'}"
    try:
        moment = utc(f"{year}-{month or '01'}-{day or '01'}T{hour or '00'}:{minute or '00'}:"
                     f"{second or '00'}{offset}")
    except ValueError:
        return None
    return utc_second_text(moment)
