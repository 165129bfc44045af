"""NP6Client against `httpx.MockTransport` with an injected clock and sleep: no network, no waiting.

Only the unreachable-host test opens a socket, to a closed port on 127.0.0.1.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from email.utils import formatdate
from typing import Any

import httpx
import pytest

from sources.np6.client import Fetched, NP6Client
from sources.np6.errors import (
    NP6AuthError,
    NP6BadResponse,
    NP6ConfigError,
    NP6Error,
    NP6HTTPError,
    NP6NotFound,
    NP6RateLimited,
    NP6ServerError,
    NP6Unreachable,
)

KEY = "np6-TEST-KEY-7f3a9c51e2"
BASE = "https://np6.example.test/api"
PATH = "/actions/events"
WINDOW = "[2026-10-01T00:00:00Z, 2026-10-02T00:00:00Z)"
WALL_START = 1_790_812_800.0  # 2026-10-01T00:00:00Z

Handler = Callable[[httpx.Request], httpx.Response]


class FakeTime:
    """A monotonic clock, a wall clock and a sleep that records instead of waiting.

    With `advance=True` sleeping moves both clocks; with False time stands still, which makes
    "a request sent while a pause is on" reproducible.
    """

    def __init__(self, *, advance: bool = True) -> None:
        self.now = 1000.0
        self.advance = advance
        self.sleeps: list[float] = []
        self.events: list[tuple[str, Any]] = []
        self.on_first_sleep: Callable[[], None] | None = None
        self._lock = threading.Lock()

    def sleep(self, seconds: float) -> None:
        hook, self.on_first_sleep = self.on_first_sleep, None
        if hook is not None:
            hook()
        with self._lock:
            self.sleeps.append(round(seconds, 6))
            self.events.append(("sleep", round(seconds, 6)))
            if self.advance:
                self.now += seconds

    def clock(self) -> float:
        return self.now

    def wall(self) -> float:
        return WALL_START + self.now - 1000.0


class Script:
    """A transport handler that plays answers in order (the last one repeats) and records requests.

    An answer is a status code, `(status, headers)`, `(status, headers, body)`, or an httpx
    transport error class to raise.
    """

    def __init__(self, *answers: Any, time_: FakeTime | None = None) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []
        self.time = time_

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.time is not None:
            self.time.events.append(("request", request.url.path))
        answer = self.answers[min(len(self.requests), len(self.answers)) - 1]
        return respond(answer, request)


def respond(answer: Any, request: httpx.Request) -> httpx.Response:
    """Turn a `Script` answer into a fresh response (or raise it)."""
    if isinstance(answer, type) and issubclass(answer, httpx.RequestError):
        raise answer("simulated", request=request)
    parts = (answer,) if isinstance(answer, int) else tuple(answer)
    status, headers, body = parts + (None, {}, b"[]")[len(parts):]
    return httpx.Response(status, headers=headers, content=body)


def make_client(handler: Handler, time_: FakeTime | None = None, **settings: Any) -> NP6Client:
    """A client on a mock transport with fake time and deterministic jitter (rand = 1)."""
    fake = time_ or FakeTime()
    options: dict[str, Any] = {"sleep": fake.sleep, "clock": fake.clock, "wall_clock": fake.wall,
                               "rand": lambda: 1.0, "transport": httpx.MockTransport(handler)}
    options.update(settings)
    return NP6Client(BASE, KEY, **options)


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- requests and success -------------------------------------------------------------------


def test_sends_the_key_in_a_header_only() -> None:
    script = Script(200)
    with make_client(script) as client:
        client.get(PATH, {"start": "2026-10-01T00:00:00Z", "sort": "asc"})
    request = script.requests[0]
    assert request.headers["X-Key"] == KEY
    assert request.headers["Accept"].startswith("application/json")
    assert "np6-dlt-connector" in request.headers["User-Agent"]
    assert str(request.url) == f"{BASE}{PATH}?start=2026-10-01T00%3A00%3A00Z&sort=asc"
    assert KEY not in str(request.url)


def test_get_json_returns_the_parsed_body_and_what_it_took() -> None:
    body = b'[{"id": "e1", "timestamp": 1790812800000}]'
    client = make_client(Script((200, {"content-type": "application/json"}, body)))
    data, fetched = client.get_json(PATH, context=WINDOW)
    assert data == [{"id": "e1", "timestamp": 1790812800000}]
    assert fetched == Fetched(body=body, status=200, content_type="application/json", requests=1,
                              retries=0, waited=0.0, seconds=0.0)


def test_204_gives_none() -> None:
    data, fetched = make_client(Script((204, {}, b""))).get_json("/targets/redlist/mail")
    assert data is None and fetched.status == 204


def test_vendor_json_content_type_is_parsed() -> None:
    client = make_client(Script((200, {"content-type": "application/vnd.np6.cm.mail.archive"}, b"[1]")))
    assert client.get_json("/actions/archives")[0] == [1]


# --- errors that stop at once ---------------------------------------------------------------


def test_401_raises_auth_error_after_one_request() -> None:
    script = Script(401)
    with pytest.raises(NP6AuthError) as raised:
        make_client(script).get_json(PATH, context=WINDOW)
    assert str(raised.value) == (f"NP6 rejected the API key (401 Unauthorized) on GET {PATH} {WINDOW}: "
                                 "check SOURCES__NP6__API_KEY")
    assert (raised.value.status, raised.value.path, len(script.requests)) == (401, PATH, 1)


def test_403_raises_auth_error_about_rights() -> None:
    script = Script((403, {"x-request-id": "req-42"}))
    with pytest.raises(NP6AuthError, match=r"403 Forbidden.*lacks the rights.*x-request-id req-42"):
        make_client(script).get("/subscriptions/1")
    assert len(script.requests) == 1


def test_404_raises_not_found() -> None:
    script = Script(404)
    with pytest.raises(NP6NotFound, match=r"^NP6 answered 404 Not Found on GET /actions/000PE4 \(detail\)"):
        make_client(script).get("/actions/000PE4", context="detail")
    assert len(script.requests) == 1


def test_other_4xx_raises_http_error_with_an_excerpt() -> None:
    script = Script((400, {}, b'{"message": "invalid\\ndate"}\n'))
    with pytest.raises(NP6HTTPError) as raised:
        make_client(script).get(PATH, context=WINDOW)
    assert type(raised.value) is NP6HTTPError
    assert raised.value.status == 400
    expected = f'NP6 answered 400 Bad Request on GET {PATH} {WINDOW}: {{"message": "invalid\\ndate"}}'
    assert str(raised.value) == expected
    assert len(script.requests) == 1


def test_redirect_is_not_followed() -> None:
    script = Script((301, {"location": "https://elsewhere.test/"}))
    with pytest.raises(NP6HTTPError, match="301 Moved Permanently.*redirects are not followed"):
        make_client(script).get(PATH)
    assert len(script.requests) == 1


# --- 429 ------------------------------------------------------------------------------------


def test_429_with_retry_after_waits_that_long(caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeTime()
    client = make_client(Script((429, {"Retry-After": "2"}), 200), fake)
    with caplog.at_level(logging.WARNING, logger="np6.client"):
        _, fetched = client.get_json(PATH, context=WINDOW)
    assert fake.sleeps == [2.0]
    assert (fetched.requests, fetched.retries, fetched.waited) == (2, 1, 2.0)
    assert caplog.messages == [f"429 on GET {PATH} {WINDOW}: waiting 2.0 s (Retry-After), attempt 2/6"]
    assert client.stats["rate_limited_waits"] == 1


def test_429_with_retry_after_as_http_date() -> None:
    fake = FakeTime()
    headers = {"Date": formatdate(fake.wall(), usegmt=True),
               "Retry-After": formatdate(fake.wall() + 7, usegmt=True)}
    make_client(Script((429, headers), 200), fake).get(PATH)
    assert fake.sleeps == [7.0]


@pytest.mark.parametrize(
    "reset",
    [pytest.param("5", id="delta-seconds"), pytest.param(str(int(WALL_START) + 5), id="epoch-seconds"),
     pytest.param(str(int(WALL_START * 1000) + 5000), id="epoch-ms")],
)
def test_429_with_only_ratelimit_reset(reset: str) -> None:
    fake = FakeTime()
    script = Script((429, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset}), 200)
    make_client(script, fake).get(PATH)
    assert fake.sleeps == [5.0]


def test_ratelimit_reset_in_the_past_means_no_wait() -> None:
    fake = FakeTime()
    make_client(Script((429, {"X-RateLimit-Reset": str(int(WALL_START) - 30)}), 200), fake).get(PATH)
    assert fake.sleeps == []


def test_429_without_headers_backs_off_exponentially() -> None:
    fake = FakeTime()
    script = Script(429, 429, 429, 200)
    _, fetched = make_client(script, fake, backoff_base=0.5).get_json(PATH)
    assert fake.sleeps == [0.5, 1.0, 2.0]
    assert fetched.requests == 4


def test_single_wait_is_capped_at_max_wait(caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeTime()
    with caplog.at_level(logging.WARNING, logger="np6.client"):
        make_client(Script((429, {"Retry-After": "3600"}), 200), fake, max_wait=30).get(PATH)
    assert fake.sleeps == [30.0]
    assert "capped at max_wait" in caplog.text


def test_total_rate_limit_wait_is_capped_over_the_client_life() -> None:
    fake = FakeTime()
    script = Script((429, {"Retry-After": "4"}))
    client = make_client(script, fake, max_total_wait=10, max_attempts=20)
    with pytest.raises(NP6RateLimited) as raised:
        client.get(PATH, context=WINDOW)
    assert fake.sleeps == [4.0, 4.0]
    assert len(script.requests) == 3
    message = str(raised.value)
    assert message.startswith(f"NP6 kept answering 429 Too Many Requests on GET {PATH} {WINDOW}")
    assert "pauses already total 8 s" in message and "max_total_wait=10 s" in message
    assert raised.value.status == 429
    with pytest.raises(NP6RateLimited):  # the budget is the client's, not the call's
        client.get(PATH)
    assert len(script.requests) == 4


def test_429_forever_gives_up_after_max_attempts() -> None:
    script = Script((429, {"Retry-After": "0"}))
    with pytest.raises(NP6RateLimited, match="gave up after 3 attempts"):
        make_client(script, max_attempts=3).get(PATH)
    assert len(script.requests) == 3


def test_429_pauses_every_thread() -> None:
    fake = FakeTime(advance=False)  # time stands still: the pause is still on for later requests
    script = Script((429, {"Retry-After": "5"}), (200, {"Retry-After": "5"}))
    client = make_client(script, fake)
    client.get("/a")
    other = threading.Thread(target=client.get, args=("/b",))
    other.start()
    other.join()
    assert fake.sleeps == [5.0, 5.0]  # the caller of /a, then the other thread before /b
    assert [r.url.path for r in script.requests] == ["/api/a", "/api/a", "/api/b"]


def test_a_pause_extended_during_a_wait_is_waited_out_too() -> None:
    fake = FakeTime(advance=False)
    script = Script((429, {"Retry-After": "5"}), (429, {"Retry-After": "20"}), 200, 200)
    client = make_client(script, fake, concurrency=2)

    def another_thread_meets_a_longer_429() -> None:
        other = threading.Thread(target=client.get, args=("/other",))
        other.start()
        other.join()

    fake.on_first_sleep = another_thread_meets_a_longer_429
    _, fetched = client.get_json(PATH)
    assert fetched.waited == 25.0  # 5 s asked first, then the pause the other thread extended to 20 s
    assert [r.url.path for r in script.requests] == ["/api" + PATH, "/api/other", "/api/other", "/api" + PATH]


# --- the rate budget ------------------------------------------------------------------------


def test_low_remaining_makes_the_next_request_wait_for_the_reset() -> None:
    fake = FakeTime()
    script = Script((200, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "7"}), 200, time_=fake)
    client = make_client(script, fake, concurrency=1)
    client.get("/first")
    _, fetched = client.get_json("/second")
    assert fake.events == [("request", "/api/first"), ("sleep", 7.0), ("request", "/api/second")]
    assert fetched.waited == 7.0
    assert client.stats["rate_limited_waits"] == 1


@pytest.mark.parametrize(("remaining", "waits"), [("3", [7.0]), ("4", []), ("50", [])])
def test_budget_floor_is_the_concurrency(remaining: str, waits: list[float]) -> None:
    fake = FakeTime()
    client = make_client(Script((200, {"X-RateLimit-Remaining": remaining, "X-RateLimit-Reset": "7"})), fake)
    client.get("/first")
    client.get("/second")
    assert fake.sleeps == waits


def test_budget_pause_is_capped_at_max_wait() -> None:
    fake = FakeTime()
    headers = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(WALL_START) + 3600)}
    client = make_client(Script((200, headers), 200), fake, max_wait=60)
    client.get("/first")
    client.get("/second")
    assert fake.sleeps == [60.0]


def test_concurrency_limit_is_honoured_across_threads() -> None:
    lock, full = threading.Lock(), threading.Event()
    in_flight, peak = 0, 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        with lock:
            in_flight += 1
            peak = max(peak, in_flight)
            if in_flight == 3:
                full.set()
        full.wait(timeout=1.0)  # hold the first requests until the limit is reached
        time.sleep(0.002)
        with lock:
            in_flight -= 1
        return httpx.Response(200, content=b"[]")

    client = make_client(handler, concurrency=3)
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda i: client.get_json(f"/n/{i}")[0], range(24)))
    assert results == [[]] * 24
    assert peak == 3
    assert client.stats["requests"] == 24


# --- 5xx, timeouts, broken connections, bad bodies ------------------------------------------


def test_5xx_then_success() -> None:
    fake = FakeTime()
    _, fetched = make_client(Script(503, 502, 200), fake).get_json(PATH)
    assert fake.sleeps == [1.0, 2.0]
    assert (fetched.requests, fetched.retries, fetched.waited) == (3, 2, 3.0)


def test_5xx_forever_raises_server_error_after_max_attempts() -> None:
    script = Script((500, {"x-request-id": "abc-1"}))
    with pytest.raises(NP6ServerError) as raised:
        make_client(script, max_attempts=4).get(PATH, context=WINDOW)
    assert len(script.requests) == 4
    assert str(raised.value) == (f"NP6 answered 500 Internal Server Error on GET {PATH} {WINDOW} "
                                 "(x-request-id abc-1): gave up after 4 attempts and 7.0 s of waiting")
    assert raised.value.status == 500


def test_backoff_is_capped_and_jittered() -> None:
    fake = FakeTime()
    with pytest.raises(NP6ServerError):
        make_client(Script(500), fake, backoff_base=10, backoff_max=15, max_attempts=4,
                    rand=lambda: 0.5).get(PATH)
    assert fake.sleeps == [5.0, 7.5, 7.5]


def test_503_retry_after_is_honoured_for_that_thread() -> None:
    fake = FakeTime()
    make_client(Script((503, {"Retry-After": "9"}), 200), fake).get(PATH)
    assert fake.sleeps == [9.0]


@pytest.mark.parametrize("error", [httpx.ReadTimeout, httpx.WriteTimeout, httpx.PoolTimeout,
                                   httpx.ReadError, httpx.RemoteProtocolError])
def test_timeouts_and_transport_errors_are_retried(error: type[Exception]) -> None:
    script = Script(error, 200)
    _, fetched = make_client(script).get_json(PATH)
    assert fetched.requests == 2


def test_timeouts_forever_raise_server_error() -> None:
    with pytest.raises(NP6ServerError, match=r"^no answer within 60 s \(ReadTimeout\) on GET /actions"):
        make_client(Script(httpx.ReadTimeout), max_attempts=2).get(PATH)


def test_connect_errors_then_5xx_are_a_server_error_not_unreachable() -> None:
    client = make_client(Script(200, httpx.ConnectError, 502), max_attempts=2)
    client.get(PATH)  # the host answered once: later connect errors are blips to retry
    with pytest.raises(NP6ServerError):
        client.get(PATH)


def test_connect_error_after_an_answer_is_retried() -> None:
    script = Script(200, httpx.ConnectError, 200)
    client = make_client(script, max_attempts=3)
    client.get(PATH)
    assert client.get(PATH).retries == 1


def test_html_200_is_retried_then_bad_response() -> None:
    page = b"<html>\n<head><title>502 Bad Gateway</title></head>\n<body>" + b"x" * 500 + b"</body></html>"
    script = Script((200, {"content-type": "text/html"}, page))
    with pytest.raises(NP6BadResponse) as raised:
        make_client(script, max_attempts=3).get_json(PATH, context=WINDOW)
    message = str(raised.value)
    assert len(script.requests) == 3
    assert "\n" not in message
    assert message.startswith(f"NP6 answered 200 OK with a body that is not JSON on GET {PATH} {WINDOW} "
                              "(content-type text/html; body '<html> <head><title>502 Bad Gateway")
    excerpt = message.split("body '")[1].split("'")[0]
    assert len(excerpt) <= 80 and excerpt.endswith("…")
    assert message.endswith("gave up after 3 attempts and 3.0 s of waiting")


def test_truncated_json_is_retried_then_parsed() -> None:
    script = Script((200, {}, b'[{"id": "e1"'), (200, {}, b'[{"id": "e1"}]'))
    data, fetched = make_client(script).get_json(PATH)
    assert data == [{"id": "e1"}] and fetched.requests == 2


def test_get_does_not_parse() -> None:
    assert make_client(Script((200, {}, b"<html>"))).get(PATH).body == b"<html>"


# --- an unreachable host --------------------------------------------------------------------


def test_unreachable_host_raises_quickly() -> None:
    port = closed_port()
    fake = FakeTime()
    client = NP6Client(f"http://127.0.0.1:{port}", KEY, max_attempts=3, sleep=fake.sleep, clock=fake.clock)
    started = time.monotonic()
    with pytest.raises(NP6Unreachable) as raised:
        client.get("/actions")
    assert time.monotonic() - started < 2
    assert str(raised.value) == (f"cannot reach NP6 at http://127.0.0.1:{port} (connection refused) on "
                                 "GET /actions: the host never answered: check base_url "
                                 "(SOURCES__NP6__BASE_URL)")
    assert raised.value.status is None and fake.sleeps == []  # a host never reached is not retried


# --- settings -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "base_url", ["api-cm.np6.com", "ftp://api-cm.np6.com", "https://", "", None, "http//x"]
)
def test_base_url_must_be_http(base_url: Any) -> None:
    with pytest.raises(NP6ConfigError, match="is not an http\\(s\\) URL") as raised:
        NP6Client(base_url, KEY)
    assert repr(base_url) in str(raised.value)


@pytest.mark.parametrize("api_key", ["", "   ", None])
def test_api_key_is_required(api_key: Any) -> None:
    with pytest.raises(NP6ConfigError) as raised:
        NP6Client(BASE, api_key)
    assert str(raised.value) == "no NP6 API key: set SOURCES__NP6__API_KEY or api_key in .dlt/secrets.toml"


def test_api_key_must_fit_in_a_header() -> None:
    with pytest.raises(NP6ConfigError, match="spaces, control or non-ASCII") as raised:
        NP6Client(BASE, "abc\ndef")
    assert "abc" not in str(raised.value)


@pytest.mark.parametrize("setting", [{"concurrency": 0}, {"max_attempts": 0}, {"timeout": 0},
                                     {"max_wait": -1}, {"concurrency": 1.5}])
def test_settings_out_of_range(setting: dict[str, Any]) -> None:
    with pytest.raises(NP6ConfigError, match=f"^{next(iter(setting))}="):
        NP6Client(BASE, KEY, **setting)


def test_full_urls_are_refused_as_paths() -> None:
    script = Script(200)
    with pytest.raises(ValueError, match="relative to base_url"):
        make_client(script).get("https://elsewhere.test/steal")
    assert script.requests == []


def test_stats_add_up() -> None:
    client = make_client(Script(503, (429, {"Retry-After": "2"}), 200))
    client.get(PATH)
    client.get(PATH)
    assert client.stats == {"requests": 4, "retries": 2, "rate_limited_waits": 1,
                            "waited_seconds": 3.0, "rate_limited_seconds": 2.0}


# --- the key never leaks --------------------------------------------------------------------

ECHO = f"<html>bad key {KEY}</html>".encode()

LEAK_SCENARIOS: dict[str, tuple[Any, ...]] = {
    "401": (401,),
    "403": (403,),
    "404": (404,),
    "400-echoing-the-key": ((400, {}, f'{{"error": "key {KEY} invalid"}}'.encode()),),
    "html-200-echoing-the-key": ((200, {"content-type": "text/html"}, ECHO),),
    "500": (500,),
    "429-budget": ((429, {"Retry-After": "100"}),),
    "transport": (httpx.RemoteProtocolError,),
}


def _all_text(error: BaseException) -> str:
    """Everything an operator could see of an error: message, repr, traceback, chain."""
    parts = [str(error), repr(error), "".join(traceback.format_exception(error))]
    for linked in (error.__cause__, error.__context__):
        if linked is not None:
            parts += [str(linked), repr(linked)]
    return "\n".join(parts)


def _failure(call: Callable[[], Any]) -> NP6Error:
    with pytest.raises(NP6Error) as raised:
        call()
    return raised.value


@pytest.mark.parametrize("name", list(LEAK_SCENARIOS))
def test_key_never_in_messages_or_logs(name: str, caplog: pytest.LogCaptureFixture) -> None:
    client = make_client(Script(*LEAK_SCENARIOS[name]), max_attempts=3, max_total_wait=150)
    with caplog.at_level(logging.DEBUG):
        error = _failure(lambda: client.get_json(PATH, context=WINDOW))
    assert "\n" not in str(error)
    assert KEY not in _all_text(error)
    assert caplog.records, "the scenario should have logged something"
    for record in caplog.records:
        assert KEY not in record.getMessage()
        assert KEY not in repr(record.args)
    assert KEY not in caplog.text


def test_key_never_in_unreachable_message_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    client = NP6Client(f"http://127.0.0.1:{closed_port()}", KEY, max_attempts=2, sleep=lambda s: None)
    with caplog.at_level(logging.DEBUG):
        error = _failure(lambda: client.get(PATH, context=WINDOW))
    assert KEY not in _all_text(error)
    assert KEY not in caplog.text


def test_echoed_key_is_redacted_from_the_excerpt() -> None:
    error = _failure(lambda: make_client(Script(*LEAK_SCENARIOS["400-echoing-the-key"])).get(PATH))
    assert "[redacted]" in str(error)


def test_key_never_in_config_errors() -> None:
    error = _failure(lambda: NP6Client(f"ftp://{KEY}@np6.test", KEY))
    assert KEY not in str(error)

