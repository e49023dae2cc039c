"""Read input files as bytes checked to be UTF-8, so a bad byte is named by its offset."""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from igent.campaign.depth import JsonDepthGuard
from igent.errors import DataError

BOM = codecs.BOM_UTF8


def open_input(path: Path, what: str) -> BinaryIO:
    """Open ``path`` for reading bytes; a missing or unreadable file is a DataError."""
    try:
        return path.open("rb")
    except FileNotFoundError:
        raise DataError(f"{what} file {str(path)!r} does not exist") from None
    except OSError as exc:
        raise DataError(f"{what} file {str(path)!r} cannot be read: {exc}") from exc


def read_text(path: Path, what: str) -> str:
    """Read a whole UTF-8 file (BOM allowed); a problem is a one-line DataError."""
    with open_input(path, what) as stream:
        try:
            data = stream.read()
        except OSError as exc:
            raise DataError(f"{what} file {str(path)!r} cannot be read: {exc}") from exc
    start = len(BOM) if data.startswith(BOM) else 0
    return decode_utf8(data[start:], str(path), start)


def not_utf8(source: str, offset: int, exc: UnicodeDecodeError) -> DataError:
    """Return the error for a byte that is not UTF-8, naming the file and the byte offset."""
    bad = exc.object[exc.start : exc.start + 4]
    return DataError(
        f"{source}: not UTF-8 at byte {offset} ({bytes(bad)!r}: {exc.reason}); "
        "save the file as UTF-8 (with or without BOM)"
    )


def decode_utf8(data: bytes, source: str, offset: int = 0) -> str:
    """Decode ``data`` read at ``offset`` of ``source``; a bad byte is a DataError."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise not_utf8(source, offset + exc.start, exc) from None


class Utf8Reader:
    """A binary file wrapper whose ``read`` checks the bytes are UTF-8 and skips a leading BOM.

    ijson reads through it, so a bad byte stops the parse with its offset, not a traceback.
    """

    def __init__(self, stream: BinaryIO, source: str, guard: JsonDepthGuard | None = None) -> None:
        self._stream = stream
        self._source = source
        self._guard = guard
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self.offset = 0
        self.chunk_start = 0
        self._at_start = True

    def read(self, size: int = -1) -> bytes:
        """Read up to ``size`` checked bytes; b'' at the end of the file."""
        if size == 0:
            return b""
        data = self._stream.read(size)
        if self._at_start:
            self._at_start = False
            if data.startswith(BOM):
                data = data[len(BOM) :]
                self.offset = len(BOM)
        self.chunk_start = self.offset
        try:
            self._decoder.decode(data, final=not data)
        except UnicodeDecodeError as exc:
            # The decoder may hold back up to 3 bytes of an unfinished character.
            held = len(exc.object) - len(data)
            raise not_utf8(self._source, self.offset + exc.start - held, exc) from None
        if self._guard is not None:
            self._guard.feed(data, self.offset)
        self.offset += len(data)
        return data


def iter_lines(stream: BinaryIO, source: str) -> Iterator[tuple[int, int, str]]:
    """Yield (line number from 1, byte offset, text) for each line, BOM skipped, UTF-8 checked."""
    offset = 0
    for number, line in enumerate(stream, start=1):
        if number == 1 and line.startswith(BOM):
            line = line[len(BOM) :]
            offset = len(BOM)
        yield number, offset, decode_utf8(line, source, offset)
        offset += len(line)
