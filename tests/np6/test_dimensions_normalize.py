"""Pure flattening of archives and dimension objects: documented NP6 payloads in, rows out; and
the archives' window plan and cursor.

Payloads are the NP6 API Reference 8.1.0 examples quoted in `np6-api.md` §3.8, §3.12-§3.18 and
`seeds/003` (archives); expected values are written from them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pendulum
import pytest

from sources.np6.archives import archive_row, archive_rows
from sources.np6.config import NP6Settings
from sources.np6.cursors import WindowedRead, scopes
from sources.np6.dimensions import (
    DIMENSION_COLUMNS,
    dimension_columns,
    dimension_row,
    dimension_rows,
    safe_application,
)
from sources.np6.plan import build_plan
from sources.np6.registry import RESOURCE_NAMES
from sources.np6.settings import DIMENSION_ENDPOINTS

SAS = ("https://mcom032.blob.core.windows.net/mcom032/4f54ed5e-f0f3-4a3a-9ce9-23b499e7e844.eml?sv=2020-02-10"
       "&st=2024-04-03T15%3A12%3A02Z&se=2024-05-05T15%3A12%3A02Z&sr=b&sp=r&sig=hnGaHP7EM8sml4WJtidaYKSr4SsRNQ8gDRtrazRFrRE%3D")  # fmt: skip
ARCHIVE = {  # seeds/003, GET /actions/{id}/targets/{target}/archives
    "id": "43fb9527-e5b2-4bcd-8dfd-b5a8bc881e11", "action": "00000A", "target": "000T123",
    "sendingDate": "2026-02-05T09:27:58.67Z", "url": SAS, "expiresOn": "2026-03-09T09:27:58.67Z",
}  # fmt: skip


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


# --- archives ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        pytest.param(ARCHIVE, {"id": ARCHIVE["id"], "action_id": "00000A", "target_id": "000T123",
                               "sending_date": utc(2026, 2, 5, 9, 27, 58, 670000), "url": SAS,
                               "expires_on": utc(2026, 3, 9, 9, 27, 58, 670000), "extra": None},
                     id="documented"),
        pytest.param({**ARCHIVE, "sendingDate": "2026-02-05T09:27:58.673Z", "url": "    "},
                     {"sending_date": utc(2026, 2, 5, 9, 27, 58, 673000), "url": "    "}, id="blank-url-kept"),
        pytest.param({**ARCHIVE, "expiresOn": "2019-08-24T14:15:22Z"},
                     {"expires_on": utc(2019, 8, 24, 14, 15, 22), "url": SAS}, id="expired-url-kept"),
        pytest.param({k: v for k, v in ARCHIVE.items() if k not in ("url", "expiresOn")},
                     {"url": None, "expires_on": None, "extra": None}, id="cut-off-item"),
        pytest.param({**ARCHIVE, "format": "eml", "sendingDate": "yesterday"},
                     {"sending_date": None, "extra": {"format": "eml", "sendingDate": "yesterday"}},
                     id="unknown-member-and-bad-date-to-extra"),
    ],
)  # fmt: skip
def test_archive_row(item: dict[str, Any], expected: dict[str, Any]) -> None:
    row = archive_row(item)
    assert row is not None
    assert {k: row[k] for k in expected} == expected


@pytest.mark.parametrize("item", [None, "x", [], {}, {"id": ""}, {"action": "00000A"}],
                         ids=["null", "string", "array", "empty", "blank-id", "no-id"])  # fmt: skip
def test_archive_without_id_is_skipped(item: Any) -> None:
    assert archive_row(item) is None
    assert archive_rows([item, ARCHIVE]) == ([archive_row(ARCHIVE)], 1)


# --- dimensions -------------------------------------------------------------------------------

FIREBASE_KEY = "AAAA-very-secret-firebase-key"
P12, P12_PASSWORD = "MIIKPAIBAzCCCgYGCSqGSIb3DQEHAaCCCfcEggnz", "p12-password"
APP = {  # np6-api.md §3.17, with the provider secrets the doc elides as "..."
    "type": "native", "id": "2399f53f-1b0e-4cbb-b81e-26c0f11359ca", "name": "my mobile app",
    "description": "An application that handles push notifications using firebase", "active": True,
    "stamp": {"creation": "2023-01-01T12:01:02.423Z", "modification": "2023-01-07T08:23:03.1Z"}, "icon": None,
    "providers": [{"type": "firebase", "key": FIREBASE_KEY, "sender": "np6.push"},
                  {"type": "apns", "bundle": "fr.app", "certificate": {"type": "p12", "value": P12,
                   "password": P12_PASSWORD, "expiration": "2027-01-01T00:00:00Z"}}],
    "routes": [{"name": "defaultUrl", "value": {"type": "literal", "value": "app://push-app/home"}, "default": True}],
    "channels": None,
}  # fmt: skip
IMPORT = {  # np6-api.md §3.15
    "id": 23, "name": "Import Contacts", "creationDate": "2023-03-01T11:04:00Z", "binding": 44,
    "features": [{"type": "database", "updateExisting": True, "crushData": False},
                 {"type": "segmentation", "segmentId": 501, "emptyExisitingSegment": False}],
    "source": {"type": "ftp", "creationDate": "0001-01-01T00:00:00Z", "folder": "23 - Import Contacts",
               "templateFilename": "Import Contacts.csv"},
    "scheduler": {"id": 79},
}  # fmt: skip
RULE = {  # np6-api.md §3.18 (schema only; values made up)
    "id": "aae42f42-3759-4e80-94c5-e47daab1487d", "label": "3 a week",
    "predicate": {"type": "and", "expressions": [{"type": "topic", "value": "aae42f42"}]},
    "stamp": {"creation": "2026-02-05T09:27:59.755Z", "modification": "2026-02-05T09:27:59.755Z"},
    "createdBy": "Connected user", "modifiedBy": "Connected user", "priority": 2,
}  # fmt: skip


@pytest.mark.parametrize(
    ("table", "item", "expected"),
    [
        pytest.param("fields", {"type": "string", "id": 8120, "name": "PRENOM", "isUnicity": False,
                                "isMandatory": True, "isCriterion": True,
                                "constraint": {"operator": 3, "value": "50"}, "valueListId": None},
                     {"id": 8120, "type": "string", "is_mandatory": True, "constraint_operator": 3,
                      "constraint_value": "50", "value_list_id": None, "extra": None}, id="field"),
        pytest.param("fields", {"type": "string"}, {"id": None, "type": "string", "extra": None},
                     id="field-as-the-doc-example"),
        pytest.param("value_lists", {"id": 23, "name": "Pastimes", "ordered": False,
                                     "values": [{"index": 1, "value": "Football"}]},
                     {"id": 23, "ordered": False, "values": [{"index": 1, "value": "Football"}], "extra": None},
                     id="value-list"),
        pytest.param("segments", {"type": "dynamic", "id": 57, "name": "test dynamic segment",
                                  "creation": "2023-03-01T10:00:00Z", "expiration": None, "isTest": False,
                                  "targetsCount": 4398, "parentId": 41},
                     {"id": 57, "type": "dynamic", "creation": utc(2023, 3, 1, 10), "expiration": None,
                      "is_test": False, "targets_count": 4398, "parent_id": 41, "search_id": None,
                      "extra": None}, id="segment"),
        pytest.param("imports", IMPORT,
                     {"id": 23, "creation_date": utc(2023, 3, 1, 11, 4), "binding": 44,
                      "features": IMPORT["features"], "source_type": "ftp", "source_creation_date": None,
                      "source_folder": "23 - Import Contacts", "source_template_filename": "Import Contacts.csv",
                      "scheduler_id": 79, "extra": None}, id="import-with-placeholder-date"),
        pytest.param("mobile_applications", APP,
                     {"id": APP["id"], "active": True, "stamp_creation": utc(2023, 1, 1, 12, 1, 2, 423000),
                      "stamp_modification": utc(2023, 1, 7, 8, 23, 3, 100000),
                      "providers": [{"type": "firebase", "sender": "np6.push"}, {"type": "apns", "bundle": "fr.app"}],
                      "routes": APP["routes"], "extra": None}, id="application-without-secrets"),
        pytest.param("marketing_pressure_topics",
                     {"id": "aae42f42-3759-4e80-94c5-e47daab1487b", "label": "Black friday",
                      "description": "Black friday", "stamp": {"creation": "2026-02-05T09:27:59.755Z",
                                                               "modification": "2026-02-05T09:27:59.755Z"},
                      "createdBy": "Connected user", "modifiedBy": "Connected user"},
                     {"label": "Black friday", "stamp_modification": utc(2026, 2, 5, 9, 27, 59, 755000),
                      "created_by": "Connected user", "extra": None}, id="topic"),
        pytest.param("marketing_pressure_rules", RULE,
                     {"predicate_type": "and", "predicate": RULE["predicate"], "modified_by": "Connected user",
                      "extra": {"priority": 2}}, id="rule-unknown-member-to-extra"),
        pytest.param("segments", {"id": 1, "creation": "not a date", "links": {"self": "/segments/1"}},
                     {"creation": None, "extra": {"links": {"self": "/segments/1"}, "creation": "not a date"}},
                     id="bad-date-and-unknown-member-to-extra"),
        pytest.param("imports", {"id": 2, "source": {"type": "ftp", "login": "x"}, "scheduler": None},
                     {"source_type": "ftp", "scheduler_id": None, "extra": {"source": {"login": "x"}}},
                     id="partly-mapped-object-keeps-its-rest"),
    ],
)  # fmt: skip
def test_dimension_row(table: str, item: dict[str, Any], expected: dict[str, Any]) -> None:
    row = dimension_row(table, item)
    assert set(row) == set(DIMENSION_COLUMNS[table]) | {"extra"}
    assert {k: row[k] for k in expected} == expected


def test_flattening_leaves_its_input_alone() -> None:
    before = orjson.dumps(RULE)
    dimension_row("marketing_pressure_rules", RULE)
    dimension_row("mobile_applications", APP)
    assert orjson.dumps(RULE) == before
    assert APP["providers"][0]["key"] == FIREBASE_KEY


@pytest.mark.parametrize(
    "app",
    [
        pytest.param(APP, id="documented-providers"),
        pytest.param({**APP, "credentials": {"apiKey": FIREBASE_KEY, "token": P12_PASSWORD}}, id="unknown-member"),
        pytest.param({**APP, "providers": [{"type": "new", "secret": FIREBASE_KEY, "password": P12}]},
                     id="unknown-provider"),
    ],
)  # fmt: skip
def test_no_provider_secret_reaches_a_row(app: dict[str, Any]) -> None:
    text = orjson.dumps(dimension_row("mobile_applications", app), default=str).decode()
    for secret in (FIREBASE_KEY, P12, P12_PASSWORD):
        assert secret not in text
    assert "key" not in orjson.dumps(safe_application(app)["providers"]).decode()


def test_items_without_id_are_skipped() -> None:
    rows, skipped = dimension_rows("segments", [{"id": 41}, {"name": "no id"}, "junk", {"id": 0}])
    assert [r["id"] for r in rows] == [41, 0]
    assert skipped == 2


@pytest.mark.parametrize("table", [d.table for d in DIMENSION_ENDPOINTS])
def test_every_dimension_is_a_listed_resource_with_typed_columns(table: str) -> None:
    assert table in RESOURCE_NAMES
    hints = dimension_columns(table)
    assert set(hints) == set(DIMENSION_COLUMNS[table]) | {"extra"}
    assert all("data_type" in h for h in hints.values())
    assert hints["id"]["nullable"] is False


# --- archives: planning and cursor ------------------------------------------------------------


def archive_read(state: dict[str, Any], now: pendulum.DateTime, range_start: Any = None, range_end: Any = None,
                 ) -> WindowedRead:
    settings = NP6Settings()
    settings.api_key, settings.start_date = "k", "2026-10-01"
    plan = build_plan(settings, resources=("archives", "hits"), range_start=range_start, range_end=range_end,
                      now=now)
    return WindowedRead(plan, scopes(["archives"]), source_state=state)


def test_archives_have_their_own_cursor_and_read_the_whole_plan() -> None:
    state: dict[str, Any] = {"resources": {"hits": {"cursor": "2026-10-03T00:00:00Z"}}}
    read = archive_read(state, pendulum.datetime(2026, 10, 4, 0, 5))
    assert [str(w) for w in read.windows][::2] == ["[2026-10-01T00:00:00Z, 2026-10-02T00:00:00Z)",
                                                   "[2026-10-03T00:00:00Z, 2026-10-04T00:00:00Z)"]
    read.done(read.windows[-1])
    assert state["resources"]["archives"] == {"cursor": "2026-10-04T00:00:00Z"}
    later = archive_read(state, pendulum.datetime(2026, 10, 5, 0, 5))
    assert later.windows[0].start == pendulum.datetime(2026, 10, 3, 23)  # the cursor minus the lookback


def test_an_archive_backfill_leaves_the_cursor_alone() -> None:
    state: dict[str, Any] = {"resources": {"archives": {"cursor": "2026-10-02T00:00:00Z"}}}
    read = archive_read(state, pendulum.datetime(2026, 10, 4), "2026-09-01", "2026-09-03")
    assert len(read.windows) == 2 and read.windows[0].start == pendulum.datetime(2026, 9, 1)
    for window in read.windows:
        read.done(window)
    assert state == {"resources": {"archives": {"cursor": "2026-10-02T00:00:00Z"}}}
