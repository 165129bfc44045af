"""Soak test (not in CI): SIGKILL `np6 load` again and again under faults, then compare every id.

    python benchmarks/soak_kill.py                         # ~1M events, 10 kills
    python benchmarks/soak_kill.py --events 200000 --kills 10

A local NP6 sandbox (its own process) serves the account with random 5xx answers and a rate
limit. `np6 load` backfills the whole account into a fresh DuckDB file in small commit groups;
it is killed with SIGKILL at a random moment `--kills` times (each time re-run at once), then
runs to the end. Prints the faults injected, the kills survived, the rows compared, the rows
lost and the duplicates; exits 1 unless both are 0.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import duckdb  # noqa: E402

from sources.np6_sandbox import Account, AccountSpec, Faults, SandboxProcess  # noqa: E402

START = datetime(2026, 6, 1, tzinfo=timezone.utc)
DAYS = 10
TABLES = {"hits": "hit", "activations": "activation", "bounces": "bounce", "cancellations": "cancellation"}
NP6 = str(Path(sys.executable).with_name("np6"))


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--events", type=int, default=1_000_000, help="events in the account (over 10 days)")
    p.add_argument("--kills", type=int, default=10, help="SIGKILLs before the last, complete run")
    p.add_argument("--error-rate", type=float, default=0.03, help="share of requests answering 503")
    p.add_argument("--rate-limit", type=int, default=6, help="requests per second before 429")
    p.add_argument("--seed", type=int, default=1)
    return p.parse_args()


def loaded_ids(db: Path) -> Counter[str]:
    with duckdb.connect(str(db), read_only=True) as con:
        ids: Counter[str] = Counter()
        for table in TABLES:
            ids.update(r[0] for r in con.sql(f"SELECT id FROM np6.{table}").fetchall())
        return ids


def main() -> int:
    args = parse_args()
    spec = AccountSpec(seed=args.seed, actions=20, events_per_day=args.events // DAYS, start=START, days=DAYS)
    faults = Faults(error_rate=args.error_rate, rate_limit=args.rate_limit, seed=args.seed)
    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="np6-soak-"))
    end = (START + timedelta(days=DAYS)).date().isoformat()
    command = [NP6, "load", "--start", START.date().isoformat(), "--end", end, "--window", "6h",
               "--commit-every", "2", "--resources", "hits,activations,bounces,cancellations,executions,other_events"]
    with SandboxProcess(spec, faults) as sandbox:
        env = dict(os.environ, SOURCES__NP6__API_KEY=sandbox.api_key, SOURCES__NP6__BASE_URL=sandbox.url,
                   SOURCES__NP6__BACKOFF_BASE="0.2", DESTINATION__DUCKDB__CREDENTIALS=str(work / "soak.duckdb"),
                   DLT_DATA_DIR=str(work / "dlt"))
        started, kills, runs = time.monotonic(), 0, 0
        while kills < args.kills:
            errors = open(work / f"run{runs + 1}.err", "w+")
            proc = subprocess.Popen(command, cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=errors,
                                    start_new_session=True)
            runs += 1
            try:
                proc.wait(timeout=rng.uniform(3, 15))
                errors.seek(0)
                last = (errors.read().strip().splitlines() or [""])[-1]
                print(f"run {runs} finished before its kill (exit {proc.returncode}): {last}")
                if proc.returncode == 0:
                    break
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)  # with its decoding workers, as a machine dies
                proc.wait()
                kills += 1
                print(f"run {runs}: SIGKILL {kills}/{args.kills}")
        final = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True)
        runs += 1
        print(final.stdout.strip().splitlines()[-1] if final.stdout.strip() else final.stderr.strip())
        with urllib.request.urlopen(f"{sandbox.url}/_sandbox/stats") as answer:
            by_status = json.loads(answer.read())["by_status"]
    account = Account(spec)
    want = account.event_ids(spec.start_ms, spec.end_ms, types=list(TABLES.values()))
    got = loaded_ids(work / "soak.duckdb")
    lost = len(want - set(got))
    duplicates = sum(n - 1 for n in got.values() if n > 1)
    extra = len(set(got) - want)
    injected = {s: n for s, n in by_status.items() if s != "200"}
    print(f"faults injected:  {sum(injected.values())} answers {injected}")
    print(f"kills survived:   {kills} (in {runs} runs, final exit {final.returncode}, "
          f"{time.monotonic() - started:.0f} s)")
    print(f"rows compared:    {len(want):,} expected, {sum(got.values()):,} loaded")
    print(f"rows lost:        {lost}")
    print(f"duplicates:       {duplicates}")
    print(f"unexpected rows:  {extra}")
    return 0 if final.returncode == 0 and lost == duplicates == extra == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
