"""Soak test (not in CI): SIGKILL `np6 load` again and again under faults, then compare every id.

    python benchmarks/soak_kill.py                         # ~1M events, 10 kills, DuckDB
    python benchmarks/soak_kill.py --events 200000 --kills 10
    python benchmarks/soak_kill.py --events 200000 --kills 10 --destination postgres --dsn postgresql://...

A local NP6 sandbox (its own process) serves the account with random 5xx answers and a rate
limit. `np6 load` backfills the whole account in small commit groups into a fresh DuckDB file,
or a fresh dataset of PostgreSQL (`--dsn`, default `$NP6_TEST_POSTGRES`; dropped at the end); it
is killed with SIGKILL `--kills` times (each time re-run at once), then runs to the end. DuckDB:
at a random moment. PostgreSQL: after a random delay, at the next COPY, DELETE or INSERT of the
load that `pg_stat_activity` shows (`tests/kill.py`), while it runs or just before it commits.
Prints the faults injected, the kills survived, the rows compared, the rows lost and the
duplicates; exits 1 unless both are 0 and the last run exits 0.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import duckdb  # noqa: E402
import psycopg2  # noqa: E402

from sources.np6_sandbox import Account, AccountSpec, Faults, SandboxProcess  # noqa: E402
from tests.kill import KillPoint, kill, kill_at, start  # noqa: E402

START = datetime(2026, 6, 1, tzinfo=timezone.utc)
DAYS = 10
TABLES = {"hits": "hit", "activations": "activation", "bounces": "bounce", "cancellations": "cancellation"}
NP6 = str(Path(sys.executable).with_name("np6"))
VERBS = ("COPY", "DELETE", "INSERT")  # the load's statements a PostgreSQL kill lands in


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--events", type=int, default=1_000_000, help="events in the account (over 10 days)")
    p.add_argument("--kills", type=int, default=10, help="SIGKILLs before the last, complete run")
    p.add_argument("--error-rate", type=float, default=0.03, help="share of requests answering 503")
    p.add_argument("--rate-limit", type=int, default=6, help="requests per second before 429")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--destination", choices=("duckdb", "postgres"), default="duckdb")
    p.add_argument("--dsn", default=os.environ.get("NP6_TEST_POSTGRES"),
                   help="PostgreSQL to load (default $NP6_TEST_POSTGRES); a fresh dataset, dropped after")
    args = p.parse_args()
    if args.destination == "postgres" and not args.dsn:
        p.error("--destination postgres needs --dsn (or NP6_TEST_POSTGRES)")
    return args


class Target:
    """Where the soak loads: a fresh DuckDB file, or a fresh dataset of a PostgreSQL server."""

    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        self.args, self.db = args, work / "soak.duckdb"
        self.dataset = f"np6_soak_{uuid.uuid4().hex[:8]}" if args.destination == "postgres" else "np6"

    def options(self) -> list[str]:
        return ["--destination", "postgres", "--dataset", self.dataset] if self.postgres else []

    @property
    def postgres(self) -> bool:
        return self.args.destination == "postgres"

    def env(self) -> dict[str, str]:
        if self.postgres:
            return {"DESTINATION__POSTGRES__CREDENTIALS": self.args.dsn}
        return {"DESTINATION__DUCKDB__CREDENTIALS": str(self.db)}

    def kill(self, proc: subprocess.Popen[str], rng: random.Random) -> str | None:
        """Kill `proc` as the soak does; what it was killed at (None: it ended first)."""
        if not self.postgres:
            try:
                proc.wait(timeout=rng.uniform(3, 15))
                return None
            except subprocess.TimeoutExpired:
                kill(proc)  # with its decoding workers, as a machine dies
                return "a random moment"
        time.sleep(rng.uniform(0, 8))  # not always the first statement of a run
        point = KillPoint(rng.choice(VERBS))
        statement = kill_at(proc, self.args.dsn, self.dataset, point, timeout=120)
        return f"{point}: {statement}" if statement else None

    def loaded_ids(self) -> Counter[str]:
        ids: Counter[str] = Counter()
        if not self.postgres:
            with duckdb.connect(str(self.db), read_only=True) as con:
                for table in TABLES:
                    ids.update(r[0] for r in con.sql(f"SELECT id FROM np6.{table}").fetchall())
            return ids
        with psycopg2.connect(self.args.dsn) as con, con.cursor() as cur:
            for table in TABLES:
                cur.execute(f'SELECT id FROM "{self.dataset}"."{table}"')
                ids.update(r[0] for r in cur.fetchall())
        return ids

    def drop(self) -> None:
        """Drop the soak's PostgreSQL schemas (the dataset and its staging dataset)."""
        if self.postgres:
            with psycopg2.connect(self.args.dsn) as con, con.cursor() as cur:
                for schema in (self.dataset, f"{self.dataset}_staging"):
                    cur.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def main() -> int:
    args = parse_args()
    spec = AccountSpec(seed=args.seed, actions=20, events_per_day=args.events // DAYS, start=START, days=DAYS)
    faults = Faults(error_rate=args.error_rate, rate_limit=args.rate_limit, seed=args.seed)
    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="np6-soak-"))
    end = (START + timedelta(days=DAYS)).date().isoformat()
    target = Target(args, work)
    command = [NP6, "load", *target.options(), "--start", START.date().isoformat(), "--end", end, "--window", "6h",
               "--commit-every", "2", "--resources", "hits,activations,bounces,cancellations,executions,other_events"]
    with SandboxProcess(spec, faults) as sandbox:
        env = dict(os.environ, SOURCES__NP6__API_KEY=sandbox.api_key, SOURCES__NP6__BASE_URL=sandbox.url,
                   SOURCES__NP6__BACKOFF_BASE="0.2", DLT_DATA_DIR=str(work / "dlt"), **target.env())
        started, kills, runs = time.monotonic(), 0, 0
        while kills < args.kills and runs < 3 * args.kills + 5:  # runs that fail unkilled count too
            runs += 1
            with open(work / f"run{runs}.log", "w+") as output:
                proc = start(command, work, env, output)
                killed_at = target.kill(proc, rng)
                proc.wait()
                output.seek(0)
                last = (output.read().strip().splitlines() or [""])[-1]
            if killed_at is None:
                print(f"run {runs} finished before its kill (exit {proc.returncode}): {last}")
                if proc.returncode == 0:
                    break
                continue
            kills += 1
            print(f"run {runs}: SIGKILL {kills}/{args.kills} at {killed_at}")
        final = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True)
        runs += 1
        print(final.stdout.strip().splitlines()[-1] if final.stdout.strip() else final.stderr.strip())
        with urllib.request.urlopen(f"{sandbox.url}/_sandbox/stats") as answer:
            by_status = json.loads(answer.read())["by_status"]
    account = Account(spec)
    want = account.event_ids(spec.start_ms, spec.end_ms, types=list(TABLES.values()))
    got = target.loaded_ids()
    target.drop()
    lost = len(want - set(got))
    duplicates = sum(n - 1 for n in got.values() if n > 1)
    extra = len(set(got) - want)
    injected = {s: n for s, n in by_status.items() if s != "200"}
    print(f"faults injected:  {sum(injected.values())} answers {injected}")
    print(f"destination:      {args.destination}")
    print(f"kills survived:   {kills} (in {runs} runs, final exit {final.returncode}, "
          f"{time.monotonic() - started:.0f} s)")
    print(f"rows compared:    {len(want):,} expected, {sum(got.values()):,} loaded")
    print(f"rows lost:        {lost}")
    print(f"duplicates:       {duplicates}")
    print(f"unexpected rows:  {extra}")
    return 0 if final.returncode == 0 and lost == duplicates == extra == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
