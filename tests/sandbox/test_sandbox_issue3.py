"""The sandbox's exports, contacts, redlists, push, reactivity and campaign routes over real HTTP,
checked against recounts from the account's events and catalogue."""

from __future__ import annotations

import csv
import io
import re
import time
from collections import defaultdict
from datetime import datetime
from typing import Any

import httpx
import pytest

from sources.np6_sandbox import Account, contacts, exports, push
from sources.np6_sandbox import campaigns as camp
from sources.np6_sandbox.management import dimension
from sources.np6_sandbox.reactivities import reactivities
from sources.np6_sandbox.times import DAY_MS, HOUR_MS

OCT_1, OCT_2 = 1790812800000, 1790899200000
ROW_KEYS = ["id", "unicity", "hash", "first", "last", "count"]
ACTION_REACTIONS = {"hit", "bounce", "complaint", "reply"}
PUSH_REACTIONS = {"hit", "impression", "bounce", "optout"}
ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,3})?Z")  # 0 to 3 fractional digits


def ms(value: str) -> int:
    return int(datetime.fromisoformat(value).timestamp() * 1000)


def item(event: dict[str, Any]) -> dict[str, Any]:
    detail = event["source"]["detail"]
    return detail.get("activation") or detail["execution"]


def ids(events: list[dict[str, Any]]) -> list[str]:
    return [e["id"] for e in events]


def channel_of(action: dict[str, Any]) -> str:
    return "sms" if action["type"].startswith("sms") else "email"


@pytest.fixture
def api(sandbox: Any) -> httpx.Client:
    with sandbox.client() as client:
        yield client


def new_paths(account: Account) -> list[str]:
    """One path of each new GET route family."""
    first = account.action_ids()[0]
    return [f"/actions/{first}/export/tracking/opens", f"/actions/{first}/export/tracking/clicks",
            "/targets/redlist/mail", "/targets/redlist/sms", f"/targets/{contacts.target_ids(account)[0]}",
            "/notifications", "/notifications/156/events", "/notifications/157/events/hits",
            "/actions/reactivities", "/actions/reactivities/hits/open", f"/actions/{first}/reactivities/bounces",
            "/notifications/reactivities", "/notifications/158/reactivities/impressions", "/campaigns"]  # fmt: skip


# --- every route: auth, speed, stats ----------------------------------------------------------


def test_every_new_route_wants_the_key_and_answers_fast(sandbox: Any, api: httpx.Client) -> None:
    for path in new_paths(sandbox.account):
        for headers in ({}, {"X-Key": "wrong"}):
            assert httpx.get(sandbox.url + path, headers=headers).status_code == 401, path
        started = time.perf_counter()
        response = api.get(path)
        assert response.status_code in (200, 204), (path, response.text)
        assert time.perf_counter() - started < 1.0, path


def test_stats_count_the_new_routes_by_name(sandbox: Any, api: httpx.Client) -> None:
    account = sandbox.account
    first = account.action_ids()[0]
    campaign = camp.campaigns(account)[0]["id"]
    api.get(f"/actions/{first}/export/tracking/opens")
    api.get("/targets/redlist/mail")
    api.get("/targets/redlist/mail")
    api.get(f"/targets/{contacts.target_ids(account)[0]}")
    api.get("/notifications/156/events/hits")
    api.get(f"/actions/{first}/reactivities/hits/open")
    api.post(f"/campaigns/{campaign}/events", json={"itemsEvents": []})
    by_route = sandbox.server.stats()["by_route"]
    assert by_route["/actions/{id}/export/tracking/opens"] == 1
    assert by_route["/targets/redlist/mail"] == 2
    assert by_route["/targets/{target}"] == 1
    assert by_route["/notifications/{nid}/events/hits"] == 1
    assert by_route["/actions/{id}/reactivities/hits/open"] == 1
    assert by_route["/campaigns/{campaign}/events"] == 1


# --- exports ----------------------------------------------------------------------------------


