"""Tests for `sources.np6.normalize`: documented NP6 payloads in, concrete flat columns out.

The payloads below are copied verbatim from the NP6 API Reference 8.1.0 examples quoted in
`np6-api.md` §3.1 and `seeds/004` (complete hits). Expected values are written from them.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sources.np6.normalize import (
    merge_robot_hits,
    ACTION_COLUMNS,
    ENVELOPE_COLUMNS,
    EVENT_TABLES,
    SCHEMAS,
    TABLE_FOR_TYPE,
    Normalized,
    Rejected,
    action_row,
    activation_row,
    bounce_row,
    cancellation_row,
    execution_row,
    hit_row,
    normalize_actions,
    normalize_events,
    other_event_row,
    parse_iso,
)
from sources.np6.normalize.batches import _ROW_FUNCTIONS, _event_problem, _event_table, _normalize
from sources.np6.normalize.rows import (
    _general_activation_row,
    _general_bounce_row,
    _general_cancellation_row,
    _general_execution_row,
    _general_hit_row,
)
from sources.np6_sandbox import Account, AccountSpec


def at_ms(epoch_ms: int) -> datetime:
    """The UTC datetime of an epoch-millisecond timestamp, computed without floats."""
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=epoch_ms)


# --------------------------------------------------------------------------------------------
# Documented payloads, verbatim
# --------------------------------------------------------------------------------------------

# https://documentation.np6.com/api/actionevent/74ff1a3a-9ab2-141e-dafe-cde5fe008b16 (first item)
ACTIVATION = orjson.loads(r"""
{ "type": "activation", "id": "86bc0a5d-28cb-5128-af60-5efd273d7f75", "timestamp": 1614089582000,
    "identity": { "type": "customer", "agency": "DEMO", "customer": "028" },
    "source": { "type": "email", "detail": { "activation": {
        "id": "000PE4", "kind": "message",
        "receiver": { "type": "footprint", "id": "000R4M0T", "unicity": "example@np6.com", "hash": "0441619ab4631d18548aa8835dd2c28b" },
        "stamp": { "time": 1614089576625, "id": "d52055cd-e854-4177-8ef5-b10fd8d568a7", "thread": "a3078b19-b379-4bc2-b29a-e8229a9c9332" },
        "recipient": "example@np6.com" } } } }
""")

# https://documentation.np6.com/api/actionevent
HARD_BOUNCE = orjson.loads(r"""
{ "type": "bounce", "id": "14d3d192-bd40-4c0b-9048-4469ab3a981c", "timestamp": 1614089593000,
  "identity": { "type": "customer", "agency": "DEMO", "customer": "028" },
  "source": { "type": "email", "detail": {
    "activation": { "id": "000PE4", "kind": "message",
      "receiver": { "type": "id", "value": "0013KDC8" },
      "stamp": { "time": 1614089576625, "id": "4d3eb218-1887-4c43-b287-cac59acec5ea", "thread": "671d5989-3bdb-41fc-96c4-7acbdcb8de5e" },
      "recipient": "example@blabla.com" },
    "bounce": {
      "status": { "type": "sync", "code": { "enhanced": "5.1.2" }, "diagnostic": "bad destination system: no such domain", "mta": "" },
      "analysis": { "verdict": "hard", "subject": { "type": "address", "detail": { "type": "bad destination system address" } } } } } } }
""")

# https://documentation.np6.com/api/actionevent/7a020620-e020-1163-b00c-65a8b7b86e08
SOFT_BOUNCE = orjson.loads(r"""
{ "type": "bounce", "id": "968e9b7b-ca77-4795-9159-6e1af3566e18", "timestamp": 1614089582000,
  "identity": { "type": "customer", "agency": "DEMO", "customer": "028" },
  "source": { "type": "email", "detail": {
    "activation": { "id": "000PE4", "kind": "message",
      "receiver": { "type": "id", "value": "0013KDC0" },
      "stamp": { "time": 1614089576625, "id": "7bb105bd-e548-402b-bcd8-8fb30b5e6cf4", "thread": "98a5918d-b1c4-4dc6-9222-57719ccd5bc8" },
      "recipient": "example@np6.com" },
    "bounce": {
      "status": { "type": "sync", "code": { "enhanced": "5.4.4" }, "diagnostic": "unable to route: no mail hosts for domain", "mta": "" },
      "analysis": { "verdict": "soft", "subject": { "type": "other or undefined status" } } } } } }
""")

# https://documentation.np6.com/api/actionevent/08dc5a02-d6c4-1dbd-7666-03728cef129f
CANCELLATION = orjson.loads(r"""
{ "type": "cancellation", "id": "84b10b69-6761-434f-be85-d56ddfaf0f20", "timestamp": 1614089582000,
  "identity": { "type": "customer", "agency": "DEMO", "customer": "028" },
  "source": { "type": "email", "detail": {
    "execution": { "id": "000PE4", "kind": "message",
      "recipient": { "type": "footprint", "id": "000R4M0T", "unicity": "example@np6.com", "hash": "0441619ab4631d18548aa8835dd2c28b" },
      "data": { "foo": 1, "bar": 2 },
      "stamp": { "time": 1614089576625, "id": "d52055cd-e854-4177-8ef5-b10fd8d568a7", "thread": "a3078b19-b379-4bc2-b29a-e8229a9c9332" } },
    "cancellation": { "type": "user defined policy", "value": { "type": "render", "message": "Lorem ipsum dolor sit amet..." } } } } }
""")

# https://documentation.np6.com/api/campaignevent/fa12c711-ef7e-0e7f-adc5-5972339c03a1
EXECUTION = orjson.loads(r"""
{ "type": "execution", "id": "b794a047-b15a-498c-9e46-8762d009bfb1", "timestamp": 1614089576718,
  "identity": { "type": "customer", "agency": "DEMO", "customer": "028" },
  "source": { "type": "email", "detail": { "execution": {
    "id": "000PE4", "kind": "message",
    "recipient": { "type": "footprint", "id": "000R4M0T", "unicity": "example@np6.com", "hash": "0441619ab4631d18548aa8835dd2c28b" },
    "data": { "foo": 1, "bar": 2 },
    "stamp": { "time": 1614089576625, "id": "340adff4-c193-427e-9e14-6a27633b77f6", "thread": "73b43cda-527a-4de7-911a-b4550dabc571" } } } } }
