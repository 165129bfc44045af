"""Half-open windows, tiling, instant/duration parsing and run planning (pure, no I/O)."""

from __future__ import annotations

import datetime as dt

import pendulum
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sources.np6.errors import NP6ConfigError
from sources.np6.windows import (
    Window,
    batched,
    cover,
    format_instant,
    instant_to_ms,
    ms_to_instant,
    parse_duration,
    parse_instant,
    plan_range,
    tile,
)

UTC = dt.UTC
NOW = pendulum.datetime(2026, 10, 3, 12, 30, tz="UTC")
OCT_1 = pendulum.datetime(2026, 10, 1, tz="UTC")
OCT_1_MS = 1790812800000
DAY = dt.timedelta(days=1)
HOUR = dt.timedelta(hours=1)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0,
        microsecond: int = 0) -> pendulum.DateTime:
    return pendulum.datetime(year, month, day, hour, minute, second, microsecond, tz="UTC")


# --- parse_instant --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("2026-10-01", OCT_1, id="iso-date"),
        pytest.param("2026-10-01T06:00:00Z", utc(2026, 10, 1, 6), id="iso-datetime-z"),
        pytest.param("2026-10-01T08:00:00+02:00", utc(2026, 10, 1, 6), id="iso-offset"),
        pytest.param("2026-10-01T06:00:00.250Z", utc(2026, 10, 1, 6, 0, 0, 250000), id="iso-fraction"),
        pytest.param("2026-10-01T06:00:00", utc(2026, 10, 1, 6), id="naive-iso-is-utc"),
        pytest.param("  2026-10-01  ", OCT_1, id="surrounding-spaces"),
        pytest.param(OCT_1_MS, OCT_1, id="epoch-ms-int"),
        pytest.param(str(OCT_1_MS), OCT_1, id="epoch-ms-digits"),
        pytest.param(OCT_1_MS + 500, utc(2026, 10, 1, 0, 0, 0, 500000), id="epoch-ms-fraction"),
        pytest.param(dt.datetime(2026, 10, 1, 6), utc(2026, 10, 1, 6), id="naive-datetime-is-utc"),
        pytest.param(dt.datetime(2026, 10, 1, 8, tzinfo=dt.timezone(dt.timedelta(hours=2))),
                     utc(2026, 10, 1, 6), id="aware-datetime"),
        pytest.param(dt.date(2026, 10, 1), OCT_1, id="date"),
        pytest.param(pendulum.datetime(2026, 10, 1, 2, tz="Europe/Paris"), utc(2026, 10, 1),
                     id="pendulum-tz"),
        pytest.param("now", NOW, id="now"),
        pytest.param("NOW", NOW, id="now-any-case"),
        pytest.param("today", utc(2026, 10, 3), id="today-is-utc-midnight"),
        pytest.param("-3d", NOW - dt.timedelta(days=3), id="minus-days"),
        pytest.param("-6h", NOW - dt.timedelta(hours=6), id="minus-hours"),
        pytest.param("-90m", NOW - dt.timedelta(minutes=90), id="minus-minutes"),
        pytest.param("-1w", NOW - dt.timedelta(weeks=1), id="minus-week"),
        pytest.param("+30m", NOW + dt.timedelta(minutes=30), id="plus-minutes"),
    ],
)
def test_parse_instant_accepts(value: object, expected: pendulum.DateTime) -> None:
    parsed = parse_instant(value, now=NOW)
    assert parsed == expected
    assert parsed.utcoffset() == dt.timedelta(0)
    assert isinstance(parsed, pendulum.DateTime)


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("yesterday", id="word"),
        pytest.param("", id="empty"),
        pytest.param("2026-13-01", id="bad-month"),
        pytest.param("2026-10-01T25:00:00Z", id="bad-hour"),
        pytest.param("12:00", id="time-of-day"),
        pytest.param("P1D", id="duration"),
        pytest.param("2026-10-01/2026-10-02", id="interval"),
        pytest.param("-3 days", id="spelled-unit"),
        pytest.param("3d", id="offset-without-sign"),
        pytest.param("20261001", id="yyyymmdd-digits"),
        pytest.param(1790812800, id="epoch-seconds"),
        pytest.param(-5, id="negative"),
        pytest.param(1.5e12, id="float"),
        pytest.param(True, id="bool"),
        pytest.param(None, id="none"),
        pytest.param(["2026-10-01"], id="list"),
    ],
)
def test_parse_instant_rejects_with_one_line_naming_value(value: object) -> None:
    with pytest.raises(NP6ConfigError) as raised:
        parse_instant(value, now=NOW, setting="start_date")
    message = str(raised.value)
    assert message.startswith(f"start_date: cannot read {value!r}")
    assert "ISO date" in message and "epoch milliseconds" in message and "'-3d'" in message
    assert "\n" not in message