def recount(account: Account, action_id: str, kind: str) -> list[dict[str, Any]]:
    """Export rows rebuilt from the account's events and the action's channel."""
    if kind == "all":
        events = account.events(types="activation", action_id=action_id)
    else:
        events = account.events(types="hit", action_id=action_id,
                                hit_types="open" if kind == "opens" else "redirection")  # fmt: skip
    channel = channel_of(account.action(action_id) or {})
    unicity = {c.id: c.footprints[1 if channel == "sms" else 0].obj for c in account._contacts}
    seen: dict[str, list[int]] = defaultdict(list)
    for event in events:
        receiver = item(event)["receiver"]
        seen[receiver.get("id") or receiver["value"]].append(event["timestamp"])
    return [{"id": t, "unicity": unicity[t]["unicity"], "hash": unicity[t]["hash"], "first": exports.iso_ms(min(s)),
             "last": exports.iso_ms(max(s)), "count": len(s)} for t, s in sorted(seen.items())]  # fmt: skip


@pytest.mark.parametrize("kind", ["opens", "clicks", "all"])
def test_export_ground_truth_equals_a_recount_from_events(sandbox_account: Account, kind: str) -> None:
    total = 0
    for action_id in sandbox_account.action_ids():
        rows = exports.recipients(sandbox_account, action_id, kind)
        assert rows == recount(sandbox_account, action_id, kind)
        assert all(list(row) == ROW_KEYS for row in rows)
        total += len(rows)
    assert total > 0


