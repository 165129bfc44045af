"""Run a command and sample the resident memory of its whole process tree.

    run = run_sampled([sys.executable, "-c", "..."], env=env)
    run.seconds, run.peak_rss_mb, run.stdout

Every `interval` seconds the RSS of the process and of all its descendants is summed (psutil);
the report is the largest sum seen. Pages shared between a parent and its forked workers count
once per process, as `ps` would show them: an upper bound of what the tree holds.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

MB = 1024 * 1024


@dataclass
class SampledRun:
    """What one sampled command did."""

    seconds: float
    peak_rss_mb: float
    samples: int
    returncode: int
    stdout: str
    stderr: str


def tree_rss(root: psutil.Process) -> int:
    """Bytes resident in `root` and every descendant alive right now."""
    total = 0
    for proc in [root, *root.children(recursive=True)]:
        try:
            total += proc.memory_info().rss
        except psutil.Error:  # ended between the listing and the read
            pass
    return total


class _Sampler(threading.Thread):
    def __init__(self, pid: int, interval: float) -> None:
        super().__init__(daemon=True)
        self.root = psutil.Process(pid)
        self.interval = interval
        self.peak = self.samples = 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            try:
                self.peak = max(self.peak, tree_rss(self.root))
            except psutil.Error:
                return
            self.samples += 1
            self.done.wait(self.interval)


def run_sampled(argv: Sequence[str], *, env: Mapping[str, str] | None = None, cwd: str | Path | None = None,
                interval: float = 0.05) -> SampledRun:  # fmt: skip
    """Run `argv` to its end, timing it and sampling its tree's RSS; stdout/stderr are captured."""
    began = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sampler = _Sampler(proc.pid, interval)
    sampler.start()
    stdout, stderr = proc.communicate()
    seconds = time.perf_counter() - began
    sampler.done.set()
    sampler.join()
    return SampledRun(seconds, sampler.peak / MB, sampler.samples, proc.returncode, stdout, stderr)
