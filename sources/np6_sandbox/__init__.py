"""A local NP6-compatible API for the demo, the integration tests and the benchmarks.

It serves a deterministic account (`AccountSpec` -> `Account`) over HTTP (`SandboxServer`), with
fault knobs (`Faults`). It never imports the connector (`sources.np6`): it is an independent
check of it, written from the NP6 reference alone.

    from sources.np6_sandbox import Account, AccountSpec, SandboxServer

    with SandboxServer(Account(AccountSpec(start=datetime(2026, 10, 1), days=3))) as server:
        httpx.get(f"{server.url}/actions/events/hits", headers={"X-Key": server.api_key})

From a shell: `python -m sources.np6_sandbox --port 8080` (see `--help`).

Besides actions and their events (`server.py`, `data.py`), it serves archives and management
lists (`management.py`), recipient exports (`exports.py`), contacts and redlists (`contacts.py`),
push notifications and their events (`push.py`), reactivities (`reactivities.py`) and campaigns
(`campaigns.py`); each module's docstring lists its routes and the choices the sandbox makes
where the NP6 reference is silent. Their public functions are the ground truth tests compare with.
"""

from .data import (
    CLASSIFICATIONS,
    EVENT_TYPES,
    HIT_TYPES,
    UNKNOWN_EVENT_TYPES,
    UNKNOWN_HIT_TYPE,
    Account,
    AccountSpec,
)
from .faults import Faults
from .process import SandboxProcess
from .server import SandboxServer

__all__ = [
    "CLASSIFICATIONS",
    "EVENT_TYPES",
    "HIT_TYPES",
    "UNKNOWN_EVENT_TYPES",
    "UNKNOWN_HIT_TYPE",
    "Account",
    "AccountSpec",
    "Faults",
    "SandboxProcess",
    "SandboxServer",
]