def test_parse_instant_hints_at_epoch_seconds() -> None:
    with pytest.raises(NP6ConfigError, match="looks like epoch seconds"):
        parse_instant("1790812800")


def test_parse_instant_defaults_now_to_the_clock() -> None:
    before = pendulum.now("UTC")
    parsed = parse_instant("now")
    assert before <= parsed <= pendulum.now("UTC")


# --- parse_duration -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("1d", DAY, id="day"),
        pytest.param("6h", 6 * HOUR, id="hours"),
        pytest.param("30m", dt.timedelta(minutes=30), id="minutes"),
        pytest.param("90s", dt.timedelta(seconds=90), id="seconds"),
        pytest.param("1w", dt.timedelta(weeks=1), id="week"),
        pytest.param("250ms", dt.timedelta(milliseconds=250), id="milliseconds"),
        pytest.param("1h30m", dt.timedelta(minutes=90), id="compound"),
        pytest.param(" 2D ", 2 * DAY, id="case-and-spaces"),
        pytest.param("1.5h", dt.timedelta(minutes=90), id="fraction"),
        pytest.param("PT1H", HOUR, id="iso-hours"),
        pytest.param("P1D", DAY, id="iso-day"),
        pytest.param("P1DT6H", 30 * HOUR, id="iso-compound"),
        pytest.param("P1W", dt.timedelta(weeks=1), id="iso-week"),
        pytest.param(3600, HOUR, id="int-seconds"),
        pytest.param(1.5, dt.timedelta(seconds=1.5), id="float-seconds"),
        pytest.param("3600", HOUR, id="digit-string-seconds"),
        pytest.param(HOUR, HOUR, id="timedelta"),
        pytest.param(pendulum.duration(hours=2), 2 * HOUR, id="pendulum-duration"),
    ],
)
def test_parse_duration_accepts(value: object, expected: dt.timedelta) -> None:
    assert parse_duration(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(0, id="zero"),
        pytest.param("0s", id="zero-text"),
        pytest.param(-60, id="negative"),
        pytest.param(dt.timedelta(hours=-1), id="negative-timedelta"),
        pytest.param("P1M", id="iso-month-has-no-fixed-length"),
        pytest.param("P1Y", id="iso-year"),
        pytest.param("1 day", id="spelled-unit"),
        pytest.param("1x", id="unknown-unit"),
        pytest.param("h", id="no-number"),
        pytest.param("", id="empty"),
        pytest.param(None, id="none"),
        pytest.param(True, id="bool"),
    ],
)
def test_parse_duration_rejects(value: object) -> None:
    with pytest.raises(NP6ConfigError) as raised:
        parse_duration(value, setting="window")
    assert str(raised.value).startswith(f"window: cannot read {value!r} as a length of time")
    assert "\n" not in str(raised.value)


# --- Window ---------------------------------------------------------------------------------


def test_window_text_forms() -> None:
    window = Window(OCT_1, OCT_1 + DAY)
    assert str(window) == "[2026-10-01T00:00:00Z, 2026-10-02T00:00:00Z)"
    assert (window.iso_start, window.iso_end) == ("2026-10-01T00:00:00Z", "2026-10-02T00:00:00Z")
    assert (window.start_ms, window.end_ms) == (OCT_1_MS, OCT_1_MS + 86_400_000)
    assert window.duration == DAY


def test_window_shows_milliseconds_only_when_non_zero() -> None:
    window = Window.from_ms(OCT_1_MS + 500, OCT_1_MS + 1000)
    assert str(window) == "[2026-10-01T00:00:00.500Z, 2026-10-01T00:00:01Z)"


def test_window_normalizes_to_utc_milliseconds() -> None:
    naive = dt.datetime(2026, 10, 1, 0, 0, 0, 1)
    offset = dt.datetime(2026, 10, 1, 2, tzinfo=dt.timezone(HOUR))
    window = Window(naive, offset)  # type: ignore[arg-type]  # plain datetimes are accepted too
    assert window.start == utc(2026, 10, 1, 0, 0, 0, 1000)  # rounded up: exact for integer-ms events
    assert window.end == utc(2026, 10, 1, 1)
    assert isinstance(window.start, pendulum.DateTime)


