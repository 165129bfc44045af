"""Event rows: one raw NP6 event in, one flat tuple out, in `SCHEMAS[table]` column order.

Each event family has a general row function (`_general_hit_row`, …: it alone handles `extra`,
odd values and shapes no rule foresaw) and a fast path for events of exactly the documented
shape (`_plain_hit`, …). The public `hit_row`, `activation_row`, `bounce_row`, `cancellation_row`
and `execution_row` try the fast path first; `other_event_row` has none (see "Plain events").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .keys import (
    _ACTIVATION,
    _ACTIVATION_DETAIL_KEYS,
    _ANALYSIS_KEYS,
    _BOUNCE_DETAIL_KEYS,
    _BOUNCE_KEYS,
    _CANCELLATION_DETAIL_KEYS,
    _CANCELLATION_KEYS,
    _CLIENT_KEYS,
    _CODE_KEYS,
    _EXECUTION,
    _EXECUTION_DETAIL_KEYS,
    _EXECUTION_WITH_DATA,
    _HIT_DETAIL_KEYS,
    _IDENTITY_KEYS,
    _IP_KEYS,
    _LINK_KEYS,
    _OS_KEYS,
    _REASON_KEYS,
    _RECEIVER_KEYS,
    _ROOT_KEYS,
    _SOURCE_KEYS,
    _STAMP_KEYS,
    _STATUS_KEYS,
    _SUBJECT_KEYS,
    _TYPE_ONLY,
    _UA_CLIENT_KEYS,
    _UA_KEYS,
    _Carrier,
    _dump_extra,
    _json,
    _obj,
    _odd,
    _spill,
)
from .schema import _MAX_MS, _MIN_MS, Extra, Obj, Row


# --------------------------------------------------------------------------------------------
# Event rows: one raw event in, one flat tuple out
# --------------------------------------------------------------------------------------------


def _receiver(receiver: Obj) -> Row:
    """Map a receiver (or execution recipient) to (type, id, unicity, hash, value).

    `footprint` carries id/unicity/hash; `id`, `unicity` and `hash` carry a string `value` that
    also fills the matching column. Notification events wrap one of those in a `contact`
    (np6-api.md §3.1, optout example): `{"type": "contact", "value": {"type": "footprint", "id",
    "unicity", "hash"}}`; its columns are filled from the inner receiver, `receiver_type` stays
    `contact` and `receiver_value` is null; the inner type (`footprint`, `id`, …) is kept in
    `extra` by `_carrier_columns`. Any other value (an unknown type, an inner receiver
    with unknown keys) is kept whole as JSON text in `receiver_value`; a string is never quoted.
    """
    kind = receiver.get("type")
    ident, unicity, hashed = receiver.get("id"), receiver.get("unicity"), receiver.get("hash")
    value = receiver.get("value")
    if value is not None:
        if kind == "id" and ident is None:
            ident = value
        elif kind == "unicity" and unicity is None:
            unicity = value
        elif kind == "hash" and hashed is None:
            hashed = value
        elif kind == "contact" and _is_plain_receiver(value) and ident is unicity is hashed is None:
            _, ident, unicity, hashed, value = _receiver(value)
        elif not isinstance(value, str):
            value = _json(value)
    return kind, ident, unicity, hashed, value


_INNER_RECEIVER_TYPES = frozenset({"footprint", "id", "unicity", "hash"})


def _is_plain_receiver(value: Any) -> bool:
    """Whether a `contact`'s value is a receiver the columns hold entirely (nothing to keep)."""
    if type(value) is not dict or not _RECEIVER_KEYS.issuperset(value):
        return False
    kind = value.get("type")
    if kind == "footprint":
        return value.get("value") is None
    return kind in _INNER_RECEIVER_TYPES and type(value.get("value")) is str and len(value) == 2