""")

# seeds/004: "Retrieve mirror hits of the specified action"
MIRROR_HIT = orjson.loads(r"""
{ "type": "hit", "id": "e33711c4-1c4a-4839-9027-101b8194211d", "timestamp": 1623673176622, "identity": { "type": "customer", "agency": "DEMO", "customer": "028" }, "source": { "type": "email", "detail": { "activation": { "id": "000PE4", "kind": "message", "receiver": { "type": "footprint", "id": "000R4M0T", "unicity": "example@np6.com", "hash": "0441619ab4631d18548aa8835dd2c28b" }, "stamp": { "time": 1614089576625, "id": "b967f2f1-2c49-4592-8027-77504af1cc7e", "thread": "e8c56c7f-66b7-4787-bdb3-59611efeebeb" }, "recipient": "example@np6.com" }, "link": { "type": "mirror", "label": "mirror page", "source": "html" }, "client": { "type": "web", "ip": { "type": "v4", "value": "10.1.1.1" }, "ua": { "type": "parsed", "ua": "Mozilla/5.0 (Linux; Android 10; SM-A125F Build/QP1A.190711.020; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/89.0.4389.86 Mobile Safari/537.36", "client": { "type": "Mobile browser", "name": "Android webview", "vendor": "Google Inc." }, "os": { "name": "Android 10", "family": "Android", "vendor": "Google Inc." }, "device": { "type": "Smartphone" } } } } } }
""")

# seeds/004: "Retrieve form hits of the specified action"
FORM_HIT = orjson.loads(r"""
{ "type": "hit", "id": "47049bab-79a7-4dd4-841d-f3492fc5cf72", "timestamp": 1623673176622, "identity": { "type": "customer", "agency": "DEMO", "customer": "028" }, "source": { "type": "email", "detail": { "activation": { "id": "000PE4", "kind": "message", "receiver": { "type": "footprint", "id": "000R4M0T", "unicity": "example@np6.com", "hash": "0441619ab4631d18548aa8835dd2c28b" }, "stamp": { "time": 1614089576625, "id": "007a1274-0952-42f8-a85b-1230352c8d2b", "thread": "feed3692-1b39-46fc-91be-8ae827cace32" }, "recipient": "example@np6.com" }, "link": { "type": "form", "label": "start", "source": "html", "value": "0000F1" }, "client": { "type": "web", "ip": { "type": "v4", "value": "10.1.1.1" }, "ua": { "type": "parsed", "ua": "Mozilla/5.0 (Linux; Android 10; SM-A125F Build/QP1A.190711.020; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/89.0.4389.86 Mobile Safari/537.36", "client": { "type": "Mobile browser", "name": "Android webview", "vendor": "Google Inc." }, "os": { "name": "Android 10", "family": "Android", "vendor": "Google Inc." }, "device": { "type": "Smartphone" } } } } } }
""")

# https://documentation.np6.com/api/notificationreactivity/883ab2aa-f6a5-863f-afd5-f343696efc99
# The stored copy stops inside the receiver value (`{ "type": "foo…`): completed as "foo" and
# closed; no stamp or recipient follow in what was published.
NOTIFICATION_OPTOUT = orjson.loads(r"""
{ "type": "optout", "id": "14d3d192-bd40-4c0b-9048-4469ab3a981c", "timestamp": 1614089593000,
    "identity": { "type": "customer", "agency": "DEMO", "customer": "028" },
    "source": { "type": "notification", "detail": { "activation": { "id": 156, "version": "ca0eeca3-49c7-4d0d-b814-9182571b6b70", "kind": "application",
      "receiver": { "type": "contact", "value": { "type": "foo" } } } } } }
""")

# https://documentation.np6.com/api/actionmanagement/87f6e01f-90e2-f615-4ff1-641bd78dc305
ACTION = orjson.loads(r"""
{ "type": "mailMessage", "id": "string", "name": "string", "description": "string", "creationDate": "2019-08-24T14:15:22Z",
  "informations": { "folder": 0, "category": 0, "state": 10 },
  "settings": { "templating": { "version": "string" }, "editionMode": 0, "purpose": { "type": "string" }, "consent": 0,
    "priority": true, "importance": true, "environment": {}, "field": 0, "culture": "string", "contentFormat": 1,
    "useFormLinkSSL": true, "sendingProfile": 0,
    "performance": { "openingRate": 0.1, "clickRate": 0.1, "unsubscribedRate": 0.1 },
    "mp": { "use": true, "increment": true }, "webAnalyser": 0, "archive": true },
  "content": { "headers": { "from": { "prefix": "string", "domain": "string", "label": "string" }, "reply": "string" },
    "subject": "string", "html": "string", "text": "string" } }
""")

# Legacy list item (np6-api.md §3.9): scheduler and monitor, which the 8.1.0 example lacks.
LEGACY_ACTION = orjson.loads(r"""
{"type":"mailCampaign","id":"000AB1","name":"Test Campaign","creationDate":"2015-10-30T15:23:00Z","informations":{"folder":123,"category":456,"state":10},"settings":{"templating":{"version":"2"}},"scheduler":{"type":"asap","startDate":"2015-10-30T15:23:00Z"},"monitor":{"lastSent":{"at":"2015-10-30T15:23:00Z"}}}
""")

UA_ANDROID = (
    "Mozilla/5.0 (Linux; Android 10; SM-A125F Build/QP1A.190711.020; wv) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Version/4.0 Chrome/89.0.4389.86 Mobile Safari/537.36"
)
RECEIVER = "source.detail.activation.receiver"
FOOTPRINT = {
    "receiver_type": "footprint",
    "receiver_id": "000R4M0T",
    "receiver_unicity": "example@np6.com",
    "receiver_hash": "0441619ab4631d18548aa8835dd2c28b",
    "receiver_value": None,
}
ENVELOPE_DEMO = {
    "agency": "DEMO",
    "customer": "028",
    "identity_type": "customer",
    "channel": "email",
    "action_id": "000PE4",
    "activation_kind": "message",
}


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def changed(event: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of `event` with each dotted path of `changes` set to its value."""
    copied = copy.deepcopy(event)
    for path, value in changes.items():
        *parents, last = path.split(".")
        node = copied
        for key in parents:
            node = node.setdefault(key, {})
        node[last] = value
    return copied


def removed(event: dict[str, Any], path: str) -> dict[str, Any]:
    """A deep copy of `event` without the dotted `path`."""
    copied = copy.deepcopy(event)
    *parents, last = path.split(".")
    node = copied
    for key in parents:
        node = node[key]
    del node[last]
    return copied


def only_row(result: Normalized) -> tuple[str, dict[str, Any]]:
    """The table name and the single row of a one-event batch, checked against its schema."""
    assert result.rejected == []
    assert len(result.tables) == 1
    ((table, arrow),) = result.tables.items()
    assert arrow.schema == SCHEMAS[table]
    assert arrow.num_rows == 1
    return table, arrow.to_pylist()[0]


def extra_of(row: dict[str, Any]) -> dict[str, Any] | None:
    """The row's `extra` column parsed back (None stays None)."""
    return None if row["extra"] is None else orjson.loads(row["extra"])


# --------------------------------------------------------------------------------------------
# Events: one documented payload or variant in, concrete columns out
# --------------------------------------------------------------------------------------------

