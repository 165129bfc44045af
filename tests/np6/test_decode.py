"""Decoding a response body: as it arrives (in slices), whole, and streamed to a worker process give the
same tables; slices never cut an element, whatever its strings hold."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sources.np6 import workers
from sources.np6.decode import ArraySlicer, BadBody, decode_chunks, decode_events
from sources.np6.workers import decode_stream


def _events(n: int) -> list[dict]:
    return [
        {
            "type": "activation" if i % 2 else "hit",
            "id": f"00000000-0000-4000-8000-{i:012d}",
            "timestamp": 1_790_000_000_000 + i,
            "identity": {"type": "customer", "agency": "DEMO", "customer": "028"},
            "source": {
                "type": "email",
                "detail": {
                    "activation": {
                        "id": "000PE4",
                        "kind": "message",
                        "receiver": {"type": "id", "value": f"T{i:07d}"},
                        "recipient": f"user{i}@example.com",
                    },
                    **({} if i % 2 else {"link": {"type": "open"}}),
                },
            },
        }
        for i in range(n)
    ]


@pytest.mark.parametrize(
    "body, reason",
    [
        pytest.param(b'[{"id": "a"', "not JSON", id="truncated"),
        pytest.param(b"<html>502</html>", "not JSON", id="html"),
        pytest.param(b'{"error": "x"}', "a JSON dict", id="object-not-array"),
    ],
)
def test_bodies_that_are_not_an_event_array_are_reported(body: bytes, reason: str) -> None:
    result = decode_events(body)
    assert isinstance(result, BadBody) and result.reason.startswith(reason)
    streamed = decode_chunks(_chunks(body, 3), slice_bytes=4)
    assert isinstance(streamed, BadBody) and streamed.reason.startswith(reason)


def _chunks(body: bytes, size: int) -> list[bytes]:
    return [body[i : i + size] for i in range(0, len(body), size)]


def _sliced(body: bytes, chunk: int, slice_bytes: int) -> tuple[list, ArraySlicer]:
    slicer = ArraySlicer(slice_bytes)
    got = [item for piece in _chunks(body, chunk) for items in slicer.feed(piece) for item in items]
    return got + slicer.close(), slicer


# Strings made of the bytes that look like element boundaries, quotes and escapes.
_TRICKY = st.text(alphabet=st.sampled_from(list('},{ "\\[]:\n') + ["a", "é"]), max_size=12)
_VALUE = st.recursive(
    st.none() | st.integers(-(2**53), 2**53) | _TRICKY,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TRICKY, inner, max_size=3),
    max_leaves=8,
)
_ELEMENT = st.dictionaries(_TRICKY, _VALUE, max_size=4) | _VALUE


@settings(max_examples=300, deadline=None)
@given(st.lists(_ELEMENT, max_size=12), st.integers(1, 40), st.integers(1, 60), st.booleans())
def test_slices_hold_whole_elements_whatever_the_strings_say(elements, chunk, slice_bytes, pretty) -> None:
    body = orjson.dumps(elements, option=orjson.OPT_INDENT_2 if pretty else 0)
    got, _ = _sliced(body, chunk, slice_bytes)
    assert got == orjson.loads(body)


def test_a_body_is_cut_into_many_slices_and_each_parses_once() -> None:
    body = orjson.dumps(_events(300))
    got, slicer = _sliced(body, 1_000, 2_000)
    assert got == orjson.loads(body)
    assert slicer.sliced >= len(body) // 3_000  # it really sliced: 2,000 bytes and the element that ends past them


def test_elements_full_of_false_boundaries_fall_back_to_one_parse() -> None:
    element = {"list": [{"a": 1}, {"b": 2}] * 50, "text": "},{" * 40}
    body = orjson.dumps([element] * 3)
    got, slicer = _sliced(body, 64, 10)
    assert got == [element] * 3
    assert slicer.sliced <= 2  # every boundary inside an element was refused


def test_a_body_decoded_as_it_arrives_gives_the_tables_of_the_whole_body() -> None:
    events = _events(3_000)
    events.insert(1_500, events[10])  # a repeated id across slices: one row, as for a whole body
    events.insert(700, "not an event")
    body = orjson.dumps(events)
    whole = decode_events(body)
    streamed = decode_chunks(_chunks(body, 65_536), slice_bytes=50_000)
    assert streamed.tables.keys() == whole.tables.keys() == {"hits", "activations"}
    for name, table in whole.tables.items():
        assert streamed.tables[name].combine_chunks().equals(table.combine_chunks())
    assert [r.reason for r in streamed.rejected] == [r.reason for r in whole.rejected] != []
    assert whole.tables["hits"].num_rows == 1_500


def test_a_body_cut_off_after_some_slices_is_a_bad_body() -> None:
    body = orjson.dumps(_events(500))
    result = decode_chunks(_chunks(body[: len(body) * 2 // 3], 4_096), slice_bytes=10_000)
    assert isinstance(result, BadBody) and result.reason.startswith("not JSON")


def _ready_worker() -> workers._Worker:
    """A started worker of the pool, taken (give it back with `workers._POOL.give`)."""
    for _ in range(600):
        worker = workers._POOL.take(1)
        if worker is not None:
            return worker
        time.sleep(0.05)
    raise AssertionError("the decode worker did not start")


def test_a_large_body_decodes_in_a_worker_exactly_as_here() -> None:
    body = orjson.dumps(_events(2_000))
    try:
        worker = _ready_worker()
        far = worker.decode(_chunks(body, 65_536), False)
        again = worker.decode(_chunks(body, 65_536), False)  # a worker serves body after body
        workers._POOL.give(worker)
    finally:
        workers.shutdown()
    near = decode_events(body)
    assert far.tables.keys() == near.tables.keys() == {"hits", "activations"}
    for name, table in near.tables.items():
        assert far.tables[name].equals(table) and again.tables[name].equals(table)
    assert far.tables["hits"].num_rows == 1_000


def test_a_download_that_breaks_off_reaches_the_caller_and_the_worker_goes_on() -> None:
    body = orjson.dumps(_events(500))

    def broken() -> Iterator[bytes]:
        yield body[:10_000]
        raise ConnectionError("the download broke off")

    try:
        worker = _ready_worker()
        with pytest.raises(ConnectionError):
            worker.decode(broken(), False)
        assert worker.decode(_chunks(body, 4_096), False).tables["hits"].num_rows == 250
    finally:
        workers.shutdown()


def test_a_worker_that_dies_gives_a_bad_body_that_is_read_again() -> None:
    try:
        worker = _ready_worker()
        worker.process.kill()
        worker.process.join()
        result = worker.decode(_chunks(orjson.dumps(_events(50)), 1_024), False)
        workers._POOL.give(worker)
        assert isinstance(result, BadBody) and "worker" in result.reason
        assert workers._POOL.pids() == [], "a dead worker stays out of the pool"
    finally:
        workers.shutdown()


def test_small_bodies_stay_in_this_process() -> None:
    result = decode_stream(_chunks(orjson.dumps(_events(10)), 1_024), workers=4)
    assert result.tables["hits"].num_rows == 5 and workers._POOL.pids() == []


def test_workers_leave_when_the_loading_process_is_killed(tmp_path) -> None:
    import os
    import signal
    import subprocess
    import sys

    script = tmp_path / "parent.py"
    script.write_text(
        "import sys, time\n"
        f"sys.path.insert(0, {str(Path(__file__).resolve().parents[2])!r})\n"
        "from sources.np6 import workers\n"
        "if __name__ == '__main__':\n"
        "    while workers._POOL.take(1) is None:\n"
        "        time.sleep(0.05)\n"
        "    print(workers._POOL.pids()[0], flush=True)\n"
        "    time.sleep(60)\n"
    )
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    worker = int(parent.stdout.readline())
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    for _ in range(100):
        try:
            os.kill(worker, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    os.kill(worker, signal.SIGKILL)
    raise AssertionError("the decode worker outlived its killed parent")


def test_event_tables_get_dlt_row_ids_that_dlt_imports_without_a_rewrite() -> None:
    from dlt.common.destination import DestinationCapabilitiesContext
    from dlt.common.libs.pyarrow import should_normalize_arrow_schema

    from sources.np6.schema import curated_schema, with_row_ids

    hits = with_row_ids(decode_events(orjson.dumps(_events(20))).tables["hits"])
    assert with_row_ids(hits) is hits  # ids already there are kept
    ids = hits.column("_dlt_id").to_pylist()
    assert len(set(ids)) == 10 and all(isinstance(i, str) and len(i) == 14 for i in ids)
    # what dlt's extract writes: the load id appended last
    arriving = hits.schema.append(pa.field("_dlt_load_id", pa.string(), nullable=False))
    schema = curated_schema()
    caps = DestinationCapabilitiesContext.generic_capabilities("parquet")
    assert not should_normalize_arrow_schema(arriving, schema.get_table_columns("hits"), schema.naming, caps)[0]
