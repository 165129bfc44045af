"""The generated account: determinism, the two views of an event, the mix and the variants."""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from typing import Any

import orjson
import pendulum
import pytest

from sources.np6_sandbox import CLASSIFICATIONS, Account, AccountSpec
from sources.np6_sandbox.render import event_dict, event_json
from sources.np6_sandbox.times import DAY_MS, HOUR_MS, iso_z, parse_ms

UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
OCT_1 = 1790812800000  # 2026-10-01T00:00:00Z


@pytest.fixture(scope="module")
def account(sandbox_account: Account) -> Account:
    return sandbox_account


@pytest.fixture(scope="module")
def all_events(account: Account) -> list[dict[str, Any]]:
    return account.events()


def _detail(event: dict[str, Any]) -> dict[str, Any]:
    return event["source"]["detail"]


def _client(event: dict[str, Any]) -> dict[str, Any]:
    return _detail(event).get("client") or {}


def _label(event: dict[str, Any]) -> str:
    return (_detail(event).get("link") or {}).get("label", "")


def _receiver_type(event: dict[str, Any]) -> str | None:
    return _detail(event).get("activation", {}).get("receiver", {}).get("type")


def _bounce(event: dict[str, Any]) -> dict[str, Any]:
    return _detail(event).get("bounce") or {"status": {}, "analysis": {"subject": {}}}


# --- time helpers -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        pytest.param("2026-10-01", OCT_1, id="iso-date"),
        pytest.param("2026-10-01T00:00:00Z", OCT_1, id="iso-z"),
        pytest.param("2026-10-01T02:00:00+02:00", OCT_1, id="iso-offset"),
        pytest.param("2026-10-01T00:00:00", OCT_1, id="naive-is-utc"),
        pytest.param("2026-10-01T00:00:00.25Z", OCT_1 + 250, id="two-fraction-digits"),
        pytest.param("2026-10-01T00:00:00.1234567Z", OCT_1 + 124, id="seven-digits-round-up"),
        pytest.param("2026-10-01T00:00:00.000Z", OCT_1, id="zero-fraction"),
        pytest.param(str(OCT_1), OCT_1, id="epoch-ms"),
        pytest.param(" 1790812800001 ", OCT_1 + 1, id="epoch-ms-spaces"),
    ],
)
def test_parse_ms_reads_every_documented_form(text: str, expected: int) -> None:
    assert parse_ms(text) == expected


@pytest.mark.parametrize("text", ["", "abc", "-5", "1e9", "2026-13-01", "2026-10-01T25:00Z", "T12:00"])
def test_parse_ms_rejects_garbage(text: str) -> None:
    with pytest.raises(ValueError):
        parse_ms(text)


@pytest.mark.parametrize(
    "ms, digits, expected",
    [
        pytest.param(OCT_1 + 670, 2, "2026-10-01T00:00:00.67Z", id="two"),
        pytest.param(OCT_1 + 670, 3, "2026-10-01T00:00:00.67Z", id="trailing-zero-dropped"),
        pytest.param(OCT_1 + 207, 3, "2026-10-01T00:00:00.207Z", id="three"),
        pytest.param(OCT_1 + 207, 7, "2026-10-01T00:00:00.207Z", id="seven-means-at-most"),
        pytest.param(OCT_1 + 999, 0, "2026-10-01T00:00:00Z", id="none"),
    ],
)
def test_iso_z_prints_variable_fractions(ms: int, digits: int, expected: str) -> None:
    assert iso_z(ms, digits) == expected
    assert parse_ms(expected) <= ms + 1


def test_spec_from_strings() -> None:
    spec = AccountSpec.from_strings(seed="3", actions="4", events_per_day="100", start="2026-10-01",
                                    days="2", api_key="k", )  # fmt: skip
    assert spec == AccountSpec(3, 4, 100, datetime(2026, 10, 1, tzinfo=timezone.utc), 2, "k")
    assert spec.start_ms == OCT_1 and spec.end_ms == OCT_1 + 2 * DAY_MS and spec.buckets == 48
    assert AccountSpec.from_strings(start=None).start.tzinfo is not None
    with pytest.raises(ValueError):
        AccountSpec.from_strings(days="0")


# --- determinism and the two views ------------------------------------------------------------


def test_same_seed_same_account_different_seed_different_events(account: Account) -> None:
    one, two = Account(account.spec), Account(account.spec)
    assert one.actions() == two.actions()
    for hour in (0, 13, 71):
        assert [event_json(r) for r in one.records(hour)] == [event_json(r) for r in two.records(hour)]
    assert one.events(OCT_1, OCT_1 + 2 * HOUR_MS) == two.events(OCT_1, OCT_1 + 2 * HOUR_MS)
    other = Account(dataclasses.replace(account.spec, seed=8))
    assert not one.event_ids() & other.event_ids()


