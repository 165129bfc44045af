"""Parsers of recipient export bodies, JSON or CSV, streamed: byte chunks in, records out (pure).

NP6 documents no body for its export operations (np6-api.md §3.10: "No Content"), so
`export_records` reads what comes by its content type: a JSON array, split into top-level elements
as the chunks arrive and parsed with orjson a batch at a time (`json_batches`), or CSV, `;` or
`,` told apart by the header (`text_lines`, `csv_records`). A record is one exported row as
(column name, value) pairs; `exports.py` maps the columns and builds the rows.
"""

from __future__ import annotations

import codecs
import csv
import itertools
from collections.abc import Iterable, Iterator
from typing import Any

import orjson


Record = Iterable[tuple[str, Any]]  # one exported row as (column name, value) pairs
JSON_PARSE_BYTES = 1 << 20  # bytes of a JSON array gathered before parsing them in one go

# --- pure: streamed bodies ------------------------------------------------------------------

_SPACE = b" \t\r\n"
_BOM = codecs.BOM_UTF8


def _content(head: bytes) -> bytes | None:
    """What follows the BOM and blanks at the start of a body; None while that is not known yet."""
    if _BOM.startswith(head):  # a BOM, or the first bytes of one
        return None
    return head.removeprefix(_BOM).lstrip(_SPACE) or None


def nonblank(chunks: Iterable[bytes]) -> Iterator[bytes] | None:
    """The body's chunks from its start on, or None for an empty or blank body."""
    iterator, head = iter(chunks), b""
    for chunk in iterator:
        head += chunk
        if _content(head) is not None:
            return itertools.chain([head], iterator)
    return None


def json_batches(chunks: Iterable[bytes], parse_bytes: int = JSON_PARSE_BYTES) -> Iterator[list[Any]]:
    """The elements of a JSON array body, a list per ~`parse_bytes` read, as the bytes arrive.

    Splits only at a `}` followed by `,` that orjson confirms ends a top-level element, so
    chunks may break anywhere (inside strings, escapes, multi-byte characters). A body cut off
    or not an array raises ValueError; an array of non-objects is read whole.
    """
    iterator = iter(chunks)
    buffer = _after_bracket(iterator)
    threshold, cut_once = parse_bytes, False
    for chunk in iterator:
        buffer += chunk
        if len(buffer) < threshold:
            continue
        cut = _cut(buffer)
        if cut is None:  # no split point yet (one huge element): wait for twice as much
            threshold = 2 * len(buffer)
            continue
        items, end = cut
        del buffer[: end + 1]
        threshold, cut_once = len(buffer) + parse_bytes, True
        yield items
    if cut_once and buffer.strip(_SPACE) == b"]":
        raise ValueError("a trailing comma before the closing ]")
    items = orjson.loads(b"[" + buffer)
    if items:
        yield items


def _after_bracket(iterator: Iterator[bytes]) -> bytearray:
    """The bytes after the array's opening `[` (leading blanks and a BOM skipped)."""
    head = b""
    for chunk in iterator:
        head += chunk
        text = _content(head)
        if text is not None:
            if text[:1] != b"[":
                raise ValueError(f"not a JSON array (starts with {text[:1].decode('latin-1')!r})")
            return bytearray(text[1:])
    raise ValueError("an empty body")


def _cut(buffer: bytearray, tries: int = 8) -> tuple[list[Any], int] | None:
    """The complete top-level elements at the head of `buffer` and the index of the comma after them."""
    end = len(buffer)
    for _ in range(tries):
        brace = buffer.rfind(b"}", 0, end)
        if brace < 0:
            return None
        comma = brace + 1
        while comma < len(buffer) and buffer[comma] in _SPACE:
            comma += 1
        if comma < len(buffer) and buffer[comma] == 0x2C:  # ","
            try:
                return orjson.loads(b"[" + buffer[:comma] + b"]"), comma
            except orjson.JSONDecodeError:
                pass  # the `},` was inside a string or a nested object
        end = brace
    return None


def text_lines(chunks: Iterable[bytes], encoding: str = "utf-8") -> Iterator[str]:
    """Decoded lines, each with its `\\n`, as the bytes arrive (a `\\r` stays with its line)."""
    decoder = codecs.getincrementaldecoder("utf-8-sig" if encoding.lower() in ("utf-8", "utf8") else encoding)()
    pending = ""
    for chunk in chunks:
        text = pending + decoder.decode(chunk)
        end = text.rfind("\n") + 1
        if end:
            for line in text[: end - 1].split("\n"):
                yield line + "\n"
        pending = text[end:]
    pending += decoder.decode(b"", final=True)
    if pending:
        yield pending


def csv_records(lines: Iterable[str]) -> Iterator[Record]:
    """(column, value) pairs per CSV row; `;` or `,` chosen by which the header has more of.

    Fields beyond the header are kept as `column_<n>`; blank lines are skipped.
    """
    iterator = iter(lines)
    header_line = next(iterator, "")
    delimiter = ";" if header_line.count(";") >= header_line.count(",") and ";" in header_line else ","
    reader = csv.reader(itertools.chain([header_line], iterator), delimiter=delimiter, strict=True)
    header = next(reader, [])
    for fields in reader:
        if fields:
            names = header if len(fields) <= len(header) else [
                *header, *(f"column_{n}" for n in range(len(header) + 1, len(fields) + 1))]
            yield zip(names, fields)


def _media(content_type: str) -> tuple[str, str | None]:
    """`text/csv; charset=utf-8` -> (`text/csv`, `utf-8`)."""
    media, _, params = content_type.partition(";")
    charset = None
    for param in params.split(";"):
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset":
            charset = value.strip().strip('"') or None
    return media.strip().lower(), charset


_CSV_TYPES = frozenset({"text/csv", "application/csv", "text/comma-separated-values", "application/vnd.ms-excel"})
_SNIFFED_TYPES = frozenset({"", "text/plain", "application/octet-stream"})


def body_format(content_type: str, first_chunk: bytes) -> str | None:
    """`json` or `csv` by content type (sniffed from the first byte when it says nothing); None
    for anything else."""
    media, _ = _media(content_type)
    if media == "application/json" or media.endswith("+json"):
        return "json"
    if media in _CSV_TYPES:
        return "csv"
    if media in _SNIFFED_TYPES:
        start = first_chunk.removeprefix(_BOM).lstrip(_SPACE)[:1]
        return "json" if start == b"[" else ("csv" if start not in (b"{", b"<") else None)
    return None


def export_records(content_type: str, chunks: Iterable[bytes]) -> Iterator[Record] | None:
    """The records of an export body; None when the body is empty (no export for the action).

    Raises:
        ValueError: the body is neither JSON nor CSV (message names the content type).
    """
    body = nonblank(chunks)
    if body is None:
        return None
    first = next(body)
    body = itertools.chain([first], body)
    kind = body_format(content_type, first)
    if kind == "json":
        return (element.items() if isinstance(element, dict) else () for batch in json_batches(body)
                for element in batch)  # fmt: skip
    if kind == "csv":
        return csv_records(text_lines(body, _media(content_type)[1] or "utf-8"))
    raise ValueError(f"content type {content_type or 'none'!r} is neither JSON nor CSV")
