"""A PostgreSQL DSN without a password: trust, peer and .pgpass authentication need none."""

from __future__ import annotations

import re

from tests import truth
from tests.destinations.conftest import _answers

START, END = "2026-10-01", "2026-10-02"
RESOURCES = "actions,hits"


def _without_password(dsn: str) -> str:
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1@", dsn)


def test_a_dsn_without_password_loads_where_the_server_needs_none(sandbox, warehouse):
    wh = warehouse(sandbox.url, sandbox.api_key)
    dsn = _without_password(wh.dsn)
    wh.env["DESTINATION__POSTGRES__CREDENTIALS"] = dsn
    result = wh.np6("--destination", "postgres", "--start", START, "--end", END, "--resources", RESOURCES)
    if not _answers(dsn):  # NP6_TEST_POSTGRES may name a server that wants a password
        assert result.code == 1 and len(result.err.splitlines()) == 1, result.output
        assert result.err.startswith("np6: error: cannot connect to the destination"), result.err
        return
    assert result.code == 0, result.output
    assert wh.ids("hits") and set(wh.ids("hits")) == truth.expected_ids(sandbox.account, "hits", START, END,
                                                                     push_events=False)