def _carrier_columns(action: Obj, carrier: _Carrier, extra: Extra) -> Row:
    """The envelope columns from `action_id` to `recipient`, read from the carrier object."""
    receiver = action.get(carrier.receiver_key)
    if type(receiver) is not dict or not _RECEIVER_KEYS.issuperset(receiver):
        receiver = _odd(receiver, _RECEIVER_KEYS, carrier.receiver_path, extra)
    stamp = action.get("stamp")
    if type(stamp) is not dict or not _STAMP_KEYS.issuperset(stamp):
        stamp = _odd(stamp, _STAMP_KEYS, carrier.stamp_path, extra)
    stamp_time = stamp.get("time")
    if type(stamp_time) is not int or not _MIN_MS <= stamp_time <= _MAX_MS:
        if stamp_time is not None:  # not epoch ms (or out of range): keep it, column stays null
            extra[carrier.time_path] = stamp_time
        stamp_time = None
    action_id = action.get("id")
    if type(action_id) is int:  # notifications number their activations (np6-api.md §3.1)
        action_id = str(action_id)
    columns = _receiver(receiver)
    inner = receiver.get("value")
    if columns[0] == "contact" and _is_plain_receiver(inner):  # unwrapped: keep the inner type
        extra[carrier.receiver_path + ".value.type"] = inner["type"]
    address = action.get(carrier.address_key) if carrier.address_key else None
    # Rows are assembled with `+` on tuples throughout: several times cheaper than `(*a, *b)`.
    return (
        (action_id, action.get("kind"))
        + columns
        + (stamp.get("id"), stamp.get("thread"), stamp_time, address)
    )


def _envelope(
    event: Obj, carrier: _Carrier, detail_keys: frozenset[str], extra: Extra
) -> tuple[Row, Obj, Obj]:
    """Map the columns every event table shares (the `_obj` reads are inlined: hot path).

    Args:
        event: the raw event (validated by `normalize_events`: string `id`, int `timestamp`).
        carrier: where this family keeps action, receiver and stamp.
        detail_keys: the keys of `source.detail` that this family maps.
        extra: the row's unmapped values.

    Returns:
        The envelope values in `ENVELOPE_COLUMNS` order, `source.detail` and the carrier object.
    """
    if not _ROOT_KEYS.issuperset(event):
        _spill(event, _ROOT_KEYS, "", extra)
    identity = event.get("identity")
    if type(identity) is not dict or not _IDENTITY_KEYS.issuperset(identity):
        identity = _odd(identity, _IDENTITY_KEYS, "identity", extra)
    source = event.get("source")
    if type(source) is not dict or not _SOURCE_KEYS.issuperset(source):
        source = _odd(source, _SOURCE_KEYS, "source", extra)
    detail = source.get("detail")
    if type(detail) is not dict or not detail_keys.issuperset(detail):
        detail = _odd(detail, detail_keys, "source.detail", extra)
    action = detail.get(carrier.name)
    if type(action) is not dict or not carrier.keys.issuperset(action):
        action = _odd(action, carrier.keys, carrier.path, extra)
    envelope = (
        event.get("id"), event.get("timestamp"), identity.get("agency"),
        identity.get("customer"), identity.get("type"), source.get("type"),
    ) + _carrier_columns(action, carrier, extra)  # fmt: skip
    return envelope, detail, action


# Where a hit may carry its robot class, in the order they are read: the reference documents
# only the `classification` query filter (np6-api.md §3.1, §4.5), not the payload's field, so each
# plausible place is read. Top-level keys the envelope does not map are spilled into `extra` under
# their own name, which is where `_classification` takes that one from.
_CLASS_PATHS = ("source.detail.client.classification", "source.detail.classification", "classification")


def _class_value(value: Any, path: str, extra: Extra) -> Any:
    """A classification as found at `path`: a string, or an object with a `type`; "" is none."""
    if isinstance(value, dict):
        value = _odd(value, _TYPE_ONLY, path, extra).get("type")
    return None if value == "" else value


