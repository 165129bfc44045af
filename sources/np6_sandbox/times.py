"""Instants as the NP6 API writes and reads them: epoch milliseconds and ISO-8601 UTC strings."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MICROSECOND = timedelta(microseconds=1)


def parse_datetime(text: str) -> datetime:
    """An aware UTC datetime from an ISO date, an ISO datetime (`Z`, an offset, or naive = UTC,
    any number of fractional digits) or epoch milliseconds written as digits.

    Raises ValueError on anything else. NP6 documents its filters as "an ISO format date or a
    timestamp" (np6-api.md §1.5); the sandbox reads a timestamp as milliseconds.
    """
    text = text.strip()
    if text.isdigit():
        return _EPOCH + timedelta(milliseconds=int(text))
    if not text[:1].isdigit():
        raise ValueError(f"not a date, datetime or epoch-ms timestamp: {text!r}")
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def to_ms(moment: datetime) -> int:
    """Epoch milliseconds, rounding a sub-millisecond remainder up.

    Rounding up keeps both query bounds exact for integer timestamps: `ts >= 10.0005 s` and
    `ts < 10.0005 s` are `ts >= 10001` and `ts < 10001` in milliseconds.
    """
    micros = (moment - _EPOCH) // _MICROSECOND
    return -(-micros // 1000)


def parse_ms(text: str) -> int:
    """`parse_datetime` then `to_ms`: how query parameters become bounds."""
    return to_ms(parse_datetime(text))


def from_ms(ms: int) -> datetime:
    return _EPOCH + timedelta(milliseconds=ms)


def iso_z(ms: int, digits: int = 3) -> str:
    """`2026-10-01T08:00:00.67Z`: UTC with at most `digits` fractional digits, trailing zeros
    dropped, the way NP6 management objects print dates (0 to 7 digits occur)."""
    text = from_ms(ms).strftime("%Y-%m-%dT%H:%M:%S")
    fraction = f"{ms % 1000:03d}0000"[:digits].rstrip("0")
    return f"{text}.{fraction}Z" if fraction else f"{text}Z"
