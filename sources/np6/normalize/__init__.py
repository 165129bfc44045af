"""Turn raw NP6 events and actions into flat, typed Arrow tables (pure functions, no I/O).

This is the connector's hot path, so the shape of the code follows from two rules:

- **One raw event in, one flat row out.** Each event family has a row function (`hit_row`,
  `activation_row`, `bounce_row`, `cancellation_row`, `execution_row`, `other_event_row`) that
  returns a tuple in the column order of `SCHEMAS[table]`. `normalize_events` validates each
  element, routes it on `type` and builds each table from its rows with explicit Arrow types:
  no per-row dicts, no pandas, epoch milliseconds converted by Arrow casts. Events of exactly
  the documented shape (nearly all of them) take a fast path that builds the same tuple with
  direct indexing; anything else takes the general path (see "Plain events" in `rows.py`).
- **Nothing is lost.** Every key a row function does not map, and every value whose shape it does
  not expect (an object where a string was promised, or the reverse), goes into the row's `extra`
  column: a JSON object keyed by the dotted path from the event root, e.g.
  `{"origin": "api", "source.detail.client.ua.os.build": "x"}`. A known key whose value is null is
  mapped (to a null), not extra. Unknown discriminator *values* (hit type `share`, client type
  `proxy`) stay in their column. Checking for unmapped keys costs one `known.issuperset(obj)` per
  object; the unknown keys are only looked for when that fails.

Push notification events (np6-api.md §3.1, §3.5) share the envelope: `source.type`
`notification`, an integer `activation.id` / `execution.id` (the notification id, stored as text
in `action_id`, e.g. "156"), a receiver wrapped in a `contact` (see `rows._receiver`), no address.
Their `version` (the notification version uuid) has no column: it is kept in `extra` under
`source.detail.activation.version` (or `.execution.version`), where it costs the email path nothing.

Elements that cannot be keyed (not an object, no usable `id` or `timestamp`) are returned as
`Rejected` with a one-line reason and their JSON text; a batch never crashes on one bad element.
An event `id` repeated within a batch keeps its first row only.

The modules, each using only those listed before it:

- `schema`: table names, column lists, Arrow schemas (`SCHEMAS`), column types and value ranges.
- `keys`: the known keys of every payload object, and the helpers that spill the rest to `extra`.
- `rows`: the row functions of the event families, general and fast path.
- `arrow`: Arrow assembly of the rows (types, drift notes, one row per event id).
- `batches`: validate, route and build a batch (`normalize_events`, `Normalized`, `Rejected`).
- `actions`: the `actions` rows (`normalize_actions`, `action_row`) and `parse_iso`.
- `robots`: the robot pass folded into the default feed's hits (`merge_robot_hits`).

Payload shapes: `np6-api.md` §3.1 (event envelope and examples), `seeds/004` (complete hit), §3.9
(actions); reference pages under https://documentation.np6.com/api/actionevent.
"""

from __future__ import annotations

from .actions import action_row, normalize_actions, parse_iso
from .batches import Normalized, Rejected, combine_normalized, normalize_events
from .robots import merge_robot_hits
from .rows import (
    activation_row,
    bounce_row,
    cancellation_row,
    execution_row,
    hit_row,
    other_event_row,
)
from .schema import (
    ACTION_COLUMNS,
    ENVELOPE_COLUMNS,
    EVENT_TABLES,
    OTHER_TABLE,
    SCHEMAS,
    TABLE_FOR_TYPE,
)

__all__ = [
    "ACTION_COLUMNS",
    "ENVELOPE_COLUMNS",
    "EVENT_TABLES",
    "OTHER_TABLE",
    "SCHEMAS",
    "TABLE_FOR_TYPE",
    "Normalized",
    "combine_normalized",
    "Rejected",
    "action_row",
    "activation_row",
    "bounce_row",
    "cancellation_row",
    "execution_row",
    "hit_row",
    "merge_robot_hits",
    "normalize_actions",
    "normalize_events",
    "other_event_row",
    "parse_iso",
]
