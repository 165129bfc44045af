"""Recipient exports: streamed JSON/CSV parsing, column mapping, `NP6Client.stream`, bounded memory.

No network: bodies come from `httpx.MockTransport` (streamed from generators where size matters).
The warehouse side (active actions, derived rows) is tested end to end in
tests/integration/test_exports.py.
"""

from __future__ import annotations

import itertools
import random
import threading
import tracemalloc
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import orjson
import pytest

from sources.np6.client import NP6Client
from tests.np6.runs import run_with
from sources.np6.errors import NP6AuthError, NP6BadResponse, NP6NotFound
from sources.np6.export_bodies import csv_records, export_records, json_batches, text_lines
from sources.np6.exports import (
    BATCH_ROWS,
    EXPORT_ACCEPT,
    EXPORTS,
    column_for,
    read_export,
    read_exports,
    recipient_row,
    recipient_tables,
)
from sources.np6.warehouse import action_activity_sql, derived_sql

KEY = "np6-TEST-KEY-exports"
BASE = "https://np6.example.test"
OPENS = EXPORTS["action_openers"]


def chop(body: bytes, seed: int, most: int = 7) -> list[bytes]:
    """`body` cut at random places into chunks of 1..`most` bytes."""
    rng, out, i = random.Random(seed), [], 0
    while i < len(body):
        n = rng.randint(1, most)
        out.append(body[i: i + n])
        i += n
    return out


def every_cut(body: bytes) -> Iterator[list[bytes]]:
    """`body` in two chunks, cut at every position."""
    for i in range(len(body) + 1):
        yield [body[:i], body[i:]]


def elements(chunks: list[bytes], parse_bytes: int = 1) -> list:
    return [e for batch in json_batches(chunks, parse_bytes) for e in batch]


TRICKY = [
    {"id": "T1", "unicity": 'a"b\\"},{"c', "hash": "h1", "count": 2, "first": "2026-10-01T00:00:00.000Z"},
    {"id": "T2", "unicity": "élodie😀@ex.fr", "nested": {"k": [1, {"x": "},"}]}, "count": 1},
    {"id": "T3", "unicity": "}, {", "hash": None, "count": 0},
]


# --- JSON split across chunks ---------------------------------------------------------------


@pytest.mark.parametrize("parse_bytes", [1, 16, 1 << 20])
def test_json_array_survives_every_two_chunk_cut(parse_bytes):
    body = orjson.dumps(TRICKY)
    for chunks in every_cut(body):
        assert elements(chunks, parse_bytes) == TRICKY


@pytest.mark.parametrize("seed", range(20))
def test_json_array_survives_random_tiny_chunks_and_pretty_printing(seed):
    rows = TRICKY * 30
    body = orjson.dumps(rows, option=orjson.OPT_INDENT_2) if seed % 2 else orjson.dumps(rows)
    batches = list(json_batches(chop(b"\xef\xbb\xbf  \n" + body + b"\n", seed), parse_bytes=64))
    assert [e for b in batches for e in b] == rows
    assert len(batches) > 5  # parsed as it arrived, not whole at the end


def test_json_array_parses_in_bounded_batches():
    rows = [{"id": f"T{i}", "unicity": f"u{i}@x.fr"} for i in range(2000)]
    body = orjson.dumps(rows)
    batches = list(json_batches(chop(body, 1, most=300), parse_bytes=4096))
    assert [e for b in batches for e in b] == rows
    biggest = max(len(orjson.dumps(b)) for b in batches)
    assert biggest < 3 * 4096, biggest


@pytest.mark.parametrize("body", [b"[]", b" [ ] \n", b"\xef\xbb\xbf[]"])
def test_empty_json_array_has_no_elements(body):
    assert elements(chop(body, 3, 2)) == []


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b'{"error": "no"}', id="object"),
        pytest.param(b'[{"id": "T1"}, {"id": "T2"', id="cut-off"),
        pytest.param(b'[{"id": "T1"},]', id="trailing-comma"),
        pytest.param(b'[{"id": "T1"}] x', id="trailing-garbage"),
        pytest.param(b"<html>oops</html>", id="html"),
    ],
)
def test_bad_json_bodies_raise_value_error(body):
    with pytest.raises(ValueError):
        elements(chop(body, 5, 3))


# --- CSV ------------------------------------------------------------------------------------


def csv_rows(body: bytes, seed: int = 0, encoding: str = "utf-8") -> list[dict]:
    return [dict(r) for r in csv_records(text_lines(chop(body, seed), encoding))]


