"""Two views of one generated event: the JSON bytes the server sends and the dict tests compare.

The generator (`data.py`) describes each event as a plain tuple laid out like `EventRecord`: the
choices it drew (action, contact, link, client block...) and nothing rendered. Every nested value
comes from a `Fragment` or `Member`: the Python object and its JSON bytes, made once by
`orjson.dumps` when the account's catalogue is built, so escaping is orjson's. Serving an event is
one `bytes %` formatting of a per-action template whose only hand-written JSON is the envelope
below; the dict view builds the same envelope from the objects. `tests/sandbox` checks that both
views agree, event by event.

The hot path takes plain tuples: building a NamedTuple costs more than rendering the event.
"""

from __future__ import annotations

import copy
from typing import Any, NamedTuple

import orjson


class Fragment(NamedTuple):
    """A JSON value as an object and as its rendered bytes."""

    obj: Any
    raw: bytes


class Member(NamedTuple):
    """An object member to append inside an object: `raw` is `,"key":<json>`."""

    key: str
    obj: Any
    raw: bytes


def fragment(obj: Any) -> Fragment:
    """Render `obj` once (orjson escapes what JSON needs and keeps other UTF-8 as is)."""
    return Fragment(obj, orjson.dumps(obj))


def member(key: str, obj: Any) -> Member:
    """Render `"key": obj` once, with its leading comma."""
    return Member(key, obj, b"," + orjson.dumps(key) + b":" + orjson.dumps(obj))


class TargetView:
    """A contact as events print it, per channel (index 0 email, 1 sms).

    Its stamp part: the message id of (action, contact) is the action's 8-hex `stamp_head`
    followed by the contact's `stamp_tail`, a uuid4 unique per pair without a table of pairs.
    """

    __slots__ = ("index", "id", "by_id", "footprints", "recipients", "stamp_tail", "thread",
                 "activation_suffix", "execution_suffix")  # fmt: skip

    def __init__(self, index: int, target_id: str, unicities: tuple[str, str], hash_: str,
                 stamp_tail: str, thread: str) -> None:  # fmt: skip
        self.index = index
        self.id = target_id
        self.by_id = fragment({"type": "id", "value": target_id})
        self.footprints = tuple(
            fragment({"type": "footprint", "id": target_id, "unicity": u, "hash": hash_})
            for u in unicities
        )
        self.recipients = tuple(fragment(u) for u in unicities)
        self.stamp_tail = stamp_tail
        self.thread = thread
        # What follows `"stamp":{"time":<ms>,"id":"<stamp_head>` up to the end of the
        # activation / execution object.
        end = b'%s","thread":"%s"}' % (stamp_tail.encode(), thread.encode())
        self.activation_suffix = tuple(end + b',"recipient":' + r.raw + b"}" for r in self.recipients)
        self.execution_suffix = end + b"}"


_ACTIVATION_TEMPLATE = (
    b'{"type":%(type)s,"id":"%%s","timestamp":%%d,"identity":%(identity)s,"source":{"type":'
    b'%(channel)s,"detail":{"activation":{"id":%(action)s,"kind":"message","receiver":%%s,'
    b'"stamp":{"time":%%d,"id":"%(head)s%%s%%s}}%%s}'
)
_EXECUTION_TEMPLATE = (
    b'{"type":%(type)s,"id":"%%s","timestamp":%%d,"identity":%(identity)s,"source":{"type":'
    b'%(channel)s,"detail":{"execution":{"id":%(action)s,"kind":"message","recipient":%%s,'
    b'"data":%%s,"stamp":{"time":%%d,"id":"%(head)s%%s%%s}}%%s}'
)
# Event types whose detail is `{"execution": {...}, ...}`; all others use `{"activation": {...}}`.
EXECUTION_TYPES = frozenset({"cancellation"})


