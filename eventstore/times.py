"""ISO 8601 times as annolog reads them: one home for turning a client's text into UTC."""

from __future__ import annotations

from datetime import UTC, datetime


def utc(text: str) -> datetime:
    """``text`` (``Z``, an offset, or none, which means UTC) as an aware UTC datetime.
    Raises ValueError for text that is no time, or one UTC cannot hold (year 1 at +02:00)."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        if moment.tzinfo is None:
            return moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)
    except (ValueError, OverflowError):
        raise ValueError(f"{text[:60]!r} is not an ISO 8601 time UTC can hold") from None


def utc_micro_text(moment: datetime) -> str:
    """The read model's form: microseconds always written, so text sorts as time does."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
