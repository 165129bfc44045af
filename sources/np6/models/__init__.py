"""SQL models: answers over the loaded tables, as views in the dataset, the same on every destination.

Each model is one SQL file here, written once in DuckDB's dialect: a `SELECT` over the tables the
source loads (unqualified names), headed by comment lines that describe the view and each of its
columns (`-- name: what it is`). `create_models(pipeline)` turns each file into
`CREATE OR REPLACE VIEW <dataset>.<model> AS ...`, transpiled by sqlglot (installed with dlt)
into the destination's own dialect, and puts the descriptions on the view's columns where the
destination keeps comments. It is idempotent: run after every load, it replaces what it made,
or leaves it alone when the models, the dataset and the loaded tables are as they were.

A model whose tables are not in the dataset (a load of a few resources only) is skipped with a
notice rather than created broken; it appears with the next load that brings its tables.

Human figures leave out every hit with `is_robot` (see `events.py`, "Robot pass"); a target is
`coalesce(receiver_id, receiver_value)`, as in DATA-MODEL.md.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple

import sqlglot
from sqlglot import exp

log = logging.getLogger("np6.models")

SOURCE_DIALECT = "duckdb"
# In the pipeline's working folder: the fingerprint of the views the last run made. An hourly
# run whose models, dataset and loaded tables are as they were leaves the views alone (making
# them costs ~0.3 s of sqlglot); dlt wiping the folder only means they are made again.
MADE_FILE = "np6_models.sha256"
MODELS_DIR = Path(__file__).parent
# The contract (DATA-MODEL.md): these names, in this order (a file per name).
MODEL_NAMES = (
    "engagement_by_action",
    "engagement_daily",
    "link_clicks",
    "contact_engagement",
    "deliverability_by_domain",
    "open_delay",
)


class Model(NamedTuple):
    """One view: its name, what it is, its columns with their descriptions, its `SELECT`."""

    name: str
    description: str
    columns: dict[str, str]
    select: str

    @property
    def tables(self) -> frozenset[str]:
        """The loaded tables the view reads (the names its CTEs define are not tables)."""
        return _tables(self.select)


@cache
def _tables(select: str) -> frozenset[str]:
    tree = sqlglot.parse_one(select, read=SOURCE_DIALECT)
    ctes = {cte.alias for cte in tree.find_all(exp.CTE)}
    return frozenset(t.name for t in tree.find_all(exp.Table) if t.name not in ctes)


def parse_model(name: str, text: str) -> Model:
    """A model from its file: the `-- ` header (view, then one line per column), then the SQL."""
    header: list[str] = []
    lines = text.splitlines()
    while lines and lines[0].startswith("-- "):
        header.append(lines.pop(0)[3:])
    described = dict(line.split(": ", 1) for line in header)
    description = described.pop(name)
    return Model(name, description, described, "\n".join(lines).strip())


@cache
def models() -> tuple[Model, ...]:
    """Every model, in `MODEL_NAMES` order."""
    return tuple(parse_model(n, (MODELS_DIR / f"{n}.sql").read_text()) for n in MODEL_NAMES)


def view_sql(model: Model, dataset: str, dialect: str) -> str:
    """`CREATE OR REPLACE VIEW dataset.model AS ...` in `dialect`, every table read from `dataset`."""
    select = sqlglot.parse_one(model.select, read=SOURCE_DIALECT)
    ctes = {cte.alias for cte in select.find_all(exp.CTE)}
    for table in select.find_all(exp.Table):
        if table.name not in ctes:
            table.set("db", exp.to_identifier(dataset, quoted=True))
    view = exp.Create(
        this=_view(model, dataset),
        kind="VIEW",
        replace=True,
        expression=select,
    )
    return view.sql(dialect=dialect)


def comment_sql(model: Model, dataset: str, dialect: str) -> list[str]:
    """`COMMENT ON` statements for the view and each of its columns, in `dialect`."""
    name = _view(model, dataset).sql(dialect=dialect)
    quote = sqlglot.Dialect.get_or_raise(dialect)
    return [f"COMMENT ON VIEW {name} IS {exp.Literal.string(model.description).sql(dialect=quote)}"] + [
        f"COMMENT ON COLUMN {name}.{exp.to_identifier(column, quoted=True).sql(dialect=quote)} IS "
        f"{exp.Literal.string(text).sql(dialect=quote)}"
        for column, text in model.columns.items()
    ]


def create_models(pipeline: Any, progress: Callable[[str], None] | None = None) -> list[str]:
    """Create (or replace) every model whose tables are loaded; return their names.

    Args:
        pipeline: a dlt pipeline that has loaded the NP6 source (any SQL destination).
        progress: where to say what was created and what was skipped (default: the log).
    """
    say = progress or log.info
    if pipeline.destination.destination_type.endswith(".filesystem"):
        say("  models skipped: a filesystem destination keeps no views (query its tables with DuckDB)")
        return []
    loaded = set(pipeline.default_schema.data_table_names(seen_data_only=True))
    dialect = pipeline.destination.capabilities().sqlglot_dialect
    wanted = []
    for model in models():
        missing = sorted(model.tables - loaded)
        if missing:
            say(f"  model {model.name} skipped: no table {', '.join(missing)} in the dataset yet")
        else:
            wanted.append(model)
    names = [model.name for model in wanted]
    made = Path(pipeline.working_dir) / MADE_FILE
    with pipeline.sql_client() as client:
        fingerprint = _fingerprint(wanted, client.dataset_name, dialect)
        if _read(made) == fingerprint and _all_there(client, wanted, dialect):
            say(f"  models: {', '.join(names) or 'none'} (views in {pipeline.dataset_name}, as they were)")
            return names
        for model in wanted:
            _create(client, model, client.dataset_name, dialect)
    made.write_text(fingerprint)
    say(f"  models: {', '.join(names) or 'none'} (views in {pipeline.dataset_name})")
    return names


def _fingerprint(wanted: Iterable[Model], dataset: str, dialect: str) -> str:
    """What the views made from `wanted` depend on: the models' text, the dataset, the dialect."""
    return hashlib.sha256(repr((dataset, dialect, tuple(wanted))).encode()).hexdigest()


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except OSError:
        return None


