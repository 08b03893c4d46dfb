"""The streams a program hands :func:`sheetgen.main`: binary or text, each made what the CLI
uses (a text stream whose ``.buffer`` takes bytes).

The commands read stdin's bytes (``sys.stdin.buffer``: JSON's encoding is the reader's
business) and write bytes to stdout (a PDF with ``-o -``), and print text to both. A binary
stream (``io.BytesIO``, a file opened ``"rb"``/``"wb"``) is wrapped as it always was; a text
stream (``io.StringIO``, a file opened ``"r"``/``"w"``) gets a byte side in UTF-8: stdin's text
is encoded as it is read, and bytes written to stdout or stderr are decoded before they reach
it, so a program can use whichever kind it has. Bytes that are not UTF-8 text (a PDF) cannot
go to a text stream: that is a :class:`~sheetgen.errors.UsageError` saying to pass a binary one.
Anything that is neither kind is a :class:`TypeError` before the command runs.
"""

from __future__ import annotations

import codecs
import io
from typing import Any

from sheetgen.errors import UsageError

#: Characters read from a text stdin at a time.
CHUNK = 64 * 1024


def is_text(stream: Any, name: str, *, reading: bool) -> bool:
    """Whether ``stream`` (given as ``name``) is a text stream; TypeError when it is no stream."""
    if isinstance(stream, io.TextIOBase):
        return True
    if isinstance(stream, io.RawIOBase | io.BufferedIOBase):
        return False
    what = "read" if reading else "write"
    if not callable(getattr(stream, what, None)):
        raise TypeError(f"sheetgen.main(): {name} must be a binary stream (io.BytesIO, a file "
                        f"opened 'rb'/'wb') or a text stream (io.StringIO), not "
                        f"{type(stream).__name__}")
    if reading:  # a stream of another class: what it reads tells
        return isinstance(stream.read(0), str)
    try:
        stream.write(b"")
    except TypeError:
        return True
    return False


class TextSource(io.RawIOBase):
    """A text stream read as UTF-8 bytes (stdin given as ``io.StringIO``)."""

    def __init__(self, stream: Any) -> None:
        super().__init__()
        self._stream = stream
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            text = self._stream.read(CHUNK)
            if not text:
                return 0
            # Lone surrogates pass through as the bytes they would be, so the JSON reader
            # reports them as invalid UTF-8 (as for bytes) instead of failing here.
            self._pending = text.encode("utf-8", "surrogatepass")
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


class TextSink(io.RawIOBase):
    """A text stream written to as UTF-8 bytes (stdout or stderr given as ``io.StringIO``)."""

    def __init__(self, stream: Any, name: str) -> None:
        super().__init__()
        self._stream = stream
        self._name = name
        self._decoder = codecs.getincrementaldecoder("utf-8")("strict")

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        data = bytes(data)
        try:
            text = self._decoder.decode(data)
        except UnicodeDecodeError:
            self._decoder.reset()
            raise UsageError(f"{self._name} is a text stream, and this command writes binary "
                             "data (a PDF or Word file) there",
                             hint=f"pass a binary stream as {self._name} "
                                  "(io.BytesIO, a file opened 'wb')") from None
        if text:
            self._stream.write(text)
        return len(data)

    def flush(self) -> None:
        flush = getattr(self._stream, "flush", None)
        if callable(flush):
            flush()


def binary_side(stream: Any, name: str, *, reading: bool) -> Any:
    """``stream`` as the binary stream the CLI's text wrapper goes around."""
    if not is_text(stream, name, reading=reading):
        return stream
    if reading:
        return io.BufferedReader(TextSource(stream))
    # Unbuffered: binary data meant for a binary stream fails at the write that sends it,
    # inside the command (its error reported), not at the final flush.
    return TextSink(stream, name)
