"""Single byte ranges (RFC 9110, section 14): what a browser asks of a voice note or a video to seek.

Chromium reads an Ogg file's length from its end, so without ranges a voice note has no duration and
cannot be scrubbed. Pure: the header and the file's size in, the span to serve out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SINGLE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class ByteSpan:
    """Bytes `start` to `end` inclusive of a file of `size` bytes."""

    start: int
    end: int
    size: int

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    @property
    def content_range(self) -> str:
        return f"bytes {self.start}-{self.end}/{self.size}"


class Unsatisfiable(ValueError):
    """The range lies past the end of the file: 416 with `Content-Range: bytes */size`."""


def requested_span(header: str | None, size: int) -> ByteSpan | None:
    """The span a `Range` header asks for, or None to serve the whole file (no header, a form this
    does not serve, such as several ranges, or one that covers the whole file)."""
    if not header:
        return None
    match = _SINGLE.match(header)
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # a suffix: the last N bytes
        count = int(last)
        if count == 0:
            raise Unsatisfiable(header)
        start, end = max(0, size - count), size - 1
    else:
        start = int(first)
        end = min(int(last), size - 1) if last else size - 1
        if last and int(last) < start:
            return None  # not a valid range: ignored, as RFC 9110 says
        if start >= size:
            raise Unsatisfiable(header)
    if start == 0 and end == size - 1:
        return None
    return ByteSpan(start, end, size)
