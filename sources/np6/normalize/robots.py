"""Robot labels: fold the robot pass's hits into the default feed's hits of the same window.

The robot pass reads a window's hits again with the documented `classification` filter
(np6-api.md §3.1: "use this parameter if you want to get the hit events classified as robot").
Under one reading of the reference the default feed already holds those hits (then they are
labelled here), under the other it leaves them out (then they are added). Either way each hit
id ends up in one row, decided here rather than by which of two staged rows a merge keeps.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa
import pyarrow.compute as pc


def label_robots(hits: pa.Table, robots: pa.Table) -> pa.Table:
    """`hits` with `is_robot` set on the ids `robots` holds; a null class is taken from there."""
    where = pc.index_in(hits.column("id"), value_set=robots.column("id"))
    if where.null_count == len(where):
        return hits
    robot_class = robots.column("classification").take(where)
    classification = pc.coalesce(hits.column("classification"), robot_class)
    is_robot = pc.or_(hits.column("is_robot"), pc.is_valid(where))
    for name, values in (("classification", classification), ("is_robot", is_robot)):
        index = hits.schema.get_field_index(name)
        hits = hits.set_column(index, hits.schema.field(index), values)
    return hits


def merge_robot_hits(feed: Sequence[pa.Table], robots: pa.Table) -> tuple[list[pa.Table], pa.Table]:
    """Merge one window's robot pass into the default feed's hit tables of that window.

    Args:
        feed: the `hits` tables the default feed read for the window (one per piece or route).
        robots: the `hits` table of the robot pass (every row has `is_robot` true).

    Returns:
        The feed's tables with the robots among them labelled, and the robot rows the feed did
        not hold (to be loaded as they are).
    """
    labelled = [label_robots(table, robots) for table in feed]
    if not labelled:
        return labelled, robots
    seen = pa.chunked_array([table.column("id") for table in labelled], type=pa.string())
    missing = pc.invert(pc.is_in(robots.column("id"), value_set=seen.combine_chunks()))
    return labelled, robots.filter(missing)