def _classification(client: Obj, detail: Obj, extra: Extra) -> Any:
    """The robot class of a hit: from its client, its detail or its root, the first one found."""
    client_path, detail_path, root_path = _CLASS_PATHS
    found = _class_value(client.get("classification"), client_path, extra)
    if found is None:
        found = _class_value(detail.get("classification"), detail_path, extra)
    if found is None and root_path in extra:
        found = _class_value(extra.pop(root_path), root_path, extra)
    return found


def _client_columns(client: Obj, detail: Obj, robot: bool, extra: Extra) -> Row:
    """The hit columns from `client_type` to `is_robot` (reads inlined: hot path).

    `robot` says the hit came from a read with the robot filter: it is a robot whatever its
    payload says, and its class is only what the payload names (never the filter's text).
    """
    ip = client.get("ip")
    if type(ip) is not dict or not _IP_KEYS.issuperset(ip):
        ip = _odd(ip, _IP_KEYS, "source.detail.client.ip", extra)
    ua = client.get("ua")
    if type(ua) is not dict or not _UA_KEYS.issuperset(ua):
        ua = _odd(ua, _UA_KEYS, "source.detail.client.ua", extra)
    agent = ua.get("client")
    if type(agent) is not dict or not _UA_CLIENT_KEYS.issuperset(agent):
        agent = _odd(agent, _UA_CLIENT_KEYS, "source.detail.client.ua.client", extra)
    os = ua.get("os")
    if type(os) is not dict or not _OS_KEYS.issuperset(os):
        os = _odd(os, _OS_KEYS, "source.detail.client.ua.os", extra)
    device = ua.get("device")
    if type(device) is not dict or not _TYPE_ONLY.issuperset(device):
        device = _odd(device, _TYPE_ONLY, "source.detail.client.ua.device", extra)
    found = _classification(client, detail, extra)
    return (
        client.get("type"), ip.get("type"), ip.get("value"), ua.get("type"), ua.get("ua"),
        agent.get("type"), agent.get("name"), agent.get("vendor"), os.get("name"),
        os.get("family"), os.get("vendor"), device.get("type"), found,
        robot or found is not None,
    )  # fmt: skip


def _general_hit_row(event: Obj, robot: bool = False) -> Row:
    """Flatten a `hit` event (open, click/redirection, mirror, form, unsubscribe, …).

    Args:
        event: the raw event, already validated by `normalize_events` (or known good).
        robot: the hit was read with the robot `classification` filter (the robot pass).

    Returns:
        The row in `SCHEMAS["hits"]` column order.
    """
    extra: Extra = {}
    envelope, detail, _ = _envelope(event, _ACTIVATION, _HIT_DETAIL_KEYS, extra)
    link = detail.get("link")
    if type(link) is not dict or not _LINK_KEYS.issuperset(link):
        link = _odd(link, _LINK_KEYS, "source.detail.link", extra)
    client = detail.get("client")
    if type(client) is not dict or not _CLIENT_KEYS.issuperset(client):
        client = _odd(client, _CLIENT_KEYS, "source.detail.client", extra)
    client_columns = _client_columns(client, detail, robot, extra)
    return (
        envelope
        + (link.get("type"), link.get("label"), link.get("source"), link.get("value"),
           link.get("url"))
        + client_columns
        + (_dump_extra(extra),)
    )  # fmt: skip


def _general_activation_row(event: Obj) -> Row:
    """Flatten an `activation` event (a message handed over for sending): envelope + extra."""
    extra: Extra = {}
    envelope, _, _ = _envelope(event, _ACTIVATION, _ACTIVATION_DETAIL_KEYS, extra)
    return envelope + (_dump_extra(extra),)


