"""`np6 demo`: a month of sandbox data loaded into DuckDB, then a look at what landed."""

from __future__ import annotations

import os
import sys
import tempfile
import time
from datetime import datetime, timezone

import dlt
import duckdb
import pendulum

from pipelines.runner import load_once
from sources.np6.registry import REGISTRY
from sources.np6_sandbox import Account, AccountSpec, SandboxServer

from .np6_pipeline import print_summary

OPT_IN = tuple(r.name for r in REGISTRY if not r.default)  # reactivities, campaign events
OPT_IN_DAYS = 7  # the opt-in resources re-read events: a week shows them at a fraction of the cost

ENGAGEMENT_SQL = """\
SELECT a.name                                   AS action,
       r.n                                      AS recipients,
       coalesce(o.n, 0)                         AS openers,
       coalesce(c.n, 0)                         AS clickers,
       round(100.0 * coalesce(o.n, 0) / r.n, 1) AS open_pct,
       round(100.0 * coalesce(c.n, 0) / r.n, 1) AS click_pct,
       o.source                                 AS openers_from
FROM np6.actions a
JOIN (SELECT action_id, count(*) AS n FROM np6.action_recipients GROUP BY 1) r ON r.action_id = a.id
LEFT JOIN (SELECT action_id, count(*) AS n, min(source) AS source FROM np6.action_openers GROUP BY 1) o
       ON o.action_id = a.id
LEFT JOIN (SELECT action_id, count(*) AS n FROM np6.action_clickers GROUP BY 1) c ON c.action_id = a.id
ORDER BY recipients DESC LIMIT 5"""

CONTACTS_SQL = """\
SELECT t.civilite, count(*) AS contacts, count(t.redlist_mail_at) AS redlisted_mail,
       count(DISTINCT b.target_id) AS with_bounces
FROM np6.targets t LEFT JOIN np6.target_bounces b ON b.target_id = t.id
GROUP BY 1 ORDER BY contacts DESC"""

PUSH_SQL = """\
SELECT n.name AS notification, e.event_type, count(*) AS events
FROM (SELECT action_id, 'activation' AS event_type FROM np6.activations WHERE channel = 'notification'
      UNION ALL SELECT action_id, 'hit' FROM np6.hits WHERE channel = 'notification'
      UNION ALL SELECT action_id, event_type FROM np6.other_events WHERE channel = 'notification') e
JOIN np6.notifications n ON n.id::VARCHAR = e.action_id
GROUP BY 1, 2 ORDER BY 1, 2"""


NEXT_STEPS = """
Next steps:
  Load your own account:  export SOURCES__NP6__API_KEY=<your X-Key>; np6 load
                          (np6_data.duckdb here; a warehouse: np6 load --destination postgres, see README)
  Explore this demo:      duckdb {path}    then  SELECT * FROM np6.hits LIMIT 10;
  Open the report:        np6 report --out report.html
  Every table and cursor: np6 resources"""


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


def _row_counts_sql(con: duckdb.DuckDBPyConnection) -> str:
    """Exact rows per table of dataset np6 (`estimated_size` is DuckDB's guess, not a count)."""
    tables = [t for (t,) in con.sql(
        "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'np6' "
        "AND NOT table_name LIKE '\\_dlt%' ESCAPE '\\' ORDER BY table_name").fetchall()]
    counts = " UNION ALL ".join(f"SELECT '{t}' AS \"table\", count(*) AS rows FROM np6.\"{t}\"" for t in tables)
    return f"SELECT * FROM ({counts}) ORDER BY 1"


def show_what_landed(path: str) -> None:
    """Rows per table, the time range of the events and a sample engagement query."""
    with duckdb.connect(path, read_only=True) as con:
        print(f"\nWhat landed in {path} (dataset np6):")
        _print_table(con, _row_counts_sql(con))
        first, last = con.sql(
            "SELECT min(timestamp), max(timestamp) FROM (SELECT timestamp FROM np6.activations "
            "UNION ALL SELECT timestamp FROM np6.hits)"
        ).fetchall()[0]
        print(f"\nEvents from {first} to {last}.")
        for title, sql in (
            ("Top actions by recipients, with unique open and click rates (action_* tables):", ENGAGEMENT_SQL),
            ("Contacts seen in the events, by civility (targets, target_bounces):", CONTACTS_SQL),
            ("Push notification events by type (event tables, channel = 'notification'):", PUSH_SQL),
        ):
            print(f"\n{title}")
            print("\n".join("    " + line for line in sql.splitlines()))
            _print_table(con, sql)


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
            # dlt's own progress: a line every few seconds for each step of each load
            progress=dlt.progress.log(log_period=5.0, logger=sys.stdout, dump_system_stats=False),
        )
        settings = dict(base_url=server.url, api_key=spec.api_key, start_date=start.to_iso8601_string(),
                        lookback="0s")  # fmt: skip
        print("Loading every default resource (np6 load):")
        summary = load_once(pipeline, **settings)
        recent = pendulum.today("UTC").subtract(days=min(days, OPT_IN_DAYS))
        print(f"Loading the opt-in resources for the last {min(days, OPT_IN_DAYS)} days "
              f"(np6 load --resources {','.join(OPT_IN)} --start {recent.to_date_string()}):")
        extra = load_once(pipeline, resources=list(OPT_IN),
                          range_start=recent.to_iso8601_string(), **settings)  # fmt: skip
        summary.rows.update(extra.rows)
        summary.seconds += extra.seconds
        drop_staging(pipeline)
        report = _report(pipeline, duckdb_path)
    print_summary(summary)
    show_what_landed(duckdb_path)
    if report:
        print(f"\nReport (np6 report): {report}")
    print(NEXT_STEPS.format(path=duckdb_path))
    return 0


def drop_staging(pipeline: dlt.Pipeline) -> None:
    """Drop the staging dataset dlt merges through (`np6_staging`): the demo leaves only np6."""
    with pipeline.sql_client() as client:
        with client.with_staging_dataset():
            client.drop_dataset() if client.has_dataset() else None


def _report(pipeline: dlt.Pipeline, duckdb_path: str) -> str | None:
    """Write the HTML report of the demo beside its DuckDB file; its path (None without matplotlib)."""
    from .report import write_report

    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print("(no report: pip install 'np6-connector[report]')")
        return None
    return write_report(pipeline, os.path.splitext(os.path.abspath(duckdb_path))[0] + "_report.html")


if __name__ == "__main__":
    started = time.monotonic()
    raise SystemExit(run_demo(events_per_day=5000, actions=20, days=30, seed=42, duckdb_path="np6_demo.duckdb"))