@pytest.mark.parametrize("seed", range(10))
@pytest.mark.parametrize("delimiter", [";", ","])
def test_csv_quoted_fields_and_either_delimiter(seed, delimiter):
    d = delimiter
    body = (f'id{d}unicity{d}hash{d}count\r\n'
            f'T1{d}"a{d}b"{d}h1{d}3\r\n'
            f'T2{d}"two\r\nlines ""quoted"" é😀"{d}h2{d}\r\n'
            f'T3{d}{d}{d}1').encode()  # fmt: skip
    assert csv_rows(body, seed) == [
        {"id": "T1", "unicity": f"a{d}b", "hash": "h1", "count": "3"},
        {"id": "T2", "unicity": 'two\r\nlines "quoted" é😀', "hash": "h2", "count": ""},
        {"id": "T3", "unicity": "", "hash": "", "count": "1"},
    ]


def test_csv_header_only_blank_lines_extra_fields_and_charset():
    assert csv_rows(b"id;unicity\r\n") == []
    assert csv_rows(b"id;unicity\r\n\r\nT1;a;surplus\r\n") == [{"id": "T1", "unicity": "a", "column_3": "surplus"}]
    assert csv_rows("id;unicity\nT1;Zoé\n".encode("latin-1"), encoding="latin-1") == [{"id": "T1", "unicity": "Zoé"}]


# --- columns --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "column"),
    [("id", "receiver_id"), ("targetId", "receiver_id"), ("target_id", "receiver_id"), ("Target", "receiver_id"),
     ("unicity", "receiver_unicity"), ("Email", "receiver_unicity"), ("address", "receiver_unicity"),
     ("hash", "receiver_hash"), ("first", "first_at"), ("firstDate", "first_at"), ("LAST_DATE", "last_at"),
     ("count", "count"), ("label", None), ("firstName", None)],
)  # fmt: skip
def test_column_names_map_tolerantly(name, column):
    assert column_for(name) == column


def test_row_keeps_unknown_and_misshapen_values_in_extra():
    row = recipient_row("000PE4", [("targetId", 42), ("email", "a@b.fr"), ("hash", "h"),
                                   ("firstDate", "2026-10-01T08:00:00.5Z"), ("last", "yesterday"),
                                   ("count", "12"), ("label", "x"), ("target", "T9")])  # fmt: skip
    assert row == ("000PE4", "42", "a@b.fr", "h", datetime(2026, 10, 1, 8, 0, 0, 500000, tzinfo=UTC), None, 12,
                   "export", orjson.dumps({"last": "yesterday", "label": "x", "target": "T9"}).decode())


def test_row_takes_epoch_ms_and_needs_a_receiver():
    row = recipient_row("A", [("id", "T1"), ("first", 1790812800000), ("count", 2.0)])
    assert row[4] == datetime(2026, 10, 1, tzinfo=UTC) and row[6] == 2
    assert recipient_row("A", [("unicity", "a@b.fr")]) is None
    assert recipient_row("A", [("id", "")]) is None


def test_tables_are_batched_and_typed():
    records = ([("id", f"T{i}"), ("count", i)] for i in range(25))
    tables = list(recipient_tables("A", records, batch_rows=10))
    assert [t.num_rows for t in tables] == [10, 10, 5]
    assert str(tables[0].schema.field("count").type) == "int64"
    assert str(tables[0].schema.field("first_at").type) == "timestamp[us, tz=UTC]"
    assert set(tables[2].column("source").to_pylist()) == {"export"}


# --- content types --------------------------------------------------------------------------


@pytest.mark.parametrize("body", [b"", b"   \r\n", b"\xef\xbb\xbf"])
@pytest.mark.parametrize("content_type", ["application/json", "text/csv", ""])
def test_empty_body_is_no_export(body, content_type):
    assert export_records(content_type, chop(body, 1, 1)) is None


@pytest.mark.parametrize(
    ("content_type", "body"),
    [("application/json; charset=utf-8", b'[{"id": "T1"}]'), ("text/csv", b"id;count\r\nT1;1\r\n"),
     ("text/plain", b'[{"id": "T1"}]'), ("application/octet-stream", b"id,count\nT1,1\n"), ("", b"id\nT1\n")],
)  # fmt: skip
def test_json_and_csv_by_content_type_or_sniffed(content_type, body):
    assert [dict(r)["id"] for r in export_records(content_type, [body])] == ["T1"]


@pytest.mark.parametrize(("content_type", "body"), [("text/html", b"<html>"), ("application/xml", b"<x/>"),
                                                    ("text/plain", b"<html>")])
def test_neither_json_nor_csv_is_refused(content_type, body):
    with pytest.raises(ValueError, match="neither JSON nor CSV"):
        export_records(content_type, [body])


# --- NP6Client.stream and read_export -------------------------------------------------------


