"""Arrow assembly: rows in, typed Arrow tables out, type drift noted rather than lost.

`_tables` builds one table per non-empty list of rows (one struct conversion, else one per
column; epoch milliseconds cast by Arrow, not in Python). A string column that meets a
non-string keeps it as JSON text and notes the change in `drift`, for the caller to report.
`_first_row_per_id` keeps the first row of an event `id` that a batch repeats.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from .schema import _EPOCH_MS_COLUMNS, _TS, _TS_MS, SCHEMAS, Row


def _first_row_per_id(table: pa.Table) -> pa.Table:
    """`table` with one row per event `id`: the first, when NP6 sent an event more than once.

    A batch (one response) should not repeat an event, but a paging or replication glitch on
    NP6's side can; two rows with one id would then reach the warehouse. Counting distinct ids
    is cheap next to building the table, and the rows are only filtered when some repeat.
    """
    ids = table.column("id")
    if pc.count_distinct(ids).as_py() == table.num_rows:
        return table
    seen: set[str] = set()
    first = [index for index, key in enumerate(ids.to_pylist())
             if key not in seen and not seen.add(key)]  # fmt: skip
    return table.take(first)


def _tables(rows: Mapping[str, Sequence[Row]], drift: list[str] | None = None) -> dict[str, pa.Table]:
    """Build one Arrow table per non-empty list of rows; type changes are noted in `drift`."""
    notes = [] if drift is None else drift
    return {name: _table(name, rows_, notes) for name, rows_ in rows.items() if rows_}


def _table(name: str, rows: Sequence[Row], drift: list[str] | None = None) -> pa.Table:
    """Build a table from rows with explicit types: one row-major conversion, else per column.

    Converting the row tuples as one struct array reads each row's values while they are still
    close in memory; on hit-heavy batches it took half the time of `zip(*rows)` followed by one
    conversion per column. When a value does not fit its column type, the per-column path
    finds the column and coerces it.
    """
    schema = SCHEMAS[name]
    try:
        struct_array = cast(pa.StructArray, pa.array(rows, _ROW_TYPES[name]))
        batch = pa.RecordBatch.from_struct_array(struct_array)
    except (pa.ArrowTypeError, pa.ArrowInvalid):
        columns = zip(*rows, strict=True)
        notes = [] if drift is None else drift
        arrays = [_array(values, field, f"{name}.{field.name}", notes)
                  for values, field in zip(columns, schema, strict=True)]
    else:
        arrays = [_to_microseconds(column) for column in batch.columns]
    return pa.Table.from_arrays(arrays, schema=schema)


def _row_type(schema: pa.Schema) -> pa.StructType:
    """The struct type rows are converted with: epoch-ms columns read as millisecond stamps."""
    return pa.struct(
        field.with_type(_TS_MS) if field.name in _EPOCH_MS_COLUMNS else field for field in schema
    )


_ROW_TYPES = {name: _row_type(schema) for name, schema in SCHEMAS.items()}


def _to_microseconds(column: pa.Array[Any]) -> pa.Array[Any]:
    """Bring a millisecond timestamp column to the schema's microseconds; others unchanged."""
    return column.cast(_TS) if column.type == _TS_MS else column


def _array(
    values: Sequence[Any], field: pa.Field[Any], where: str = "", drift: list[str] | None = None
) -> pa.Array[Any]:
    """Build one column; epoch-ms ints become UTC timestamps by an Arrow cast, not in Python."""
    if field.name in _EPOCH_MS_COLUMNS:
        return pa.array(values, _TS_MS).cast(_TS)
    try:
        array: pa.Array[Any] = pa.array(values, field.type)
        return array
    except (pa.ArrowTypeError, pa.ArrowInvalid):
        if field.type != pa.string():
            raise
    # A string column met a non-string (a number, or an object where NP6 documents a string):
    # keep it as JSON text rather than lose it or fail the batch, and note the type change so
    # the caller reports it (a data-type contract: never coerced silently). Rare, may be slow.
    odd = [type(v).__name__ for v in values if v is not None and not isinstance(v, str)]
    if drift is not None and odd:
        kinds = "/".join(sorted(set(odd)))
        count = f"{len(odd)} value{'' if len(odd) == 1 else 's'}"
        drift.append(f"{where}: {kinds} where NP6 documents text ({count}, stored as JSON text)")
    return pa.array([_as_text(value) for value in values], pa.string())


def _as_text(value: Any) -> str | None:
    """A string column value: strings and None unchanged, anything else as JSON text."""
    return value if value is None or isinstance(value, str) else orjson.dumps(value).decode()