def _all_there(client: Any, wanted: Iterable[Model], dialect: str) -> bool:
    """True when every view of `wanted` answers a query (none dropped by hand or with its dataset)."""
    try:
        for model in wanted:
            client.execute_sql(f"SELECT * FROM {_view(model, client.dataset_name).sql(dialect=dialect)} WHERE 1 = 0")
    except Exception:  # noqa: BLE001 - the destination's own error for a missing view: make them again
        return False
    return True


def _create(client: Any, model: Model, dataset: str, dialect: str) -> None:
    """Create one view; where the destination will not replace it in place (PostgreSQL refuses
    a view whose columns changed), drop it first. Column comments where the destination takes them."""
    statement = view_sql(model, dataset, dialect)
    try:
        client.execute_sql(statement)
    except Exception:  # noqa: BLE001 - the destination's own error type; retried once, from scratch
        client.execute_sql(f"DROP VIEW IF EXISTS {_view(model, dataset).sql(dialect=dialect)}")
        client.execute_sql(statement)
    _comment(client, comment_sql(model, dataset, dialect))


def _comment(client: Any, statements: Iterable[str]) -> None:
    """Run the `COMMENT ON` statements; a destination without view comments keeps none."""
    for statement in statements:
        try:
            client.execute_sql(statement)
        except Exception:  # noqa: BLE001 - e.g. DuckDB without column comments on views
            log.debug("destination keeps no comment: %s", statement)
            return


def _view(model: Model, dataset: str) -> exp.Table:
    """The view's qualified name, `dataset.model`."""
    return exp.Table(this=exp.to_identifier(model.name, quoted=True), db=exp.to_identifier(dataset, quoted=True))