EVENT_CASES = [
    pytest.param(
        ACTIVATION,
        "activations",
        {
            "id": "86bc0a5d-28cb-5128-af60-5efd273d7f75",
            "timestamp": at_ms(1614089582000),
            **ENVELOPE_DEMO,
            **FOOTPRINT,
            "stamp_id": "d52055cd-e854-4177-8ef5-b10fd8d568a7",
            "stamp_thread": "a3078b19-b379-4bc2-b29a-e8229a9c9332",
            "stamp_time": at_ms(1614089576625),
            "recipient": "example@np6.com",
        },
        None,
        id="activation-documented",
    ),
    pytest.param(
        HARD_BOUNCE,
        "bounces",
        {
            "id": "14d3d192-bd40-4c0b-9048-4469ab3a981c",
            "timestamp": at_ms(1614089593000),
            **ENVELOPE_DEMO,
            "receiver_type": "id",
            "receiver_id": "0013KDC8",
            "receiver_unicity": None,
            "receiver_hash": None,
            "receiver_value": "0013KDC8",
            "stamp_id": "4d3eb218-1887-4c43-b287-cac59acec5ea",
            "recipient": "example@blabla.com",
            "bounce_status_type": "sync",
            "bounce_code": "5.1.2",
            "bounce_diagnostic": "bad destination system: no such domain",
            "bounce_mta": "",
            "bounce_verdict": "hard",
            "bounce_subject_type": "address",
            "bounce_subject_detail": "bad destination system address",
        },
        None,
        id="bounce-hard-documented",
    ),
    pytest.param(
        SOFT_BOUNCE,
        "bounces",
        {
            "id": "968e9b7b-ca77-4795-9159-6e1af3566e18",
            "receiver_type": "id",
            "receiver_id": "0013KDC0",
            "receiver_value": "0013KDC0",
            "bounce_code": "5.4.4",
            "bounce_diagnostic": "unable to route: no mail hosts for domain",
            "bounce_verdict": "soft",
            "bounce_subject_type": "other or undefined status",
            "bounce_subject_detail": None,
        },
        None,
        id="bounce-soft-documented-no-subject-detail",
    ),
    pytest.param(
        CANCELLATION,
        "cancellations",
        {
            "id": "84b10b69-6761-434f-be85-d56ddfaf0f20",
            "timestamp": at_ms(1614089582000),
            **ENVELOPE_DEMO,
            **FOOTPRINT,
            "stamp_id": "d52055cd-e854-4177-8ef5-b10fd8d568a7",
            "stamp_time": at_ms(1614089576625),
            "recipient": None,
            "cancellation_type": "user defined policy",
            "cancellation_reason_type": "render",
            "cancellation_message": "Lorem ipsum dolor sit amet...",
        },
        None,
        id="cancellation-documented-recipient-object",
    ),
    pytest.param(
        EXECUTION,
        "executions",
        {
            "id": "b794a047-b15a-498c-9e46-8762d009bfb1",
            "timestamp": at_ms(1614089576718),
            **ENVELOPE_DEMO,
            **FOOTPRINT,
            "stamp_id": "340adff4-c193-427e-9e14-6a27633b77f6",
            "stamp_thread": "73b43cda-527a-4de7-911a-b4550dabc571",
            "stamp_time": at_ms(1614089576625),
            "recipient": None,
        },
        None,
        id="execution-documented",
    ),
    pytest.param(
        MIRROR_HIT,
        "hits",
        {
            "id": "e33711c4-1c4a-4839-9027-101b8194211d",
            "timestamp": at_ms(1623673176622),
            **ENVELOPE_DEMO,
            **FOOTPRINT,
            "stamp_id": "b967f2f1-2c49-4592-8027-77504af1cc7e",
            "stamp_thread": "e8c56c7f-66b7-4787-bdb3-59611efeebeb",
            "stamp_time": at_ms(1614089576625),
            "recipient": "example@np6.com",
            "hit_type": "mirror",
            "link_label": "mirror page",
            "link_source": "html",
            "link_value": None,
            "link_url": None,
            "client_type": "web",
            "ip_type": "v4",
            "ip": "10.1.1.1",
            "ua_type": "parsed",
            "user_agent": UA_ANDROID,
            "ua_client_type": "Mobile browser",
            "ua_client_name": "Android webview",
            "ua_client_vendor": "Google Inc.",
            "os_name": "Android 10",
            "os_family": "Android",
            "os_vendor": "Google Inc.",
            "device_type": "Smartphone",
            "classification": None,
        },
        None,
        id="hit-mirror-documented",
    ),
    pytest.param(
        FORM_HIT,
        "hits",
        {
            "id": "47049bab-79a7-4dd4-841d-f3492fc5cf72",
            "stamp_id": "007a1274-0952-42f8-a85b-1230352c8d2b",
            "hit_type": "form",
            "link_label": "start",
            "link_source": "html",
            "link_value": "0000F1",
            "device_type": "Smartphone",
        },
        None,
        id="hit-form-documented",
    ),
    pytest.param(
        NOTIFICATION_OPTOUT,
        "other_events",
        {
            "event_type": "optout",
            "id": "14d3d192-bd40-4c0b-9048-4469ab3a981c",
            "timestamp": at_ms(1614089593000),
            "channel": "notification",
            "action_id": "156",
            "activation_kind": "application",
            "receiver_type": "contact",
            "receiver_id": None,
            "receiver_value": '{"type":"foo"}',
            "stamp_time": None,
            "recipient": None,
        },
        {"source.detail.activation.version": "ca0eeca3-49c7-4d0d-b814-9182571b6b70"},
        id="notification-optout-int-action-id-contact-receiver",
    ),
    # ---- receivers --------------------------------------------------------------------------
    pytest.param(
        changed(MIRROR_HIT, {RECEIVER: {"type": "id", "value": "0013KDC8"}}),
        "hits",
        {"receiver_type": "id", "receiver_id": "0013KDC8", "receiver_value": "0013KDC8",
         "receiver_unicity": None, "receiver_hash": None},
        None,
        id="hit-receiver-type-id",
    ),
    pytest.param(
        changed(ACTIVATION, {RECEIVER: {"type": "unicity", "value": "a@b.fr"}}),
        "activations",
        {"receiver_type": "unicity", "receiver_unicity": "a@b.fr", "receiver_value": "a@b.fr",
         "receiver_id": None},
        None,
        id="receiver-type-unicity",
    ),
    pytest.param(
        changed(ACTIVATION, {RECEIVER: {"type": "hash", "value": "0441"}}),
        "activations",
        {"receiver_type": "hash", "receiver_hash": "0441", "receiver_value": "0441"},
        None,
        id="receiver-type-hash",
    ),
    pytest.param(
        changed(ACTIVATION, {RECEIVER: {"type": "phone", "value": "+33600"}}),
        "activations",
        {"receiver_type": "phone", "receiver_value": "+33600", "receiver_id": None},
        None,
        id="receiver-unknown-type-string-value-kept-plain",
    ),
    # ---- hit variants -----------------------------------------------------------------------
    pytest.param(
        changed(MIRROR_HIT, {"source.detail.client.ip": {"type": "v6", "value": "2001:db8::1"}}),
        "hits",
        {"ip_type": "v6", "ip": "2001:db8::1"},
        None,
        id="hit-ipv6",
    ),
    pytest.param(
        removed(MIRROR_HIT, "source.detail.client"),
        "hits",
        {"client_type": None, "ip": None, "ua_type": None, "user_agent": None, "os_name": None,
         "device_type": None, "hit_type": "mirror"},
        None,
        id="hit-missing-client",
    ),
    pytest.param(
        changed(MIRROR_HIT, {"source.detail.client.ua": {"type": "raw", "ua": "curl/8.5.0"}}),
        "hits",
        {"ua_type": "raw", "user_agent": "curl/8.5.0", "ua_client_type": None,
         "ua_client_name": None, "os_family": None, "device_type": None},
        None,
        id="hit-unknown-ua-type-without-parts",
    ),
    pytest.param(
        changed(MIRROR_HIT, {"source.detail.link": {"type": "share", "label": "fb"}}),
        "hits",
        {"hit_type": "share", "link_label": "fb", "link_source": None},
        None,
        id="hit-unknown-hit-type-stays-in-column",
    ),
    pytest.param(
        changed(MIRROR_HIT, {"source.detail.client.type": "proxy"}),
        "hits",
        {"client_type": "proxy"},
        None,
        id="hit-unknown-client-type-stays-in-column",
    ),
    pytest.param(
        changed(
            MIRROR_HIT,
            {"source.detail.link": {"type": "redirection", "label": "Découvrir l’offre 🎉 – été",
                                    "source": "html", "url": "https://exemple.fr/été?q=ü"}},
        ),
        "hits",
        {"hit_type": "redirection", "link_label": "Découvrir l’offre 🎉 – été",
         "link_url": "https://exemple.fr/été?q=ü"},
        None,
        id="hit-click-unicode-label-and-url",
    ),
    pytest.param(
        changed(MIRROR_HIT, {"source.detail.client.classification": "mpp"}),
        "hits",
        {"classification": "mpp"},
        None,
        id="hit-classification-string",
    ),
    pytest.param(
        changed(MIRROR_HIT, {"source.detail.client.classification": {"type": "gsr", "score": 0.9}}),
        "hits",
        {"classification": "gsr"},
        {"source.detail.client.classification.score": 0.9},
        id="hit-classification-object",
    ),
    pytest.param(
        changed(MIRROR_HIT, {"source.detail.link.value": 42}),
        "hits",
        {"link_value": "42"},
        None,
        id="hit-number-in-string-column-kept-as-json-text",
    ),
    # ---- unknown keys, nulls, odd shapes ----------------------------------------------------
    pytest.param(
        changed(
            MIRROR_HIT,
            {
                "origin": "api",
                "source.detail.campaign": {"id": "c-1", "tags": ["a", "b"]},
                "source.detail.client.ua.os.build": "x",
                "identity.tenant": 7,
            },
        ),
        "hits",
        {"os_name": "Android 10", "agency": "DEMO"},
        {
            "origin": "api",
            "source.detail.campaign": {"id": "c-1", "tags": ["a", "b"]},
            "source.detail.client.ua.os.build": "x",
            "identity.tenant": 7,
        },
        id="hit-unknown-keys-at-several-depths",
    ),
    pytest.param(
        changed(
            MIRROR_HIT,
            {"source.detail.link.url": None, "source.detail.client.ua": None, "identity": None},
        ),
        "hits",
        {"link_url": None, "ua_type": None, "user_agent": None, "agency": None,
         "identity_type": None, "hit_type": "mirror"},
        None,
        id="hit-known-keys-with-null-values-are-not-extra",
    ),
    pytest.param(
        changed(ACTIVATION, {"source": "email"}),
        "activations",
        {"channel": None, "action_id": None, "receiver_type": None, "agency": "DEMO"},
        {"source": "email"},
        id="non-object-source-kept-in-extra",
    ),
    pytest.param(
        changed(MIRROR_HIT, {"source.detail.client.ua.os": ["Android", 10]}),
        "hits",
        {"os_name": None, "ua_client_name": "Android webview"},
        {"source.detail.client.ua.os": ["Android", 10]},
        id="hit-list-where-object-expected",
    ),
    pytest.param(
        changed(ACTIVATION, {"source.detail.activation.stamp.time": "2021-02-23T14:12:56Z"}),
        "activations",
        {"stamp_time": None, "stamp_id": "d52055cd-e854-4177-8ef5-b10fd8d568a7"},
        {"source.detail.activation.stamp.time": "2021-02-23T14:12:56Z"},
        id="non-integer-stamp-time-kept-in-extra",
    ),
    pytest.param(
        changed(ACTIVATION, {"source.detail.activation.stamp.time": True}),
        "activations",
        {"stamp_time": None},
        {"source.detail.activation.stamp.time": True},
        id="bool-stamp-time-kept-in-extra",
    ),
    pytest.param(
        changed(HARD_BOUNCE, {"source.detail.bounce.analysis.subject.detail.code": 550}),
        "bounces",
        {"bounce_subject_detail": "bad destination system address"},
        {"source.detail.bounce.analysis.subject.detail.code": 550},
        id="bounce-unknown-deep-key",
    ),
    pytest.param(
        changed(EXECUTION, {"source.detail.execution.data": None}),
        "executions",
        {"execution_data": None},
        None,
        id="execution-null-data",
    ),
    # ---- other event types ------------------------------------------------------------------
    pytest.param(
        changed(ACTIVATION, {"type": "complaint", "source.detail.complaint": {"type": "abuse"}}),
        "other_events",
        {"event_type": "complaint", "action_id": "000PE4", "recipient": "example@np6.com",
         **FOOTPRINT},
        {"source.detail.complaint": {"type": "abuse"}},
        id="complaint-envelope-from-activation",
    ),
    pytest.param(
        changed(EXECUTION, {"type": "suppression"}),
        "other_events",
        {"event_type": "suppression", "action_id": "000PE4", "recipient": None, **FOOTPRINT},
        {"source.detail.execution.data": {"foo": 1, "bar": 2}},
        id="unknown-type-envelope-from-execution",
    ),
    pytest.param(
        {"type": "teleport", "id": "e-1", "timestamp": 0, "where": {"planet": "Mars"}},
        "other_events",
        {"event_type": "teleport", "id": "e-1", "timestamp": at_ms(0), "agency": None,
         "channel": None},
        {"where": {"planet": "Mars"}},
        id="brand-new-type-without-source",
    ),
    pytest.param(
        removed(ACTIVATION, "type"),
        "other_events",
        {"event_type": None, "action_id": "000PE4"},
        None,
        id="missing-type-goes-to-other-events",
    ),
    pytest.param(
        changed(ACTIVATION, {"type": ["activation"]}),
        "other_events",
        {"event_type": '["activation"]'},
        None,
        id="non-string-type-goes-to-other-events",
    ),
]


