"""Times as annolog reads them: any ISO 8601 time, in UTC."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from eventstore.times import utc, utc_second_text


@pytest.mark.parametrize("text, expected", [
    ("2026-12-06T10:00:00+02:00", "2026-12-06T08:00:00Z"),
    ("2026-12-06T10:00:00", "2026-12-06T10:00:00Z"),  # no offset: UTC
    ("0001-01-01T00:00:00+02:00", "0001-01-01T00:00:00Z"),  # before UTC's first moment
    ("9999-12-31T23:00:00-02:00", "9999-12-31T23:59:59Z"),  # after its last
])
def test_a_time_becomes_utc_or_its_nearest_moment(text, expected):
    assert utc_second_text(utc(text)) == expected


@pytest.mark.parametrize("text", ["", "yesterday", "2026-13-01T00:00:00Z"])
def test_text_that_is_no_time_is_refused(text):
    with pytest.raises(ValueError, match="is not an ISO 8601 time"):
        utc(text)


def test_the_nearest_moments_are_aware():
    assert utc("0001-01-01T00:00:00+02:00") == datetime.min.replace(tzinfo=UTC)
