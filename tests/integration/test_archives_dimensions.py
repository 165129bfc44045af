"""End to end: archives and dimensions through the `np6` command, the sandbox and a DuckDB file.

Every check compares what landed with the sandbox's own data (its ground truth), never with
numbers copied from the code.
"""

from __future__ import annotations

import pendulum

from sources.np6.archives import action_target_archives, stamp_archives, target_archives
from sources.np6.client import NP6Client
from sources.np6.settings import DIMENSION_ENDPOINTS
from sources.np6.windows import Window
from sources.np6_sandbox import campaigns, push
from sources.np6_sandbox.management import archive_ids, archives, dimension, secret_values, stamp_of

START, END = "2026-10-01", "2026-10-04"
SANDBOX_LISTS = {
    "fields": lambda a: dimension(a, "fields"),
    "value_lists": lambda a: dimension(a, "valueLists"),
    "segments": lambda a: dimension(a, "segments"),
    "imports": lambda a: dimension(a, "imports"),
    "mobile_applications": lambda a: dimension(a, "applications"),
    "marketing_pressure_topics": lambda a: dimension(a, "topics"),
    "marketing_pressure_rules": lambda a: dimension(a, "rules"),
    "notifications": push.notifications,
    "campaigns": campaigns.campaigns,
}


def ms(value: str) -> int:
    return int(pendulum.parse(value).timestamp() * 1000)


def assert_archives_and_dimensions(ws, account) -> None:
    """Archives and dimensions exactly as the sandbox has them over [START, END), no secret
    anywhere, one `_np6_windows` row per archive window (run by the full load of
    test_every_resource, which also re-runs it with other windows)."""
    assert_archives_exact(ws, account)
    assert_archive_columns(ws, account)
    assert_dimensions_exact(ws, account)
    assert_no_secret(ws, account)
    windows = ws.query("SELECT window_start::DATE::VARCHAR, rows FROM np6._np6_windows "
                       "WHERE resource = 'archives' AND window_end - window_start = INTERVAL 1 DAY ORDER BY 1")
    days = [(d, len(archive_ids(account, ms(d), ms(d) + 86_400_000))) for d in ("2026-10-01", "2026-10-02", "2026-10-03")]
    assert windows == days


def assert_archives_exact(ws, account) -> None:
    expected = archive_ids(account, ms(START), ms(END))
    loaded_ids = ws.ids("archives")
    assert expected and len(loaded_ids) == len(set(loaded_ids)), "duplicate archive ids"
    assert set(loaded_ids) == expected
    blank = ws.query("SELECT count(*) FROM np6.archives WHERE url = '    '")[0][0]
    assert blank == sum(a["url"] == "    " for a in archives(account, ms(START), ms(END)))


def assert_archive_columns(ws, account) -> None:
    first = archives(account, ms(START), ms(END))[0]
    row = ws.query(f"SELECT action_id, target_id, epoch_ms(sending_date), expires_on - sending_date "
                   f"FROM np6.archives WHERE id = '{first['id']}'")  # fmt: skip
    assert row == [(first["action"], first["target"], ms(first["sendingDate"]), pendulum.duration(days=32))]


def assert_dimensions_exact(ws, account) -> None:
    for endpoint in DIMENSION_ENDPOINTS:
        expected = {item["id"] for item in SANDBOX_LISTS[endpoint.table](account)}
        assert set(ws.ids(endpoint.table)) == expected, endpoint.table


def assert_no_secret(ws, account) -> None:
    secrets = secret_values(account)
    tables = [r[0] for r in ws.query("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'np6'")]
    assert "mobile_applications" in tables
    for table in tables:
        text = "\n".join(map(str, ws.query(f"SELECT * FROM np6.{table}")))
        for secret in secrets:
            assert secret not in text, table
    providers = ws.query("SELECT providers FROM np6.mobile_applications")
    assert all('"key"' not in p[0] and "certificate" not in p[0] for p in providers)


def test_archive_lookups_by_key(sandbox):
    account = sandbox.account
    first = archives(account, ms(START), ms(END))[0]
    with NP6Client(sandbox.url, sandbox.api_key) as client:
        pair = action_target_archives(client, first["action"], first["target"])
        window = Window(pendulum.parse(START), pendulum.parse(END))
        of_target = target_archives(client, first["target"], window)
        by_stamp = stamp_archives(client, stamp_of(account, first["id"]) or "")
    for rows in (pair, of_target, by_stamp):
        assert first["id"] in {r["id"] for r in rows}
    assert {r["id"] for r in pair} == {a["id"] for a in archives(account, action_id=first["action"],
                                                                  target_id=first["target"])}  # fmt: skip
    assert {r["target_id"] for r in of_target} == {first["target"]}