@pytest.mark.parametrize(("event", "table", "expected", "expected_extra"), EVENT_CASES)
def test_event_to_row(
    event: dict[str, Any], table: str, expected: dict[str, Any], expected_extra: dict[str, Any] | None
) -> None:
    got_table, row = only_row(normalize_events([event]))
    assert got_table == table
    assert {column: row[column] for column in expected} == expected
    assert extra_of(row) == expected_extra


def test_execution_data_is_json_text() -> None:
    for event, table in ((EXECUTION, "executions"), (CANCELLATION, "cancellations")):
        _, row = only_row(normalize_events([event]))
        assert orjson.loads(row["execution_data"]) == {"foo": 1, "bar": 2}, table


def test_contact_receiver_value_is_json_text() -> None:
    _, row = only_row(normalize_events([NOTIFICATION_OPTOUT]))
    assert orjson.loads(row["receiver_value"]) == {"type": "foo"}


def test_documented_payloads_leave_nothing_in_extra() -> None:
    documented = [ACTIVATION, HARD_BOUNCE, SOFT_BOUNCE, CANCELLATION, EXECUTION, MIRROR_HIT, FORM_HIT]
    result = normalize_events(documented)
    assert result.rejected == []
    for table in result.tables.values():
        assert table.column("extra").null_count == table.num_rows


# --------------------------------------------------------------------------------------------
# Notification (push) events: integer ids, receivers wrapped in a `contact`
# --------------------------------------------------------------------------------------------
#
# The reference's notification examples stop after `receiver.value.type` (np6-api.md §3.1, the
# optout above); the rest of these shapes is the one the issue documents and the sandbox serves:
# activation-based types carry `activation.receiver`, execution-based ones `execution.recipient`,
# both `{"type": "contact", "value": <footprint>}`, and neither has an address string.

NOTIFICATION_FOOTPRINT = {"type": "footprint", "id": "000R4M0T", "unicity": "cGhvbmUtdG9rZW4",
                          "hash": "0441619ab4631d18548aa8835dd2c28b"}  # fmt: skip
NOTIFICATION_STAMP = {"time": 1614089576625, "id": "d52055cd-e854-4177-8ef5-b10fd8d568a7",
                      "thread": "a3078b19-b379-4bc2-b29a-e8229a9c9332"}  # fmt: skip
VERSION = "ca0eeca3-49c7-4d0d-b814-9182571b6b70"


def notification_event(kind: str, carrier: str = "activation", **detail: Any) -> dict[str, Any]:
    """A push event of type `kind` whose `source.detail.<carrier>` is the documented notification carrier."""
    receiver_key = "receiver" if carrier == "activation" else "recipient"
    return {
        "type": kind, "id": f"7d0c1c3e-0000-4000-8000-{len(kind):012d}", "timestamp": 1614089593000,
        "identity": {"type": "customer", "agency": "DEMO", "customer": "028"},
        "source": {"type": "notification", "detail": {
            carrier: {"id": 156, "version": VERSION, "kind": "application",
                      receiver_key: {"type": "contact", "value": dict(NOTIFICATION_FOOTPRINT)},
                      "stamp": dict(NOTIFICATION_STAMP)},
            **detail}},
    }  # fmt: skip