def _general_bounce_row(event: Obj) -> Row:
    """Flatten a `bounce` event: envelope, SMTP status and NP6's hard/soft analysis."""
    extra: Extra = {}
    envelope, detail, _ = _envelope(event, _ACTIVATION, _BOUNCE_DETAIL_KEYS, extra)
    path = "source.detail.bounce"
    bounce = _obj(detail, "bounce", _BOUNCE_KEYS, path, extra)
    status = _obj(bounce, "status", _STATUS_KEYS, path + ".status", extra)
    code = _obj(status, "code", _CODE_KEYS, path + ".status.code", extra)
    analysis = _obj(bounce, "analysis", _ANALYSIS_KEYS, path + ".analysis", extra)
    subject = _obj(analysis, "subject", _SUBJECT_KEYS, path + ".analysis.subject", extra)
    # `subject.detail` is optional (absent from the soft-bounce example).
    subject_detail = _obj(subject, "detail", _TYPE_ONLY, path + ".analysis.subject.detail", extra)
    return envelope + (
        status.get("type"), code.get("enhanced"), status.get("diagnostic"), status.get("mta"),
        analysis.get("verdict"), subject.get("type"), subject_detail.get("type"),
        _dump_extra(extra),
    )  # fmt: skip


def _general_cancellation_row(event: Obj) -> Row:
    """Flatten a `cancellation` event: a send that NP6 stopped, with the policy and reason."""
    extra: Extra = {}
    envelope, detail, execution = _envelope(
        event, _EXECUTION_WITH_DATA, _CANCELLATION_DETAIL_KEYS, extra
    )
    path = "source.detail.cancellation"
    cancellation = _obj(detail, "cancellation", _CANCELLATION_KEYS, path, extra)
    reason = _obj(cancellation, "value", _REASON_KEYS, path + ".value", extra)
    return envelope + (
        cancellation.get("type"), reason.get("type"), reason.get("message"),
        _json(execution.get("data")), _dump_extra(extra),
    )  # fmt: skip


def _general_execution_row(event: Obj) -> Row:
    """Flatten an `execution` event (a send request) with its personalisation `data` as JSON."""
    extra: Extra = {}
    envelope, _, execution = _envelope(event, _EXECUTION_WITH_DATA, _EXECUTION_DETAIL_KEYS, extra)
    return envelope + (_json(execution.get("data")), _dump_extra(extra))


def other_event_row(event: Obj) -> Row:
    """Flatten an event of any other type (complaint, reply, optout, impression, a new one…).

    The envelope is filled from `source.detail.activation`, or from `source.detail.execution`
    when there is no activation; everything else in the detail goes to `extra`.
    """
    extra: Extra = {}
    source = event.get("source")
    detail = source.get("detail") if isinstance(source, dict) else None
    if isinstance(detail, dict) and "activation" not in detail and "execution" in detail:
        envelope, _, _ = _envelope(event, _EXECUTION, _EXECUTION_DETAIL_KEYS, extra)
    else:
        envelope, _, _ = _envelope(event, _ACTIVATION, _ACTIVATION_DETAIL_KEYS, extra)
    return (event.get("type"),) + envelope + (_dump_extra(extra),)


# --------------------------------------------------------------------------------------------
# Plain events: the fast path
# --------------------------------------------------------------------------------------------
#
# Nearly every event NP6 sends has exactly the documented shape: every object present, no
# unknown key, epoch-ms stamps. For those, the `_plain_*` functions build the same row as the
# row functions above in a fraction of the time: direct indexing (`d["x"]`) instead of `.get`,
# no `extra` dict, few tuples and few calls per row.
#
# They never decide anything on their own. When an event is not plain they give up, by returning
# None or by raising (usually the KeyError/TypeError of indexing a missing key or a non-object;
# any exception counts), and the general row function runs instead: it alone handles `extra`,
# odd values and rejects, so a surprise on the fast path can never cost a batch. An object
# of fixed shape is checked with `len(obj) == n` once its n keys were all indexed (n distinct
# keys found and no more: nothing unknown); an object with optional keys is checked with
# `issuperset`, as on the general path.

# Any failure of a fast row function only means "not plain" (costs nothing when none is raised).
_NOT_PLAIN = Exception


