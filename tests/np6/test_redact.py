"""Redaction hides the key and nothing else."""

from __future__ import annotations

import pytest

from sources.np6.errors import redact

LONG = "NP6-SECRET-kq83hf72ns0c"


@pytest.mark.parametrize(
    "text, secret, expected",
    [
        pytest.param("check SOURCES__NP6__API_KEY", "k", "check SOURCES__NP6__API_KEY", id="1-letter-key-in-words"),
        pytest.param("key=k&x=1", "k", "key=[redacted]&x=1", id="1-letter-key-alone"),
        pytest.param("'abc' rejected", "abc", "'[redacted]' rejected", id="short-key-quoted"),
        pytest.param("abcdef and xabcx", "abc", "abcdef and xabcx", id="short-key-inside-words"),
        pytest.param("a-abc-b abc_1", "abc", "a-abc-b abc_1", id="short-key-inside-identifiers"),
        pytest.param(f"echo {LONG}", LONG, "echo [redacted]", id="long-key"),
        pytest.param(f"x{LONG}y", LONG, "x[redacted]y", id="long-key-inside-text"),
        pytest.param("a.b (c)", ".", "a.b (c)", id="regex-characters-are-literal"),
        pytest.param("(.) here", "(.)", "[redacted] here", id="regex-characters-as-key"),
        pytest.param("nothing", "", "nothing", id="empty-secret"),
    ],
)
def test_redact(text: str, secret: str, expected: str) -> None:
    assert redact(text, secret) == expected
