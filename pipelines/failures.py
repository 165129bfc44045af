"""Expected failures as one line and an exit code: the translation at the CLI boundary.

dlt, the destinations' drivers and the OS report a bad setting or an unreachable warehouse with
pages of text wrapped in dlt's `PipelineStepFailed`. `explain` walks the chain of an exception
and answers `(exit code, one line)` for what an operator can fix, or None for a bug (the CLI then
shows the traceback). Exit codes are the README's:

    2  a setting or an argument      NP6ConfigError, a missing or malformed dlt setting,
                                     an unknown destination, a destination's extra not installed
    1  NP6, the network or the       any other NP6Error, a destination that refuses the
       destination                   connection, a full disk, a file that cannot be written

The line never holds the NP6 key nor a password (see `redact_secrets`).
"""

from __future__ import annotations

import errno
import re
from collections.abc import Callable, Iterator
from typing import Any

from dlt.common.configuration.exceptions import (
    ConfigFieldMissingException,
    ConfigurationException,
    ConfigValueCannotBeCoercedException,
    LookupTraces,
)
from dlt.common.destination.exceptions import DestinationException, UnknownDestinationModule
from dlt.common.exceptions import MissingDependencyException
from dlt.destinations.exceptions import DestinationConnectionError
from dlt.load.exceptions import LoadClientJobException

from sources.np6.errors import NP6ConfigError, NP6Error, redact

Failure = tuple[int, str]

# the attributes dlt and its drivers keep the cause in, besides __cause__ and __context__
_INNER = ("exception", "inner_exc", "client_exception")
_TYPE_WORDS = {int: "a whole number", float: "a number", bool: "true or false", str: "text"}
_SECRET_FIELDS = re.compile(r"key|password|secret|token|credentials", re.IGNORECASE)
_DSN_PASSWORD = re.compile(r"(://[^:/@\s]+:)[^@\s]+@")
_NO_SPACE = "No space left on device"
_DESTINATIONS = "duckdb, postgres, filesystem, bigquery, snowflake, motherduck or any dlt destination"


def chain(exc: BaseException) -> Iterator[BaseException]:
    """`exc` and every exception behind it (dlt's wrappers, causes, contexts), outermost first."""
    seen: set[int] = set()
    todo: list[Any] = [exc]
    while todo:
        current = todo.pop(0)
        if not isinstance(current, BaseException) or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo.extend([*(getattr(current, name, None) for name in _INNER), current.__cause__,
                     current.__context__])


def _first_line(text: object) -> str:
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    return lines[0] if lines else ""


def _error_line(text: object) -> str:
    """The error of a message that may be a whole traceback (dlt keeps a failed job's that
    way): the last `Error: message` line of it, else its first line."""
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    if lines and lines[0].startswith("Traceback"):
        told = [line for line in lines if not line.startswith(("Traceback", "File ", "The above", "^", "~"))]
        return told[-1] if told else lines[-1]
    return lines[0] if lines else ""


def _env_keys(traces: Any) -> Iterator[str]:
    """The environment variables dlt looked up, leaves of nested configurations included."""
    for field_traces in traces.values():
        for trace in field_traces:
            if isinstance(trace, LookupTraces):
                yield from _env_keys(trace.traces)
            elif trace.provider == "Environment Variables":
                yield trace.key


def _setting_name(keys: list[str]) -> str:
    """The variable the README documents among those dlt tried: `SOURCES__NP6__API_KEY`, not
    `NP6__SOURCES__NP6__NP6__API_KEY` (pipeline-name prefix, section repeated)."""
    documented = [k for k in keys if k.startswith(("SOURCES__", "DESTINATION__"))]
    plain = [k for k in documented if not re.search(r"__(\w+?)__\1__", k)]
    return max(plain or documented or keys or ["?"], key=len)


def _missing_setting(exc: ConfigFieldMissingException) -> str:
    name = _setting_name(list(_env_keys(exc.traces)))
    if name == "SOURCES__NP6__API_KEY":
        return "no NP6 API key: set SOURCES__NP6__API_KEY or api_key in .dlt/secrets.toml [sources.np6]"
    if name.startswith("DESTINATION__"):
        where = "__".join(name.split("__")[:3])
        return f"the destination has no {name.split('__')[-1].lower()}: set {where} (a DSN) or {name}"
    return f"missing setting {name.lower().replace('__', '.')}: set {name} or it in .dlt/config.toml"


