"""The exceptions the NP6 connector raises, one per way a call can go wrong.

    NP6Error                    anything the connector reports to the operator
    ├── NP6ConfigError          bad setting (missing key, malformed URL, bad date, unknown resource)
    ├── NP6DeadlineReached      the run's overall deadline passed: no new request is sent
    └── NP6HTTPError            a request that did not give usable data
        ├── NP6AuthError        401/403: the key is wrong or lacks rights; never retried
        ├── NP6RateLimited      429 that outlived the retry budget
        ├── NP6ServerError      5xx, timeout or dropped connection that outlived the retries
        │   └── NP6Timeout      a timeout, at once, for a window that can be split instead
        ├── NP6Unreachable      the host cannot be reached at all (DNS, refused connection)
        ├── NP6NotFound         404 on a path the connector expected to exist
        └── NP6BadResponse      a 2xx whose body is not what the reference promises

Every message names the HTTP status, the method and path and, for windowed reads, the window.
None ever contains the API key: the key travels in the `X-Key` header, never in URLs, and no
message is built from request headers.
"""

from __future__ import annotations

import re
from typing import Any

REDACTED = "[redacted]"
# Below this length a key is hidden only where it stands alone: a 1-letter key must not turn
# "check" into "chec[redacted]". Real NP6 keys are far longer and are hidden wherever they occur.
SHORT_SECRET = 8


class NP6Error(Exception):
    """Base class: the message is one line an operator can act on."""


class NP6ConfigError(NP6Error):
    """A setting is missing or malformed; raised before any request is sent."""


class NP6DeadlineReached(NP6Error):
    """The run's deadline passed: the client sends no new request, the run stops cleanly."""


class NP6HTTPError(NP6Error):
    """A request to NP6 failed; carries the status (None when no response) and the path."""

    def __init__(self, message: str, *, status: int | None = None, path: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.path = path


class NP6AuthError(NP6HTTPError):
    """401/403: the API key was rejected or lacks the rights for this operation."""


class NP6RateLimited(NP6HTTPError):
    """429 answers went on longer than the configured total wait."""


class NP6ServerError(NP6HTTPError):
    """5xx answers, timeouts or broken connections went on past the retry budget."""


class NP6Timeout(NP6ServerError):
    """No answer within the timeout, raised at once for calls that can ask for less instead
    (a window that can be read in halves)."""


class NP6Unreachable(NP6HTTPError):
    """No connection could be made to the configured base URL."""


class NP6NotFound(NP6HTTPError):
    """404: the resource does not exist (or NP6 rejected an identifier in the path)."""


class NP6BadResponse(NP6HTTPError):
    """A success status whose body cannot be used (not JSON, wrong shape, wrong content type)."""


def find_np6_error(exc: BaseException) -> NP6Error | None:
    """The NP6 error behind wrappers (dlt's PipelineStepFailed and the like), if any.

    Walks `exception` attributes (dlt's wrappers), causes and contexts, breadth first.
    """
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop(0)
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, NP6Error):
            return current
        todo.extend([getattr(current, "exception", None), current.__cause__, current.__context__])
    return None


def redact(text: str, secret: str) -> str:
    """`text` with `secret` replaced by `[redacted]`, without corrupting other words.

    A secret of `SHORT_SECRET` characters or more is replaced wherever it occurs; a shorter one
    only as a whole token (not next to a letter, digit, `_` or `-`), so that `k` hides in
    `key=k&x` but leaves `check` alone. An empty secret changes nothing.
    """
    if not secret:
        return text
    if len(secret) >= SHORT_SECRET:
        return text.replace(secret, REDACTED)
    return re.sub(rf"(?<![\w-]){re.escape(secret)}(?![\w-])", REDACTED, text)


def expect_array(data: Any, where: str, what: str, *, path: str, status: int | None = None) -> list[Any]:
    """`data` when NP6 answered a JSON array (no body, None, is an empty one); else the one-line
    `NP6BadResponse` "NP6 answered {where} with a JSON dict, expected an array of {what}".

    Args:
        data: the decoded body.
        where: the request as messages name it, e.g. `GET /actions/archives [start, end)`.
        what: what the array holds (`events`, `archives`...).
        path: the path requested.
        status: the HTTP status of the answer.
    """
    if data is None:
        return []
    if not isinstance(data, list):
        raise NP6BadResponse(
            f"NP6 answered {where} with a JSON {type(data).__name__}, expected an array of {what}",
            status=status,
            path=path,
        )
    return data