NOTIFICATION_ENVELOPE = {
    "channel": "notification", "action_id": "156", "activation_kind": "application",
    "receiver_type": "contact", "receiver_id": "000R4M0T", "receiver_unicity": "cGhvbmUtdG9rZW4",
    "receiver_hash": "0441619ab4631d18548aa8835dd2c28b", "receiver_value": None,
    "stamp_id": NOTIFICATION_STAMP["id"], "stamp_time": at_ms(1614089576625), "recipient": None,
}  # fmt: skip
# The version has no column; nor has the type of the receiver a `contact` wraps (kept, not lost).
INNER_FOOTPRINT = {"source.detail.activation.receiver.value.type": "footprint"}
ACTIVATION_VERSION = {"source.detail.activation.version": VERSION, **INNER_FOOTPRINT}
EXECUTION_VERSION = {"source.detail.execution.version": VERSION,
                     "source.detail.execution.recipient.value.type": "footprint"}
PUSH_BOUNCE = {"status": {"type": "async", "code": {"enhanced": "5.0.0"}, "diagnostic": "token not registered",
                          "mta": ""}, "analysis": {"verdict": "hard", "subject": {"type": "subscription"}}}  # fmt: skip
PUSH_CANCELLATION = {"type": "user defined policy",
                     "value": {"type": "subscription", "message": "no active subscription"}}  # fmt: skip
CONTACT = "source.detail.activation.receiver.value"
UNMAPPED_CONTACT = {"receiver_id": None, "receiver_unicity": None, "receiver_hash": None}

NOTIFICATION_CASES = [
    pytest.param(notification_event("activation"), "activations", {}, ACTIVATION_VERSION, id="push-activation"),
    pytest.param(
        notification_event("hit", link={"type": "redirection", "label": "open app", "source": "push"}),
        "hits",
        {"hit_type": "redirection", "link_label": "open app", "link_source": "push", "client_type": None},
        ACTIVATION_VERSION,
        id="push-hit",
    ),
    pytest.param(notification_event("impression"), "other_events", {"event_type": "impression"},
                 ACTIVATION_VERSION, id="push-impression"),
    pytest.param(notification_event("optout"), "other_events", {"event_type": "optout"},
                 ACTIVATION_VERSION, id="push-optout"),
    pytest.param(
        notification_event("bounce", bounce=PUSH_BOUNCE),
        "bounces",
        {"bounce_status_type": "async", "bounce_code": "5.0.0", "bounce_diagnostic": "token not registered",
         "bounce_verdict": "hard", "bounce_subject_type": "subscription", "bounce_subject_detail": None},
        ACTIVATION_VERSION,
        id="push-bounce",
    ),
    pytest.param(notification_event("execution", "execution"), "executions", {"execution_data": None},
                 EXECUTION_VERSION, id="push-execution"),
    pytest.param(
        notification_event("cancellation", "execution", cancellation=PUSH_CANCELLATION),
        "cancellations",
        {"cancellation_type": "user defined policy", "cancellation_reason_type": "subscription",
         "cancellation_message": "no active subscription"},
        EXECUTION_VERSION,
        id="push-cancellation",
    ),
    pytest.param(
        changed(notification_event("optout"), {CONTACT: {"type": "id", "value": "000R4M0T"}}),
        "other_events",
        {"receiver_id": "000R4M0T", "receiver_unicity": None, "receiver_hash": None, "receiver_value": "000R4M0T"},
        {**ACTIVATION_VERSION, "source.detail.activation.receiver.value.type": "id"},
        id="contact-wrapping-an-id-receiver: keeps its inner type",
    ),
    pytest.param(
        changed(notification_event("optout"), {CONTACT: {"type": "subscription", "id": "5f1c"}}),
        "other_events",
        {"receiver_type": "contact", **UNMAPPED_CONTACT, "receiver_value": '{"type":"subscription","id":"5f1c"}'},
        {"source.detail.activation.version": VERSION},  # kept whole: no inner type to keep apart
        id="contact-wrapping-an-unknown-type-is-kept-whole",
    ),
    pytest.param(
        changed(notification_event("optout"), {CONTACT + ".device": "ios"}),
        "other_events",
        {**UNMAPPED_CONTACT, "receiver_value": orjson.dumps({**NOTIFICATION_FOOTPRINT, "device": "ios"}).decode()},
        {"source.detail.activation.version": VERSION},  # kept whole: no inner type to keep apart
        id="footprint-with-an-unknown-key-is-kept-whole",
    ),
    pytest.param(
        removed(notification_event("activation"), "source.detail.activation.version"),
        "activations",
        {"action_id": "156"},
        INNER_FOOTPRINT,
        id="push-activation-without-version",
    ),
]


@pytest.mark.parametrize(("event", "table", "expected", "expected_extra"), NOTIFICATION_CASES)
def test_notification_event_to_row(
    event: dict[str, Any], table: str, expected: dict[str, Any], expected_extra: dict[str, Any] | None
) -> None:
    got_table, row = only_row(normalize_events([event]))
    assert got_table == table
    want = {**NOTIFICATION_ENVELOPE, **expected}
    assert {column: row[column] for column in want} == want
    assert extra_of(row) == expected_extra


@pytest.mark.parametrize(
    ("event", "table"),
    [pytest.param(*c.values[:2], id=c.id) for c in NOTIFICATION_CASES if c.values[1] != "other_events"],
)
def test_notification_rows_match_the_general_path(event: dict[str, Any], table: str) -> None:
    assert PUBLIC_ROW[table](event) == GENERAL_ROW[table](event)


def test_contact_receiver_of_the_documented_optout_keeps_its_unknown_value() -> None:
    _, row = only_row(normalize_events([NOTIFICATION_OPTOUT]))
    assert (row["receiver_type"], row["receiver_id"], row["action_id"]) == ("contact", None, "156")


# --------------------------------------------------------------------------------------------
# Robot labels: the class wherever the hit carries it, `is_robot` from it or from the robot pass
# --------------------------------------------------------------------------------------------


