"""Reading the destination back: the loaded event tables that exports and contacts start from.

Recipient exports are computed from `hits`/`activations` where NP6 exports nothing, and contacts
are fetched for the receivers of the loaded events, so these resources query the pipeline's own
destination (`pipeline.dataset()`). Some destinations cannot always be read back from here (a
Delta lake needs DuckDB's `delta` extension, which DuckDB downloads on first use): then the
resource says so in one warning and loads nothing, and the rest of the run goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import dlt
from dlt.common.schema.utils import has_table_seen_data
from dlt.destinations.exceptions import DatabaseException

from .run import RunContext

log = logging.getLogger("np6.warehouse")
REFUSED = "read back"  # the run's note (`RunContext.notes`) of why the destination refused a read


def dataset() -> Any:
    """The dataset of the pipeline that is running this resource."""
    return dlt.current.pipeline().dataset()


def loaded_tables(ds: Any) -> dict[str, set[str]]:
    """{table: columns} of the tables the destination has received rows for."""
    return {name: set(t.get("columns", {})) for name, t in ds.schema.tables.items() if has_table_seen_data(t)}


def refused(run: RunContext, what: str) -> bool:
    """True (with a warning) when this run already failed to read the destination back: the
    next resource does not try again (each try can cost a download attempt and its timeout)."""
    why = run.notes.get(REFUSED)
    if why is not None:
        log.warning("%s not loaded: the destination's event tables cannot be read back (%s)", what, why)
    return why is not None


@contextmanager
def read_back(run: RunContext, what: str) -> Iterator[None]:
    """Run a read of the destination; when the destination refuses it, warn and go on.

    Used as `with read_back("action_openers"): ...` around everything of a resource that queries
    the destination; what was yielded before the failure stays loaded (rows merge on their key).
    """
    try:
        yield
    except DatabaseException as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        run.notes[REFUSED] = first
        log.warning("%s not loaded: the destination's event tables cannot be read back (%s)", what, first)