class _Templates(dict[str, bytes]):
    """Event templates of one action, made on first use of each event type."""

    def __init__(self, baked: dict[bytes, bytes]) -> None:
        super().__init__()
        self._baked = baked

    def __missing__(self, event_type: str) -> bytes:
        base = _EXECUTION_TEMPLATE if event_type in EXECUTION_TYPES else _ACTIVATION_TEMPLATE
        event_type_raw = orjson.dumps(event_type).replace(b"%", b"%%")
        template = self[event_type] = base % (self._baked | {b"type": event_type_raw})
        return template


class ActionView:
    """An action as its events print it; the account identity, channel, action id and stamp
    head are baked into its templates."""

    __slots__ = ("id", "channel", "channel_index", "stamp_head", "identity", "templates")

    def __init__(self, action_id: str, channel: str, stamp_head: str, identity: dict) -> None:
        self.id = action_id
        self.channel = channel
        self.channel_index = 1 if channel == "sms" else 0
        self.stamp_head = stamp_head
        self.identity = identity
        baked = {
            b"identity": orjson.dumps(identity),
            b"channel": orjson.dumps(channel),
            b"action": orjson.dumps(action_id),
            b"head": stamp_head.encode(),
        }
        # A literal % in a baked value must survive the per-event formatting.
        self.templates = _Templates({k: v.replace(b"%", b"%%") for k, v in baked.items()})


class EventRecord(NamedTuple):
    """Positions of a generated event tuple; the first six are what routes filter on."""

    timestamp: int  # epoch ms
    id: bytes  # event uuid, ASCII
    type: str  # activation, hit, bounce, cancellation, complaint, reply
    action: ActionView
    hit_type: str | None  # source.detail.link.type of a hit
    classification: str | None  # robot classification of a hit, None for humans
    target: TargetView
    by_id: bool  # receiver printed as {"type": "id"} instead of the footprint
    stamp_time: int
    members: tuple[Member, ...]  # source.detail members after activation / execution
    top: tuple[Member, ...]  # extra top-level members
    data: Fragment | None  # execution.data, set exactly for execution-based events


def event_json(rec: tuple) -> bytes:
    """One event as JSON bytes (the serving path)."""
    ts, eid, etype, action, _, _, target, by_id, stime, members, top, data = rec
    tail = b"".join([m[2] for m in members]) if members else b""
    extra = b"".join([m[2] for m in top]) if top else b""
    channel = action.channel_index
    if data is None:
        receiver = target.by_id if by_id else target.footprints[channel]
        suffix = target.activation_suffix[channel]
        return action.templates[etype] % (eid, ts, receiver[1], stime, suffix, tail, extra)
    footprint = target.footprints[channel][1]
    return action.templates[etype] % (
        eid, ts, footprint, data[1], stime, target.execution_suffix, tail, extra,
    )  # fmt: skip


def event_dict(rec: tuple) -> dict[str, Any]:
    """The same event as a fresh dict (the ground-truth path, built without the templates)."""
    r = EventRecord._make(rec)
    action, target = r.action, r.target
    channel = action.channel_index
    stamp = {"time": r.stamp_time, "id": action.stamp_head + target.stamp_tail, "thread": target.thread}
    head: dict[str, Any] = {"id": action.id, "kind": "message"}
    if r.data is None:
        receiver = target.by_id if r.by_id else target.footprints[channel]
        head |= {"receiver": receiver.obj, "stamp": stamp, "recipient": target.recipients[channel].obj}
        detail: dict[str, Any] = {"activation": head}
    else:
        head |= {"recipient": target.footprints[channel].obj, "data": r.data.obj, "stamp": stamp}
        detail = {"execution": head}
    detail |= {m.key: m.obj for m in r.members}
    event = {
        "type": r.type,
        "id": r.id.decode(),
        "timestamp": r.timestamp,
        "identity": action.identity,
        "source": {"type": action.channel, "detail": detail},
    }
    event |= {m.key: m.obj for m in r.top}
    return copy.deepcopy(event)