@pytest.mark.parametrize("end", [OCT_1, OCT_1 - HOUR], ids=["empty", "reversed"])
def test_window_refuses_empty(end: pendulum.DateTime) -> None:
    with pytest.raises(ValueError, match="empty window"):
        Window(OCT_1, end)


def test_window_is_frozen_and_hashable() -> None:
    window = Window(OCT_1, OCT_1 + DAY)
    with pytest.raises(AttributeError):
        window.start = OCT_1 + HOUR  # type: ignore[misc]
    assert {window, Window(OCT_1, OCT_1 + DAY)} == {window}


@pytest.mark.parametrize(
    ("length_ms", "middle_offset"),
    [(86_400_000, 43_200_000), (3, 1), (2, 1)],
    ids=["day", "odd-rounds-down", "two-ms"],
)
def test_halves_split_at_the_midpoint(length_ms: int, middle_offset: int) -> None:
    window = Window.from_ms(OCT_1_MS, OCT_1_MS + length_ms)
    left, right = window.halves()
    assert (left.start, left.end_ms, right.start_ms, right.end) == (
        window.start, OCT_1_MS + middle_offset, OCT_1_MS + middle_offset, window.end)


def test_one_millisecond_window_cannot_be_halved() -> None:
    with pytest.raises(ValueError, match="one millisecond"):
        Window.from_ms(OCT_1_MS, OCT_1_MS + 1).halves()


def test_instant_ms_round_trip() -> None:
    assert instant_to_ms(ms_to_instant(OCT_1_MS + 7)) == OCT_1_MS + 7
    assert instant_to_ms(dt.datetime(1969, 12, 31, 23, 59, 59, tzinfo=UTC)) == -1000
    assert format_instant(dt.datetime(2026, 10, 1, 0, 0, 0, 999999)) == "2026-10-01T00:00:01Z"


# --- tile -----------------------------------------------------------------------------------


def test_tile_day_windows_are_utc_days_clipped_at_both_ends() -> None:
    windows = tile(utc(2026, 10, 1, 6), utc(2026, 10, 3, 18), "1d")
    assert [str(w) for w in windows] == [
        "[2026-10-01T06:00:00Z, 2026-10-02T00:00:00Z)",
        "[2026-10-02T00:00:00Z, 2026-10-03T00:00:00Z)",
        "[2026-10-03T00:00:00Z, 2026-10-03T18:00:00Z)",
    ]


def test_tile_aligns_hours_from_the_epoch() -> None:
    windows = tile(utc(2026, 10, 1, 0, 30), utc(2026, 10, 1, 2), dt.timedelta(hours=1))
    assert [w.iso_start for w in windows] == ["2026-10-01T00:30:00Z", "2026-10-01T01:00:00Z"]


@pytest.mark.parametrize("end", [OCT_1, OCT_1 - DAY], ids=["equal", "reversed"])
def test_tile_is_empty_when_start_is_not_before_end(end: pendulum.DateTime) -> None:
    assert tile(OCT_1, end, DAY) == []


@pytest.mark.parametrize("size", ["0s", "-1h", dt.timedelta(microseconds=1500), "nope"])
def test_tile_refuses_bad_sizes(size: object) -> None:
    with pytest.raises(NP6ConfigError, match="window size"):
        tile(OCT_1, OCT_1 + DAY, size)


def test_cover_reads_a_range_shorter_than_a_window_in_one_request_across_midnight() -> None:
    windows = cover(utc(2026, 10, 1, 23), utc(2026, 10, 2, 1), "1d")
    assert [str(w) for w in windows] == ["[2026-10-01T23:00:00Z, 2026-10-02T01:00:00Z)"]


def test_cover_keeps_aligned_windows_for_a_range_longer_than_a_window() -> None:
    start, end = utc(2026, 10, 1, 6), utc(2026, 10, 2, 7)
    assert cover(start, end, "1d") == tile(start, end, "1d")
    assert [w.iso_end for w in cover(start, end, "1d")] == ["2026-10-02T00:00:00Z", "2026-10-02T07:00:00Z"]


@pytest.mark.parametrize("end", [OCT_1, OCT_1 - DAY], ids=["equal", "reversed"])
def test_cover_is_empty_when_start_is_not_before_end(end: pendulum.DateTime) -> None:
    assert cover(OCT_1, end, DAY) == []


SIZES_MS = st.one_of(
    st.sampled_from([1, 1000, 60_000, 3_600_000, 6 * 3_600_000, 86_400_000, 7 * 86_400_000]),
    st.integers(min_value=1, max_value=10 * 86_400_000),
)


