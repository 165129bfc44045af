"""The curated dlt schema (`schemas/import/np6.schema.yaml`): the warehouse contract, read once.

dlt re-reads and re-validates an import schema every time it loads its stored schema (about 20
times a `pipeline.run`, with PyYAML's pure-Python loader: most of the CPU of a short run). So
the connector does not hand dlt an import folder: `np6_source` merges the curated schema, parsed
and validated once per process, into the schema of every source it builds. New tables get the
curated column order, types, keys and descriptions; a pipeline made by an older version gains
the columns a newer schema adds, as with dlt's own import.

The file is found in a checkout (`schemas/import/`) or in an installed copy, where the wheel
ships it as `pipelines/schemas/`.
"""

from __future__ import annotations

import base64
import functools
import os
import secrets
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import yaml
from dlt.common.schema import Schema

from .settings import SOURCE_NAME

_ROOT = Path(__file__).resolve().parents[2]  # the checkout, or site-packages
SCHEMA_FILE = f"{SOURCE_NAME}.schema.yaml"
PLACES = (_ROOT / "schemas" / "import", _ROOT / "pipelines" / "schemas")


def schema_file() -> Path | None:
    """Where the curated schema is: the checkout's, else the installed copy's (None: neither)."""
    return next((place / SCHEMA_FILE for place in PLACES if (place / SCHEMA_FILE).is_file()), None)


def read_curated(path: Path) -> dict[str, Any]:
    """The curated schema file as dlt's stored-schema dict."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when PyYAML has it
    return yaml.load(path.read_text(encoding="utf-8"), Loader=loader)  # type: ignore[no-any-return]


@functools.lru_cache(maxsize=1)
def _curated(path: Path) -> Schema:
    # Validated by the tests (tests/destinations/test_schema_contract.py), not at every run:
    # dlt's validation of the whole file was ~0.1 s of each `np6 load`.
    return Schema.from_dict(read_curated(path), validate_schema=False)


def curated_schema() -> Schema | None:
    """The curated schema, parsed and validated once per process (None when not shipped)."""
    path = schema_file()
    return None if path is None else _curated(path)


# The contract keeps dlt's `_dlt_load_id` and `_dlt_id` on every table (not null); dlt adds them
# to Arrow tables only when its parquet normalizer is asked to. It adds the load id as it
# extracts, cheaply; asked for `_dlt_id`, it rewrites every Parquet file in its normalize step
# (one more write and read of every row). So the source adds `_dlt_id` to its Arrow tables
# itself (`with_row_ids`, the same ids dlt would make) and dlt imports the files as they are.
# A user's own setting wins.
DLT_ROW_COLUMNS = {
    "NORMALIZE__PARQUET_NORMALIZER__ADD_DLT_LOAD_ID": "true",
    "NORMALIZE__PARQUET_NORMALIZER__ADD_DLT_ID": "false",
}
ROW_ID = "_dlt_id"
ROW_ID_CHARS = 14  # the length of dlt's own row ids


def with_row_ids(item: Any) -> Any:
    """An Arrow table with a `_dlt_id` column of fresh ids added when it has none; any other item
    unchanged. The ids look like dlt's own (14 base64 characters of random bytes) but are made
    in one pass over one buffer, not one Python string per row."""
    if not isinstance(item, pa.Table) or ROW_ID in item.schema.names:
        return item
    # 12 random bytes are 16 base64 characters with no padding, so one encoding of all of them
    # cuts into fixed-width ids; the first 14 keep 84 random bits (dlt's ids: 80).
    encoded = base64.b64encode(secrets.token_bytes(12 * item.num_rows))
    wide = pa.FixedSizeBinaryArray.from_buffers(pa.binary(16), item.num_rows, [None, pa.py_buffer(encoded)])
    ids = pc.utf8_slice_codeunits(wide.cast(pa.binary()).cast(pa.string()), 0, ROW_ID_CHARS)
    return item.append_column(pa.field(ROW_ID, pa.string(), nullable=False), ids)


def ask_for_dlt_columns() -> None:
    """Ask dlt for its row columns on Arrow tables (when a source is built, never at import)."""
    for key, value in DLT_ROW_COLUMNS.items():
        os.environ.setdefault(key, value)
