"""dlt's PostgreSQL destination, accepting a DSN without a password.

dlt 1.31 requires `password` in PostgreSQL credentials, yet trust, peer and certificate
authentication need none, and libpq finds one in `~/.pgpass` or `PGPASSWORD` when the DSN has
none. This factory differs from `dlt.destinations.postgres` by that one optional field; it keeps
the name `postgres`, so dlt and `np6` see the same destination.
"""

from __future__ import annotations

from typing import Optional

import dlt
from dlt.common.configuration import configspec
from dlt.common.typing import TSecretStrValue
from dlt.destinations.impl.postgres.configuration import PostgresClientConfiguration, PostgresCredentials


@configspec(init=False)
class PostgresCredentialsNoPassword(PostgresCredentials):
    """PostgreSQL credentials whose password may be left out."""

    password: Optional[TSecretStrValue] = None  # type: ignore[assignment]


@configspec
class PostgresConfigurationNoPassword(PostgresClientConfiguration):
    """dlt's PostgreSQL client settings with `PostgresCredentialsNoPassword`."""

    credentials: PostgresCredentialsNoPassword = None  # type: ignore[assignment]


class postgres(dlt.destinations.postgres):  # noqa: N801 (dlt names destinations by class)
    """`dlt.destinations.postgres` that accepts `postgresql://user@host:5432/db`."""

    spec = PostgresConfigurationNoPassword  # type: ignore[assignment]