def _without_client_class(event: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(event)
    out["source"]["detail"]["client"].pop("classification", None)
    return out


@pytest.mark.parametrize(
    ("changes", "robot_pass", "expected"),
    [
        pytest.param({}, False, (None, False), id="human-hit"),
        pytest.param({}, True, (None, True), id="robot-pass-no-class: never the filter text"),
        pytest.param({"source.detail.client.classification": "mpp"}, False, ("mpp", True), id="client"),
        pytest.param({"source.detail.client.classification": {"type": "gsr"}}, False, ("gsr", True),
                     id="client-object"),
        pytest.param({"source.detail.classification": "gsr"}, False, ("gsr", True), id="detail"),
        pytest.param({"classification": "genericrobot"}, False, ("genericrobot", True), id="top-level"),
        pytest.param({"classification": {"type": "mpp"}}, True, ("mpp", True), id="top-level-object"),
        pytest.param({"source.detail.client.classification": "mpp", "classification": "gsr"}, False,
                     ("mpp", True), id="client-first"),
        pytest.param({"source.detail.client.classification": ""}, False, (None, False), id="empty-is-none"),
        pytest.param({"source.detail.client.classification": None}, False, (None, False), id="null"),
    ],
)  # fmt: skip
def test_robot_labels(changes: dict[str, Any], robot_pass: bool, expected: tuple[Any, bool]) -> None:
    event = changed(_without_client_class(MIRROR_HIT), changes)
    _, row = only_row(normalize_events([event], robots=robot_pass))
    assert (row["classification"], row["is_robot"]) == expected
    # Read, so not left in `extra`; a second class elsewhere is kept there, not dropped.
    assert ("classification" in (row["extra"] or "")) == (len(changes) > 1)
    assert hit_row(event, robot_pass) == _general_hit_row(event, robot_pass)


def test_robot_pass_only_touches_hits() -> None:
    result = normalize_events([MIRROR_HIT, ACTIVATION], robots=True)
    assert result.tables["hits"].column("is_robot").to_pylist() == [True]
    assert "is_robot" not in result.tables["activations"].column_names


def _hits(*rows: tuple[str, str | None, bool]) -> pa.Table:
    events = [changed(_without_client_class(MIRROR_HIT), {"id": i, "source.detail.classification": c})
              for i, c, _ in rows]  # fmt: skip
    return normalize_events(events, robots=all(r for *_, r in rows)).tables["hits"]


def test_merge_robot_hits_labels_the_feed_and_adds_what_it_left_out() -> None:
    feed = [_hits(("a", None, False), ("b", None, False)), _hits(("c", "mpp", False))]
    robots = _hits(("b", "gsr", True), ("c", None, True), ("d", None, True))
    labelled, rest = merge_robot_hits(feed, robots)
    rows = [(r["id"], r["classification"], r["is_robot"]) for t in labelled for r in t.to_pylist()]
    assert rows == [("a", None, False), ("b", "gsr", True), ("c", "mpp", True)]
    assert rest.column("id").to_pylist() == ["d"]
    assert merge_robot_hits([], robots)[1].num_rows == 3


# --------------------------------------------------------------------------------------------
# Rejected elements
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("element", "reason_mentions"),
    [
        pytest.param(removed(ACTIVATION, "id"), "'id'", id="missing-id"),
        pytest.param(changed(ACTIVATION, {"id": ""}), "'id'", id="empty-id"),
        pytest.param(changed(ACTIVATION, {"id": 123}), "'id'", id="integer-id"),
        pytest.param(changed(ACTIVATION, {"id": None}), "'id'", id="null-id"),
        pytest.param(removed(ACTIVATION, "timestamp"), "'timestamp'", id="missing-timestamp"),
        pytest.param(changed(ACTIVATION, {"timestamp": True}), "'timestamp'", id="bool-timestamp"),
        pytest.param(changed(ACTIVATION, {"timestamp": "1614089582000"}), "'timestamp'", id="text-ts"),
        pytest.param(changed(ACTIVATION, {"timestamp": 1614089582000.5}), "'timestamp'", id="float-ts"),
        pytest.param(changed(ACTIVATION, {"timestamp": 10**17}), "'timestamp'", id="ts-out-of-range"),
        pytest.param([ACTIVATION], "object", id="array-element"),
        pytest.param("hit", "object", id="string-element"),
        pytest.param(None, "object", id="null-element"),
        pytest.param(42, "object", id="number-element"),
    ],
)
def test_bad_elements_are_rejected_not_dropped(element: Any, reason_mentions: str) -> None:
    result = normalize_events([MIRROR_HIT, element, ACTIVATION])
    assert [table.num_rows for table in result.tables.values()] == [1, 1]
    (rejected,) = result.rejected
    assert isinstance(rejected, Rejected)
    assert reason_mentions in rejected.reason
    assert "\n" not in rejected.reason
    assert orjson.loads(rejected.raw) == element


def test_unforeseen_shape_rejects_the_element_and_keeps_the_batch() -> None:
    # A non-string key cannot come from JSON, but a caller could pass one: the row function
    # fails on it, and that element alone is rejected.
    odd = changed(ACTIVATION, {"source.detail.activation.stamp": {1: "x"}})
    result = normalize_events([odd, ACTIVATION])
    assert result.tables["activations"].num_rows == 1
    (rejected,) = result.rejected
    assert rejected.reason.startswith("cannot normalize (TypeError")
    assert "86bc0a5d-28cb-5128-af60-5efd273d7f75" in rejected.raw


# --------------------------------------------------------------------------------------------
# Batches, schemas, timestamps
# --------------------------------------------------------------------------------------------


def test_batch_routes_every_event_and_omits_empty_tables() -> None:
    batch = [MIRROR_HIT, FORM_HIT, ACTIVATION, HARD_BOUNCE, SOFT_BOUNCE, NOTIFICATION_OPTOUT]
    result = normalize_events(batch)
    assert result.rejected == []
    assert {name: table.num_rows for name, table in result.tables.items()} == {
        "hits": 2,
        "activations": 1,
        "bounces": 2,
        "other_events": 1,
    }
    assert result.tables["hits"].column("id").to_pylist() == [MIRROR_HIT["id"], FORM_HIT["id"]]


def test_value_that_does_not_fit_its_column_keeps_the_whole_batch_typed() -> None:
    # One number in a string column sends the batch through the per-column path.
    odd = changed(FORM_HIT, {"source.detail.link.value": 7})
    table = normalize_events([MIRROR_HIT, odd]).tables["hits"]
    assert table.schema == SCHEMAS["hits"]
    assert table.column("link_value").to_pylist() == [None, "7"]
    assert table.column("timestamp").to_pylist() == [at_ms(1623673176622)] * 2
    assert table.column("stamp_time").to_pylist() == [at_ms(1614089576625)] * 2


def test_empty_batch() -> None:
    assert normalize_events([]) == Normalized({}, [])
    assert normalize_actions([]) == Normalized({}, [])


def test_schemas_share_the_envelope_and_end_with_extra() -> None:
    assert set(EVENT_TABLES) == {*TABLE_FOR_TYPE.values(), "other_events"}
    for table in EVENT_TABLES:
        names = SCHEMAS[table].names
        start = names.index("id")
        assert tuple(names[start : start + len(ENVELOPE_COLUMNS)]) == ENVELOPE_COLUMNS
        assert names[-1] == "extra"
    assert SCHEMAS["other_events"].names[0] == "event_type"
    assert tuple(SCHEMAS["actions"].names) == ACTION_COLUMNS


def test_schema_types() -> None:
    utc_us = pa.timestamp("us", tz="UTC")
    for name, schema in SCHEMAS.items():
        for field in schema:
            if field.name in ("timestamp", "stamp_time", "creation_date", "scheduler_start",
                              "scheduler_end", "last_sent_at"):
                assert field.type == utc_us, (name, field.name)
            elif field.name in ("folder", "category", "state", "edition_mode"):
                assert field.type == pa.int64(), (name, field.name)
            elif field.name == "is_robot":
                assert field.type == pa.bool_(), (name, field.name)
            else:
                assert field.type == pa.string(), (name, field.name)
    assert not SCHEMAS["hits"].field("id").nullable
    assert not SCHEMAS["hits"].field("timestamp").nullable


@pytest.mark.parametrize(
    ("row_function", "event", "table"),
    [
        pytest.param(hit_row, MIRROR_HIT, "hits", id="hit"),
        pytest.param(activation_row, ACTIVATION, "activations", id="activation"),
        pytest.param(bounce_row, HARD_BOUNCE, "bounces", id="bounce"),
        pytest.param(cancellation_row, CANCELLATION, "cancellations", id="cancellation"),
        pytest.param(execution_row, EXECUTION, "executions", id="execution"),
        pytest.param(other_event_row, NOTIFICATION_OPTOUT, "other_events", id="other"),
        pytest.param(action_row, ACTION, "actions", id="action"),
    ],
)
def test_row_functions_return_flat_tuples_in_schema_order(
    row_function: Any, event: dict[str, Any], table: str
) -> None:
    row = row_function(event)
    assert isinstance(row, tuple)
    assert len(row) == len(SCHEMAS[table])
    assert row[SCHEMAS[table].names.index("id")] == event["id"]


def test_hit_row_is_one_event_in_one_row_out() -> None:
    row = hit_row(MIRROR_HIT, True)
    named = dict(zip(SCHEMAS["hits"].names, row, strict=True))
    assert named["timestamp"] == 1623673176622  # epoch ms; Arrow does the conversion
    assert named["hit_type"] == "mirror"
    assert (named["classification"], named["is_robot"]) == (None, True)
    assert named["extra"] is None


