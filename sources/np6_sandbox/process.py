"""The sandbox in a child process: for benchmarks and anything that should not share a GIL.

A `SandboxServer` started in the test's own process answers from a thread of that process, so
generating and rendering events competes with the client for one interpreter lock. A benchmark
of the connector should run the sandbox next to it instead:

    with SandboxProcess(AccountSpec(events_per_day=300_000, days=30)) as sandbox:
        run_connector(base_url=sandbox.url, api_key=sandbox.api_key)
"""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
from pathlib import Path

from .data import AccountSpec
from .faults import Faults

_PROJECT_ROOT = Path(__file__).resolve().parents[2]
_URL = re.compile(r"on (http://\S+)")


def command_line(spec: AccountSpec, faults: Faults | None = None, *, host: str = "127.0.0.1",
                 port: int = 0, cache_mb: float = 512, read_ahead: bool = True) -> list[str]:  # fmt: skip
    """The `python -m sources.np6_sandbox` options that serve `spec` with `faults`."""
    f = faults or Faults()
    args = [
        "--host", host, "--port", str(port), "--cache-mb", str(cache_mb),
        "--seed", str(spec.seed), "--actions", str(spec.actions),
        "--events-per-day", str(spec.events_per_day), "--start", spec.start.isoformat(),
        "--days", str(spec.days), "--api-key", spec.api_key,
        "--rate-window", str(f.rate_window_s), "--error-rate", str(f.error_rate),
        "--error-status", str(f.error_status), "--fail-first", str(f.fail_first),
        "--latency-ms", str(f.latency_ms), "--fault-seed", str(f.seed),
    ]  # fmt: skip
    if f.rate_limit is not None:
        args += ["--rate-limit", str(f.rate_limit)]
    args += ["--no-rate-headers"] * (not f.rate_headers) + ["--no-retry-after"] * (not f.retry_after)
    return args + ["--no-read-ahead"] * (not read_ahead)


class SandboxProcess:
    """`python -m sources.np6_sandbox` as a child process; `.url` once started."""

    def __init__(self, spec: AccountSpec | None = None, faults: Faults | None = None, *,
                 host: str = "127.0.0.1", port: int = 0, cache_mb: float = 512,
                 read_ahead: bool = True, startup_timeout: float = 30.0) -> None:  # fmt: skip
        self.spec = spec or AccountSpec()
        options = command_line(self.spec, faults, host=host, port=port, cache_mb=cache_mb,
                               read_ahead=read_ahead)  # fmt: skip
        self.argv = [sys.executable, "-m", "sources.np6_sandbox", *options]
        self.startup_timeout = startup_timeout
        self.url = ""
        self._proc: subprocess.Popen[str] | None = None

    @property
    def api_key(self) -> str:
        return self.spec.api_key

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1]) if self.url else 0

    def start(self) -> SandboxProcess:
        """Start the child and wait for the line announcing its URL."""
        path = os.pathsep.join(filter(None, [str(_PROJECT_ROOT), os.environ.get("PYTHONPATH")]))
        env = dict(os.environ, PYTHONPATH=path)
        self._proc = subprocess.Popen(self.argv, cwd=_PROJECT_ROOT, env=env, stdout=subprocess.PIPE,
                                      text=True)  # fmt: skip
        assert self._proc.stdout is not None
        ready, _, _ = select.select([self._proc.stdout], [], [], self.startup_timeout)
        line = self._proc.stdout.readline() if ready else ""
        found = _URL.search(line)
        if not found:
            self.stop()
            raise RuntimeError(f"the sandbox did not start: {line.strip() or 'no output'}")
        self.url = found.group(1)
        return self

    def stop(self) -> None:
        """Ctrl-C the child, then kill it if it does not stop within five seconds."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        finally:
            if proc.stdout:
                proc.stdout.close()

    def __enter__(self) -> SandboxProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
