"""The operator's contract: every expected failure of the real `np6` command is one line on
stderr, with the README's exit code (2 settings and arguments, 1 NP6, network, destination), no
traceback (`-v` shows one) and never the key. Read-only and full disks are real mounts: a tmpfs
in a private user and mount namespace (`unshare -rm`), so no root and no host mount is needed."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from tests.cli import NP6, CliResult
from tests.faults.helpers import END, FAST, START, assert_exact, load

KEY = "NP6-SECRET-kq83hf72ns0c"


def one_line(result: CliResult, code: int, *words: str, key: str = KEY) -> str:
    """Exit `code`, exactly one line on stderr holding every word, no traceback, no key."""
    assert result.code == code, result.output
    lines = result.err.splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith("np6: error: "), lines[0]
    assert "Traceback" not in result.output and key not in result.output
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def box(make_sandbox):
    return make_sandbox(api_key=KEY, days=2, events_per_day=300)


@pytest.fixture
def ws(box, workspace):
    return workspace(box.url, box.api_key, **FAST)


def _unshare_works() -> bool:
    if not shutil.which("unshare"):
        return False
    return subprocess.run(["unshare", "-rm", "true"], capture_output=True).returncode == 0


needs_mounts = pytest.mark.skipif(not _unshare_works(), reason="no user namespaces (unshare -rm)")


def load_on_mount(ws, mountpoint: Path, options: str, timeout: float = 300) -> CliResult:
    """`np6 load` with a fresh tmpfs mounted (`options`) on `mountpoint`, seen by np6 alone."""
    mountpoint.mkdir(exist_ok=True)
    script = f'mount -t tmpfs -o {options} tmpfs "{mountpoint}" && exec "$@"'
    args = ["load", "--start", START, "--end", END, "--resources", "hits"]
    proc = subprocess.run(["unshare", "-rm", "sh", "-c", script, "sh", NP6, *args], cwd=ws.root,
                          env=ws.env, capture_output=True, text=True, timeout=timeout)
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


@pytest.mark.parametrize(
    "env, args, words",
    [
        ({"SOURCES__NP6__API_KEY": None}, (), ("no NP6 API key", "SOURCES__NP6__API_KEY")),
        ({}, ("--destination", "nope"), ("unknown destination 'nope'", "duckdb, postgres")),
        ({"SOURCES__NP6__CONCURRENCY": "abc"}, (), ("concurrency 'abc' is not a whole number",)),
        ({"DESTINATION__POSTGRES__CREDENTIALS": None}, ("--destination", "postgres"),
         ("destination has no", "DESTINATION__POSTGRES__CREDENTIALS")),
    ],
    ids=["unset-key", "unknown-destination", "concurrency-abc", "postgres-without-dsn"],
)
def test_setting_mistakes_exit_2_with_one_line(box, ws, env, args, words):
    for name, value in env.items():
        ws.env.pop(name, None) if value is None else ws.env.update({name: value})
    one_line(load(ws, *args), 2, *words)
    assert box.server.stats()["requests"] == 0


def test_verbose_shows_the_traceback_then_the_line(ws):
    ws.env["SOURCES__NP6__CONCURRENCY"] = "abc"
    result = load(ws, "-v")
    assert result.code == 2 and "Traceback" in result.err
    assert result.err.splitlines()[-1].startswith("np6: error: setting concurrency")
    top = ws.np6("-v", "load", "--destination", "nope")
    assert top.code == 2 and "Traceback" in top.err


def test_duckdb_in_a_missing_folder(ws):
    ws.env["DESTINATION__DUCKDB__CREDENTIALS"] = str(ws.root / "missing" / "np6_data.duckdb")
    one_line(load(ws), 1, "cannot connect to the destination", "missing/np6_data.duckdb",
             "No such file or directory")


def test_corrupted_duckdb_file(ws):
    ws.duckdb.write_bytes(b"not a database" * 1000)
    one_line(load(ws), 1, str(ws.duckdb), "not a valid DuckDB database file")


@needs_mounts
def test_duckdb_on_a_read_only_mount(ws, tmp_path):
    ws.env["DESTINATION__DUCKDB__CREDENTIALS"] = str(tmp_path / "ro" / "np6_data.duckdb")
    one_line(load_on_mount(ws, tmp_path / "ro", "ro"), 1, "Read-only file system", "ro/np6_data.duckdb")


@needs_mounts
def test_duckdb_on_a_full_disk(ws, tmp_path):
    ws.env["DESTINATION__DUCKDB__CREDENTIALS"] = str(tmp_path / "full" / "np6_data.duckdb")
    one_line(load_on_mount(ws, tmp_path / "full", "size=300k"), 1, "no space left on device",
             "full/np6_data.duckdb", "run again")


@needs_mounts
def test_dlt_data_dir_on_a_full_disk(ws, tmp_path):
    ws.env["DLT_DATA_DIR"] = str(tmp_path / "full")
    one_line(load_on_mount(ws, tmp_path / "full", "size=64k"), 1, "no space left on device",
             "full/pipelines/np6", "run again")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_refused_postgres(ws):
    ws.env["DESTINATION__POSTGRES__CREDENTIALS"] = f"postgresql://np6:pw-secret@127.0.0.1:{_free_port()}/np6"
    line = one_line(load(ws, "--destination", "postgres"), 1, "cannot connect to the destination",
                    "Connection refused")
    assert "pw-secret" not in line


def test_a_one_letter_key_corrupts_no_word(box, ws):
    ws.env["SOURCES__NP6__API_KEY"] = "k"
    line = one_line(load(ws), 1, "401", "check SOURCES__NP6__API_KEY", "GET /actions/events")
    assert "[redacted]" not in line


def test_a_corrupted_local_state_is_restored_from_the_destination(box, ws):
    assert load(ws, "--commit-every", "1").code == 0
    state = Path(ws.env["DLT_DATA_DIR"]) / "pipelines" / "np6" / "state.json"
    before = json.loads(state.read_text())
    state.write_text('{"sources": {"np6"')  # cut short, as by a crash or a full disk
    result = load(ws, "--commit-every", "1")
    assert result.code == 0, result.output
    assert "Traceback" not in result.output
    warning, = result.err.splitlines()
    assert "state.json was unreadable" in warning and "restoring it from the destination" in warning
    assert json.loads(state.read_text())["sources"] == before["sources"]
    assert (state.parent.parent / "np6.state.json.unreadable").is_file()
    assert_exact(ws, box.account)


def test_version(ws):
    result = ws.np6("--version")
    assert result.code == 0 and result.out.startswith("np6 0.") and "dlt 1.31" in result.out


strace = shutil.which("strace")


@pytest.mark.skipif(strace is None, reason="strace is not installed (.ci/run installs it)")
def test_a_load_connects_to_loopback_only(box, ws, tmp_path):
    trace = tmp_path / "connect.trace"
    proc = subprocess.run([strace, "-f", "-e", "trace=connect", "-o", str(trace), NP6, "load", "--start",
                           START, "--end", END, "--resources", "hits,actions"],
                          cwd=ws.root, env=ws.env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    calls = [line for line in trace.read_text().splitlines() if "connect(" in line]
    inet = [line for line in calls if "AF_INET" in line]
    assert inet and all('inet_addr("127.0.0.1")' in line or "::1" in line for line in inet), calls
    assert not [line for line in calls if "nscd" in line or "htons(53)" in line], calls
