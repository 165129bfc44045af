"""The closing lines of `np6 load`."""

from __future__ import annotations

import pytest

from pipelines.np6_pipeline import print_summary
from pipelines.runner import LoadSummary


@pytest.mark.parametrize(
    "waits, shown",
    [
        pytest.param({}, False, id="no-waits"),
        pytest.param({"retries": 2, "waited_seconds": 4.0, "rate_limited_waits": 6}, True, id="after-429s"),
        # the client paced itself on X-RateLimit-Remaining before any 429: still waits to report
        pytest.param({"retries": 0, "waited_seconds": 2.0, "rate_limited_waits": 3}, True, id="paced-no-429"),
    ],
)
def test_waits_are_reported_with_or_without_retries(capsys, waits, shown):
    print_summary(LoadSummary(waits=waits, seconds=1.0))
    out = capsys.readouterr().out
    assert ("Waited " in out and "rate-limit pauses" in out) is shown
