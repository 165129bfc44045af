"""Fault tests reuse the integration workspace: the real `np6` command, a DuckDB file, a dlt dir."""

from tests.integration.conftest import workspace  # noqa: F401 (a fixture)