def client(handler, **kwargs) -> NP6Client:
    return NP6Client(BASE, KEY, transport=httpx.MockTransport(handler), sleep=lambda s: None,
                     rand=lambda: 0.0, **kwargs)


def read(np6: NP6Client, action_id: str = "000PE4") -> tuple[list, str]:
    """Run `read_export` to the end: the tables and the outcome it returned."""
    gen = read_export(run_with(np6), OPENS, action_id)
    tables = []
    try:
        while True:
            tables.append(next(gen))
    except StopIteration as stop:
        return tables, stop.value


def test_stream_retries_the_status_line_and_sends_the_export_accept():
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.url.path, request.headers["accept"], request.headers["x-key"]))
        if len(seen) < 3:
            return httpx.Response(503 if len(seen) == 1 else 429)
        return httpx.Response(200, headers={"content-type": "text/csv"}, content=iter([b"id;co", b"unt\r\nT1;4\r\n"]))

    np6 = client(handler)
    tables, outcome = read(np6)
    assert outcome == "export" and tables[0].to_pylist()[0]["count"] == 4
    assert seen == [("/actions/000PE4/export/tracking/opens", EXPORT_ACCEPT, KEY)] * 3
    assert np6.stats["requests"] == 3


def test_stream_body_broken_midway_is_bad_response_not_retried():
    calls = []

    def body():
        yield b'[{"id": "T1"},'
        raise httpx.ReadError("connection reset")

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(200, headers={"content-type": "application/json"}, content=body())

    with pytest.raises(NP6BadResponse, match=r"/actions/000PE4/export/tracking/opens.*broke off after 14 bytes") as info:
        read(client(handler))
    assert calls == [1] and "\n" not in str(info.value) and KEY not in str(info.value)


@pytest.mark.parametrize(("status", "error"), [(401, NP6AuthError), (403, NP6AuthError), (404, NP6NotFound)])
def test_stream_status_errors(status, error):
    np6 = client(lambda r: httpx.Response(status, json={"error": "x"}))
    with pytest.raises(error), np6.stream("/actions/X/export/tracking/opens"):
        pass


def test_a_404_or_403_export_is_derived_and_a_rejected_key_stops():
    assert read(client(lambda r: httpx.Response(404)))[1] == "none"
    calls = []
    run = run_with(client(lambda r: calls.append(r) or httpx.Response(403)))
    for action_id in ("A0", "A1"):  # a key that may not export: asked once, then derived
        assert list(read_export(run, OPENS, action_id)) == []
    assert len(calls) == 1
    with pytest.raises(NP6AuthError):
        read(client(lambda r: httpx.Response(401)))


@pytest.mark.parametrize("content", [b"", b"\r\n"])
def test_no_content_means_derive(content):
    status = 204 if not content else 200
    assert read(client(lambda r: httpx.Response(status, content=content)))[1] == "none"


@pytest.mark.parametrize(
    ("content_type", "body", "says"),
    [("text/html; charset=utf-8", b"<html>maintenance</html>", "neither JSON nor CSV"),
     ("application/json", b'{"error": "nope"}', "not a JSON array"),
     ("application/json", b'[{"id": "T1"}, {"id"', "")],
)  # fmt: skip
def test_unreadable_body_is_one_line_naming_action_and_type(content_type, body, says):
    np6 = client(lambda r: httpx.Response(200, headers={"content-type": content_type}, content=body))
    with pytest.raises(NP6BadResponse) as info:
        read(np6, "000XYZ")
    message = str(info.value)
    assert "000XYZ" in message and content_type in message and says in message and "\n" not in message


def test_exports_of_several_actions_are_read_at_once_and_all_arrive():
    bodies = {"A0": (200, "application/json", b'[{"id": "T1"}, {"id": "T2"}]'), "A1": (200, "text/csv", b"id\r\nT3\r\n"),
              "A2": (204, "", b""), "A3": (404, "application/json", b"{}")}  # fmt: skip

    def handler(request: httpx.Request) -> httpx.Response:
        status, content_type, body = bodies[request.url.path.split("/")[2]]
        return httpx.Response(status, headers={"content-type": content_type} if content_type else {}, content=body)

    got = list(read_exports(run_with(client(handler, concurrency=3)), OPENS, list(bodies), workers=3))
    outcomes = {a: o for a, t, o in got if t is None}
    assert outcomes == {"A0": "export", "A1": "export", "A2": "none", "A3": "none"}
    rows = sorted((r["action_id"], r["receiver_id"]) for _, t, _ in got if t is not None for r in t.to_pylist())
    assert rows == [("A0", "T1"), ("A0", "T2"), ("A1", "T3")]