def test_templates_and_dicts_agree_on_every_event(account: Account) -> None:
    """One generator, two views: the served bytes parse to exactly the ground-truth dict."""
    total = 0
    for hour in account.bucket_range():
        for record in account.records(hour):
            raw = event_json(record)
            assert orjson.loads(raw) == event_dict(record), raw
            total += 1
    assert total == account.count() > 5000


def test_events_are_sorted_unique_and_inside_the_span(account: Account, all_events: list[dict]) -> None:
    keys = [(e["timestamp"], e["id"]) for e in all_events]
    assert keys == sorted(keys)
    assert len({e["id"] for e in all_events}) == len(all_events)
    assert all(UUID4.match(e["id"]) for e in all_events)
    spec = account.spec
    assert spec.start_ms <= keys[0][0] and keys[-1][0] < spec.end_ms


def test_any_tiling_of_the_span_gives_the_same_events(account: Account) -> None:
    spec = account.spec
    cuts = [spec.start_ms, spec.start_ms + 1, spec.start_ms + 7 * HOUR_MS, spec.start_ms + 7 * HOUR_MS + 1,
            spec.start_ms + DAY_MS + 12_345, spec.end_ms - 1, spec.end_ms]  # fmt: skip
    parts = [account.event_ids(a, b) for a, b in zip(cuts, cuts[1:])]
    assert sum(map(len, parts)) == len(set().union(*parts)) == account.count()
    assert set().union(*parts) == account.event_ids()


def test_a_huge_account_costs_nothing_until_read() -> None:
    big = Account(AccountSpec(events_per_day=340_000, days=30, start=datetime(2026, 10, 1)), cache_mb=1)
    assert big.cached_hours() == []
    assert 12_000 < big.count(OCT_1 + 14 * HOUR_MS, OCT_1 + 15 * HOUR_MS) < 25_000
    assert big.cached_hours() == [14]


def test_threads_asking_for_one_hour_build_it_once(account: Account) -> None:
    fresh = Account(account.spec)
    with ThreadPoolExecutor(8) as pool:
        buckets = list(pool.map(lambda _: fresh.bucket(40), range(16)))
    assert all(b is buckets[0] for b in buckets)


def test_spec_accepts_aware_naive_and_pendulum_starts() -> None:
    starts = [datetime(2026, 10, 1), datetime(2026, 10, 1, 2, tzinfo=timezone(timedelta(hours=2))),
              pendulum.datetime(2026, 10, 1)]  # fmt: skip
    specs = [AccountSpec(start=start, days=1) for start in starts]
    assert all(spec == specs[0] and type(spec.start) is datetime for spec in specs)
    assert {hash(spec) for spec in specs} == {hash(specs[0])}


# --- the mix and the variants -----------------------------------------------------------------


def test_event_type_mix(all_events: list[dict]) -> None:
    share = {t: n / len(all_events) for t, n in Counter(e["type"] for e in all_events).items()}
    assert 0.40 < share["activation"] < 0.52
    assert 0.37 < share["hit"] < 0.49
    assert 0.04 < share["bounce"] < 0.08
    assert 0.02 < share["cancellation"] < 0.06
    assert 0.002 < share["complaint"] + share["reply"] < 0.02


def test_hit_mix_and_robot_share(all_events: list[dict]) -> None:
    hits = [e for e in all_events if e["type"] == "hit"]
    link_types = Counter(_detail(e)["link"]["type"] for e in hits)
    assert set(link_types) == {"open", "redirection", "mirror", "form", "unsubscribe", "share"}
    assert link_types.most_common(1)[0][0] == "open"
    opens = [e for e in hits if _detail(e)["link"]["type"] == "open"]
    robots = Counter(_client(e).get("classification") for e in opens)
    assert set(robots) == {None, *CLASSIFICATIONS}
    assert 0.05 < 1 - robots[None] / len(opens) < 0.15


def test_every_hour_has_a_burst_some_on_the_hour(account: Account) -> None:
    on_the_hour = 0
    for hour in account.bucket_range():
        times = account.bucket(hour).timestamps
        assert Counter(times).most_common(1)[0][1] >= 20
        on_the_hour += times[0] == account.spec.start_ms + hour * HOUR_MS and times[19] == times[0]
    assert 8 <= on_the_hour <= 36


