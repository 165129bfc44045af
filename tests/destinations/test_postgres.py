"""End to end into a real PostgreSQL server: the `np6` command, the local NP6 sandbox over HTTP.

What landed is compared with the sandbox's own ground truth; column types and order with the
shipped schema (`schemas/import/np6.schema.yaml`), which a contract test ties to the code.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from tests import truth
from tests.truth import TABLE_TYPES, ms

REPO = Path(__file__).resolve().parents[2]

START, END = "2026-10-01", "2026-10-04"
EVENT_RESOURCES = "hits,activations,bounces,cancellations,executions,other_events"
CONTRACT = f"actions,{EVENT_RESOURCES}"  # the tables these tests check (faster than every resource)
# dlt data type -> what PostgreSQL reports in information_schema.columns.data_type
PG_TYPES = {"text": "character varying", "timestamp": "timestamp with time zone", "bigint": "bigint",
            "json": "jsonb", "double": "double precision", "bool": "boolean"}
SHIPPED = yaml.safe_load((REPO / "schemas" / "import" / "np6.schema.yaml").read_text())["tables"]


def assert_exact(wh, account, start: str = START, end: str = END, *, push_events: bool = False) -> None:
    """`push_events`: the load included `notification_events` (a default load does)."""
    truth.assert_exact(wh, account, start, end, push_events=push_events)


def columns(wh, table: str) -> list[tuple[str, str]]:
    return wh.query("SELECT column_name, data_type FROM information_schema.columns "
                    "WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position",
                    wh.dataset, table)


def test_load_into_postgres_is_exact(sandbox, warehouse):
    wh = warehouse(sandbox.url, sandbox.api_key)
    result = wh.np6("--destination", "postgres", "--start", START, "--end", END)
    assert result.code == 0, result.output
    assert "into postgres 127.0.0.1" in result.out and "np6:np6@" not in result.output
    assert_exact(wh, sandbox.account, push_events=True)
    assert set(wh.ids("actions")) == {a["id"] for a in sandbox.account.actions()}
    assert wh.query("SELECT count(*) FROM {ds}._np6_windows WHERE status = 'loaded'")[0][0] > 0


def test_postgres_columns_follow_the_shipped_schema(sandbox, warehouse):
    wh = warehouse(sandbox.url, sandbox.api_key)
    assert wh.np6("--destination", "postgres", "--resources", CONTRACT, "--start", START, "--end", "2026-10-02").code == 0
    for table in ("actions", "hits", "activations", "bounces", "cancellations", "other_events", "_np6_windows"):
        want = [(name, PG_TYPES[spec["data_type"]]) for name, spec in SHIPPED[table]["columns"].items()]
        assert columns(wh, table) == want, table
    assert dict(columns(wh, "hits"))["timestamp"] == "timestamp with time zone"
    assert dict(columns(wh, "hits"))["extra"] == "jsonb"
    extra = wh.query("SELECT extra FROM {ds}.hits WHERE extra IS NOT NULL LIMIT 1")
    assert not extra or isinstance(extra[0][0], dict)  # a JSON object, not a quoted string


def test_primary_keys_are_declared_in_the_stored_schema(sandbox, warehouse):
    wh = warehouse(sandbox.url, sandbox.api_key)
    assert wh.np6("--destination", "postgres", "--resources", CONTRACT, "--start", START, "--end", "2026-10-02").code == 0
    stored = json.loads(wh.query("SELECT schema FROM {ds}._dlt_version ORDER BY inserted_at DESC LIMIT 1")[0][0])
    for table in ("actions", "hits", "activations", "bounces", "cancellations", "other_events"):
        keys = [c for c, spec in stored["tables"][table]["columns"].items() if spec.get("primary_key")]
        assert keys == ["id"], table
        assert stored["tables"][table]["write_disposition"] == "merge", table
    windows = stored["tables"]["_np6_windows"]["columns"]
    assert [c for c, s in windows.items() if s.get("primary_key")] == [
        "resource", "action_id", "window_start", "window_end"]


def test_reruns_and_overlaps_keep_one_row_per_id(sandbox, warehouse):
    wh = warehouse(sandbox.url, sandbox.api_key)
    assert wh.np6("--destination", "postgres", "--resources", CONTRACT, "--start", START, "--end", END).code == 0
    before = {t: wh.query(f"SELECT count(*) FROM {{ds}}.{t}")[0][0] for t in (*TABLE_TYPES, "actions")}
    again = wh.np6("--destination", "postgres", "--resources", CONTRACT, "--start", START, "--end", END)
    assert again.code == 0, again.output
    overlap = wh.np6("--destination", "postgres", "--resources", CONTRACT, "--start", "2026-10-02T12:00:00Z", "--end", END,
                     "--window", "6h")
    assert overlap.code == 0, overlap.output
    after = {t: wh.query(f"SELECT count(*) FROM {{ds}}.{t}")[0][0] for t in (*TABLE_TYPES, "actions")}
    assert before == after
    assert_exact(wh, sandbox.account)
    windows = wh.query("SELECT count(*), count(DISTINCT (resource, action_id, window_start, window_end)) "
                       "FROM {ds}._np6_windows")[0]
    assert windows[0] == windows[1]


def test_parallel_pipelines_load_one_dataset(sandbox, warehouse):
    """Scale-out: pipelines with their own names (state, staging tables) load disjoint slices at
    once; only one of them loads the dimensions. The union is exact."""
    wh = warehouse(sandbox.url, sandbox.api_key)
    # the first run creates the tables; concurrent first runs would race on CREATE TABLE
    first = wh.np6("--destination", "postgres", "--pipeline", "np6_a", "--resources", CONTRACT,
                   "--start", START, "--end", "2026-10-02")
    assert first.code == 0, first.output
    a = wh.start("--destination", "postgres", "--pipeline", "np6_a", "--resources", CONTRACT,
                 "--start", "2026-10-02", "--end", "2026-10-03")
    b = wh.start("--destination", "postgres", "--pipeline", "np6_b", "--resources", EVENT_RESOURCES,
                 "--start", "2026-10-03", "--end", END)
    outputs = [p.communicate(timeout=300)[0] for p in (a, b)]
    assert [a.returncode, b.returncode] == [0, 0], outputs
    assert_exact(wh, sandbox.account)
    schemas = {r[0] for r in wh.query("SELECT nspname FROM pg_namespace WHERE nspname LIKE %s", wh.dataset + "%")}
    assert {f"{wh.dataset}_staging_np6_a", f"{wh.dataset}_staging_np6_b"} <= schemas
    pipelines = {r[0] for r in wh.query("SELECT DISTINCT pipeline_name FROM {ds}._dlt_pipeline_state")}
    assert pipelines == {"np6_a", "np6_b"}


def test_parallel_pipelines_split_by_action(sandbox, warehouse):
    """Scale-out by action: each pipeline reads the per-action feeds of its own actions."""
    wh = warehouse(sandbox.url, sandbox.api_key)
    actions = [a["id"] for a in sandbox.account.actions()]
    halves = [",".join(actions[:2]), ",".join(actions[2:])]
    first = wh.np6("--destination", "postgres", "--pipeline", "np6_a", "--resources", "hits",
                   "--actions", halves[0], "--start", START, "--end", "2026-10-02")
    assert first.code == 0, first.output
    procs = [wh.start("--destination", "postgres", "--pipeline", f"np6_{name}", "--resources", "hits",
                      "--actions", half, "--start", START, "--end", END)
             for name, half in zip("ab", halves)]
    outputs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    loaded = wh.ids("hits")
    assert len(loaded) == len(set(loaded))
    assert set(loaded) == sandbox.account.event_ids(ms(START), ms(END), types=["hit"])
