"""`np6 report` end to end: a default `np6 load` of the sandbox, then `np6 report`, opened in a
headless Chromium (installed by `.ci/chromium.sh`) whose screenshot must not be blank."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run")  # fmt: skip


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    proc = subprocess.run([str(REPO / ".ci" / "chromium.sh")], capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f".ci/chromium.sh failed:\n{proc.stderr}"
    return proc.stdout.strip().splitlines()[-1]


def png_colours(path: Path) -> int:
    """How many distinct pixel values an 8-bit RGB(A) PNG holds (1: a blank page)."""
    data, chunks, pos = path.read_bytes(), [], 8
    width = height = colour_type = 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, _, colour_type = struct.unpack(">IIBB", body[:10])
        elif kind == b"IDAT":
            chunks.append(body)
        pos += 12 + length
    raw, channels = zlib.decompress(b"".join(chunks)), 4 if colour_type == 6 else 3
    stride = width * channels + 1
    rows = [raw[r * stride + 1:(r + 1) * stride] for r in range(0, height, 7)]  # every 7th row
    return len({row[i:i + channels] for row in rows for i in range(0, len(row), channels * 5)})


def test_load_then_report_renders_offline(sandbox, workspace, tmp_path):
    ws = workspace(sandbox.url, sandbox.api_key, SOURCES__NP6__START_DATE="2026-10-01")
    assert ws.np6("load", "--end", "2026-10-02").code == 0  # a default load of one day
    result = ws.np6("report", "--out", "report.html")
    assert result.code == 0, result.output
    page = ws.root / "report.html"
    text = page.read_text()
    for title in ("Sends, opens and clicks per day", "Human vs robot opens", "Top actions", "Top links",
                  "Bounces", "Deliverability by domain", "Open delay"):
        assert title in text
    assert text.count("<svg") == 6
    assert not re.search(r"""(src|href)=["']?(https?:|//)|<script|<link|@import""", text)  # nothing to fetch
    shot = tmp_path / "report.png"
    proc = subprocess.run([chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'chrome'}",
                           "--window-size=1280,2400", f"--screenshot={shot}", page.as_uri()],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 0 and shot.exists(), proc.stderr
    assert png_colours(shot) > 50  # charts and text, not a blank page


@pytest.mark.parametrize("since", ["2026-13-01"])
def test_report_refuses_a_bad_date(sandbox, workspace, since):
    ws = workspace(sandbox.url, sandbox.api_key)
    result = ws.np6("report", "--since", since)
    assert result.code == 2 and "--since" in result.err