@given(
    start_ms=st.integers(min_value=-(10**12), max_value=4 * 10**12),
    size_ms=SIZES_MS,
    windows_long=st.integers(min_value=0, max_value=40),
    extra_ms=st.integers(min_value=0, max_value=10 * 86_400_000),
)
def test_tile_covers_the_range_exactly(start_ms: int, size_ms: int, windows_long: int, extra_ms: int) -> None:
    end_ms = start_ms + windows_long * size_ms + extra_ms % size_ms
    windows = tile(ms_to_instant(start_ms), ms_to_instant(end_ms), dt.timedelta(milliseconds=size_ms))
    if start_ms == end_ms:
        assert windows == []
        return
    assert windows[0].start_ms == start_ms and windows[-1].end_ms == end_ms  # clipped, union exact
    for before, after in zip(windows, windows[1:], strict=False):
        assert before.end == after.start  # no gap, no overlap
        assert before.end_ms % size_ms == 0  # inner boundaries are aligned
    for window in windows:
        assert 0 < window.end_ms - window.start_ms <= size_ms
        assert window.start_ms // size_ms == (window.end_ms - 1) // size_ms  # inside one slot


# --- plan_range -----------------------------------------------------------------------------


START = utc(2026, 1, 1)
MARGIN = dt.timedelta(minutes=15)


@pytest.mark.parametrize(
    ("cursor", "lookback", "expected_from"),
    [
        pytest.param(None, DAY, START, id="first-run-starts-at-start-date"),
        pytest.param(utc(2026, 10, 2), DAY, utc(2026, 10, 1), id="continued-run-goes-back-by-lookback"),
        pytest.param(utc(2026, 10, 2), dt.timedelta(0), utc(2026, 10, 2), id="no-lookback"),
        pytest.param(utc(2026, 1, 1, 6), DAY, START, id="never-before-start-date"),
    ],
)
def test_plan_range_from(cursor: pendulum.DateTime | None, lookback: dt.timedelta,
                         expected_from: pendulum.DateTime) -> None:
    lower, upper = plan_range(cursor=cursor, start_date=START, lookback=lookback, now=NOW,
                              safety_margin=MARGIN)
    assert lower == expected_from
    assert upper == NOW - MARGIN


def test_plan_range_never_reaches_past_now_minus_margin() -> None:
    _, upper = plan_range(cursor=None, start_date=START, lookback=DAY, now=NOW, safety_margin=MARGIN,
                          end_date=NOW + DAY)
    assert upper == NOW - MARGIN


def test_plan_range_stops_at_an_earlier_end_date() -> None:
    _, upper = plan_range(cursor=None, start_date=START, lookback=DAY, now=NOW, safety_margin=MARGIN,
                          end_date=utc(2026, 2, 1))
    assert upper == utc(2026, 2, 1)


def test_plan_range_when_caught_up_gives_no_window() -> None:
    cursor = NOW - dt.timedelta(minutes=5)
    lower, upper = plan_range(cursor=cursor, start_date=START, lookback=dt.timedelta(0), now=NOW,
                              safety_margin=MARGIN)
    assert lower >= upper
    assert tile(lower, upper, HOUR) == []


def test_plan_range_accepts_naive_and_offset_datetimes_as_utc() -> None:
    lower, upper = plan_range(cursor=dt.datetime(2026, 10, 2), start_date=dt.date(2026, 1, 1), lookback=DAY,
                              now=dt.datetime(2026, 10, 3, 14, 30, tzinfo=dt.timezone(2 * HOUR)),
                              safety_margin=MARGIN)
    assert (lower, upper) == (utc(2026, 10, 1), NOW - MARGIN)


# --- batched --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "expected"),
    [(2, [[0, 1], [2, 3], [4]]), (5, [[0, 1, 2, 3, 4]]), (9, [[0, 1, 2, 3, 4]]),
     (1, [[0], [1], [2], [3], [4]])],
)
def test_batched(n: int, expected: list[list[int]]) -> None:
    assert list(batched(range(5), n)) == expected


def test_batched_empty_and_bad_size() -> None:
    assert list(batched([], 3)) == []
    with pytest.raises(NP6ConfigError):
        list(batched(range(3), 0))


def test_batched_groups_windows() -> None:
    windows = tile(OCT_1, OCT_1 + 5 * DAY, DAY)
    groups = list(batched(windows, 2))
    assert [len(g) for g in groups] == [2, 2, 1]
    assert [w for g in groups for w in g] == windows
