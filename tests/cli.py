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
