"""Half-open time windows: the unit of paging, checkpointing and retry for NP6 event reads.

NP6 event endpoints take `start` and `end` and answer one bare JSON array, with no paging
(e.g. https://documentation.np6.com/api/actionevent). A read is therefore bounded by a window
`[start, end)`: start inclusive, end exclusive, so consecutive windows share a boundary instant
and no event is read twice or lost::

    start_date                                                   now - safety_margin
        |---- w0 ----|---- w1 ----|---- w2 ----| ... |---- wn ----|
                     ^ end of w0 is the start of w1

Everything here is pure: no clock is read unless the caller leaves `now` out, and nothing does
I/O. Instants have millisecond resolution because NP6 event timestamps are epoch milliseconds
(the `timestamp` of every event); a sub-millisecond instant is rounded *up*, which keeps the
half-open bounds exact for integer-millisecond events.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import pendulum
from pendulum import DateTime

from .errors import NP6ConfigError

T = TypeVar("T")

EPOCH = pendulum.datetime(1970, 1, 1, tz="UTC")
_MS = dt.timedelta(milliseconds=1)

# Epoch-millisecond values below this (1973-03-03) are almost surely epoch seconds or a
# yyyymmdd date typed by hand, so they are refused rather than read as 1970.
_MIN_EPOCH_MS = 10**11

_UNITS = {"ms": _MS, "s": dt.timedelta(seconds=1), "m": dt.timedelta(minutes=1),
          "h": dt.timedelta(hours=1), "d": dt.timedelta(days=1), "w": dt.timedelta(weeks=1)}
_RELATIVE = re.compile(r"([+-])\s*(\d+)\s*(ms|s|m|h|d|w)")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)")
_DURATION = re.compile(rf"(?:{_DURATION_PART.pattern}\s*)+")

INSTANT_FORMS = (
    "an ISO date (2026-10-01), an ISO datetime (2026-10-01T06:00:00Z, offsets and fractions "
    "allowed, no offset = UTC), epoch milliseconds (1790812800000), 'now', 'today', "
    "or an offset from now such as '-3d' or '-6h'"
)
DURATION_FORMS = (
    "a positive duration such as '1d', '6h', '30m', '90s', '1w', '1h30m', "
    "ISO-8601 'PT1H' or 'P1D', or a number of seconds"
)


# --- instants -------------------------------------------------------------------------------


def instant_to_ms(instant: dt.datetime) -> int:
    """Epoch milliseconds of an instant, rounded up to the next whole millisecond."""
    utc = to_utc(instant)
    whole, micro = divmod(utc.microsecond, 1000)
    return calendar.timegm(utc.utctimetuple()) * 1000 + whole + (1 if micro else 0)


def ms_to_instant(ms: int) -> DateTime:
    """The UTC instant `ms` milliseconds after the Unix epoch."""
    return EPOCH + dt.timedelta(milliseconds=ms)


def to_utc(value: dt.datetime | dt.date) -> DateTime:
    """A pendulum UTC DateTime for a datetime (naive = UTC) or a date (its midnight UTC)."""
    if not isinstance(value, dt.datetime):
        return pendulum.datetime(value.year, value.month, value.day, tz="UTC")
    return pendulum.instance(value, tz="UTC").in_timezone("UTC")


def format_instant(instant: dt.datetime) -> str:
    """ISO-8601 UTC with `Z`; milliseconds only when non-zero: `2026-10-01T00:00:00.500Z`."""
    utc = ms_to_instant(instant_to_ms(instant))
    text = f"{utc.year:04d}-" + utc.strftime("%m-%dT%H:%M:%S")
    millis = utc.microsecond // 1000
    return f"{text}.{millis:03d}Z" if millis else f"{text}Z"


def parse_instant(value: Any, *, now: dt.datetime | None = None, setting: str = "") -> DateTime:
    """Read a configured point in time as a UTC DateTime.

    Args:
        value: `2026-10-01`, `2026-10-01T06:00:00Z` (offsets, fractions, or no offset = UTC),
            epoch milliseconds as int or digit string, a datetime or date, `now`, `today`
            (midnight UTC), or an offset from now such as `-3d`, `-6h`, `+30m`.
        now: the reference for `now`, `today` and offsets; the current time when left out.
        setting: the setting's name, put at the start of the error message.

    Raises:
        NP6ConfigError: one line naming the value and the accepted forms.
    """
    try:
        instant = _read_instant(value, now)
    except (ValueError, TypeError, OverflowError):
        instant = None
    if instant is None:
        prefix = f"{setting}: " if setting else ""
        raise NP6ConfigError(
            f"{prefix}cannot read {value!r} as a point in time{_epoch_hint(value)}: use {INSTANT_FORMS}"
        )
    return instant


def _epoch_hint(value: Any) -> str:
    """Why a number was refused: small values are epoch seconds or yyyymmdd, not milliseconds."""
    digits = str(value).strip()
    if isinstance(value, bool) or not digits.isdigit():
        return ""
    return " (epoch milliseconds before 1973 are refused: this looks like epoch seconds or yyyymmdd)"


def _read_instant(value: Any, now: dt.datetime | None) -> DateTime | None:
    """The instant `value` denotes, or None when it is none of the accepted forms."""
    if isinstance(value, bool):
        return None
    if isinstance(value, dt.date):
        return to_utc(value)
    if isinstance(value, int):
        return _from_epoch_ms(value)
    if isinstance(value, str):
        return _read_instant_text(value.strip(), now)
    return None


def _read_instant_text(text: str, now: dt.datetime | None) -> DateTime | None:
    """The instant a configuration string denotes, or None."""
    reference = to_utc(now) if now is not None else pendulum.now("UTC")
    lowered = text.lower()
    if lowered == "now":
        return reference
    if lowered == "today":
        return reference.start_of("day")
    if text.isdigit():
        return _from_epoch_ms(int(text))
    relative = _RELATIVE.fullmatch(lowered)
    if relative:
        sign, amount, unit = relative.groups()
        offset = _UNITS[unit] * int(amount)
        return reference + offset if sign == "+" else reference - offset
    parsed = pendulum.parse(text, exact=True)
    if isinstance(parsed, dt.date) and not isinstance(parsed, dt.time):
        return to_utc(parsed)
    return None  # a time of day, a duration or an interval: not a point in time


def _from_epoch_ms(ms: int) -> DateTime | None:
    """The instant for plausible epoch milliseconds, None for values that look like something else."""
    return ms_to_instant(ms) if ms >= _MIN_EPOCH_MS else None


# --- durations ------------------------------------------------------------------------------


def parse_duration(value: Any, *, setting: str = "") -> dt.timedelta:
    """Read a configured length of time as a positive timedelta.

    Args:
        value: `1d`, `6h`, `30m`, `90s`, `1w`, compounds like `1h30m`, ISO-8601 `PT1H` / `P1D`
            (no years or months: they have no fixed length), int/float seconds, or a timedelta.
        setting: the setting's name, put at the start of the error message.

    Raises:
        NP6ConfigError: zero, negative or unreadable values.
    """
    try:
        duration = _read_duration(value)
    except (ValueError, TypeError, OverflowError):
        duration = None
    if duration is None or duration <= dt.timedelta(0):
        prefix = f"{setting}: " if setting else ""
        raise NP6ConfigError(f"{prefix}cannot read {value!r} as a length of time: use {DURATION_FORMS}")
    return duration


def _read_duration(value: Any) -> dt.timedelta | None:
    """The timedelta `value` denotes, or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, dt.timedelta):
        return dt.timedelta(days=value.days, seconds=value.seconds, microseconds=value.microseconds)
    if isinstance(value, (int, float)):
        return dt.timedelta(seconds=value)
    if not isinstance(value, str):
        return None
    text = value.strip()
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return dt.timedelta(seconds=float(text))
    if text[:1].upper() == "P":
        return _read_iso_duration(text)
    if _DURATION.fullmatch(text.lower()):
        parts = _DURATION_PART.findall(text.lower())
        return sum((_UNITS[unit] * float(amount) for amount, unit in parts), dt.timedelta(0))
    return None


