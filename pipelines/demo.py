"""`np6 demo`: a month of sandbox data loaded into DuckDB, then a look at what landed."""

from __future__ import annotations

import os
import tempfile
import time
from datetime import datetime, timezone

import dlt
import duckdb
import pendulum

from sources.np6.runner import run_load
from sources.np6_sandbox import Account, AccountSpec, SandboxServer

from .np6_pipeline import print_summary

ENGAGEMENT_SQL = """\
SELECT a.name                                     AS action,
       count(DISTINCT s.receiver_id)              AS recipients,
       count(DISTINCT o.receiver_id)              AS openers,
       count(DISTINCT c.receiver_id)              AS clickers,
       round(100.0 * count(DISTINCT o.receiver_id) / nullif(count(DISTINCT s.receiver_id), 0), 1) AS open_pct,
       round(100.0 * count(DISTINCT c.receiver_id) / nullif(count(DISTINCT s.receiver_id), 0), 1) AS click_pct
FROM np6.activations s
JOIN np6.actions a ON a.id = s.action_id
LEFT JOIN np6.hits o ON o.action_id = s.action_id AND o.receiver_id = s.receiver_id
     AND o.hit_type = 'open' AND o.classification IS NULL
LEFT JOIN np6.hits c ON c.action_id = s.action_id AND c.receiver_id = s.receiver_id
     AND c.hit_type = 'redirection'
GROUP BY a.name ORDER BY recipients DESC LIMIT 5"""


def _real_loads_in(path: str) -> bool:
    """True when the file holds data loaded by the real `np6` pipeline: never overwrite it."""
    if not os.path.exists(path):
        return False
    with duckdb.connect(path, read_only=True) as con:
        found = con.sql(
            "SELECT count(*) FROM information_schema.tables "
            "WHERE table_schema = 'np6' AND table_name = '_dlt_pipeline_state'"
        ).fetchall()
        if not found[0][0]:
            return False
        real = con.sql("SELECT count(*) FROM np6._dlt_pipeline_state WHERE pipeline_name = 'np6'")
        return bool(real.fetchall()[0][0])


def _print_table(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    rel = con.sql(sql)
    rows = rel.fetchall()
    widths = [max(len(str(c)), *(len(str(r[i])) for r in rows)) for i, c in enumerate(rel.columns)]
    print("  " + "  ".join(f"{c:<{w}}" for c, w in zip(rel.columns, widths)))
    for row in rows:
        print("  " + "  ".join(f"{str(v):<{w}}" for v, w in zip(row, widths)))


def show_what_landed(path: str) -> None:
    """Rows per table, the time range of the events and a sample engagement query."""
    with duckdb.connect(path, read_only=True) as con:
        print(f"\nWhat landed in {path} (dataset np6):")
        _print_table(
            con,
            "SELECT table_name AS \"table\", estimated_size AS rows FROM duckdb_tables() "
            "WHERE schema_name = 'np6' AND NOT table_name LIKE '_dlt%' ORDER BY table_name",
        )
        first, last = con.sql(
            "SELECT min(timestamp), max(timestamp) FROM (SELECT timestamp FROM np6.activations "
            "UNION ALL SELECT timestamp FROM np6.hits)"
        ).fetchall()[0]
        print(f"\nEvents from {first} to {last}.")
        print("\nTop actions by recipients, with unique open and click rates (robots excluded):")
        print("\n".join("    " + line for line in ENGAGEMENT_SQL.splitlines()))
        _print_table(con, ENGAGEMENT_SQL)


def run_demo(*, events_per_day: int, actions: int, days: int, seed: int, duckdb_path: str) -> int:
    """Serve a sandbox account on loopback, load it all, print what landed."""
    if _real_loads_in(duckdb_path):
        print(f"np6 demo: {duckdb_path} holds data of the real np6 pipeline; "
              "pass --duckdb another.duckdb", flush=True)
        return 2
    start = pendulum.today("UTC").subtract(days=days)
    spec = AccountSpec(seed=seed, actions=actions, events_per_day=events_per_day,
                       start=datetime.fromtimestamp(start.timestamp(), timezone.utc), days=days)
    with SandboxServer(Account(spec)) as server, tempfile.TemporaryDirectory() as state_dir:
        print(f"Sandbox NP6 API on {server.url}: {actions} actions, ~{events_per_day:,} events/day, "
              f"{days} days from {start.to_date_string()}")
        pipeline = dlt.pipeline(
            pipeline_name="np6_demo",
            destination=dlt.destinations.duckdb(os.path.abspath(duckdb_path)),
            dataset_name="np6",
            pipelines_dir=state_dir,
        )
        summary = run_load(
            pipeline,
            commit_windows=days + 1,
            base_url=server.url,
            api_key=spec.api_key,
            start_date=start.to_iso8601_string(),
            lookback="0s",
        )
    print_summary(summary)
    show_what_landed(duckdb_path)
    return 0


if __name__ == "__main__":
    started = time.monotonic()
    raise SystemExit(run_demo(events_per_day=5000, actions=20, days=30, seed=42, duckdb_path="np6_demo.duckdb"))