def _bad_value(exc: ConfigValueCannotBeCoercedException) -> str:
    hint = exc.hint if isinstance(exc.hint, type) else None
    want = _TYPE_WORDS.get(hint, f"a {getattr(hint, '__name__', exc.hint)}") if hint else f"{exc.hint}"
    shown = "" if _SECRET_FIELDS.search(exc.field_name) else f" {str(exc.field_value)!r}"
    return f"setting {exc.field_name}{shown} is not {want}: fix SOURCES__NP6__{exc.field_name.upper()} or .dlt/config.toml"


def _config(exc: BaseException, causes: list[BaseException]) -> Failure | None:
    if isinstance(exc, NP6Error):
        return (2 if isinstance(exc, NP6ConfigError) else 1), str(exc)
    if isinstance(exc, ConfigFieldMissingException):
        return 2, _missing_setting(exc)
    if isinstance(exc, ConfigValueCannotBeCoercedException):
        return 2, _bad_value(exc)
    if isinstance(exc, UnknownDestinationModule):
        return 2, f"unknown destination {exc.ref!r}: use {_DESTINATIONS}"
    if isinstance(exc, MissingDependencyException):
        return 2, f"{_first_line(exc)} (or pip install 'np6-connector[<destination>]', see README)"
    if isinstance(exc, ConfigurationException):
        return 2, _first_line(exc)
    return None


def _disk(exc: BaseException, causes: list[BaseException]) -> Failure | None:
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC or _NO_SPACE in str(exc):
        path = getattr(exc, "filename", None) or _quoted_path(str(exc)) or _working_dir(causes)
        where = f" writing {path}" if path else ""
        return 1, (f"no space left on device{where}: free some space, then run again "
                   "(windows already committed stay loaded)")
    if isinstance(exc, OSError) and exc.strerror:
        where = f": {exc.filename}" if exc.filename else ""
        return 1, f"{exc.strerror}{where}"
    return None


def _working_dir(causes: list[BaseException]) -> str | None:
    """The pipeline's working folder (in DLT_DATA_DIR), from dlt's PipelineStepFailed."""
    return next((str(c.pipeline.working_dir) for c in causes if hasattr(getattr(c, "pipeline", None), "working_dir")), None)


def _quoted_path(text: str) -> str | None:
    found = re.search(r'file "([^"]+)"', text)
    return found.group(1) if found else None


def _destination(exc: BaseException, causes: list[BaseException]) -> Failure | None:
    if isinstance(exc, DestinationConnectionError):
        reason = _first_line(exc.inner_exc) or _first_line(exc)
        return 1, f"cannot connect to the destination (dataset {exc.dataset_name}): {reason}"
    if _is_dbapi(exc, "OperationalError", "InterfaceError"):  # dlt passes some through unwrapped
        return 1, f"cannot connect to the destination: {_first_line(exc)}"
    if _is_dbapi(exc, "DatabaseError"):
        return 1, f"destination error: {_first_line(exc)}"
    if isinstance(exc, LoadClientJobException):
        job = getattr(exc, "job_id", "?")
        return 1, f"the destination refused load job {job}: {_error_line(getattr(exc, 'failed_message', exc))}"
    if isinstance(exc, DestinationException):
        return 1, f"destination error: {_first_line(exc)}"
    return None


def _is_dbapi(exc: BaseException, *names: str) -> bool:
    """A PEP 249 driver error (psycopg2, duckdb...) of one of these classes, by name: the
    drivers are optional extras, so they are not imported here."""
    return any(cls.__name__ in names for cls in type(exc).__mro__)


# most telling first: a full disk explains a refused load job, which explains PipelineStepFailed
_RULES: tuple[Callable[[BaseException, list[BaseException]], Failure | None], ...] = (_config, _disk, _destination)


def explain(exc: BaseException, secrets: tuple[str, ...] = ()) -> Failure | None:
    """(exit code, one line) for an expected failure anywhere in `exc`'s chain, else None."""
    causes = list(chain(exc))
    for rule in _RULES:
        for cause in causes:
            found = rule(cause, causes)
            if found is not None:
                code, line = found
                return code, redact_secrets(_first_line(line) or type(cause).__name__, secrets)
    return None


def redact_secrets(line: str, secrets: tuple[str, ...]) -> str:
    """`line` without the given secrets (whole occurrences, see `redact`) nor a DSN password."""
    for secret in secrets:
        line = redact(line, secret)
    return _DSN_PASSWORD.sub(r"\1[redacted]@", line)