VARIANTS = {
    "receiver by id": lambda e: _receiver_type(e) == "id",
    "footprint receiver": lambda e: _receiver_type(e) == "footprint",
    "sms channel": lambda e: e["source"]["type"] == "sms",
    "ipv6 client": lambda e: _client(e).get("ip", {}).get("type") == "v6",
    "hit without client": lambda e: e["type"] == "hit" and "client" not in _detail(e),
    "client type proxy": lambda e: _client(e).get("type") == "proxy",
    "raw user agent alone": lambda e: _client(e).get("ua", {}).get("type") == "raw"
    and set(_client(e)["ua"]) == {"type", "ua"},
    "unicode link label": lambda e: any(ord(c) > 127 for c in _label(e)),
    "label with JSON escapes": lambda e: '"' in _label(e) or "\\" in _label(e),
    "redirection with url": lambda e: (_detail(e).get("link") or {}).get("type") == "redirection"
    and _detail(e)["link"]["url"].startswith("https://"),
    "form hit with value": lambda e: (_detail(e).get("link") or {}).get("type") == "form"
    and "value" in _detail(e)["link"],
    "unknown hit type share": lambda e: (_detail(e).get("link") or {}).get("type") == "share",
    "extra detail field": lambda e: "campaign" in _detail(e),
    "extra top-level field": lambda e: "origin" in e,
    "robot mpp": lambda e: _client(e).get("classification") == "mpp",
    "robot gsr": lambda e: _client(e).get("classification") == "gsr",
    "robot genericrobot": lambda e: _client(e).get("classification") == "genericrobot",
    "hard bounce": lambda e: _bounce(e)["analysis"].get("verdict") == "hard",
    "soft bounce": lambda e: _bounce(e)["analysis"].get("verdict") == "soft",
    "async bounce": lambda e: _bounce(e)["status"].get("type") == "async",
    "bounce subject without detail": lambda e: e["type"] == "bounce"
    and "detail" not in _bounce(e)["analysis"]["subject"],
    "cancellation on execution": lambda e: e["type"] == "cancellation"
    and set(_detail(e)["execution"]) == {"id", "kind", "recipient", "data", "stamp"},
    "complaint": lambda e: e["type"] == "complaint",
    "reply": lambda e: e["type"] == "reply",
}


@pytest.mark.parametrize("name", VARIANTS)
def test_variant_occurs_in_a_three_day_account(name: str, all_events: list[dict]) -> None:
    assert any(VARIANTS[name](e) for e in all_events)


def test_receivers_and_stamps_are_consistent(all_events: list[dict]) -> None:
    stamps: dict[tuple[str, str], str] = {}
    for event in all_events:
        head = _detail(event).get("activation") or _detail(event)["execution"]
        assert re.fullmatch(r"[0-9A-Z]{6}", head["id"]) and head["kind"] == "message"
        who = head.get("receiver") if "activation" in _detail(event) else head["recipient"]
        target = who.get("id") or who.get("value")
        assert re.fullmatch(r"[0-9A-Z]{8}", target)
        if who["type"] == "footprint":
            assert re.fullmatch(r"[0-9a-f]{32}", who["hash"])
        assert UUID4.match(head["stamp"]["id"]) and UUID4.match(head["stamp"]["thread"])
        assert stamps.setdefault((head["id"], target), head["stamp"]["id"]) == head["stamp"]["id"]
        assert head["stamp"]["time"] < event["timestamp"]


def test_actions_have_the_documented_shapes(account: Account, all_events: list[dict]) -> None:
    items = account.actions()
    assert len(items) == account.spec.actions
    assert {e["source"]["detail"].get("activation", e["source"]["detail"].get("execution"))["id"]
            for e in all_events} <= {a["id"] for a in items}  # fmt: skip
    for item in items:
        assert set(item) == {"type", "id", "name", "creationDate", "informations", "settings",
                             "scheduler", "monitor"}  # fmt: skip
        assert item["type"] in {"mailCampaign", "mailMessage", "smsCampaign", "smsMessage"}
        assert re.fullmatch(r"[0-9A-Z]{6}", item["id"])
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,7})?Z", item["creationDate"])
        assert set(item["scheduler"]) == {"type", "startDate", "endDate"}
        detail = account.action(item["id"])
        assert detail is not None and {"description", "content"} <= set(detail)
        assert set(detail["content"]["headers"]["from"]) == {"prefix", "domain", "label"}
    assert account.action("NOPE00") is None
    items[0]["name"] = "changed"
    assert account.actions()[0]["name"] != "changed"