@pytest.mark.parametrize(
    ("epoch_ms", "expected"),
    [
        pytest.param(1623673176622, datetime(2021, 6, 14, 12, 19, 36, 622000, tzinfo=UTC), id="hit"),
        pytest.param(1614089576625, datetime(2021, 2, 23, 14, 12, 56, 625000, tzinfo=UTC), id="stamp"),
        pytest.param(0, datetime(1970, 1, 1, tzinfo=UTC), id="epoch"),
        pytest.param(-1, datetime(1969, 12, 31, 23, 59, 59, 999000, tzinfo=UTC), id="before-epoch"),
    ],
)
def test_timestamps_are_exact_to_the_millisecond_in_utc(epoch_ms: int, expected: datetime) -> None:
    stamp_time = "source.detail.activation.stamp.time"
    event = changed(ACTIVATION, {"timestamp": epoch_ms, stamp_time: epoch_ms})
    table = normalize_events([event]).tables["activations"]
    for column in ("timestamp", "stamp_time"):
        assert table.column(column).type == pa.timestamp("us", tz="UTC")
        assert table.column(column).cast(pa.int64()).to_pylist() == [epoch_ms * 1000]
        assert table.column(column).to_pylist() == [expected]


# --------------------------------------------------------------------------------------------
# The fast path for plain events gives the general path's rows
# --------------------------------------------------------------------------------------------

GENERAL_ROW = {
    "hits": _general_hit_row,
    "activations": _general_activation_row,
    "bounces": _general_bounce_row,
    "cancellations": _general_cancellation_row,
    "executions": _general_execution_row,
}
PUBLIC_ROW = {
    "hits": hit_row,
    "activations": activation_row,
    "bounces": bounce_row,
    "cancellations": cancellation_row,
    "executions": execution_row,
}


@pytest.mark.parametrize(
    ("event", "table"),
    [pytest.param(case.values[0], case.values[1], id=case.id) for case in EVENT_CASES
     if case.values[1] in GENERAL_ROW],
)  # fmt: skip
def test_row_functions_match_the_general_path(event: dict[str, Any], table: str) -> None:
    # Plain events take the fast path, odd ones the general path: the row must not tell.
    assert PUBLIC_ROW[table](event) == GENERAL_ROW[table](event)
    if table == "hits":
        assert hit_row(event, True) == _general_hit_row(event, True)


@pytest.mark.parametrize("robots", [False, True])
def test_sandbox_feed_normalizes_as_the_general_path(robots: bool) -> None:
    # A realistic mix (hit variants, receivers by id, unknown keys, other event types), with
    # the fast path as in production and with the general row functions only.
    spec = AccountSpec(seed=7, actions=10, events_per_day=3000,
                       start=datetime(2026, 9, 1, tzinfo=UTC), days=1)  # fmt: skip
    events = Account(spec).events()
    general = dict(_ROW_FUNCTIONS)
    general["hits"] = lambda event: _general_hit_row(event, robots)
    expected = _normalize(events, _event_problem, _event_table, general)
    result = normalize_events(events, robots=robots)
    assert result.rejected == expected.rejected == []
    assert result.tables.keys() == expected.tables.keys()
    for name, table in result.tables.items():
        assert table.equals(expected.tables[name]), name


# --------------------------------------------------------------------------------------------
# One row per event id in a batch
# --------------------------------------------------------------------------------------------

HIT_AGAIN = changed(MIRROR_HIT, {"source.detail.link.label": "second copy"})
HIT_AGAIN_ODD = changed(MIRROR_HIT, {"origin": "replay"})  # general path (an unknown key)
ACTIVATION_AS_HIT_ID = changed(ACTIVATION, {"id": MIRROR_HIT["id"]})
BAD_COPY = changed(MIRROR_HIT, {"timestamp": "later"})


@pytest.mark.parametrize(
    ("batch", "expected"),
    [
        pytest.param([MIRROR_HIT, FORM_HIT], {"hits": [MIRROR_HIT["id"], FORM_HIT["id"]]},
                     id="no-repeat-keeps-order"),
        pytest.param([MIRROR_HIT, HIT_AGAIN], {"hits": [MIRROR_HIT["id"]]}, id="twice"),
        pytest.param([MIRROR_HIT, MIRROR_HIT, MIRROR_HIT], {"hits": [MIRROR_HIT["id"]]},
                     id="three-times"),
        pytest.param([FORM_HIT, MIRROR_HIT, ACTIVATION, FORM_HIT, HIT_AGAIN, ACTIVATION],
                     {"hits": [FORM_HIT["id"], MIRROR_HIT["id"]],
                      "activations": [ACTIVATION["id"]]},
                     id="interleaved-first-occurrences-in-order"),
        pytest.param([HIT_AGAIN_ODD, MIRROR_HIT], {"hits": [MIRROR_HIT["id"]]},
                     id="first-copy-odd-shape"),
        pytest.param([MIRROR_HIT, ACTIVATION_AS_HIT_ID],
                     {"hits": [MIRROR_HIT["id"]], "activations": [MIRROR_HIT["id"]]},
                     id="same-id-in-two-tables-kept-per-table"),
        pytest.param([BAD_COPY, MIRROR_HIT], {"hits": [MIRROR_HIT["id"]]},
                     id="rejected-copy-does-not-count"),
    ],
)  # fmt: skip
def test_one_row_per_event_id(
    batch: list[dict[str, Any]], expected: dict[str, list[str]]
) -> None:
    result = normalize_events(batch)
    ids = {name: table.column("id").to_pylist() for name, table in result.tables.items()}
    assert ids == expected
    for name, table in result.tables.items():
        assert table.schema == SCHEMAS[name]


@pytest.mark.parametrize(
    ("batch", "label", "extra"),
    [
        pytest.param([MIRROR_HIT, HIT_AGAIN], "mirror page", None, id="plain-then-plain"),
        pytest.param([HIT_AGAIN, MIRROR_HIT], "second copy", None, id="other-order"),
        pytest.param([HIT_AGAIN_ODD, MIRROR_HIT], "mirror page", {"origin": "replay"},
                     id="odd-then-plain"),
    ],
)  # fmt: skip
def test_repeated_id_keeps_the_first_row_whole(
    batch: list[dict[str, Any]], label: str, extra: dict[str, Any] | None
) -> None:
    _, row = only_row(normalize_events(batch))
    assert row["link_label"] == label
    assert extra_of(row) == extra


# --------------------------------------------------------------------------------------------
# Property: injected unknown keys always end up in `extra`
# --------------------------------------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=8,
)
# `data` and a receiver's `value` are stored whole in their own columns, not walked.
WHOLE_VALUE_PATHS = {
    "source.detail.execution.data",
    "source.detail.activation.receiver.value",
}


def object_paths(node: dict[str, Any], prefix: str = "") -> list[str]:
    """Dotted paths of every object in an event ("" for the root), except whole-value ones."""
    paths = [prefix]
    for key, value in node.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and path not in WHOLE_VALUE_PATHS:
            paths.extend(object_paths(value, path + "."))
    return paths


