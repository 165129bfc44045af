"""Shared fixtures: the sandbox NP6 API on a loopback port.

`sandbox` is a running server over a small fixed account (seed 7, 5 actions, ~2000 events a day,
3 days from 2026-10-01); `make_sandbox(**spec_overrides, faults=...)` starts others;
`sandbox_account` is that account's ground truth without a server. Accounts are
deterministic, so they are built once per spec and shared; servers (stats, fault counters) are
fresh for every test and stopped after it.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from typing import Any

import httpx
import pytest

from sources.np6_sandbox import Account, AccountSpec, Faults, SandboxServer

SANDBOX_SPEC = AccountSpec(
    seed=7,
    actions=5,
    events_per_day=2000,
    start=datetime(2026, 10, 1, tzinfo=timezone.utc),
    days=3,
)


@functools.lru_cache(maxsize=8)
def _account(spec: AccountSpec) -> Account:
    """The account of a spec, built once: accounts are deterministic and never change."""
    return Account(spec)


@dataclasses.dataclass
class Sandbox:
    """A running sandbox: where it listens, its key, its ground truth and the server itself
    (to set faults with `server.set_faults(...)` or read `server.stats()`)."""

    server: SandboxServer

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def api_key(self) -> str:
        return self.server.api_key

    @property
    def account(self) -> Account:
        return self.server.account

    def client(self, **kwargs: Any) -> httpx.Client:
        """An httpx client with the base URL and the `X-Key` header set."""
        return httpx.Client(base_url=self.url, headers={"X-Key": self.api_key}, timeout=30, **kwargs)


@pytest.fixture(scope="session")
def sandbox_account() -> Account:
    """The ground truth of the default `sandbox` (no server), for tests of the data alone."""
    return _account(SANDBOX_SPEC)


@pytest.fixture
def make_sandbox() -> Iterator[Callable[..., Sandbox]]:
    """A factory: `make_sandbox(events_per_day=50_000, faults=Faults(rate_limit=2))`."""
    servers: list[SandboxServer] = []

    def make(*, faults: Faults | None = None, **spec_overrides: Any) -> Sandbox:
        spec = dataclasses.replace(SANDBOX_SPEC, **spec_overrides)
        server = SandboxServer(_account(spec), faults=faults).start()
        servers.append(server)
        return Sandbox(server)

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def sandbox(make_sandbox: Callable[..., Sandbox]) -> Sandbox:
    """A running sandbox over the small default account."""
    return make_sandbox()
