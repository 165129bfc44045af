"""Every `[sources.np6]` setting, resolved once the dlt way: CLI values win over environment
variables (`SOURCES__NP6__WINDOW=6h`), which win over `.dlt/config.toml` and `.dlt/secrets.toml`.

`NP6Settings` is a dlt configspec: the field names are the setting names, the defaults are the
built-in defaults, and `SETTINGS_HELP` says what each one does (for `np6 load --help` and the
README). `resolve_settings` reads them and turns dlt's configuration errors into one-line
`NP6ConfigError`s; `plan.build_plan` turns the result into the frozen plan a run follows.
"""

from __future__ import annotations

import typing
from typing import Any, Optional

from dlt.common.configuration import configspec, resolve_configuration
from dlt.common.configuration.specs import BaseConfiguration
from dlt.common.typing import TSecretStrValue

from .errors import NP6ConfigError
from .settings import (
    DEFAULT_ACTIVITY_HORIZON,
    DEFAULT_BASE_URL,
    DEFAULT_COMMIT_ROWS,
    DEFAULT_COMMIT_SECONDS,
    DEFAULT_CONCURRENCY,
    DEFAULT_DEADLINE,
    DEFAULT_LOOKBACK,
    DEFAULT_MAX_TARGETS,
    DEFAULT_REFRESH_TARGETS,
    DEFAULT_REACTIVITY_HORIZON,
    DEFAULT_SAFETY_MARGIN,
    DEFAULT_START_DATE,
    DEFAULT_TIMEOUT,
    DEFAULT_WINDOW,
    SOURCE_NAME,
)

SECTIONS = ("sources", SOURCE_NAME)


@configspec
class NP6Settings(BaseConfiguration):
    """The settings of the NP6 source (see `SETTINGS_HELP`)."""

    api_key: TSecretStrValue = None
    base_url: str = DEFAULT_BASE_URL
    start_date: str = DEFAULT_START_DATE
    window: str = DEFAULT_WINDOW
    lookback: str = DEFAULT_LOOKBACK
    safety_margin: str = DEFAULT_SAFETY_MARGIN
    concurrency: int = DEFAULT_CONCURRENCY
    timeout: float = DEFAULT_TIMEOUT
    deadline: str = DEFAULT_DEADLINE
    strict: bool = False
    resources: Optional[Any] = None
    action_ids: Optional[Any] = None
    hit_classification: Optional[str] = None
    robot_pass: bool = True
    commit_every: Optional[int] = None
    commit_rows: int = DEFAULT_COMMIT_ROWS
    commit_seconds: float = DEFAULT_COMMIT_SECONDS
    # Parsing in this process by default: on 2 cores, two workers (bodies streamed to them, see
    # `workers`) loaded 50k events a day at 19.7k/s instead of 15.6k/s, but each worker is a
    # Python of its own (~110 MB) and the peak went from ~600 MB to ~1 GB (`make bench`).
    decode_workers: int = 0
    max_attempts: int = 6
    backoff_base: float = 1.0
    max_wait: float = 300.0
    max_total_wait: float = 1800.0
    min_window: str = "1m"
    max_body_bytes: Optional[int] = None
    activity_horizon: str = DEFAULT_ACTIVITY_HORIZON
    reactivity_horizon: str = DEFAULT_REACTIVITY_HORIZON
    max_targets: Optional[int] = DEFAULT_MAX_TARGETS
    refresh_targets: int = DEFAULT_REFRESH_TARGETS


SETTINGS_HELP: dict[str, str] = {
    "api_key": "your NP6 X-Key (secret: .dlt/secrets.toml or the environment)",
    "base_url": "API root",
    "start_date": "where the first run starts (ISO date/time, epoch ms, -30d)",
    "window": "window size, one request per window and feed (at least 1m)",
    "lookback": "re-read before the cursor for events published late",
    "safety_margin": "the newest window ends this far behind now",
    "concurrency": "requests in flight at once",
    "timeout": "seconds to wait for one answer",
    "deadline": "the whole run stops cleanly after this long (committed windows stay)",
    "strict": "exit non-zero when a resource is unavailable (403/404) or the deadline stops a run",
    "resources": "resources to load, a list or comma-separated (default: every default one)",
    "action_ids": "read the per-action feeds of these actions instead of the account-wide one",
    "hit_classification": "the robot classes the robot pass asks for (default genericrobot,mpp,gsr)",
    "robot_pass": "one extra read per window of the hits NP6 classifies as robots (true/false)",
    "commit_every": "at most this many windows per commit group (rows and cursors land together)",
    "commit_rows": "a commit group ends at the first window boundary past this many event rows",
    "commit_seconds": "a commit group ends at the first window boundary past this many seconds",
    "decode_workers": "processes that parse large responses beside the main one (0: in this process)",
    "max_attempts": "requests per call before giving up on 5xx, timeouts or bad bodies",
    "backoff_base": "first backoff ceiling in seconds (doubles per attempt, full jitter)",
    "max_wait": "ceiling in seconds of any single wait, whatever Retry-After says",
    "max_total_wait": "ceiling in seconds of all rate-limit pauses of one run",
    "min_window": "a window that times out is read in halves down to this size",
    "max_body_bytes": "a window whose answer is larger is read in halves",
    "activity_horizon": "recipient exports cover the actions with events this recent",
    "reactivity_horizon": "opt-in reactivities re-read the send cohorts this recent",
    "max_targets": "contacts fetched per run at most (one request each); the rest next run",
    "refresh_targets": "contacts re-read per run because they were read longest ago",
}


def setting_type(name: str) -> type:
    """The Python type a setting's value has (`int`, `float`, `bool` or `str`; `str` for lists)."""
    hint = NP6Settings.get_resolvable_fields()[name]
    args = [a for a in typing.get_args(hint) if a is not type(None)] or [hint]
    return args[0] if args[0] in (int, float, bool) else str


def setting_env(name: str) -> str:
    """`SOURCES__NP6__WINDOW` for `window`."""
    return "__".join(s.upper() for s in (*SECTIONS, name))


def resolve_settings(**overrides: Any) -> NP6Settings:
    """Read every setting from dlt's providers; `overrides` (the CLI's, None = not given) win.

    Raises:
        NP6ConfigError: an unknown setting name.
        ConfigFieldMissingException, ConfigValueCannotBeCoercedException: dlt's own errors for a
            missing key or a value of the wrong type; the CLI turns them into one line
            (`pipelines/failures.py`).
    """
    explicit = {k: v for k, v in overrides.items() if v is not None}
    unknown = sorted(set(explicit) - set(SETTINGS_HELP))
    if unknown:
        raise NP6ConfigError(f"unknown setting(s) {', '.join(unknown)}")
    return resolve_configuration(NP6Settings(), sections=SECTIONS, explicit_value=explicit)