@settings(max_examples=150, deadline=None)
@given(
    event=st.sampled_from(
        [ACTIVATION, HARD_BOUNCE, SOFT_BOUNCE, CANCELLATION, EXECUTION, MIRROR_HIT, FORM_HIT,
         NOTIFICATION_OPTOUT]
    ),
    data=st.data(),
)
def test_injected_unknown_keys_always_land_in_extra(event: dict[str, Any], data: st.DataObject) -> None:
    _, baseline = only_row(normalize_events([event]))
    injected = copy.deepcopy(event)
    expected = dict(extra_of(baseline) or {})
    parents = object_paths(event)
    for _ in range(data.draw(st.integers(min_value=1, max_value=4), label="injections")):
        parent = data.draw(st.sampled_from(parents), label="parent")
        key = "x-" + data.draw(st.text(min_size=1, max_size=8), label="key")
        value = data.draw(JSON_VALUES, label="value")
        node = injected
        for part in filter(None, parent.split(".")):
            node = node[part]
        node[key] = value
        expected[f"{parent}{key}"] = value
    _, row = only_row(normalize_events([injected]))
    assert extra_of(row) == expected
    assert {k: v for k, v in row.items() if k != "extra"} == {
        k: v for k, v in baseline.items() if k != "extra"
    }


# --------------------------------------------------------------------------------------------
# Actions
# --------------------------------------------------------------------------------------------


def test_documented_action() -> None:
    table, row = only_row(normalize_actions([ACTION]))
    assert table == "actions"
    assert row == {
        "id": "string",
        "type": "mailMessage",
        "name": "string",
        "description": "string",
        "creation_date": datetime(2019, 8, 24, 14, 15, 22, tzinfo=UTC),
        "folder": 0,
        "category": 0,
        "state": 10,
        "scheduler_type": None,
        "scheduler_start": None,
        "scheduler_end": None,
        "last_sent_at": None,
        "subject": "string",
        "sender_prefix": "string",
        "sender_domain": "string",
        "sender_label": "string",
        "reply_to": "string",
        "culture": "string",
        "edition_mode": 0,
        "purpose_type": "string",
        "settings": row["settings"],
        "extra": None,  # content.html / content.text are deliberately dropped, not extra
    }
    assert orjson.loads(row["settings"]) == ACTION["settings"]


def test_legacy_action_with_scheduler_and_monitor() -> None:
    _, row = only_row(normalize_actions([LEGACY_ACTION]))
    assert row["id"] == "000AB1"
    assert row["type"] == "mailCampaign"
    assert (row["folder"], row["category"], row["state"]) == (123, 456, 10)
    assert row["scheduler_type"] == "asap"
    assert row["scheduler_start"] == datetime(2015, 10, 30, 15, 23, tzinfo=UTC)
    assert row["scheduler_end"] is None
    assert row["last_sent_at"] == datetime(2015, 10, 30, 15, 23, tzinfo=UTC)
    assert orjson.loads(row["settings"]) == {"templating": {"version": "2"}}
    assert row["extra"] is None


@pytest.mark.parametrize(
    ("path", "value", "column", "expected", "expected_extra"),
    [
        pytest.param("creationDate", "yesterday", "creation_date", None, {"creationDate": "yesterday"},
                     id="unparsable-date-kept-in-extra"),
        pytest.param("creationDate", "0001-01-01T00:00:00Z", "creation_date",
                     datetime(1, 1, 1, tzinfo=UTC), None, id="placeholder-date"),
        pytest.param("creationDate", "2026-02-05T09:27:58.67Z", "creation_date",
                     datetime(2026, 2, 5, 9, 27, 58, 670000, tzinfo=UTC), None, id="two-digit-fraction"),
        pytest.param("informations.state", "10", "state", None, {"informations.state": "10"},
                     id="text-state-kept-in-extra"),
        pytest.param("informations.folder", None, "folder", None, None, id="null-folder"),
        pytest.param("monitor.lastSent.at", "2023-01-07T08:23:03.1Z", "last_sent_at",
                     datetime(2023, 1, 7, 8, 23, 3, 100000, tzinfo=UTC), None, id="last-sent"),
        pytest.param("content.headers.from.label", "Équipe NP6", "sender_label", "Équipe NP6", None,
                     id="unicode-sender"),
        pytest.param("content.amp", "<html amp>", "subject", "string", {"content.amp": "<html amp>"},
                     id="unknown-content-key"),
        pytest.param("monitor.lastOpen", {"at": "x"}, "last_sent_at", None,
                     {"monitor.lastOpen": {"at": "x"}}, id="unknown-monitor-key"),
        pytest.param("settings.newFlag", True, "culture", "string", None,
                     id="settings-keys-live-in-settings-column"),
    ],
)
def test_action_variants(
    path: str, value: Any, column: str, expected: Any, expected_extra: dict[str, Any] | None
) -> None:
    _, row = only_row(normalize_actions([changed(ACTION, {path: value})]))
    assert row[column] == expected
    assert extra_of(row) == expected_extra


def test_action_settings_column_keeps_the_whole_object() -> None:
    _, row = only_row(normalize_actions([changed(ACTION, {"settings.newFlag": True})]))
    assert orjson.loads(row["settings"])["newFlag"] is True


@pytest.mark.parametrize(
    "element",
    [
        pytest.param(removed(ACTION, "id"), id="missing-id"),
        pytest.param(changed(ACTION, {"id": 12}), id="integer-id"),
        pytest.param("000AB1", id="not-an-object"),
    ],
)
def test_bad_actions_are_rejected(element: Any) -> None:
    result = normalize_actions([element, LEGACY_ACTION])
    assert result.tables["actions"].num_rows == 1
    (rejected,) = result.rejected
    assert orjson.loads(rejected.raw) == element


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("2019-08-24T14:15:22Z", (2019, 8, 24, 14, 15, 22, 0), id="no-fraction"),
        pytest.param("2023-01-07T08:23:03.1Z", (2023, 1, 7, 8, 23, 3, 100000), id="1-digit"),
        pytest.param("2026-02-05T09:27:58.67Z", (2026, 2, 5, 9, 27, 58, 670000), id="2-digits"),
        pytest.param("2025-04-01T12:40:39.207Z", (2025, 4, 1, 12, 40, 39, 207000), id="3-digits"),
        pytest.param("2025-04-01T12:40:39.2071234Z", (2025, 4, 1, 12, 40, 39, 207123), id="7-digits"),
        pytest.param("0001-01-01T00:00:00Z", (1, 1, 1, 0, 0, 0, 0), id="placeholder"),
        pytest.param("2019-08-24T16:15:22+02:00", (2019, 8, 24, 14, 15, 22, 0), id="offset"),
        pytest.param("2019-08-24T14:15:22", (2019, 8, 24, 14, 15, 22, 0), id="naive-is-utc"),
        pytest.param("0001-01-01T00:00:00+01:00", None, id="offset-below-year-1"),
        pytest.param("not a date", None, id="garbage"),
        pytest.param("", None, id="empty"),
        pytest.param(1614089582000, None, id="number"),
        pytest.param(None, None, id="none"),
    ],
)
def test_parse_iso(text: Any, expected: tuple[int, ...] | None) -> None:
    parsed = parse_iso(text)
    assert parsed == (None if expected is None else datetime(*expected, tzinfo=UTC))
    if parsed is not None:
        assert parsed.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    "path, value, note",
    [
        pytest.param(("link", "value"), 42, "hits.link_value: int where NP6 documents text (1 value, "
                     "stored as JSON text)", id="number-for-text"),
        pytest.param(("link", "label"), {"fr": "x"}, "hits.link_label: dict where NP6 documents text "
                     "(1 value, stored as JSON text)", id="object-for-text"),
    ],
)
def test_a_type_change_on_a_known_column_is_kept_and_reported(path, value, note):
    event = copy.deepcopy(MIRROR_HIT)
    event["source"]["detail"][path[0]][path[1]] = value
    result = normalize_events([event, ACTIVATION])
    column = {"value": "link_value", "label": "link_label"}[path[1]]
    assert result.tables["hits"].column(column).to_pylist() == [orjson.dumps(value).decode()]
    assert result.drift == (note,)


def test_documented_types_report_no_change():
    assert normalize_events([MIRROR_HIT, ACTIVATION]).drift == ()
