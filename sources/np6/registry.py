"""The one registry of NP6 resources: read by the source wiring, the runner and `np6 resources`.

Each row says what a resource is (name, endpoint, cursor, key, write disposition), whether a
default load includes it, when it runs (`phase`: `events` in the commit groups, `after` once the
event tables are loaded, since exports and contacts read them) and which `family` builds it:
resources of one family are built together, by one function, from the run context.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from dlt.sources import DltResource

from .archives import archives
from .campaigns import campaign_events
from .dimensions import actions, dimension
from .errors import NP6ConfigError
from .events import FEED, event_resources
from .exports import EXPORT_TABLES, export_resources
from .reactivities import reactivities
from .redlists import redlists
from .run import RunContext
from .schema import with_row_ids
from .settings import (
    ACTIONS_PATH,
    ARCHIVES_PATH,
    ARCHIVES_TABLE,
    DEFAULT_ACTIVITY_HORIZON,
    DIMENSION_ENDPOINTS,
    EVENT_ENDPOINTS,
    MIXED_FEED_PATH,
)
from .targets import targets

Builder = Callable[[RunContext, tuple[str, ...]], list[DltResource]]
WINDOWED = "event timestamp, [start, end) windows"


class Resource(NamedTuple):
    """One resource: what `np6 resources` prints, and how the source builds and runs it."""

    name: str
    family: str
    endpoint: str
    cursor: str
    write_disposition: str
    primary_key: str
    default: bool
    description: str
    phase: str = "events"  # `after`: runs once the event tables of the run are loaded
    optional: bool = True  # a 403/404 makes it unavailable (a warning), not a failure
    probe: str = ""  # the GET `np6 check` asks to see whether the key may read it ("": none)
    probe_params: str = "none"  # its query: `window` (start/end), `dates`, `cohort` or `none`


def _event(table: str, endpoint: str, description: str, probe: str) -> Resource:
    return Resource(table, FEED, endpoint, WINDOWED, "merge", "id", True, description, optional=False,
                    probe=probe, probe_params="window")


def _export(table: str, kind: str, derived: str, what: str) -> Resource:
    endpoint = (f"GET /actions/{{id}}/export/tracking/{kind} (deprecated), else derived from {derived}"
                if kind else f"derived from {derived} (the reference gives no path for this export)")
    cursor = f"actions with events in the last {DEFAULT_ACTIVITY_HORIZON} (activity horizon)"
    return Resource(table, "exports", endpoint, cursor, "merge", "action_id, receiver_id", True, what, "after")


REGISTRY: tuple[Resource, ...] = (
    Resource("actions", "actions", "GET /actions, GET /actions/{id}", "none (full refresh)", "merge", "id",
             True, "email/SMS actions (campaigns, messages) with subject and sender", probe=ACTIONS_PATH),
    *(_event(e.table, f"GET {MIXED_FEED_PATH} (or {e.account_path}, {e.action_path})",
             f"one row per {e.event_type} event", e.account_path) for e in EVENT_ENDPOINTS),
    _event("executions", f"GET {MIXED_FEED_PATH}", "execution events when the mixed feed carries them",
           MIXED_FEED_PATH),
    _event("other_events", f"GET {MIXED_FEED_PATH}",
           "any other event type (complaint, reply, new types): kept, never dropped", MIXED_FEED_PATH),
    Resource(ARCHIVES_TABLE, "archives", f"GET {ARCHIVES_PATH}", "sendingDate, [startDate, endDate) windows",
             "merge", "id", True,
             "one row per archived email (signed .eml link, kept as sent, may be blank or expired)",
             probe=ARCHIVES_PATH, probe_params="dates"),
    Resource("notification_events", FEED,
             "GET /notifications/{id}/events (else /notifications/{id}/events/{executions,cancellations,"
             "activations,hits,impressions,bounces,optouts})", WINDOWED, "merge", "id", True,
             "push notification events, into the event tables above with channel = notification",
             probe="/notifications"),
    _export("action_recipients", "", "activations", "who received each action: first/last send, sends"),
    _export("action_openers", "opens", "hits (open)", "who opened each action: first/last open, opens"),
    _export("action_clickers", "clicks", "hits (redirection)", "who clicked each action: first/last click, clicks"),
    Resource("targets", "targets", "GET /targets/{id}", "new receiver ids seen in the event tables", "merge",
             "id", True, "contacts: one column per contact field (named from GET /fields), redlist columns; "
             "bounces in target_bounces", "after"),
    Resource("redlists", "redlists", "GET /targets/redlist/mail, GET /targets/redlist/sms",
             "redlist timestamp, [startDate, endDate) windows", "merge", "channel, target_id, timestamp", True,
             "redlist (suppression) timeline of both channels with the origin",
             probe="/targets/redlist/mail", probe_params="dates"),
    Resource("action_reactivities", "reactivities", "GET /actions/reactivities (or /actions/{id}/reactivities)",
             "activation time, [activationStart, activationEnd) cohorts", "merge", "id", False,
             "reactions (hits, bounces...) by send cohort, into table reactivities (opt-in)",
             probe="/actions/reactivities", probe_params="cohort"),
    Resource("notification_reactivities", "reactivities", "GET /notifications/reactivities",
             "activation time, [activationStart, activationEnd) cohorts", "merge", "id", False,
             "push reactions by send cohort, into table reactivities (opt-in)",
             probe="/notifications/reactivities", probe_params="cohort"),
    Resource("campaign_events", "campaign_events", "POST /campaigns/{id}/events", WINDOWED, "merge",
             "campaign_id, event_id", False,
             "events of each campaign's items into the event tables, and the campaign-event links (opt-in)",
             probe="/campaigns"),
    *(Resource(d.table, "dimensions", f"GET {d.path}", "none (full refresh)", "merge", "id", True,
               d.description + (" (deprecated endpoint)" if d.deprecated else ""), probe=d.path)
      for d in DIMENSION_ENDPOINTS),
)  # fmt: skip
BY_NAME = {r.name: r for r in REGISTRY}
RESOURCE_NAMES = tuple(BY_NAME)
DEFAULT_RESOURCES = tuple(r.name for r in REGISTRY if r.default)
REQUIRED = frozenset(r.family for r in REGISTRY if not r.optional)  # outcome names the guard fails on

_REACTIVITY_FAMILIES = {"action_reactivities": "actions", "notification_reactivities": "notifications"}

BUILDERS: dict[str, Builder] = {
    "actions": lambda run, names: [actions(run)],
    FEED: lambda run, names: event_resources(run),
    "archives": lambda run, names: [archives(run)],
    "exports": lambda run, names: export_resources(run, [t for t in EXPORT_TABLES if t in names]),
    "targets": lambda run, names: [targets(run)],
    "redlists": lambda run, names: [redlists(run)],
    "reactivities": lambda run, names: [reactivities(run, _REACTIVITY_FAMILIES[n]) for n in names],
    "campaign_events": lambda run, names: [campaign_events(run)],
    "dimensions": lambda run, names: [dimension(run, d) for d in DIMENSION_ENDPOINTS if d.table in names],
}


def select_resources(names: Sequence[str] | str | None) -> tuple[str, ...]:
    """Validate a resource selection (list or comma-separated text); None or empty: the defaults.

    Raises:
        NP6ConfigError: an unknown name, with the known ones.
    """
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    if not names:
        return DEFAULT_RESOURCES
    unknown = [n for n in names if n not in BY_NAME]
    if unknown:
        raise NP6ConfigError(f"unknown resource(s) {', '.join(unknown)}; known: {', '.join(RESOURCE_NAMES)}")
    return tuple(dict.fromkeys(names))


def in_phase(names: Sequence[str], phase: str) -> tuple[str, ...]:
    """The resources of `names` that run in `phase` (`events` or `after`)."""
    return tuple(n for n in names if BY_NAME[n].phase == phase)


def feed_resources(names: Sequence[str]) -> tuple[str, ...]:
    """The resources of `names` the event feed reads (the only ones read in commit groups)."""
    return tuple(n for n in names if BY_NAME[n].family == FEED)


def build(run: RunContext, names: Sequence[str]) -> list[DltResource]:
    """The dlt resources of `names`, family by family in registry order."""
    selected = set(names)
    built: list[DltResource] = []
    for family in dict.fromkeys(r.family for r in REGISTRY):
        members = tuple(r.name for r in REGISTRY if r.family == family and r.name in selected)
        if members:
            built.extend(BUILDERS[family](run, members))
    for resource in built:  # dlt's row ids on Arrow tables, made here (see `schema.with_row_ids`)
        resource.add_map(with_row_ids)
    return built


def describe() -> list[dict[str, Any]]:
    """Every resource as a plain dict (for `np6 resources --json`)."""
    return [r._asdict() for r in REGISTRY]

