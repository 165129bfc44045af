"""Contacts: pure flattening of targets, bounces and redlist timelines; the field-column mapping;
the reads against `httpx.MockTransport`; and the `targets` resource's choice of ids in a DuckDB
pipeline fed with hand-made event rows.

Payloads are the documented ones (`seeds/002`, np6-api.md §3.11-§3.13); expected values are
written from them.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import dlt
import duckdb
import httpx
import orjson
import pendulum
import pytest

from sources.np6.client import NP6Client
from tests.np6.runs import run_with
from sources.np6.redlists import ORIGIN_LABELS, fetch_redlist, redlist_row, redlist_rows
from sources.np6.targets import (
    Skipped,
    fetch_targets,
    STATE_KEY,
    FieldSpec,
    assign_columns,
    bounce_rows,
    column_for,
    fetch_target,
    field_ids_of,
    field_specs,
    field_value,
    redlist_columns,
    snake_ascii,
    target_columns,
    target_row,
    targets,
)
from sources.np6.warehouse import new_ids_sql
from sources.np6.errors import NP6BadResponse, NP6ServerError
from sources.np6.windows import Window

KEY = "np6-TEST-KEY-contacts"
BASE = "https://np6.example.test"

CATALOGUE = [  # GET /fields, shaped as np6-api.md §3.12
    {"type": "email", "id": 8103, "name": "EMAIL", "isUnicity": True},
    {"type": "string", "id": 8120, "name": "PRENOM"},
    {"type": "list", "id": 8130, "name": "CIVILITE", "valueListId": 24},
    {"type": "date", "id": 8140, "name": "DATE_NAISSANCE"},
    {"type": "integer", "id": 8150, "name": "POINTS_FIDELITE"},
]
VALUE_LISTS = [  # GET /valueLists, np6-api.md §3.13 verbatim
    {"id": 23, "name": "Pastimes", "ordered": False,
     "values": [{"index": 1, "value": "Football"}, {"index": 2, "value": "Tennis"}, {"index": 3, "value": "Golf"}]},
    {"id": 24, "name": "Civility", "ordered": False,
     "values": [{"index": 1, "value": "Mr"}, {"index": 2, "value": "Ms"}, {"index": 3, "value": "Mrs"}]},
]  # fmt: skip
MAPPING = {"8103": "email", "8120": "prenom", "8130": "civilite", "8140": "date_naissance",
           "8150": "points_fidelite"}  # fmt: skip
SPECS = field_specs(MAPPING, CATALOGUE, VALUE_LISTS)
TARGET = {  # seeds/002, the documented response of GET/PUT /targets/{id}, with fields filled in
    "id": "000R4M0T", "hash": "0cc175b9c0f1b6a831c399e269772661",
    "creationDate": "2019-08-24T14:15:22Z", "lastUpdateDate": "2019-08-24T14:15:22.5Z",
    "fields": {"8103": "test@test.com", "8120": "Zoé", "8130": 2, "8140": "1990-05-17", "8150": 120},
    "bounce": [{"field": 8103, "type": "Soft", "timestamp": "2019-08-24T14:15:22Z", "reason": "string"}],
    "redList": {"mail": {"timestamp": "2019-08-24T14:15:22Z", "reason": 0}, "sms": None},
}  # fmt: skip


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


# --- column names ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param("DATE_NAISSANCE", "date_naissance", id="upper-snake"),
        pytest.param("Prénom usuel", "prenom_usuel", id="accents-and-space"),
        pytest.param("dateDeNaissance", "date_de_naissance", id="camel-case"),
        pytest.param("  N° client / fidélité ", "n_client_fidelite", id="punctuation"),
        pytest.param("山田", "", id="nothing-ascii"),
        pytest.param(None, "", id="none"),
    ],
)
def test_snake_ascii(name: Any, expected: str) -> None:
    assert snake_ascii(name) == expected


@pytest.mark.parametrize(
    ("name", "taken", "expected"),
    [
        pytest.param("EMAIL", set(), "email", id="plain"),
        pytest.param("ID", set(), "field_id", id="clashes-with-fixed-column"),
        pytest.param("Extra", set(), "field_extra", id="clashes-with-extra"),
        pytest.param("REDLIST_MAIL_AT", set(), "field_redlist_mail_at", id="clashes-with-redlist-column"),
        pytest.param("山田", set(), "field", id="empty"),
        pytest.param("2FA", set(), "field_2fa", id="leading-digit"),
        pytest.param("Email", {"email"}, "email_2", id="taken-once"),
        pytest.param("E-mail", {"e_mail", "e_mail_2"}, "e_mail_3", id="taken-twice"),
    ],
)
def test_column_for(name: str, taken: set[str], expected: str) -> None:
    assert column_for(name, taken) == expected


def test_assign_columns_names_the_catalogue_in_id_order_and_unlisted_ids_by_id() -> None:
    catalogue = [{"id": 9, "name": "Email"}, {"id": 3, "name": "EMAIL"}, {"id": 5, "name": "id"}]
    assert assign_columns({}, catalogue, ["8199", "3"]) == {
        "3": "email", "5": "field_id", "9": "email_2", "8199": "field_8199"}  # fmt: skip


def test_assign_columns_keeps_a_column_through_a_rename_and_names_new_fields() -> None:
    first = assign_columns({}, CATALOGUE)
    renamed = [{**f, "name": "BIRTH_DATE"} if f["id"] == 8140 else f for f in CATALOGUE]
    renamed.append({"type": "string", "id": 8160, "name": "DATE_NAISSANCE"})  # takes the old name
    second = assign_columns(first, renamed)
    assert second["8140"] == first["8140"] == "date_naissance"
    assert second["8160"] == "date_naissance_2"
    assert {k: v for k, v in second.items() if k != "8160"} == first


def test_assign_columns_records_a_field_that_left_the_catalogue() -> None:
    known = {"8101": "civility"}
    assert assign_columns(known, CATALOGUE, ["8101"])["8101"] == "civility"


def test_field_specs_kinds_and_labels() -> None:
    assert SPECS["8103"] == FieldSpec("email", "text")
    assert SPECS["8130"] == FieldSpec("civilite", "list", {1: "Mr", 2: "Ms", 3: "Mrs"})
    assert (SPECS["8140"].kind, SPECS["8150"].kind) == ("date", "bigint")
    assert field_specs({"8199": "field_8199"}, CATALOGUE, VALUE_LISTS)["8199"] == FieldSpec("field_8199")


def test_target_columns_type_every_field_column() -> None:
    hints = target_columns(SPECS)
    assert hints["points_fidelite"] == {"data_type": "bigint"}
    assert hints["date_naissance"] == {"data_type": "date"}
    assert hints["civilite"] == hints["email"] == {"data_type": "text"}
    assert hints["redlist_mail_at"]["data_type"] == "timestamp" and hints["id"]["nullable"] is False


# --- field values ----------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("field_id", "value", "column", "kept"),
    [
        pytest.param("8150", 120, 120, None, id="integer"),
        pytest.param("8150", "42", 42, None, id="integer-as-digits"),
        pytest.param("8150", "12 points", None, "12 points", id="integer-unparseable-to-extra"),
        pytest.param("8140", "1990-05-17", date(1990, 5, 17), None, id="date"),
        pytest.param("8140", "1990-05-17T00:00:00Z", date(1990, 5, 17), None, id="date-as-midnight-instant"),
        pytest.param("8140", "1990-05-17T08:30:00Z", None, "1990-05-17T08:30:00Z", id="date-with-time-to-extra"),
        pytest.param("8140", "0001-01-01T00:00:00Z", None, None, id="date-placeholder-is-null"),
        pytest.param("8140", "17/05/1990", None, "17/05/1990", id="date-unparseable-to-extra"),
        pytest.param("8130", 3, "Mrs", None, id="list-label"),
        pytest.param("8130", "1", "Mr", None, id="list-index-as-text"),
        pytest.param("8130", 7, "7", None, id="list-unknown-index-raw-text"),
        pytest.param("8130", "Dr", "Dr", None, id="list-label-instead-of-index"),
        pytest.param("8120", "Zoé", "Zoé", None, id="text"),
        pytest.param("8120", 12, "12", None, id="text-from-number"),
        pytest.param("8120", {"a": 1}, '{"a":1}', None, id="text-from-object"),
        pytest.param("8120", None, None, None, id="null"),
    ],
)
def test_field_value(field_id: str, value: Any, column: Any, kept: Any) -> None:
    assert field_value(SPECS[field_id], value) == (column, kept)


# --- targets and bounces ---------------------------------------------------------------------


def row_of(item: dict[str, Any], specs: dict[str, FieldSpec] = SPECS) -> dict[str, Any]:
    return target_row(item, specs)


def test_target_row_documented() -> None:
    assert row_of(TARGET) == {
        "id": "000R4M0T", "hash": "0cc175b9c0f1b6a831c399e269772661",
        "creation_date": utc(2019, 8, 24, 14, 15, 22), "last_update_date": utc(2019, 8, 24, 14, 15, 22, 500000),
        "email": "test@test.com", "prenom": "Zoé", "civilite": "Ms", "date_naissance": date(1990, 5, 17),
        "points_fidelite": 120,
        "redlist_mail_at": utc(2019, 8, 24, 14, 15, 22), "redlist_mail_reason": 0,
        "redlist_sms_at": None, "redlist_sms_reason": None,
        "extra": None,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        pytest.param({"id": "A", "fields": {}}, {"email": None, "points_fidelite": None, "extra": None},
                     id="no-values-all-columns-null"),
        pytest.param({"id": "A"}, {"hash": None, "creation_date": None, "redlist_mail_at": None, "extra": None},
                     id="cut-off-object"),
        pytest.param({"id": "A", "fields": {"8150": "lots"}}, {"points_fidelite": None,
                     "extra": {"fields.8150": "lots"}}, id="bad-value-to-extra"),
        pytest.param({"id": "A", "fields": {"8199": "legacy value"}},
                     {"field_8199": "legacy value", "extra": None}, id="field-not-in-specs"),
        pytest.param({"id": "A", "creationDate": "yesterday", "segment": 41},
                     {"creation_date": None, "extra": {"creationDate": "yesterday", "segment": 41}},
                     id="unknown-member-and-bad-date"),
        pytest.param({"id": "A", "creationDate": "0001-01-01T00:00:00Z"}, {"creation_date": None, "extra": None},
                     id="placeholder-date"),
        pytest.param({"id": "A", "fields": ["x"]}, {"extra": {"fields": ["x"]}}, id="fields-not-an-object"),
        pytest.param({"id": "A", "redList": {"mail": None, "sms": {"timestamp": "2026-10-01T00:00:00.12Z",
                      "reason": 6}}}, {"redlist_mail_at": None, "redlist_sms_at": utc(2026, 10, 1, 0, 0, 0, 120000),
                      "redlist_sms_reason": 6, "extra": None}, id="sms-redlisted"),
        pytest.param({"id": "A", "bounce": [{"field": 8103, "type": "Soft", "timestamp": "never"}]},
                     {"extra": {"bounce": [{"field": 8103, "type": "Soft", "timestamp": "never"}]}},
                     id="bounce-without-timestamp-kept-in-extra"),
        pytest.param({"id": "A", "bounce": "none"}, {"extra": {"bounce": "none"}}, id="bounce-not-a-list"),
    ],
)  # fmt: skip
def test_target_row_cases(item: dict[str, Any], expected: dict[str, Any]) -> None:
    specs = {**SPECS, "8199": FieldSpec("field_8199")} if "8199" in item.get("fields", {}) else SPECS
    row = row_of(item, specs)
    assert {k: row[k] for k in expected} == expected


@pytest.mark.parametrize(
    ("red", "columns", "extra"),
    [
        pytest.param(None, {}, {}, id="absent"),
        pytest.param({"mail": None, "sms": None}, {}, {}, id="not-redlisted"),
        pytest.param({"mail": {"timestamp": "2026-10-01T00:00:00Z", "reason": 4, "by": "api"}},
                     {"redlist_mail_at": utc(2026, 10, 1), "redlist_mail_reason": 4},
                     {"redList.mail": {"by": "api"}}, id="unknown-member"),
        pytest.param({"mail": {"timestamp": "soon", "reason": "4"}}, {},
                     {"redList.mail": {"timestamp": "soon", "reason": "4"}}, id="bad-values"),
        pytest.param({"push": {"timestamp": "2026-10-01T00:00:00Z"}}, {},
                     {"redList.push": {"timestamp": "2026-10-01T00:00:00Z"}}, id="unknown-channel"),
        pytest.param([1], {}, {"redList": [1]}, id="not-an-object"),
    ],
)  # fmt: skip
def test_redlist_columns(red: Any, columns: dict[str, Any], extra: dict[str, Any]) -> None:
    kept: dict[str, Any] = {}
    row = redlist_columns(red, kept)
    assert set(row) == {"redlist_mail_at", "redlist_mail_reason", "redlist_sms_at", "redlist_sms_reason"}
    assert {k: v for k, v in row.items() if v is not None} == columns
    assert kept == extra


def test_bounce_rows_documented_and_invalid() -> None:
    item = {**TARGET, "bounce": [
        *TARGET["bounce"],
        {"field": 8110, "type": "HardUser", "timestamp": "2026-10-01T00:00:00.1Z", "reason": None, "mta": "x"},
        {"field": None, "type": "Soft", "timestamp": "2026-10-01T00:00:00Z"},
        {"field": 8103, "timestamp": "2026-10-01T00:00:00Z"},
        "garbage",
    ]}  # fmt: skip
    assert bounce_rows(item, SPECS) == [
        {"target_id": "000R4M0T", "field_id": 8103, "field": "email", "type": "Soft",
         "timestamp": utc(2019, 8, 24, 14, 15, 22), "reason": "string", "extra": None},
        {"target_id": "000R4M0T", "field_id": 8110, "field": None, "type": "HardUser",
         "timestamp": utc(2026, 10, 1, 0, 0, 0, 100000), "reason": None, "extra": {"mta": "x"}},
    ]  # fmt: skip
    assert len(row_of(item)["extra"]["bounce"]) == 3


def test_field_ids_of_reads_fields_and_bounces() -> None:
    assert field_ids_of({**TARGET, "bounce": [{"field": 8110}]}) == {"8103", "8120", "8130", "8140", "8150", "8110"}
    assert field_ids_of("x") == set() and field_ids_of({"fields": None}) == set()


# --- redlist timelines -----------------------------------------------------------------------

LEGACY = [  # np6-api.md §3.11, the legacy shape of GET /targets/redlist/mail
    {"id": "0003YB53", "timestamp": "2008-12-16T15:26:00Z", "origin": 3, "detail": {"formId": "0000GH"}},
    {"id": "0003YB57", "timestamp": "2008-11-25T15:47:00Z", "origin": 1, "detail": {}},
]


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        pytest.param(LEGACY[0], {"channel": "mail", "target_id": "0003YB53", "timestamp": utc(2008, 12, 16, 15, 26),
                                 "origin": 3, "origin_label": "Listed by form", "detail": {"formId": "0000GH"},
                                 "extra": None}, id="documented-form"),
        pytest.param({**LEGACY[1], "origin": 12}, {"origin": 12, "origin_label": None}, id="unknown-origin"),
        pytest.param({**LEGACY[1], "origin": "api", "by": 1}, {"origin": None, "extra": {"origin": "api", "by": 1}},
                     id="bad-origin-and-unknown-member"),
        pytest.param({"id": "X", "timestamp": "2026-10-01T00:00:00Z"}, {"origin": None, "detail": None},
                     id="cut-off"),
    ],
)  # fmt: skip
def test_redlist_row(item: dict[str, Any], expected: dict[str, Any]) -> None:
    row = redlist_row("mail", item)
    assert row is not None and {k: row[k] for k in expected} == expected


def test_redlist_rows_reject_entries_without_id_or_timestamp() -> None:
    bad = [{"timestamp": "2026-10-01T00:00:00Z"}, {"id": "X", "timestamp": "soon"}, "garbage"]
    rows, rejected = redlist_rows("sms", [*LEGACY, *bad])
    assert [r["target_id"] for r in rows] == ["0003YB53", "0003YB57"] and rejected == bad
    assert ORIGIN_LABELS[9] == "Listed in SMS specific" and len(ORIGIN_LABELS) == 10


# --- reads -----------------------------------------------------------------------------------


def client_for(routes: dict[str, httpx.Response]) -> NP6Client:
    def handle(request: httpx.Request) -> httpx.Response:
        return routes.get(request.url.path, httpx.Response(404, json={"error": "not found"}))

    return NP6Client(BASE, KEY, transport=httpx.MockTransport(handle), max_attempts=1, sleep=lambda s: None)


def test_fetch_target_reads_one_and_gives_none_for_a_deleted_one() -> None:
    client = client_for({"/targets/000R4M0T": httpx.Response(200, json=TARGET)})
    assert fetch_target(client, "000R4M0T") == TARGET
    assert fetch_target(client, "0GONE000") is None


def test_a_contact_that_keeps_failing_is_skipped_and_the_others_load() -> None:
    other = {**TARGET, "id": "000R4M0U"}
    client = client_for({"/targets/000R4M0T": httpx.Response(503, text="busy"),
                         "/targets/000R4M0U": httpx.Response(200, json=other)})  # fmt: skip
    answers = fetch_targets(client, ["000R4M0T", "000R4M0U", "0GONE000"], 2)
    assert isinstance(answers[0], Skipped) and "503" in str(answers[0].error)
    assert answers[1:] == [other, None]


def test_an_api_that_fails_for_every_contact_stops_the_run() -> None:
    client = client_for({f"/targets/T{i:07d}": httpx.Response(503, text="down") for i in range(100)})
    with pytest.raises(NP6ServerError):
        fetch_targets(client, [f"T{i:07d}" for i in range(100)], 1)


@pytest.mark.parametrize(
    "body", [pytest.param([TARGET], id="array"), pytest.param({"hash": "x"}, id="no-id")]
)
def test_fetch_target_refuses_a_body_that_is_no_target_in_one_line(body: Any) -> None:
    client = client_for({"/targets/000R4M0T": httpx.Response(200, json=body)})
    with pytest.raises(NP6BadResponse) as caught:
        fetch_target(client, "000R4M0T")
    message = str(caught.value)
    assert "/targets/000R4M0T" in message and "target 000R4M0T" in message
    assert "\n" not in message and KEY not in message


def a_window() -> Window:
    return Window(pendulum.datetime(2026, 10, 1, tz="UTC"), pendulum.datetime(2026, 10, 2, tz="UTC"))


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        pytest.param(httpx.Response(200, json=LEGACY), LEGACY, id="array"),
        pytest.param(httpx.Response(204), [], id="no-content-as-documented"),
        pytest.param(httpx.Response(200, content=b"", headers={"content-type": "application/json"}), [],
                     id="empty-200"),
    ],
)  # fmt: skip
def test_fetch_redlist(response: httpx.Response, expected: list[Any]) -> None:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return response

    client = NP6Client(BASE, KEY, transport=httpx.MockTransport(handle), max_attempts=1)
    items, fetched = fetch_redlist(client, "sms", a_window())
    assert items == expected and fetched.requests == 1
    assert seen[0].url.path == "/targets/redlist/sms"
    assert dict(seen[0].url.params) == {"startDate": "2026-10-01T00:00:00Z", "endDate": "2026-10-02T00:00:00Z"}


def test_fetch_redlist_refuses_an_object_in_one_line() -> None:
    client = client_for({"/targets/redlist/mail": httpx.Response(200, json={"items": []})})
    with pytest.raises(NP6BadResponse, match=r"GET /targets/redlist/mail \[2026-10-01.*expected an array"):
        fetch_redlist(client, "mail", a_window())


# --- which ids: SQL on a real DuckDB ---------------------------------------------------------


def test_new_ids_sql_unions_receivers_and_skips_known_targets() -> None:
    con = duckdb.connect()
    con.execute("CREATE TABLE hits (receiver_id TEXT, receiver_type TEXT, receiver_value TEXT)")
    con.execute("INSERT INTO hits VALUES ('B', 'footprint', NULL), (NULL, 'id', 'A'), (NULL, 'footprint', 'x'),"
                " ('C', 'id', 'C')")  # fmt: skip
    con.execute("CREATE TABLE bounces (receiver_id TEXT)")
    con.execute("INSERT INTO bounces VALUES ('D'), ('B'), (NULL)")
    con.execute("CREATE TABLE targets (id TEXT)")
    con.execute("INSERT INTO targets VALUES ('C')")
    columns = {"hits": {"receiver_id", "receiver_type", "receiver_value"}, "bounces": {"receiver_id"},
               "targets": {"id"}, "archives": {"target_id"}}  # fmt: skip
    assert con.sql(new_ids_sql(columns)).fetchall() == [("A",), ("B",), ("D",)]
    assert con.sql(new_ids_sql({k: v for k, v in columns.items() if k != "targets"})).fetchall() == [
        ("A",), ("B",), ("C",), ("D",)]  # fmt: skip
    assert new_ids_sql({"targets": {"id"}, "archives": {"target_id"}}) is None


# --- the resource in a pipeline --------------------------------------------------------------


def mock_np6(deleted: set[str], calls: list[str]) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        calls.append(path)
        if path == "/fields":
            return httpx.Response(200, json=CATALOGUE)
        if path == "/valueLists":
            return httpx.Response(200, json=VALUE_LISTS)
        target_id = path.rsplit("/", 1)[-1]
        if target_id in deleted:
            return httpx.Response(404, json={"error": "unknown target"})
        fields = {"8130": 1, "8150": len(target_id)} | ({"8199": "legacy"} if target_id == "T3" else {})
        return httpx.Response(200, json={**TARGET, "id": target_id, "fields": fields, "redList": None})

    return httpx.MockTransport(handle)


@dlt.resource(name="hits", primary_key="id", write_disposition="merge")
def fake_hits(ids: list[str]) -> Any:
    yield [{"id": f"h{n}", "receiver_id": i, "receiver_type": "footprint"} for n, i in enumerate(ids)]


def test_targets_resource_loads_new_ids_up_to_the_limit_and_skips_deleted(tmp_path: Path, caplog) -> None:
    pipeline = dlt.pipeline("contacts_unit", destination=dlt.destinations.duckdb(str(tmp_path / "w.duckdb")),
                            dataset_name="np6", pipelines_dir=str(tmp_path / "p"))  # fmt: skip
    calls: list[str] = []
    client = NP6Client(BASE, KEY, transport=mock_np6({"T2"}, calls), max_attempts=1)

    @dlt.source(name="np6", max_table_nesting=0)
    def src(max_targets: int | None) -> Any:
        return targets(run_with(client, concurrency=3, max_targets=max_targets, refresh_targets=0,
                                resources=("targets",)))

    @dlt.source(name="np6", max_table_nesting=0)  # one schema, as in `np6_source`
    def events() -> Any:
        return fake_hits(["T4", "T1", "T2", "T3", "T1", "T5"])

    pipeline.run(events())
    with caplog.at_level(logging.INFO, logger="np6.contacts"):
        pipeline.run(src(3))
    assert "loading 3" in caplog.text and "1 contact(s) answered 404" in caplog.text
    with pipeline.sql_client() as sql:
        assert sql.execute_sql("SELECT id, civilite, points_fidelite, deleted_at IS NOT NULL FROM targets "
                               "ORDER BY id") == [("T1", "Mr", 2, False), ("T2", None, None, True),
                                                  ("T3", "Mr", 2, False)]  # fmt: skip
        assert sql.execute_sql("SELECT field_8199 FROM targets WHERE id = 'T3'") == [("legacy",)]
    assert sorted(p for p in calls if p.startswith("/targets")) == ["/targets/T1", "/targets/T2", "/targets/T3"]
    assert pipeline.state["sources"]["np6"][STATE_KEY]["8199"] == "field_8199"

    calls.clear()
    pipeline.run(src(None))  # T4 and T5 are new; T2 is known deleted: asked again on a new event only
    assert sorted(p for p in calls if p.startswith("/targets")) == ["/targets/T4", "/targets/T5"]
    with pipeline.sql_client() as sql:
        assert [r[0] for r in sql.execute_sql("SELECT id FROM targets ORDER BY id")] == ["T1", "T2", "T3", "T4", "T5"]
        assert sql.execute_sql("SELECT count(*) FROM target_bounces")[0][0] == 4
        types = dict(sql.execute_sql("SELECT column_name, data_type FROM information_schema.columns "
                                     "WHERE table_name = 'targets'"))  # fmt: skip
    assert (types["points_fidelite"], types["date_naissance"], types["creation_date"]) == (
        "BIGINT", "DATE", "TIMESTAMP WITH TIME ZONE")  # fmt: skip
    assert orjson.loads(orjson.dumps(pipeline.state["sources"]["np6"][STATE_KEY])) == {**MAPPING, "8199": "field_8199"}


@dlt.resource(name="hits", primary_key="id", write_disposition="merge")
def timed_hits(events: list[tuple[str, str, str]]) -> Any:
    yield [{"id": h, "receiver_id": i, "receiver_type": "footprint", "timestamp": pendulum.parse(t)}
           for h, i, t in events]  # fmt: skip


def test_targets_are_read_again_after_new_events_and_by_a_rolling_slice(tmp_path: Path) -> None:
    pipeline = dlt.pipeline("contacts_fresh", destination=dlt.destinations.duckdb(str(tmp_path / "w.duckdb")),
                            dataset_name="np6", pipelines_dir=str(tmp_path / "p"))  # fmt: skip
    calls: list[str] = []
    deleted: set[str] = set()
    client = NP6Client(BASE, KEY, transport=mock_np6(deleted, calls), max_attempts=1)

    @dlt.source(name="np6", max_table_nesting=0)
    def src(refresh: int) -> Any:
        return targets(run_with(client, concurrency=2, refresh_targets=refresh, resources=("targets",)))

    @dlt.source(name="np6", max_table_nesting=0)
    def events(rows: list[tuple[str, str, str]]) -> Any:
        return timed_hits(rows)

    def read(refresh: int = 0) -> list[str]:
        calls.clear()
        pipeline.run(src(refresh))
        return sorted(p.rsplit("/", 1)[-1] for p in calls if p.startswith("/targets/"))

    pipeline.run(events([("h1", "T1", "2026-10-01"), ("h2", "T2", "2026-10-01"), ("h3", "T3", "2026-10-01")]))
    assert read() == ["T1", "T2", "T3"]  # new
    assert read() == []  # nothing new, nothing stale, no rolling slice
    pipeline.run(events([("h4", "T2", pendulum.now("UTC").to_iso8601_string())]))  # after T2's last read
    deleted.add("T2")
    assert read() == ["T2"]
    with pipeline.sql_client() as sql:
        assert sql.execute_sql("SELECT civilite, deleted_at IS NOT NULL FROM targets WHERE id = 'T2'") == [
            (None, True)]  # not a stale copy
    assert read(refresh=1) == ["T1"]  # read longest ago (T2 is known deleted)
    assert read(refresh=1) == ["T3"]
