"""The shipped dlt schema (`schemas/import/np6.schema.yaml`) against the code that fills it.

The schema is the warehouse contract every destination is created from; these tests fail when
the Arrow schemas of `sources.np6.normalize`, the resource hints or the bookkeeping records
disagree with it (names, order, types, keys), and when the diagram `schemas/erd.md` is stale.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import dlt
import pytest
import yaml

from sources.np6.client import Fetched
from sources.np6.dimensions import ACTION_COLUMNS
from sources.np6.events import ReadUnit, WindowBatch, event_table, rejected_log, rejected_records, window_record, windows_log
from sources.np6.normalize import SCHEMAS, Rejected
from sources.np6.windows import Window

REPO = Path(__file__).resolve().parents[2]
SCHEMA_FILE = REPO / "schemas" / "import" / "np6.schema.yaml"
SHIPPED: dict[str, Any] = yaml.safe_load(SCHEMA_FILE.read_text())["tables"]
# Last, in the order an Arrow table gets them: the source adds `_dlt_id`, dlt then appends the
# load id. dlt imports a Parquet file as it is only when its columns follow the schema's order.
DLT_COLUMNS = ("_dlt_id", "_dlt_load_id")
BOOKKEEPING = ("_np6_windows", "_np6_rejected")
ARROW_TO_DLT = {pa.string(): "text", pa.int64(): "bigint", pa.float64(): "double", pa.bool_(): "bool",
                pa.timestamp("us", tz="UTC"): "timestamp", pa.timestamp("ms", tz="UTC"): "timestamp"}
PY_TO_DLT = {str: "text", int: "bigint", float: "double", datetime: "timestamp"}


def resource_hints(table: str) -> dict[str, Any]:
    """The table schema the code's resource declares (keys, disposition, json columns)."""
    if table == "actions":  # its rows carry their hints (`for_table`): the same hints on a resource
        resource = dlt.resource([], name="actions", primary_key="id", write_disposition="merge",
                                columns=ACTION_COLUMNS)
    else:
        resource = event_table(table)
    return resource.compute_table_schema()


def shipped_columns(table: str) -> dict[str, Any]:
    return {n: c for n, c in SHIPPED[table]["columns"].items() if n not in DLT_COLUMNS}


def test_every_table_of_the_code_is_shipped():
    assert set(SCHEMAS) | set(BOOKKEEPING) <= set(SHIPPED)
    for table in (*SCHEMAS, *BOOKKEEPING):
        assert list(SHIPPED[table]["columns"])[-2:] == list(DLT_COLUMNS), table
        assert SHIPPED[table].get("description"), table


@pytest.mark.parametrize("table", sorted(SCHEMAS))
def test_shipped_columns_match_the_arrow_schema(table):
    arrow, hints = SCHEMAS[table], resource_hints(table)
    json_columns = {n for n, c in hints["columns"].items() if c.get("data_type") == "json"}
    want = {f.name: ("json" if f.name in json_columns else ARROW_TO_DLT[f.type], f.nullable) for f in arrow}
    got = {n: (c["data_type"], c.get("nullable", True)) for n, c in shipped_columns(table).items()}
    assert list(got) == arrow.names  # same names, same order
    assert got == want


@pytest.mark.parametrize("table", sorted(SCHEMAS))
def test_shipped_keys_and_disposition_match_the_resource(table):
    hints = resource_hints(table)
    keys = [n for n, c in hints["columns"].items() if c.get("primary_key")]
    assert [n for n, c in SHIPPED[table]["columns"].items() if c.get("primary_key")] == keys == ["id"]
    assert SHIPPED[table]["write_disposition"] == hints["write_disposition"]
    assert SHIPPED[table].get("x-merge-strategy") == hints.get("x-merge-strategy")


def _batch() -> WindowBatch:
    start = datetime(2026, 10, 1, tzinfo=UTC)
    window = Window(start, start + timedelta(hours=1))
    unit = ReadUnit("/actions/events", window, ("hits",), "000PE4", None, split_from=Window(start, start + timedelta(days=1)))
    fetched = Fetched(body=b"[]", status=200, content_type="application/json", requests=1, retries=0, waited=0.0, seconds=0.5)
    return WindowBatch(unit, {}, [Rejected("no id", "{}")], fetched, ("hits.link_value: int where NP6 documents text",))


@pytest.mark.parametrize(
    "table, record, resource",
    [
        ("_np6_windows", lambda b: window_record(b), windows_log),
        ("_np6_rejected", lambda b: next(rejected_records(b)), rejected_log),
    ],
    ids=["windows", "rejected"],
)
def test_shipped_bookkeeping_tables_match_their_records(table, record, resource):
    row = record(_batch())
    shipped = shipped_columns(table)
    assert list(shipped) == list(row)
    assert {n: shipped[n]["data_type"] for n, v in row.items() if v is not None} == {
        n: PY_TO_DLT[next(t for t in PY_TO_DLT if isinstance(v, t))] for n, v in row.items() if v is not None
    }
    assert all(shipped[n]["data_type"] == "text" for n, v in row.items() if v is None)  # the reasons
    keys = [n for n, c in resource().compute_table_schema()["columns"].items() if c.get("primary_key")]
    assert [n for n, c in shipped.items() if c.get("primary_key")] == keys


def test_erd_is_up_to_date():
    proc = subprocess.run([sys.executable, str(REPO / "schemas" / "erd.py"), "--check"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_loads_start_from_the_shipped_schema_in_any_directory(sandbox, tmp_path):
    """`np6 load` run far from the repo creates the tables from the shipped schema (descriptions
    included) and exports the schema it ends with to `schemas/export`."""
    import json
    import os

    import duckdb

    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCES__", "DESTINATION__"))}
    env.update(SOURCES__NP6__API_KEY=sandbox.api_key, SOURCES__NP6__BASE_URL=sandbox.url,
               DESTINATION__DUCKDB__CREDENTIALS=str(tmp_path / "w.duckdb"), DLT_DATA_DIR=str(tmp_path / "dlt"))
    np6 = Path(sys.executable).with_name("np6")
    proc = subprocess.run([str(np6), "load", "--resources", "hits", "--start", "2026-10-01", "--end", "2026-10-02"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as con:
        stored = json.loads(con.sql("SELECT schema FROM np6._dlt_version ORDER BY inserted_at DESC LIMIT 1").fetchall()[0][0])
        columns = [r[0] for r in con.sql("SELECT column_name FROM information_schema.columns WHERE "
                                         "table_schema = 'np6' AND table_name = 'hits' ORDER BY ordinal_position").fetchall()]
    assert stored["tables"]["hits"]["description"] == SHIPPED["hits"]["description"]
    assert columns == list(SHIPPED["hits"]["columns"])
    exported = yaml.safe_load((REPO / "schemas" / "export" / "np6.schema.yaml").read_text())
    assert list(exported["tables"]["hits"]["columns"]) == list(SHIPPED["hits"]["columns"])


def test_the_shipped_schema_passes_dlts_validation() -> None:
    """Runs skip dlt's validation of the curated schema (`sources.np6.schema`): this is where it
    is validated, and where a broken edit of the file fails."""
    from dlt.common.schema.exceptions import SchemaException
    from dlt.common.schema.utils import validate_stored_schema
    from dlt.common.validation import DictValidationException

    from sources.np6.schema import read_curated

    stored = read_curated(SCHEMA_FILE)
    validate_stored_schema(stored)
    broken = {**stored, "tables": {**stored["tables"], "hits": {**stored["tables"]["hits"], "write_disposition": 7}}}
    with pytest.raises((DictValidationException, SchemaException)):
        validate_stored_schema(broken)
