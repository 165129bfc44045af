"""The sandbox's archive and management routes over real HTTP: auth, media types, shapes, bounds."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from sources.np6_sandbox import Account
from sources.np6_sandbox.management import (
    ARCHIVE_MEDIA_TYPE,
    BLANK_URL,
    IMPORT_MEDIA_TYPE,
    archive_ids,
    archives,
    dimension,
    secret_values,
    stamp_of,
)
from sources.np6_sandbox.times import DAY_MS

OCT_1, OCT_2 = 1790812800000, 1790899200000
ARCHIVE_KEYS = {"id", "action", "target", "sendingDate", "url", "expiresOn"}
LISTS = {
    "/fields": ("fields", "application/json"),
    "/valueLists": ("valueLists", "application/json"),
    "/segments": ("segments", "application/json"),
    "/imports": ("imports", IMPORT_MEDIA_TYPE),
    "/parameters/applications": ("applications", "application/json"),
    "/marketing/pressure/topics": ("topics", "application/json"),
    "/marketing/pressure/rules": ("rules", "application/json"),
}


def get(client: httpx.Client, path: str, media_type: str, **params: Any) -> list[dict[str, Any]]:
    response = client.get(path, params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == media_type
    body = response.json()
    assert isinstance(body, list)
    return body


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value)


def receiver_id(receiver: dict[str, Any]) -> str:
    """The contact id of an activation's receiver: a footprint (`id`) or an id (`value`)."""
    return receiver["id"] if receiver["type"] == "footprint" else receiver["value"]


@pytest.fixture
def api(sandbox: Any) -> httpx.Client:
    with sandbox.client() as client:
        yield client


# --- auth, routes, media types ----------------------------------------------------------------


@pytest.mark.parametrize("path", ["/actions/archives", "/targets/000R4M0T/archives", *LISTS])
def test_every_route_wants_the_key(sandbox: Any, path: str) -> None:
    for headers in ({}, {"X-Key": "wrong"}):
        assert httpx.get(sandbox.url + path, headers=headers).status_code == 401


@pytest.mark.parametrize("path", list(LISTS))
def test_lists_match_the_ground_truth(sandbox: Any, api: httpx.Client, path: str) -> None:
    name, media_type = LISTS[path]
    body = get(api, path, media_type)
    assert body == dimension(sandbox.account, name)
    assert body and all(isinstance(item.get("id"), (int, str)) for item in body)
    assert len({item["id"] for item in body}) == len(body)


def test_media_types_are_negotiated(api: httpx.Client) -> None:
    assert api.get("/actions/archives", headers={"Accept": "application/json"}).status_code == 406
    assert api.get("/imports", headers={"Accept": "application/json"}).status_code == 406
    for accept in (ARCHIVE_MEDIA_TYPE, "application/*", "*/*", f"application/json, {ARCHIVE_MEDIA_TYPE}"):
        assert api.get("/actions/archives", headers={"Accept": accept}).status_code == 200, accept


def test_bad_dates_and_unknown_keys(api: httpx.Client, sandbox: Any) -> None:
    bad = api.get("/actions/archives", params={"startDate": "yesterday"})
    assert bad.status_code == 400 and "startDate" in bad.json()["message"]
    assert api.get("/actions/NOPE/targets/000R4M0T/archives").status_code == 404
    assert api.get("/actions/stamp/not-a-stamp/archives").status_code == 404
    assert get(api, "/targets/UNKNOWN/archives", ARCHIVE_MEDIA_TYPE) == []


def test_applications_carry_provider_secrets(sandbox: Any) -> None:
    # the connector must drop them: the sandbox has to send some for that to be tested
    text = str(dimension(sandbox.account, "applications"))
    assert all(secret in text for secret in secret_values(sandbox.account))


# --- archives ---------------------------------------------------------------------------------


def test_archives_are_derived_from_archived_email_activations(sandbox_account: Account) -> None:
    found = archives(sandbox_account, OCT_1, OCT_2)
    activations = sandbox_account.events(OCT_1, OCT_2, types="activation")
    archived = {a["id"] for a in sandbox_account.actions()
                if a["type"].startswith("mail") and a["settings"]["archive"]}  # fmt: skip
    sent = [(e["source"]["detail"]["activation"], e["timestamp"]) for e in activations]
    expected = sorted((act["id"], receiver_id(act["receiver"]), ts) for act, ts in sent if act["id"] in archived)
    got = sorted((a["action"], a["target"], int(parse(a["sendingDate"]).timestamp() * 1000)) for a in found)
    assert found and got == expected
    for archive in found:
        assert set(archive) == ARCHIVE_KEYS
        assert parse(archive["expiresOn"]) - parse(archive["sendingDate"]) == timedelta(days=32)
    blank = [a for a in found if a["url"] == BLANK_URL]
    assert 0 < len(blank) < len(found) / 4


def test_archives_are_deterministic(sandbox_account: Account) -> None:
    again = Account(sandbox_account.spec)
    assert archives(again, OCT_1, OCT_2) == archives(sandbox_account, OCT_1, OCT_2)


def test_account_archives_window_is_start_inclusive_end_exclusive(sandbox: Any, api: httpx.Client) -> None:
    account = sandbox.account
    whole = archives(account)
    middle = whole[len(whole) // 2]["sendingDate"]  # a window edge exactly on an archive
    before = get(api, "/actions/archives", ARCHIVE_MEDIA_TYPE, startDate="2026-10-01", endDate=middle)
    after = get(api, "/actions/archives", ARCHIVE_MEDIA_TYPE, startDate=middle, endDate="2026-10-04")
    assert not {a["id"] for a in before} & {a["id"] for a in after}
    assert {a["id"] for a in before} | {a["id"] for a in after} == {a["id"] for a in whole}
    assert all(a["sendingDate"] == middle or parse(a["sendingDate"]) > parse(middle) for a in after)
    day = get(api, "/actions/archives", ARCHIVE_MEDIA_TYPE, startDate="2026-10-01", endDate="2026-10-02")
    assert {a["id"] for a in day} == archive_ids(account, OCT_1, OCT_2)
    assert len(get(api, "/actions/archives", ARCHIVE_MEDIA_TYPE)) == len(whole)


def test_lookups_by_action_target_and_stamp(sandbox: Any, api: httpx.Client) -> None:
    account = sandbox.account
    first = archives(account, OCT_1, OCT_2)[0]
    action, target = first["action"], first["target"]
    pair = get(api, f"/actions/{action}/targets/{target}/archives", ARCHIVE_MEDIA_TYPE)
    assert first in pair and pair == archives(account, action_id=action, target_id=target)
    of_target = get(api, f"/targets/{target}/archives", ARCHIVE_MEDIA_TYPE,
                    startDate=first["sendingDate"], endDate=OCT_2 + DAY_MS)  # fmt: skip
    assert first in of_target and {a["target"] for a in of_target} == {target}
    stamp = stamp_of(account, first["id"])
    assert stamp is not None
    by_stamp = get(api, f"/actions/stamp/{stamp}/archives", ARCHIVE_MEDIA_TYPE)
    assert first in by_stamp and {(a["action"], a["target"]) for a in by_stamp} == {(action, target)}