def _plain_envelope(event: Obj, action: Obj, receiver: Obj, address: Any) -> Row | None:
    """The envelope columns of a plain event whose carrier object is `action`, or None.

    The caller has indexed `action`'s family-specific keys (`receiver` and `recipient`, or
    `recipient` and `data`), so `len(action) == 5` proves it holds nothing unknown. The event's
    `id` and `timestamp` are checked as in `_event_problem` (None when they need a reject).
    """
    event_id, timestamp = event["id"], event["timestamp"]
    identity, source, stamp = event["identity"], event["source"], action["stamp"]
    stamp_time = stamp["time"]
    if not (
        type(event) is dict  # as `_event_problem` (a JSON object; nested ones are not checked)
        and type(event_id) is str and event_id and type(timestamp) is int
        and _MIN_MS <= timestamp <= _MAX_MS and type(stamp_time) is int
        and _MIN_MS <= stamp_time <= _MAX_MS
        and len(event) == 5 and len(identity) == 3 and len(source) == 2 and len(action) == 5
        and len(stamp) == 3
    ):  # fmt: skip
        return None
    action_id = action["id"]
    if type(action_id) is int:  # as in `_carrier_columns`
        action_id = str(action_id)
    if receiver["type"] == "footprint" and len(receiver) == 4:  # the usual receiver, inlined
        ident, unicity, hashed, value = receiver["id"], receiver["unicity"], receiver["hash"], None
    elif receiver["type"] == "contact":  # its inner type goes to `extra`: the general path
        return None
    elif type(receiver) is dict and _RECEIVER_KEYS.issuperset(receiver):
        _, ident, unicity, hashed, value = _receiver(receiver)
    else:
        return None
    return (
        event_id, timestamp, identity["agency"], identity["customer"], identity["type"],
        source["type"], action_id, action["kind"], receiver["type"], ident, unicity, hashed,
        value, stamp["id"], stamp["thread"], stamp_time, address,
    )  # fmt: skip


def _plain_activation(event: Obj) -> Row | None:
    """`activation_row` of a plain activation, or None."""
    detail = event["source"]["detail"]
    action = detail["activation"]
    envelope = _plain_envelope(event, action, action["receiver"], action["recipient"])
    if envelope is None or len(detail) != 1:
        return None
    return envelope + (None,)


# A hit without `client` (NP6 knows nothing of the reader): 12 null client columns.
_NO_CLIENT = (None,) * 12


def _plain_hit(event: Obj, robot: bool = False) -> Row | None:
    """`hit_row` of a plain hit, or None. `client`, link and user-agent parts are optional."""
    detail = event["source"]["detail"]
    action, link, client = detail["activation"], detail["link"], detail.get("client")
    envelope = _plain_envelope(event, action, action["receiver"], action["recipient"])
    if (
        envelope is None or not _HIT_DETAIL_KEYS.issuperset(detail)
        or type(link) is not dict or not _LINK_KEYS.issuperset(link)
    ):  # fmt: skip
        return None
    found = None if client is None else client.get("classification")
    if found is None:
        found = detail.get("classification")
    if type(found) is dict or found == "":  # an object, or an empty class: see `_classification`
        return None
    links = (link.get("type"), link.get("label"), link.get("source"), link.get("value"), link.get("url"))
    labels = (found, robot or found is not None)
    if client is None:
        return envelope + links + _NO_CLIENT + labels + (None,)
    if type(client) is not dict or not _CLIENT_KEYS.issuperset(client):
        return None
    ip, ua = client["ip"], client["ua"]
    if len(ip) != 2:
        return None
    head = (client["type"], ip["type"], ip["value"], ua["type"], ua["ua"])
    if len(ua) == 2:  # a raw user agent, {type, ua}: no parsed client, os or device
        return envelope + links + head + (None,) * 7 + labels + (None,)
    agent, os, device = ua["client"], ua["os"], ua["device"]
    if len(ua) != 5 or len(agent) != 3 or len(os) != 3 or len(device) != 1:
        return None
    parsed = (agent["type"], agent["name"], agent["vendor"], os["name"], os["family"], os["vendor"],
              device["type"])  # fmt: skip
    return envelope + links + head + parsed + labels + (None,)


