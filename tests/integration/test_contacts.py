"""End to end: `targets` (with `target_bounces`) and `redlists` against the sandbox and a DuckDB file.

Events are loaded with the real source first; the contact resources then run in the same dlt
pipeline (same `np6` schema and source state) and every row is compared with the sandbox's ground
truth (`contacts.target`, `contacts.redlist`, its field catalogue and value lists), never with
values copied from the code.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import dlt
import duckdb
import orjson
import pendulum
import pytest

from pipelines.np6_pipeline import make_pipeline
from pipelines.runner import load_once
from sources.np6.settings import SOURCE_NAME
from sources.np6_sandbox import contacts
from sources.np6_sandbox.management import dimension

DAY1, DAY2, DAY3 = "2026-10-01", "2026-10-02", "2026-10-03"
EVENT_TYPES = ("hit", "activation")


def ms(value: str) -> int:
    return int(pendulum.parse(value).timestamp() * 1000)


class Warehouse:
    """A dlt pipeline into a DuckDB file, and the sandbox it reads."""

    def __init__(self, sandbox: Any, root: Path) -> None:
        self.sandbox, self.db = sandbox, root / "warehouse.duckdb"
        self.pipeline = make_pipeline("np6_contacts_it", dlt.destinations.duckdb(str(self.db)),
                                      pipelines_dir=str(root / "pipelines"))  # fmt: skip

    def load_events(self, start: str, end: str) -> None:
        self.run("hits,activations", range_start=start, range_end=end)

    def run(self, resources: str, **settings: Any) -> Any:
        """One run of `resources` as `np6 load` does it (a backfill with `range_start`/`range_end`)."""
        return load_once(self.pipeline, progress=lambda line: None, api_key=self.sandbox.api_key,
                         base_url=self.sandbox.url, resources=resources, concurrency=4, **settings)

    def query(self, sql: str) -> list[tuple]:
        with duckdb.connect(str(self.db), read_only=True) as con:
            return con.sql(sql).fetchall()

    def columns(self, table: str) -> dict[str, str]:
        return dict(self.query(f"SELECT column_name, data_type FROM information_schema.columns "
                               f"WHERE table_schema = 'np6' AND table_name = '{table}'"))  # fmt: skip

    def count(self, table: str) -> int:
        return self.query(f"SELECT count(*) FROM np6.{table}")[0][0]


@pytest.fixture
def warehouse(sandbox, tmp_path: Path) -> Warehouse:
    return Warehouse(sandbox, tmp_path)


def receivers(account: Any, start: str, end: str) -> set[str]:
    """Target ids of the ground-truth hit and activation events of `[start, end)`."""
    ids = set()
    for event in account.events(ms(start), ms(end), types=EVENT_TYPES):
        receiver = event["source"]["detail"]["activation"]["receiver"]
        ids.add(receiver.get("id") or (receiver.get("value") if receiver.get("type") == "id" else None))
    return ids - {None}


# --- expected rows, from the sandbox's catalogue ------------------------------------------------


def expected_columns(account: Any) -> dict[str, tuple[str, str]]:
    """{field id: (column, NP6 type)}: the sandbox's field names are ASCII UPPER_SNAKE, so the
    column is the name in lower case; an id the catalogue does not list is `field_<id>`."""
    cols = {str(f["id"]): (f["name"].lower(), f["type"]) for f in dimension(account, "fields")}
    return {**cols, contacts.LEGACY_FIELD: (f"field_{contacts.LEGACY_FIELD}", "unlisted")}


def expected_value(account: Any, field_id: str, value: Any) -> Any:
    if value is None:
        return None
    field = next((f for f in dimension(account, "fields") if str(f["id"]) == field_id), {})
    if field.get("type") == "list":
        values = next(v["values"] for v in dimension(account, "valueLists") if v["id"] == field["valueListId"])
        return next(v["value"] for v in values if v["index"] == value)
    if field.get("type") == "date":
        return date.fromisoformat(value)
    return value


def assert_targets_exact(wh: Warehouse, ids: set[str]) -> None:
    account = wh.sandbox.account
    columns = expected_columns(account)
    names = [c for c, _ in columns.values()]
    select = ", ".join(["id", "hash", "epoch_ms(creation_date)", "epoch_ms(last_update_date)",
                        "epoch_ms(redlist_mail_at)", "redlist_mail_reason", "epoch_ms(redlist_sms_at)",
                        "redlist_sms_reason", "extra", *names])  # fmt: skip
    rows = {r[0]: r for r in wh.query(f"SELECT {select} FROM np6.targets")}
    assert set(rows) == ids
    for target_id in sorted(ids):
        body = contacts.target(account, target_id)
        red = {ch: body["redList"].get(ch) or {} for ch in ("mail", "sms")}
        fields = [expected_value(account, fid, body["fields"].get(fid)) for fid in columns]
        expected = (target_id, body["hash"], ms(body["creationDate"]), ms(body["lastUpdateDate"]),
                    ms(red["mail"]["timestamp"]) if red["mail"] else None, red["mail"].get("reason"),
                    ms(red["sms"]["timestamp"]) if red["sms"] else None, red["sms"].get("reason"), None, *fields)  # fmt: skip
        assert rows[target_id] == expected, target_id


def assert_bounces_exact(wh: Warehouse, ids: set[str]) -> None:
    columns = expected_columns(wh.sandbox.account)
    expected = {
        (target_id, b["field"], columns[str(b["field"])][0], b["type"], ms(b["timestamp"]), b["reason"])
        for target_id in ids
        for b in contacts.target(wh.sandbox.account, target_id)["bounce"]
    }
    loaded = wh.query("SELECT target_id, field_id, field, type, epoch_ms(timestamp), reason FROM np6.target_bounces")
    assert expected and len(loaded) == len(set(loaded)) and set(loaded) == expected


def target_requests(wh: Warehouse) -> int:
    by_route = wh.sandbox.server.stats()["by_route"]
    return sum(n for route, n in by_route.items() if "targets" in route and "redlist" not in route)


def test_targets_are_the_event_receivers_as_the_sandbox_has_them(warehouse: Warehouse) -> None:
    wh, account = warehouse, warehouse.sandbox.account
    wh.load_events(DAY1, DAY2)
    wh.run("targets", refresh_targets=0)
    first = receivers(account, DAY1, DAY2)
    assert first and set(first) <= set(contacts.target_ids(account))
    assert_targets_exact(wh, first)
    assert_bounces_exact(wh, first)
    types = wh.columns("targets")
    assert (types["points_fidelite"], types["date_naissance"], types["civilite"]) == ("BIGINT", "DATE", "VARCHAR")

    before = (wh.count("targets"), wh.count("target_bounces"), target_requests(wh))
    wh.run("targets", refresh_targets=0)
    assert (wh.count("targets"), wh.count("target_bounces"), target_requests(wh)) == before

    # A field renamed in NP6 keeps its column; the next receivers fill it.
    wh.sandbox.server.rename_field(8140, "BIRTHDAY")
    wh.load_events(DAY2, DAY3)
    wh.run("targets", refresh_targets=0)
    both = first | receivers(account, DAY2, DAY3)
    assert both > first
    assert "birthday" not in wh.columns("targets") and "date_naissance" in wh.columns("targets")
    assert_targets_exact(wh, both)
    assert_bounces_exact(wh, both)
    assert wh.pipeline.state["sources"][SOURCE_NAME]["target_fields"]["8140"] == "date_naissance"


# --- redlists --------------------------------------------------------------------------------

RANGE = ("2026-08-10", "2026-10-04")  # the timelines start 60 days before the account


def redlist_truth(account: Any, start: str, end: str | None) -> set[tuple]:
    return {(ch, e["id"], ms(e["timestamp"]), e["origin"], str(e["detail"]))
            for ch in ("mail", "sms")
            for e in contacts.redlist(account, ch, ms(start), ms(end) if end else None)}  # fmt: skip


def loaded_redlists(wh: Warehouse) -> list[tuple]:
    rows = wh.query("SELECT channel, target_id, epoch_ms(timestamp), origin, origin_label, detail, extra "
                    "FROM np6.redlists")  # fmt: skip
    assert all(r[6] is None for r in rows)
    assert {r[4] for r in rows} <= {"Listed by API", "Listed by imports", "Listed by form", "Unknown type",
                                    "Listed in unsubscribe redlist", "Listed in complaint", "Listed in SMS Stop",
                                    "Listed in SMS Blacklist", "Listed in SMS administrative",
                                    "Listed in SMS specific"}  # fmt: skip
    return [(r[0], r[1], r[2], r[3], str(_json(r[5]))) for r in rows]


def _json(value: Any) -> Any:
    return orjson.loads(value) if isinstance(value, str) else value


def config(**overrides: Any) -> dict[str, Any]:
    return {"window": "7d", "start_date": RANGE[0], "lookback": "0", **overrides}


def test_redlists_equal_the_timelines_and_log_their_windows(warehouse: Warehouse) -> None:
    wh, account = warehouse, warehouse.sandbox.account
    backfill = config(range_start=RANGE[0], range_end=RANGE[1])
    wh.run("redlists", **backfill)
    loaded = loaded_redlists(wh)
    assert loaded and len(loaded) == len(set(loaded))
    assert set(loaded) == redlist_truth(account, *RANGE)

    windows = wh.query("SELECT epoch_ms(window_start), epoch_ms(window_end), rows, requests FROM np6._np6_windows "
                       "WHERE resource = 'redlists' ORDER BY window_start")  # fmt: skip
    bounds = [(a, b) for a, b, _, _ in windows]
    assert bounds[0][0] == ms(RANGE[0]) and bounds[-1][1] == ms(RANGE[1])  # the range, tiled without gap
    assert all(a < b <= a + 7 * 86_400_000 for a, b in bounds)
    assert all(prev[1] == nxt[0] for prev, nxt in zip(bounds, bounds[1:]))
    for a, b, rows, requests in windows:  # rows per window: both timelines of that window
        assert rows == sum(len(contacts.redlist(account, ch, a, b)) for ch in ("mail", "sms")) and requests == 2
    assert "cursor" not in wh.pipeline.state["sources"][SOURCE_NAME]["resources"].get("redlists", {})  # backfills never move it

    wh.run("redlists", **backfill)
    assert wh.count("redlists") == len(loaded) and wh.count("_np6_windows") == len(windows)

    wh.run("redlists", **config())  # scheduled: from start_date to now, then the cursor moves
    assert set(loaded_redlists(wh)) == redlist_truth(account, RANGE[0], None)
    cursor = pendulum.parse(wh.pipeline.state["sources"][SOURCE_NAME]["resources"]["redlists"]["cursor"])
    assert cursor > pendulum.now("UTC").subtract(days=8)
