"""DuckDB merges a fresh package's staging as it is when its ids are unique (`pipelines.staging`),
and with dlt's deduplication when they repeat or when the package is resumed after a kill."""

from __future__ import annotations

import sys
from pathlib import Path

import dlt
import pyarrow as pa

from pipelines.staging import STAGED_ONCE, trust_staging
from tests.faults.helpers import END, EVENT_RESOURCES, FAST, START, assert_exact
from tests.integration.conftest import workspace  # noqa: F401 (a fixture)
from tests.kill import start

MIDDLE = "2026-10-02"  # between the fault tests' START and END


def _events(*ids: str) -> pa.Table:
    return pa.table({"id": list(ids), "n": list(range(len(ids)))})


def _pipeline(tmp_path: Path) -> dlt.Pipeline:
    return dlt.pipeline("trusted", destination=dlt.destinations.duckdb(str(tmp_path / "w.duckdb")),
                        dataset_name="np6", pipelines_dir=str(tmp_path / "dlt"))  # fmt: skip


def _merge_sql(pipeline: dlt.Pipeline, load_id: str, table: str) -> str:
    done = Path(pipeline.working_dir) / "load" / "loaded" / load_id / "completed_jobs"
    return "\n".join(p.read_text() for p in done.glob(f"{table}.*.sql"))


def _load(pipeline: dlt.Pipeline, *tables: pa.Table) -> tuple[str, list[str]]:
    resource = dlt.resource(list(tables), name="events", primary_key="id", write_disposition="merge")
    pipeline.extract(resource, loader_file_format="parquet")
    pipeline.normalize()
    (load_id, trusted), = trust_staging(pipeline).items()
    pipeline.load()
    return load_id, trusted


def _rows(pipeline: dlt.Pipeline) -> list[tuple]:
    with pipeline.sql_client() as client:
        return sorted(client.execute_sql("SELECT id, n FROM events"))


def test_unique_ids_merge_without_row_number_and_repeats_keep_it(tmp_path: Path) -> None:
    pipeline = _pipeline(tmp_path)
    load_id, trusted = _load(pipeline, _events("a", "b"), _events("c"))
    assert trusted == ["events"]
    assert "ROW_NUMBER" not in _merge_sql(pipeline, load_id, "events")
    assert _rows(pipeline) == [("a", 0), ("b", 1), ("c", 0)]

    load_id, trusted = _load(pipeline, _events("b", "d"), _events("d"))  # `d` twice in one package
    assert trusted == []
    assert "ROW_NUMBER" in _merge_sql(pipeline, load_id, "events")
    rows = _rows(pipeline)
    assert [r[0] for r in rows] == ["a", "b", "c", "d"]  # one row per id, `b` replaced
    assert rows[1] == ("b", 0)


def test_other_destinations_keep_dlts_deduplication(tmp_path: Path) -> None:
    pipeline = dlt.pipeline("trusted_fs", destination=dlt.destinations.filesystem(str(tmp_path / "files")),
                            dataset_name="np6", pipelines_dir=str(tmp_path / "dlt"))  # fmt: skip
    resource = dlt.resource([_events("a")], name="events", primary_key="id", write_disposition="merge")
    pipeline.extract(resource, loader_file_format="parquet")
    pipeline.normalize()
    (load_id, trusted), = trust_staging(pipeline).items()
    assert trusted == []
    packages = pipeline._get_load_storage().normalized_packages
    assert not packages.load_schema(load_id).tables["events"].get(STAGED_ONCE)


# The first run dies right after DuckDB committed the copy of `hits` into staging, before dlt
# recorded the job: the next run copies that file again into the same staging table.
_DIE_AFTER_HITS_COPY = """
import os, signal, sys
from dlt.destinations.impl.duckdb.duck import DuckDbCopyJob
copy = DuckDbCopyJob.run
def copy_then_die(self):
    copy(self)
    if self.load_table_name == "hits":
        os.kill(os.getpid(), signal.SIGKILL)
DuckDbCopyJob.run = copy_then_die
sys.argv = ["np6", *sys.argv[1:]]
from pipelines.cli import console
console()
"""


def test_a_copy_replayed_after_a_kill_is_deduplicated(make_sandbox, workspace) -> None:  # noqa: F811
    box = make_sandbox(days=2, events_per_day=600)
    ws = workspace(box.url, box.api_key, **FAST)
    load = ["load", "--resources", EVENT_RESOURCES]
    with open(ws.root / "killed.log", "w") as log:  # the first day, killed in its load step
        proc = start([sys.executable, "-c", _DIE_AFTER_HITS_COPY, *load, "--start", START, "--end", MIDDLE],
                     ws.root, ws.env, log)  # fmt: skip
        assert proc.wait(timeout=300) == -9, (ws.root / "killed.log").read_text()
    pending = Path(ws.env["DLT_DATA_DIR"]) / "pipelines" / "np6" / "load" / "normalized"
    assert [p.name for p in pending.iterdir()], "the killed run left no package to finish"
    # The next run finishes the first day's package (its hits staged twice), then reads the second.
    final = ws.np6(*load, "--start", MIDDLE, "--end", END)
    assert final.code == 0, final.output
    assert "finishing the load an interrupted run left" in final.output
    assert_exact(ws, box.account)
