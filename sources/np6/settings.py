"""Constants, defaults and the NP6 endpoint catalogue, as data.

Adding an NP6 event type is one line in `EVENT_ENDPOINTS`; adding a resource is one line in
`registry.REGISTRY` (and its function in the family module).
"""

from __future__ import annotations

from typing import NamedTuple

DEFAULT_BASE_URL = "https://api-cm.np6.com"
PIPELINE_NAME = "np6"
DATASET_NAME = "np6"
SOURCE_NAME = "np6"
# Not `np6.duckdb`: DuckDB names a file's catalog after it, and a catalog `np6` next to the
# schema `np6` makes `np6.hits` ambiguous.
DEFAULT_DUCKDB_FILE = "np6_data.duckdb"

# Scheduling defaults (overridable in .dlt/config.toml [sources.np6] or SOURCES__NP6__*).
DEFAULT_START_DATE = "-30d"  # first run only; later runs continue from the cursor
DEFAULT_WINDOW = "1d"  # one request per window: NP6 event endpoints have no pagination
DEFAULT_LOOKBACK = "1h"  # re-read for events published late; merge on id makes it free of duplicates
DEFAULT_SAFETY_MARGIN = "5m"  # never read closer to "now" than this
DEFAULT_CONCURRENCY = 4  # requests in flight at once
# A commit group (rows and cursors landing in one dlt load) ends at the first window boundary
# past either bound: large enough that a backfill is a few loads, small enough that a kill loses
# little and that the destination's merge of one group stays within a few hundred MB (measured:
# a 750k-row group peaked at 1.5-2 GB in DuckDB, 250k-row groups at ~0.75 GB with its limit).
# `commit_every` can cap the windows of a group too (none by default).
DEFAULT_COMMIT_ROWS = 250_000  # event rows read by a commit group
DEFAULT_COMMIT_SECONDS = 300.0  # seconds a commit group reads
DEFAULT_TIMEOUT = 120.0  # seconds; a day of events can be a large body
DEFAULT_DEADLINE = "45m"  # a run stops cleanly after this long: an hourly job never overlaps itself
DEFAULT_ACTIVITY_HORIZON = "30d"  # recipient exports: only actions with events this recent
DEFAULT_REACTIVITY_HORIZON = "7d"  # reactivities: send cohorts this recent are read again
DEFAULT_MAX_TARGETS = 20_000  # contacts fetched per run (one request each); the rest next run
DEFAULT_REFRESH_TARGETS = 4  # contacts re-read per run because they were read longest ago (an
# hourly job re-reads 3,600 a month: a bounded rolling slice that keeps an idle run to ~25 requests)

MIXED_FEED_PATH = "/actions/events"  # every event type of every action, one request per window
ACTIONS_PATH = "/actions"  # deprecated in 8.1.0 and the only way to list actions
ACTION_PATH = "/actions/{action_id}"

# Archives (np6-api.md §3.8): bodies are `application/vnd.np6.cm.mail.archive` JSON arrays.
ARCHIVES_PATH = "/actions/archives"  # account-wide, ?startDate&endDate on sendingDate
ACTION_TARGET_ARCHIVES_PATH = "/actions/{action_id}/targets/{target_id}/archives"
TARGET_ARCHIVES_PATH = "/targets/{target_id}/archives"
STAMP_ARCHIVES_PATH = "/actions/stamp/{stamp}/archives"
ARCHIVES_TABLE = "archives"
TARGETS_TABLE = "targets"  # contacts (targets.py); warehouse.py reads it back for new receivers


class DimensionEndpoint(NamedTuple):
    """One small NP6 list read whole on every run: its table, path and why it is deprecated.

    `deprecated` is empty for a current endpoint, else the reason it is read anyway.
    """

    table: str
    path: str
    deprecated: str
    description: str


DIMENSION_ENDPOINTS: tuple[DimensionEndpoint, ...] = (
    DimensionEndpoint("fields", "/fields", "the reference names no other way to list contact fields",
                      "contact fields (the contact table's columns)"),
    DimensionEndpoint("value_lists", "/valueLists", "the reference names no other way to list value lists",
                      "value lists (enumerations) with their values as JSON"),
    DimensionEndpoint("segments", "/segments", "", "static and dynamic segments"),
    DimensionEndpoint("imports", "/imports", "", "import definitions (features, source, scheduler)"),
    DimensionEndpoint("mobile_applications", "/parameters/applications", "",
                      "push applications; provider keys and certificates are never loaded"),
    DimensionEndpoint("marketing_pressure_topics", "/marketing/pressure/topics", "",
                      "marketing pressure topics"),
    DimensionEndpoint("marketing_pressure_rules", "/marketing/pressure/rules", "",
                      "marketing pressure rules with their predicate as JSON"),
    # The reference lists "Retrieve all notifications" and campaign management without showing
    # the list paths (np6-api.md §3.19, §3.21); these are the paths its other routes imply.
    DimensionEndpoint("notifications", "/notifications", "",
                      "push notifications (id is an integer; events carry it as action_id)"),
    DimensionEndpoint("campaigns", "/campaigns", "", "campaigns with their items (actions) as JSON"),
)  # fmt: skip


class EventEndpoint(NamedTuple):
    """One NP6 event family: the table it fills and where to read it.

    `account_path` reads the family for every action (one request per window); `action_path`
    reads it for one action. `classification` is true where NP6 accepts the robot filter.
    """

    table: str
    event_type: str
    account_path: str
    action_path: str
    classification: bool


EVENT_ENDPOINTS: tuple[EventEndpoint, ...] = (
    EventEndpoint("hits", "hit", "/actions/events/hits", "/actions/{action_id}/events/hits", True),
    EventEndpoint(
        "activations",
        "activation",
        "/actions/events/activations",
        "/actions/{action_id}/events/activations",
        False,
    ),
    EventEndpoint(
        "bounces", "bounce", "/actions/events/bounces", "/actions/{action_id}/events/bounces", False
    ),
    EventEndpoint(
        "cancellations",
        "cancellation",
        "/actions/events/cancellations",
        "/actions/{action_id}/events/cancellations",
        False,
    ),
)
EVENT_ENDPOINTS_BY_TABLE = {e.table: e for e in EVENT_ENDPOINTS}

# Tables only the mixed feed fills: event types NP6 has no per-type endpoint for.
MIXED_ONLY_TABLES = ("executions", "other_events")

# The robot classes of the reference's `classification` example (np6-api.md §3.1): mpp is Apple
# Mail Privacy Proxy, gsr the Google Security Robot. What the robot pass asks for by default.
ROBOT_CLASSES = "genericrobot,mpp,gsr"

WINDOWS_TABLE = "_np6_windows"
REJECTED_TABLE = "_np6_rejected"


NOTIFICATION_EVENTS = "notification_events"  # a feed of its own whose rows go to the event tables
