"""Decoding a response body: in this process and in a worker process give the same tables."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from sources.np6 import decode
from sources.np6.decode import BadBody, decode_events, submit


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


def test_a_large_body_decodes_in_a_worker_exactly_as_here() -> None:
    events = _events(2_000)
    body = orjson.dumps(events)
    body += b" " * max(0, decode.POOL_MIN_BYTES - len(body))  # large enough for the pool
    try:
        far = submit(body, None, workers=1).result(timeout=120)
    finally:
        decode.shutdown()
    near = decode_events(body)
    assert far.tables.keys() == near.tables.keys() == {"hits", "activations"}
    for name, table in near.tables.items():
        assert far.tables[name].equals(table)
    assert far.tables["hits"].num_rows == 1_000


def test_small_bodies_stay_in_this_process() -> None:
    future = submit(orjson.dumps(_events(10)), None, workers=4)
    assert future.done() and decode._pool is None


def test_workers_leave_when_the_loading_process_is_killed(tmp_path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    script = tmp_path / "parent.py"
    script.write_text(
        "import os, sys, time\n"
        f"sys.path.insert(0, {str(Path(__file__).resolve().parents[2])!r})\n"
        "from sources.np6 import decode\n"
        "if __name__ == '__main__':\n"
        "    decode.pool(1).submit(os.getpid).result()\n"
        "    print(decode.pool(1).submit(os.getpid).result(), flush=True)\n"
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
