"""Push notifications: where their events are read, declared as data, and the list of their ids.

Notification events use the action events' envelope with `source.type` `notification`, an
integer `activation.id` / `execution.id` (the notification id) and a receiver wrapped in a
`contact` (np6-api.md §3.1, §3.5). They are never in `GET /actions/events`: the event feed reads
them per notification, per window and per event type, when the pseudo-table `notification_events`
is selected, and routes the rows into the ordinary event tables (`channel = notification`).

What the reference documents, and what is a guess:

- `GET /notifications/{id}/events` (every type in one answer, like `GET /actions/events` and
  `GET /targets/{id}/events`): a guess, tried first because it costs one request per window
  instead of seven; where NP6 answers 404 the feed reads the per-type routes below instead.
- `GET /notifications/{id}/events/executions` and `/cancellations`: documented (§3.5).
- `/activations`, `/hits`, `/impressions`, `/bounces`, `/optouts`: guesses by analogy with the
  action routes and the documented event types. A guessed path NP6 answers with 404 is skipped
  for the rest of the run, with one warning naming it (see `events.GuessedPaths`).
- `GET /notifications` (the list): "Retrieve all notifications" is in the sidebar (§3.21) but its
  path is not shown; this is the path the other routes imply.
"""

from __future__ import annotations

import logging
from typing import Any, NamedTuple

from .errors import expect_array

log = logging.getLogger("np6.push")

NOTIFICATION_EVENTS = "notification_events"  # pseudo-table of FeedConfig.tables, cursor scope
NOTIFICATIONS_PATH = "/notifications"  # GUESS: the list path is not in the reference
NOTIFICATION_MIXED_PATH = "/notifications/{notification_id}/events"  # GUESS, by analogy


class NotificationEventPath(NamedTuple):
    """One per-type notification event route: the table its rows land in, and whether it is documented."""

    kind: str
    path: str  # template with `{notification_id}`
    table: str
    documented: bool


def _path(kind: str) -> str:
    return f"/notifications/{{notification_id}}/events/{kind}"


NOTIFICATION_EVENT_PATHS: tuple[NotificationEventPath, ...] = (
    NotificationEventPath("executions", _path("executions"), "executions", True),
    NotificationEventPath("cancellations", _path("cancellations"), "cancellations", True),
    NotificationEventPath("activations", _path("activations"), "activations", False),
    NotificationEventPath("hits", _path("hits"), "hits", False),
    NotificationEventPath("impressions", _path("impressions"), "other_events", False),
    NotificationEventPath("bounces", _path("bounces"), "bounces", False),
    NotificationEventPath("optouts", _path("optouts"), "other_events", False),
)

# The event tables notification rows can land in (the transformers the feed needs).
NOTIFICATION_EVENT_TABLES: tuple[str, ...] = tuple(dict.fromkeys(p.table for p in NOTIFICATION_EVENT_PATHS))


def notification_ids(items: Any) -> list[str]:
    """The ids of a `GET /notifications` answer, as text (NP6 numbers notifications: `156`).

    Raises:
        NP6BadResponse: the answer is not an array.
    """
    items = expect_array(items, f"GET {NOTIFICATIONS_PATH}", "notifications", path=NOTIFICATIONS_PATH)
    ids = [str(item["id"]) for item in items if isinstance(item, dict) and item.get("id") not in (None, "")]
    if len(ids) != len(items):
        log.warning("GET %s: %d notification(s) without an id were skipped", NOTIFICATIONS_PATH, len(items) - len(ids))
    return ids