def test_export_window_is_start_inclusive_end_exclusive(sandbox_account: Account) -> None:
    action_id = sandbox_account.action_ids()[0]
    opens = sandbox_account.events(types="hit", action_id=action_id, hit_types="open")
    edge = opens[len(opens) // 2]["timestamp"]
    before = exports.recipients(sandbox_account, action_id, "opens", OCT_1, edge)
    after = exports.recipients(sandbox_account, action_id, "opens", edge, None)
    assert sum(r["count"] for r in before) + sum(r["count"] for r in after) == len(opens)
    assert min(ms(r["first"]) for r in after) == edge and max(ms(r["last"]) for r in before) < edge


def test_export_answers_json_csv_or_204_per_action(sandbox: Any, api: httpx.Client) -> None:
    account = sandbox.account
    formats = [exports.export_format(account, a) for a in account.action_ids()]
    assert formats[:3] == ["json", "csv", None]
    for action_id, fmt in zip(account.action_ids(), formats):
        for kind in ("opens", "clicks"):
            response = api.get(f"/actions/{action_id}/export/tracking/{kind}")
            truth = exports.recipients(account, action_id, kind)
            if fmt is None:
                assert response.status_code == 204 and response.content == b""
                assert "content-type" not in response.headers
            elif fmt == "json":
                assert response.headers["content-type"] == "application/json"
                assert response.json() == truth
            else:
                assert response.headers["content-type"] == "text/csv; charset=utf-8"
                lines = response.content.split(b"\r\n")
                assert lines[0] == b"id;unicity;hash;first;last;count" and lines[-1] == b""
                rows = list(csv.DictReader(io.StringIO(response.text, newline=""), delimiter=";"))
                assert [r | {"count": int(r["count"])} for r in rows] == truth


def test_export_empty_answers(make_sandbox: Any) -> None:
    quiet = make_sandbox(events_per_day=0)
    ids_ = quiet.account.action_ids()
    with quiet.client() as client:
        assert client.get(f"/actions/{ids_[0]}/export/tracking/opens").json() == []
        csv_answer = client.get(f"/actions/{ids_[1]}/export/tracking/clicks")
        assert csv_answer.status_code == 200 and csv_answer.content == b"id;unicity;hash;first;last;count\r\n"


def test_csv_quoting_parses_back_with_the_csv_module() -> None:
    values = ["plain", "semi;colon", 'say "hi"', "two\r\nlines", "new\nline", "", "é;\"x\"", 42]
    line = exports.csv_line(values)
    assert line.endswith("\r\n") and exports.csv_field("plain") == "plain"
    assert next(csv.reader(io.StringIO(line, newline=""), delimiter=";")) == [str(v) for v in values]


def test_export_negotiation_and_errors(sandbox: Any, api: httpx.Client) -> None:
    json_action, csv_action, empty_action = sandbox.account.action_ids()[:3]
    path = "/actions/{}/export/tracking/opens"
    assert api.get(path.format(json_action), headers={"Accept": "text/csv"}).status_code == 406
    assert api.get(path.format(csv_action), headers={"Accept": "application/json"}).status_code == 406
    assert api.get(path.format(csv_action), headers={"Accept": "text/*"}).status_code == 200
    assert api.get(path.format(json_action), headers={"Accept": "*/*"}).status_code == 200
    assert api.get(path.format(empty_action), headers={"Accept": "text/csv"}).status_code == 204
    assert api.get(path.format("NOPE")).status_code == 404
    assert api.get("/actions/export/tracking/recipients").status_code == 404


# --- contacts and redlists --------------------------------------------------------------------


def test_targets_match_footprints_fields_and_redlists(sandbox: Any, api: httpx.Client) -> None:
    account = sandbox.account
    catalogue_ids = {f["id"] for f in dimension(account, "fields")}
    values = {v["id"]: {x["index"] for x in v["values"]} for v in dimension(account, "valueLists")}
    mail = {e["id"]: e for e in contacts.redlist(account, "mail")}
    sms = {e["id"]: e for e in contacts.redlist(account, "sms")}
    contacts_ = account._contacts
    assert contacts.target_ids(account) == sorted(c.id for c in contacts_)
    legacy = bounced = 0
    for contact in contacts_:
        body = contacts.target(account, contact.id)
        assert body is not None
        assert set(body) == {"id", "hash", "creationDate", "lastUpdateDate", "fields", "bounce", "redList"}
        email, phone = (f.obj for f in contact.footprints)
        assert body["fields"]["8103"] == email["unicity"] and body["fields"]["8110"] == phone["unicity"]
        assert body["hash"] == email["hash"] and body["id"] == contact.id
        assert {int(k) for k in body["fields"]} - catalogue_ids <= {8199}
        legacy += "8199" in body["fields"]
        assert body["fields"]["8130"] is None or body["fields"]["8130"] in values[24]
        assert body["fields"]["8131"] is None or body["fields"]["8131"] in values[23]
        assert isinstance(body["fields"]["8150"], int)
        assert ms(body["creationDate"]) <= ms(body["lastUpdateDate"])
        assert ISO.fullmatch(body["creationDate"]) and ISO.fullmatch(body["lastUpdateDate"])
        bounced += bool(body["bounce"])
        for bounce in body["bounce"]:
            assert bounce["field"] in (8103, 8110) and bounce["type"] in contacts.BOUNCE_TYPES
        for channel, timeline in (("mail", mail), ("sms", sms)):
            entry, red = timeline.get(contact.id), body["redList"][channel]
            assert (entry is None) == (red is None)
            if red is not None:
                assert ms(red["timestamp"]) == ms(entry["timestamp"]) and red["reason"] == entry["origin"]
    assert 0.01 * len(contacts_) < legacy < 0.04 * len(contacts_)
    assert 0.02 * len(contacts_) < bounced < 0.09 * len(contacts_)
    assert 0.02 * len(contacts_) < len(mail) < 0.07 * len(contacts_) and 0 < len(sms) < len(mail)
    some = contacts_[17].id
    response = api.get(f"/targets/{some}")
    assert response.headers["content-type"] == "application/json" and response.json() == contacts.target(account, some)


def test_unknown_target_is_404(api: httpx.Client) -> None:
    answer = api.get("/targets/NOBODY00")
    assert answer.status_code == 404 and "NOBODY00" in answer.json()["message"]


@pytest.mark.parametrize("channel", ["mail", "sms"])
def test_redlist_timeline_and_window(sandbox: Any, api: httpx.Client, channel: str) -> None:
    account = sandbox.account
    whole = api.get(f"/targets/redlist/{channel}")
    assert whole.headers["content-type"] == "application/json"
    entries = whole.json()
    assert entries == contacts.redlist(account, channel) and entries
    keys = [(ms(e["timestamp"]), e["id"]) for e in entries]
    assert keys == sorted(keys)
    assert all(account.spec.start_ms - 60 * DAY_MS <= k[0] < account.spec.end_ms for k in keys)
    assert all(e["timestamp"].endswith("Z") and len(e["timestamp"]) == 24 for e in entries)
    assert all(e["detail"] == ({"formId": "0000GH"} if e["origin"] == 3 else {}) for e in entries)
    edge = entries[len(entries) // 2]["timestamp"]
    before = api.get(f"/targets/redlist/{channel}", params={"endDate": edge}).json()
    after = api.get(f"/targets/redlist/{channel}", params={"startDate": str(ms(edge))}).json()
    assert before + after == entries and after[0]["timestamp"] == edge
    bad = api.get(f"/targets/redlist/{channel}", params={"startDate": "soon"})
    assert bad.status_code == 400 and "startDate" in bad.json()["message"]


def test_field_renames_stay_on_one_server(make_sandbox: Any) -> None:
    renamed, fresh = make_sandbox(), make_sandbox()
    renamed.server.rename_field(8120, "FIRST_NAME")
    with pytest.raises(ValueError):
        renamed.server.rename_field(9999, "NOPE")
    with renamed.client() as one, fresh.client() as other:
        names = {f["id"]: f["name"] for f in one.get("/fields").json()}
        assert names[8120] == "FIRST_NAME" and names[8121] == "NOM"
        assert {f["id"]: f["name"] for f in other.get("/fields").json()}[8120] == "PRENOM"
        first = contacts.target_ids(renamed.account)[0]
        assert one.get(f"/targets/{first}").json() == other.get(f"/targets/{first}").json()
    assert {f["id"]: f["name"] for f in dimension(renamed.account, "fields")}[8120] == "PRENOM"


# --- push notifications -----------------------------------------------------------------------


def test_notifications_list(sandbox: Any, api: httpx.Client) -> None:
    account = sandbox.account
    body = api.get("/notifications").json()
    assert body == push.notifications(account)
    assert [n["id"] for n in body] == [156, 157, 158]
    apps = {a["id"] for a in dimension(account, "applications")}
    for notification in body:
        assert notification["type"] == "push-app" and notification["application"] in apps
        assert notification["versions"][0]["master"] is True
        assert notification["settings"]["purpose"]["type"] in ("marketing", "service")


def test_notification_events_shape_volume_and_separation(sandbox_account: Account) -> None:
    account = sandbox_account
    events = push.notification_events(account)
    hours = account.spec.buckets
    assert 3 * hours <= len(events) <= account.spec.events_per_day / 20 * account.spec.days * 2
    assert {e["type"] for e in events} == set(push.EVENT_TYPES)
    assert [(e["timestamp"], e["id"]) for e in events] == sorted((e["timestamp"], e["id"]) for e in events)
    versions = {n["id"]: n["versions"][0]["id"] for n in push.notifications(account)}
    footprints = {c.id: c.footprints[0].obj for c in account._contacts}
    for event in events:
        assert event["source"]["type"] == "notification"
        head = item(event)
        assert isinstance(head["id"], int) and head["version"] == versions[head["id"]]
        who = head.get("receiver") or head["recipient"]
        assert who["type"] == "contact" and who["value"] == footprints[who["value"]["id"]]
        assert ("execution" in event["source"]["detail"]) == (event["type"] in ("execution", "cancellation"))
        assert head["stamp"]["time"] < event["timestamp"]
    assert not set(ids(events)) & account.event_ids()


def test_notification_event_routes(sandbox: Any, api: httpx.Client) -> None:
    account = sandbox.account
    start, end = OCT_1 + 5 * HOUR_MS, OCT_2
    whole = push.notification_events(account, notification_id=157)
    assert api.get("/notifications/157/events", params={"sort": "asc"}).json() == whole
    window = api.get("/notifications/157/events", params={"start": start, "end": end, "sort": "asc"}).json()
    assert window == [e for e in whole if start <= e["timestamp"] < end] and window
    hits = api.get("/notifications/157/events/hits", params={"sort": "desc"}).json()
    assert hits == [e for e in whole if e["type"] == "hit"][::-1] and hits
    shuffled = api.get("/notifications/157/events/cancellations").json()
    assert sorted(ids(shuffled)) == sorted(e["id"] for e in whole if e["type"] == "cancellation")
    edge = whole[len(whole) // 2]["timestamp"]
    after = api.get("/notifications/157/events", params={"start": edge, "sort": "asc"}).json()
    assert after[0]["timestamp"] == edge
    assert api.get("/notifications/999/events").status_code == 404
    assert api.get("/notifications/abc/events/hits").status_code == 404
    assert api.get("/notifications/156/events", params={"end": "later"}).status_code == 400
    action_events = api.get("/actions/events").json()
    assert all(e["source"]["type"] != "notification" for e in action_events)


# --- reactivities -----------------------------------------------------------------------------


def test_action_reactivities_filter_by_both_windows(sandbox: Any, api: httpx.Client) -> None:
    account = sandbox.account
    act_lo, act_hi, re_lo, re_hi = OCT_1 - DAY_MS, OCT_1 + 12 * HOUR_MS, OCT_1 + 6 * HOUR_MS, OCT_2
    expected = [e for e in account.events(re_lo, re_hi)
                if e["type"] in ACTION_REACTIONS and act_lo <= item(e)["stamp"]["time"] < act_hi]  # fmt: skip
    params = {"activationStart": act_lo, "activationEnd": act_hi, "reactivityStart": re_lo,
              "reactivityEnd": re_hi, "sort": "asc"}  # fmt: skip
    assert reactivities(account, "actions", act_lo, act_hi, re_lo, re_hi) == expected
    assert api.get("/actions/reactivities", params=params).json() == expected
    late = [e for e in account.events(re_lo, re_hi) if e["type"] in ACTION_REACTIONS]
    assert len(late) > len(expected) > 0  # the activation window removed some
    action_id = account.action_ids()[1]
    opens = api.get(f"/actions/{action_id}/reactivities/hits/open", params=params).json()
    assert opens == [e for e in expected if item(e)["id"] == action_id and e["type"] == "hit"
                     and e["source"]["detail"]["link"]["type"] == "open"] and opens  # fmt: skip
    bounces = api.get("/actions/reactivities/bounces", params=params | {"sort": "desc"}).json()
    assert bounces == [e for e in expected if e["type"] == "bounce"][::-1] and bounces


def test_reactivity_windows_are_start_inclusive_end_exclusive(sandbox: Any, api: httpx.Client) -> None:
    account = sandbox.account
    hits = account.events(OCT_1, OCT_2, types="hit")
    edge = hits[len(hits) // 2]
    stamp = item(edge)["stamp"]["time"]
    on_edge = api.get("/actions/reactivities/hits", params={"reactivityStart": edge["timestamp"],
                                                            "reactivityEnd": edge["timestamp"] + 1, "sort": "asc"}).json()  # fmt: skip
    assert edge["id"] in ids(on_edge)
    assert edge["id"] not in ids(api.get("/actions/reactivities/hits", params={
        "reactivityStart": edge["timestamp"] - HOUR_MS, "reactivityEnd": edge["timestamp"]}).json())  # fmt: skip
    by_stamp = {"activationStart": stamp, "activationEnd": stamp + 1, "reactivityStart": OCT_1, "reactivityEnd": OCT_2}
    assert edge["id"] in ids(api.get("/actions/reactivities/hits", params=by_stamp).json())
    assert edge["id"] not in ids(api.get("/actions/reactivities/hits", params=by_stamp | {"activationEnd": stamp}).json())
    bad = api.get("/actions/reactivities", params={"activationEnd": "tomorrow"})
    assert bad.status_code == 400 and "activationEnd" in bad.json()["message"]
    assert api.get("/actions/NOPE/reactivities").status_code == 404


def test_notification_reactivities(sandbox: Any, api: httpx.Client) -> None:
    account = sandbox.account
    act_lo, re_hi = OCT_1, OCT_2 + DAY_MS
    events = push.notification_events(account, None, re_hi)
    expected = [e for e in events if e["type"] in PUSH_REACTIONS and act_lo <= item(e)["stamp"]["time"]]
    params = {"activationStart": act_lo, "reactivityEnd": re_hi, "sort": "asc"}
    assert api.get("/notifications/reactivities", params=params).json() == expected
    assert reactivities(account, "notifications", act_lo, None, None, re_hi) == expected
    impressions = api.get("/notifications/158/reactivities/impressions", params=params).json()
    assert impressions == [e for e in expected if e["type"] == "impression" and item(e)["id"] == 158]
    assert {e["type"] for e in expected} == PUSH_REACTIONS
    assert api.get("/notifications/1/reactivities").status_code == 404


# --- campaigns --------------------------------------------------------------------------------


def test_campaigns_split_the_actions(sandbox: Any, api: httpx.Client) -> None:
    account = sandbox.account
    body = api.get("/campaigns").json()
    assert body == camp.campaigns(account) and len(body) == 2
    items = [i for c in body for i in c["items"]]
    assert [i["id"] for i in items] == account.action_ids()
    assert len(body[0]["items"]) >= len(body[1]["items"]) > 0
    types = {a["id"]: channel_of(a) for a in account.actions()}
    assert all(i["type"] == types[i["id"]] for i in items)


def test_campaign_events_filter_the_account_events(sandbox: Any, api: httpx.Client) -> None:
    account = sandbox.account
    campaign = camp.campaigns(account)[0]
    members = {i["id"]: i["type"] for i in campaign["items"]}
    outsider = camp.campaigns(account)[1]["items"][0]["id"]
    emails = [a for a, t in members.items() if t == "email"]
    assert emails
    body = {"itemsEvents": [
        {"type": "email", "events": [{"type": "hit", "subtypes": ["open", "redirection"]}, {"type": "activation"}],
         "items": [*emails, outsider]},
        {"type": "sms", "events": [{"type": "bounce", "subtypes": []}], "items": list(members)},
    ]}  # fmt: skip
    start, end = OCT_1, OCT_2 + 6 * HOUR_MS

    def wanted(event: dict[str, Any]) -> bool:
        action_id, etype = item(event)["id"], event["type"]
        if members.get(action_id) == "email":
            return etype == "activation" or (
                etype == "hit" and event["source"]["detail"]["link"]["type"] in ("open", "redirection"))
        return members.get(action_id) == "sms" and etype == "bounce"

    expected = [e for e in account.events(start, end) if wanted(e)]
    assert expected and camp.campaign_events(account, campaign["id"], body, start, end) == expected
    answer = api.post(f"/campaigns/{campaign['id']}/events", params={"start": start, "end": end, "sort": "asc"},
                      json=body)  # fmt: skip
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"
    assert answer.json() == expected
    assert outsider not in {item(e)["id"] for e in answer.json()}


def test_campaign_events_errors(sandbox: Any, api: httpx.Client) -> None:
    campaign = camp.campaigns(sandbox.account)[0]["id"]
    path = f"/campaigns/{campaign}/events"
    not_json = api.post(path, content=b"{nope", headers={"Content-Type": "application/json"})
    assert not_json.status_code == 400 and "JSON" in not_json.json()["message"]
    missing = api.post(path, json={"items": []})
    assert missing.status_code == 400 and "itemsEvents" in missing.json()["message"]
    bad_items = api.post(path, json={"itemsEvents": [{"type": "email", "events": [], "items": "000PE4"}]})
    assert bad_items.status_code == 400 and "items" in bad_items.json()["message"]
    assert api.post("/campaigns/00000000-0000-4000-8000-000000000000/events", json={"itemsEvents": []}).status_code == 404
    assert api.post(path, json={"itemsEvents": []}).json() == []
    assert api.get(path).status_code == 405
    assert api.post("/campaigns").status_code == 405
    assert api.post(path, params={"start": "nope"}, json={"itemsEvents": []}).status_code == 400