def _read_iso_duration(text: str) -> dt.timedelta | None:
    """An ISO-8601 duration (`PT1H`, `P1DT6H`, `P1W`) without years or months, or None."""
    parsed = pendulum.parse(text, exact=True)
    if not isinstance(parsed, pendulum.Duration) or parsed.years or parsed.months:
        return None
    return dt.timedelta(seconds=parsed.total_seconds())


# --- windows --------------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Window:
    """The half-open interval `[start, end)` of one NP6 read, in UTC at millisecond resolution.

    Built from any datetimes (naive = UTC); both ends are stored as pendulum UTC DateTimes
    rounded up to the millisecond. `start` must be before `end`.
    """

    start: DateTime
    end: DateTime

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", ms_to_instant(instant_to_ms(self.start)))
        object.__setattr__(self, "end", ms_to_instant(instant_to_ms(self.end)))
        if self.start >= self.end:
            raise ValueError(f"empty window: start {format_instant(self.start)} is not before end "
                             f"{format_instant(self.end)}")

    @classmethod
    def from_ms(cls, start_ms: int, end_ms: int) -> Window:
        """The window between two epoch-millisecond instants."""
        return cls(ms_to_instant(start_ms), ms_to_instant(end_ms))

    @property
    def start_ms(self) -> int:
        """Start as epoch milliseconds (inclusive)."""
        return instant_to_ms(self.start)

    @property
    def end_ms(self) -> int:
        """End as epoch milliseconds (exclusive)."""
        return instant_to_ms(self.end)

    @property
    def iso_start(self) -> str:
        """Start as `2026-10-01T00:00:00Z`, the form sent to NP6."""
        return format_instant(self.start)

    @property
    def iso_end(self) -> str:
        """End as `2026-10-02T00:00:00Z`, the form sent to NP6."""
        return format_instant(self.end)

    @property
    def duration(self) -> dt.timedelta:
        """Length of the window."""
        return dt.timedelta(milliseconds=self.end_ms - self.start_ms)

    def halves(self) -> tuple[Window, Window]:
        """Split at the midpoint (rounded down to the millisecond) into two adjacent windows.

        Raises:
            ValueError: the window is one millisecond long and cannot be split.
        """
        if self.end_ms - self.start_ms < 2:
            raise ValueError(f"window {self} is one millisecond long and cannot be split")
        middle = (self.start_ms + self.end_ms) // 2
        return Window.from_ms(self.start_ms, middle), Window.from_ms(middle, self.end_ms)

    def __str__(self) -> str:
        return f"[{self.iso_start}, {self.iso_end})"


