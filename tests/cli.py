"""Running the real `np6` command from tests: the installed console script and its result."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

NP6 = shutil.which("np6", path=os.path.dirname(sys.executable)) or "np6"


@dataclass
class CliResult:
    """Exit code and output of one `np6` run."""

    code: int
    out: str
    err: str

    @property
    def output(self) -> str:
        return self.out + self.err


def run_np6(args: list[str], *, cwd: Path, env: dict[str, str], timeout: float = 300) -> CliResult:
    """Run `np6 ARGS` in `cwd` with exactly `env`, as a scheduled job would."""
    proc = subprocess.run([NP6, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


def job_env(url: str, api_key: str, dlt_data_dir: Path, **settings: str) -> dict[str, str]:
    """The environment of a scheduled `np6` job: this process's, minus any NP6 or destination
    setting it may carry, plus the sandbox's URL and key, dlt's data dir and `settings`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCES__", "DESTINATION__"))}
    env.update(SOURCES__NP6__API_KEY=api_key, SOURCES__NP6__BASE_URL=url,
               DLT_DATA_DIR=str(dlt_data_dir), **settings)
    return env
