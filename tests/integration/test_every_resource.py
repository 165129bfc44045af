"""The real `np6` command over every resource: what `np6 resources` promises is what a load fills.

The exact contents of each family are checked against the sandbox in their own integration tests
(test_load, test_exports, test_contacts, test_push_campaigns, test_archives_dimensions); this one
checks the whole from a user's side: a default load fills every default table, the opt-in ones
only when named, a second run adds nothing, and `np6 resources` lists it all.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from sources.np6.registry import REGISTRY as RESOURCES
from tests.cli import run_np6
from tests.integration.test_archives_dimensions import assert_archives_and_dimensions, assert_archives_exact

START, END = "2026-10-01", "2026-10-04"
SHIPPED = yaml.safe_load((Path(__file__).resolve().parents[2] / "schemas" / "import" / "np6.schema.yaml")
                         .read_text())["tables"]  # fmt: skip
# Tables a resource fills under another name, or besides its own.
TABLES_OF = {
    "notification_events": ("hits", "activations", "other_events"),
    "targets": ("targets", "target_bounces"),
    "action_reactivities": ("reactivities",),
    "notification_reactivities": ("reactivities",),
    "campaign_events": ("campaign_events",),
}


def tables_of(names) -> set[str]:
    return {t for n in names for t in TABLES_OF.get(n, (n,))}


def counts(ws) -> dict[str, int]:
    """Rows per table (but `_np6_windows`, which logs every read)."""
    names = [r[0] for r in ws.query("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'np6' "
                                    "AND table_name NOT LIKE '_dlt%' AND table_name <> '_np6_windows'")]
    return {t: ws.query(f"SELECT count(*) FROM np6.{t}")[0][0] for t in names}


def test_np6_resources_lists_every_resource(tmp_path):
    result = run_np6(["resources"], cwd=tmp_path, env={"PATH": "/usr/bin:/bin"})
    assert result.code == 0, result.output
    for r in RESOURCES:
        assert f"{r.name}: {'default' if r.default else 'opt-in'}" in result.out
        assert f"endpoint  {r.endpoint}" in result.out


def test_default_load_fills_every_default_table_and_a_rerun_adds_nothing(make_sandbox, workspace):
    sandbox = make_sandbox(events_per_day=500)  # fewer receivers: one contact request each
    ws = workspace(sandbox.url, sandbox.api_key)
    first = ws.np6("load", "--start", START, "--end", END)
    assert first.code == 0, first.output
    loaded = counts(ws)
    default = tables_of(r.name for r in RESOURCES if r.default)
    opt_in = tables_of(r.name for r in RESOURCES if not r.default) - default
    assert {t for t in default if loaded.get(t, 0) == 0} == set(), loaded
    assert not opt_in & set(loaded), "an opt-in resource was loaded by default"
    assert "Traceback" not in first.output
    assert_archives_and_dimensions(ws, sandbox.account)
    assert_tables_follow_the_shipped_schema(ws)
    again = ws.np6("load", "--start", START, "--end", END, "--window", "6h")  # other windows, same range
    assert again.code == 0, again.output
    assert counts(ws) == loaded
    assert_archives_exact(ws, sandbox.account)


def assert_tables_follow_the_shipped_schema(ws) -> None:
    """Every table a load creates is in the shipped schema, with its columns in its order (the
    contact-field columns of `targets` come after the fixed ones)."""
    rows = ws.query("SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'np6' "
                    "AND table_name NOT LIKE '_dlt%' AND table_name IN (SELECT table_name FROM "
                    "information_schema.tables WHERE table_schema = 'np6' AND table_type = 'BASE TABLE') "
                    "ORDER BY table_name, ordinal_position")  # the models' views are not in it
    loaded: dict[str, list[str]] = {}
    for table, column in rows:
        loaded.setdefault(table, []).append(column)
    assert set(loaded) <= set(SHIPPED), set(loaded) - set(SHIPPED)
    for table, columns in loaded.items():
        shipped = list(SHIPPED[table]["columns"])
        assert columns[: len(shipped)] == shipped, table
        assert len(columns) == len(shipped) or table == "targets", table


def test_opt_in_resources_load_when_named(sandbox, workspace):
    ws = workspace(sandbox.url, sandbox.api_key)
    names = [r.name for r in RESOURCES if not r.default]
    result = ws.np6("load", "--start", START, "--end", END, "--resources", ",".join(names))
    assert result.code == 0, result.output
    loaded = counts(ws)
    assert {t for t in tables_of(names) if loaded.get(t, 0) == 0} == set(), loaded
    assert_tables_follow_the_shipped_schema(ws)