def _plain_bounce(event: Obj) -> Row | None:
    """`bounce_row` of a plain bounce, or None. `analysis.subject.detail` is optional."""
    detail = event["source"]["detail"]
    action, bounce = detail["activation"], detail["bounce"]
    envelope = _plain_envelope(event, action, action["receiver"], action["recipient"])
    status, analysis = bounce["status"], bounce["analysis"]
    code, subject = status["code"], analysis["subject"]
    if (
        envelope is None or len(detail) != 2 or len(bounce) != 2 or len(status) != 4
        or len(code) != 1 or len(analysis) != 2
    ):  # fmt: skip
        return None
    if len(subject) == 1:
        subject_detail = None
    else:
        found = subject["detail"]
        if len(subject) != 2 or len(found) != 1:
            return None
        subject_detail = found["type"]
    return envelope + (
        status["type"], code["enhanced"], status["diagnostic"], status["mta"],
        analysis["verdict"], subject["type"], subject_detail, None,
    )  # fmt: skip


def _plain_cancellation(event: Obj) -> Row | None:
    """`cancellation_row` of a plain cancellation, or None."""
    detail = event["source"]["detail"]
    action, cancellation = detail["execution"], detail["cancellation"]
    data, reason = action["data"], cancellation["value"]
    envelope = _plain_envelope(event, action, action["recipient"], None)
    if envelope is None or len(detail) != 2 or len(cancellation) != 2 or len(reason) != 2:
        return None
    return envelope + (
        cancellation["type"], reason["type"], reason["message"], _json(data), None
    )  # fmt: skip


def _plain_execution(event: Obj) -> Row | None:
    """`execution_row` of a plain execution, or None."""
    detail = event["source"]["detail"]
    action = detail["execution"]
    data = action["data"]
    envelope = _plain_envelope(event, action, action["recipient"], None)
    if envelope is None or len(detail) != 1:
        return None
    return envelope + (_json(data), None)


def _plain_or_none(plain_row: Callable[..., Row | None], event: Any, *args: Any) -> Row | None:
    """The fast path's row, or None when the event is not plain."""
    try:
        return plain_row(event, *args)
    except _NOT_PLAIN:
        return None


def hit_row(event: Obj, robot: bool = False) -> Row:
    """Flatten a `hit` event (open, click/redirection, mirror, form, unsubscribe, …).

    Args:
        event: the raw event, already validated by `normalize_events` (or known good).
        robot: the hit was read with the robot `classification` filter (the robot pass).

    Returns:
        The row in `SCHEMAS["hits"]` column order.
    """
    row = _plain_or_none(_plain_hit, event, robot)
    return _general_hit_row(event, robot) if row is None else row


def activation_row(event: Obj) -> Row:
    """Flatten an `activation` event (a message handed over for sending): envelope + extra."""
    row = _plain_or_none(_plain_activation, event)
    return _general_activation_row(event) if row is None else row


def bounce_row(event: Obj) -> Row:
    """Flatten a `bounce` event: envelope, SMTP status and NP6's hard/soft analysis."""
    row = _plain_or_none(_plain_bounce, event)
    return _general_bounce_row(event) if row is None else row


def cancellation_row(event: Obj) -> Row:
    """Flatten a `cancellation` event: a send that NP6 stopped, with the policy and reason."""
    row = _plain_or_none(_plain_cancellation, event)
    return _general_cancellation_row(event) if row is None else row


def execution_row(event: Obj) -> Row:
    """Flatten an `execution` event (a send request) with its personalisation `data` as JSON."""
    row = _plain_or_none(_plain_execution, event)
    return _general_execution_row(event) if row is None else row