def tile(start: dt.datetime, end: dt.datetime, size: Any) -> list[Window]:
    """Cover `[start, end)` with windows aligned to multiples of `size` since the Unix epoch.

    Alignment makes windows stable between runs: with `size=1d` every window is one UTC day
    (weeks start on Thursday, as 1970-01-01 did). Only the first and last window may be shorter.
    The result is consecutive, with no gap and no overlap, and its union is exactly
    `[start, end)`; it is empty when `start >= end`.

    Args:
        start: inclusive lower bound (naive = UTC).
        end: exclusive upper bound (naive = UTC).
        size: window length: a timedelta or anything `parse_duration` reads; whole milliseconds.

    Raises:
        NP6ConfigError: `size` is not a positive whole number of milliseconds.
    """
    size_ms = _size_ms(size)
    first, last = instant_to_ms(start), instant_to_ms(end)
    windows = []
    lower = first
    while lower < last:
        upper = min((lower // size_ms + 1) * size_ms, last)
        windows.append(Window.from_ms(lower, upper))
        lower = upper
    return windows


def cover(start: dt.datetime, end: dt.datetime, size: Any) -> list[Window]:
    """The windows a run reads over `[start, end)`: `tile`'s, except that a range no longer
    than `size` is one window even where it crosses an aligned boundary.

    An hourly run reads the last hour or so again; with daily windows, the run after midnight
    would otherwise ask every windowed endpoint twice (before and after 00:00) for no more data.
    """
    if start < end and instant_to_ms(end) - instant_to_ms(start) <= _size_ms(size):
        return [Window(start, end)]
    return tile(start, end, size)


def _size_ms(size: Any) -> int:
    """A window size in whole milliseconds."""
    duration = parse_duration(size, setting="window size")
    whole, rest = divmod(duration, _MS)
    if rest:
        raise NP6ConfigError(f"window size: {size!r} is not a whole number of milliseconds")
    return int(whole)


def plan_range(
    *,
    cursor: dt.datetime | None,
    start_date: dt.date,
    lookback: dt.timedelta,
    now: dt.datetime,
    safety_margin: dt.timedelta,
    end_date: dt.datetime | None = None,
) -> tuple[DateTime, DateTime]:
    """The `[from, to)` range a scheduled run should read.

    - from: `cursor - lookback` when a cursor exists (re-reads the last `lookback` to catch
      events NP6 publishes late; duplicates are removed on the event id downstream), else
      `start_date`; never before `start_date`.
    - to: `now - safety_margin` (events of the last moments may not be published yet, and the
      range is never in the future), or `end_date` if that is earlier (backfills).

    `from >= to` means there is nothing to read yet: `tile` then gives no window.

    Args:
        cursor: the end of the last range loaded, or None on the first run.
        start_date: the earliest instant ever read.
        lookback: how far before the cursor to start again.
        now: the current time (a parameter so that runs and tests are reproducible).
        safety_margin: how far behind `now` to stop.
        end_date: an optional fixed end, for backfills.
    """
    floor = to_utc(start_date)
    lower = max(to_utc(cursor) - lookback, floor) if cursor is not None else floor
    upper = to_utc(now) - safety_margin
    if end_date is not None:
        upper = min(upper, to_utc(end_date))
    return lower, upper


def batched(items: Iterable[T], n: int) -> Iterator[list[T]]:
    """Group `items` into lists of `n` (the last may be shorter): one list per commit.

    Raises:
        NP6ConfigError: `n` is less than 1.
    """
    if n < 1:
        raise NP6ConfigError(f"batch size must be at least 1, got {n!r}")
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) == n:
            yield batch
            batch = []
    if batch:
        yield batch
