"""The PDF objects the composer makes, as typed values, and their one serializer.

Every dictionary the composer writes itself (pages, fonts, the outline, the catalog, the
Info dictionary, the PDF/A output intent) is built from these types and serialized by
:func:`serialize`, so the bytes follow from the values: a name is escaped as a name, a text
string as a text string, a reference is a :class:`Ref`, never text put together by hand.

The output is the most compact the syntax allows (ISO 32000 7.2): a space between two tokens
only where both sides are regular characters (``/Parent 3 0 R/MediaBox[0 0 595 842]``).
The streaming writer (:class:`~sheetgen.rendering.pdf.compose.PdfStream`) takes the bytes.

Why not pydyf (WeasyPrint's, already installed): it writes a space after every key and value
and holds a whole document's objects, where the composer streams them; these few types are
what the composer needs. A page dictionary takes about 15 µs here where a format string
took 0.3 µs: 4 s of a 100 000-record bundle's several minutes, for bytes that follow from
typed values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

#: ISO 32000 7.2.2: whitespace and delimiters; every other byte is a regular character.
_IRREGULAR = frozenset(b"\x00\t\n\x0c\r ()<>[]{}/%")
#: Bytes a name holds as they are (regular, printable, not the escape ``#``).
_NAME_PLAIN = frozenset(range(0x21, 0x7F)) - _IRREGULAR - {ord("#")}


@dataclass(frozen=True, slots=True)
class Name:
    """A PDF name, without its slash: ``Name("Type")`` is ``/Type``."""

    value: str


@dataclass(frozen=True, slots=True)
class Ref:
    """A reference to indirect object ``number`` (generation 0)."""

    number: int


@dataclass(frozen=True, slots=True)
class Text:
    """A text string (ISO 32000 7.9.2.2): literal when printable ASCII, else UTF-16BE."""

    value: str


@dataclass(frozen=True, slots=True)
class Bytes:
    """A byte string, written in hex (``<0A1B…>``): a file identifier."""

    value: bytes


@dataclass(frozen=True, slots=True)
class Raw:
    """Bytes already in PDF syntax, one whole object (a box array read from a background)."""

    data: bytes


Value = (Name | Ref | Text | Bytes | Raw | bool | int | float | Sequence["Value"]
         | Mapping[str, "Value"])


def serialize(value: Value) -> bytes:
    """``value`` in PDF syntax."""
    out = bytearray()
    _write(out, value)
    return bytes(out)


def entries(value: Mapping[str, Value]) -> bytes:
    """A dictionary's entries without its ``<<`` and ``>>``: a stream's dictionary, to which
    the writer adds ``/Length``."""
    return serialize(value)[2:-2]


def name(value: str) -> bytes:
    """A name's bytes (``/`` and the name, bytes outside the plain set as ``#XX``)."""
    return b"/" + b"".join(bytes((byte,)) if byte in _NAME_PLAIN else b"#%02X" % byte
                           for byte in value.encode("utf-8"))


def text(value: str) -> bytes:
    """A text string's bytes (see :class:`Text`)."""
    if all(" " <= char <= "~" for char in value):
        escaped = value.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        return b"(" + escaped.encode("ascii") + b")"
    return b"<FEFF" + value.encode("utf-16-be").hex().upper().encode("ascii") + b">"


def number(value: float) -> bytes:
    """A number: an integer when whole, else at most 4 decimals without trailing zeros."""
    if float(value).is_integer():
        return b"%d" % value
    return (b"%.4f" % value).rstrip(b"0")


def _token(out: bytearray, token: bytes) -> None:
    if out and out[-1] not in _IRREGULAR and token[0] not in _IRREGULAR:
        out += b" "
    out += token


#: Names already escaped: a document writes the same few again and again. Bounded, for a
#: long-running process (``sheetgen serve``) meets new subset names with every document.
_NAMES: dict[str, bytes] = {}
_NAMES_KEPT = 10_000


def _name(key: str) -> bytes:
    written = _NAMES.get(key)
    if written is None:
        written = name(key)
        if len(_NAMES) < _NAMES_KEPT:
            _NAMES[key] = written
    return written


def _write(out: bytearray, value: Value) -> None:
    # The common types first, by exact type: most of a document is references and names.
    if isinstance(value, Ref):
        _token(out, b"%d 0 R" % value.number)
    elif isinstance(value, Name):
        _token(out, _name(value.value))
    elif type(value) is dict:
        out += b"<<"
        for key, item in value.items():
            _token(out, _name(key))
            _write(out, item)
        out += b">>"
    elif type(value) is list:
        out += b"["
        for item in value:
            _write(out, item)
        out += b"]"
    else:
        _write_other(out, value)


def _write_other(out: bytearray, value: Value) -> None:
    if isinstance(value, bool):
        _token(out, b"true" if value else b"false")
    elif isinstance(value, int | float):
        _token(out, number(value))
    elif isinstance(value, Text):
        _token(out, text(value.value))
    elif isinstance(value, Bytes):
        _token(out, b"<" + value.value.hex().encode("ascii") + b">")
    elif isinstance(value, Raw):
        _token(out, value.data)
    elif isinstance(value, Mapping):
        _write(out, dict(value))
    elif isinstance(value, Sequence) and not isinstance(value, str | bytes):
        _write(out, list(value))
    else:
        raise TypeError(f"not a PDF value: {type(value).__name__}")
