"""A full-refresh list is asked on every run but loaded again only when NP6's answer changed
(`sources.np6.bookkeeping.unchanged`); a table lost in the destination is loaded again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dlt
import httpx

from pipelines.runner import LoadSummary, load_once

FIELDS = [{"id": 1, "type": "text", "name": "email"}, {"id": 2, "type": "text", "name": "city"}]


def test_a_list_as_it_was_is_asked_again_but_not_loaded_again(tmp_path: Path) -> None:
    answer = [dict(f) for f in FIELDS]
    asked: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.path)
        return httpx.Response(200, json=answer) if request.url.path == "/fields" else httpx.Response(404)

    pipeline = dlt.pipeline("unchanged_lists", destination=dlt.destinations.duckdb(str(tmp_path / "w.duckdb")),
                            dataset_name="np6", pipelines_dir=str(tmp_path / "dlt"))  # fmt: skip

    def run() -> LoadSummary:
        return load_once(pipeline, resources="fields", progress=lambda _: None, api_key="k",
                         base_url="http://np6.test", transport=httpx.MockTransport(handler))  # fmt: skip

    def names() -> list[Any]:
        with pipeline.sql_client() as client:
            return sorted(r[0] for r in client.execute_sql("SELECT name FROM fields"))

    assert run().rows["fields"] == 2
    assert run().rows["fields"] == 0 and asked == ["/fields", "/fields"]  # asked, nothing loaded
    assert names() == ["city", "email"]

    answer[1]["name"] = "town"
    assert run().rows["fields"] == 2
    assert names() == ["email", "town"]

    with pipeline.sql_client() as client:
        client.execute_sql("DELETE FROM fields")
    assert run().rows["fields"] == 2  # an emptied table is not skipped for good
    assert names() == ["email", "town"]