def test_an_error_in_one_reader_is_raised_and_stops_the_rest():
    def handler(request: httpx.Request) -> httpx.Response:
        if "B1" in request.url.path:
            return httpx.Response(401)
        rows = (orjson.dumps({"id": f"T{i}"}) for i in range(200_000))
        return httpx.Response(200, headers={"content-type": "application/json"},
                              content=itertools.chain([b"["], (r + b"," for r in rows), [b'{"id": "last"}]']))

    with pytest.raises(NP6AuthError):
        for _ in read_exports(run_with(client(handler, concurrency=2)), OPENS, ["B0", "B1", "B2"], workers=2):
            pass


def test_a_consumer_that_stops_early_leaves_no_reader_running():
    def handler(request: httpx.Request) -> httpx.Response:
        rows = (orjson.dumps({"id": f"T{i}"}) + b"," for i in range(400_000))
        return httpx.Response(200, headers={"content-type": "application/json"},
                              content=itertools.chain([b"["], rows, [b'{"id": "last"}]']))

    before = threading.active_count()
    reader = read_exports(run_with(client(handler, concurrency=2)), OPENS, ["C0", "C1", "C2"], workers=2)
    action_id, table, _ = next(reader)
    assert table.num_rows == BATCH_ROWS
    reader.close()
    assert threading.active_count() == before


# --- bounded memory -------------------------------------------------------------------------


def _measured_export(fmt: str, total: int, per_chunk: int = 1000) -> tuple[list[int], int, int, dict]:
    """Read a generated export of `total` rows: batch sizes, peak Python heap, body bytes, last row."""
    produced = Counter()

    def lines(start: int) -> Iterator[bytes]:
        for i in range(start, start + per_chunk):
            if fmt == "json":
                yield orjson.dumps({"id": f"T{i:07d}", "unicity": f"c{i}@ex.fr", "hash": "h", "count": i})
            else:
                yield f"T{i:07d};c{i}@ex.fr;h;{i}\r\n".encode()

    def body() -> Iterator[bytes]:
        yield b"[" if fmt == "json" else b"id;unicity;hash;count\r\n"
        for start in range(0, total, per_chunk):
            separator = b"," if fmt == "json" else b""
            chunk = separator.join(lines(start)) + (separator if fmt == "json" and start + per_chunk < total else b"")
            produced["bytes"] += len(chunk)
            yield chunk
        yield b"]" if fmt == "json" else b""

    content_type = "application/json" if fmt == "json" else "text/csv; charset=utf-8"
    np6 = client(lambda r: httpx.Response(200, headers={"content-type": content_type}, content=body()))
    sizes, peak, last = [], 0, {}
    tracemalloc.start()
    try:
        for table in read_export(run_with(np6), OPENS, "000PE4"):
            sizes.append(table.num_rows)
            last = table.slice(table.num_rows - 1).to_pylist()[0]
            peak = max(peak, tracemalloc.get_traced_memory()[1])
            del table
    finally:
        tracemalloc.stop()
    return sizes, peak, produced["bytes"], last


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_large_export_is_consumed_in_bounded_batches_and_bounded_memory(fmt):
    small_sizes, small_peak, small_bytes, _ = _measured_export(fmt, 50_000)
    sizes, peak, body_bytes, last = _measured_export(fmt, 150_000)
    assert small_sizes == [BATCH_ROWS] and sizes == [BATCH_ROWS] * 3
    assert last["receiver_id"] == "T0149999" and last["count"] == 149_999
    # three times the rows, about the same heap: memory follows the batch, not the export (the
    # body spills to a temporary file and is parsed a batch at a time)
    assert body_bytes > 2.9 * small_bytes and peak < 1.3 * small_peak, (small_peak, peak)


# --- SQL ------------------------------------------------------------------------------------


def test_sql_quotes_identifiers_and_literals():
    sql = derived_sql(EXPORTS["action_clickers"], ["A'1", "B2"])
    assert "'A''1'" in sql and "hit_type = 'redirection'" in sql and 'AS "count"' in sql and 'min("timestamp")' in sql
    assert "hit_type" not in derived_sql(EXPORTS["action_recipients"], ["B2"])
    active = action_activity_sql(datetime(2026, 10, 1, tzinfo=UTC))
    assert "'2026-10-01T00:00:00+00:00'" in active and "hits" in active and "activations" in active


def test_exports_table_is_data():
    assert list(EXPORTS) == ["action_recipients", "action_openers", "action_clickers"]
    assert EXPORTS["action_recipients"].path is None
    assert {e.path for e in EXPORTS.values() if e.path} == {"/actions/{action_id}/export/tracking/opens",
                                                             "/actions/{action_id}/export/tracking/clicks"}
