"""TXT values: between the one logical string we compare and the character-strings DNS carries.

A TXT record is a sequence of character-strings of at most 255 octets each (RFC 1035 §3.3.14);
SPF and DKIM consumers join them with nothing in between (RFC 7208 §3.3, RFC 6376 §3.6.2.2).
So dnsbridge compares the joined value, and each provider writes it in its own form.
"""

from __future__ import annotations

import re

MAX_STRING_OCTETS = 255
_DDD = re.compile(r"[0-9]{3}")


def split_strings(text: str) -> list[str]:
    """The character-strings of presentation-form TXT data (`"a" "b\\"c"` → [`a`, `b"c`]).

    Unquoted words count as strings too, as in a zone file. Escapes `\\X` and `\\DDD` (decimal
    octet, RFC 1035 §5.1) are decoded.
    """
    strings: list[str] = []
    i, n = 0, len(text)
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        quoted = text[i] == '"'
        if quoted:
            i += 1
        buf = bytearray()
        while i < n:
            ch = text[i]
            if quoted and ch == '"':
                i += 1
                break
            if not quoted and ch.isspace():
                break
            if ch == "\\" and i + 1 < n:
                digits = text[i + 1 : i + 4]
                if _DDD.fullmatch(digits):
                    if int(digits) > 255:
                        raise ValueError(f"\\{digits} is not an octet (RFC 1035 §5.1: \\DDD, 0-255)")
                    buf.append(int(digits))
                    i += 4
                    continue
                buf.extend(text[i + 1].encode())
                i += 2
                continue
            buf.extend(ch.encode())
            i += 1
        strings.append(buf.decode("utf-8", errors="surrogateescape"))
    return strings


def unquote(text: str) -> str:
    """The logical value of TXT data given in any provider's form.

    Quoted data is decoded and joined; bare data (DNSPod's form, or a hand-made Cloudflare
    record) is taken as it is, so a value with spaces in it stays one value.
    """
    stripped = text.strip()
    if stripped.startswith('"') and stripped.endswith('"') and len(stripped) >= 2:
        return "".join(split_strings(stripped))
    return text


def chunk(value: str, size: int = MAX_STRING_OCTETS) -> list[str]:
    """Split a value into pieces of at most `size` octets, never inside a UTF-8 sequence."""
    if size < 4:  # a UTF-8 sequence is up to 4 octets; a smaller piece could never advance
        raise ValueError("chunk size must be at least 4 octets")
    data = value.encode("utf-8")
    pieces: list[str] = []
    start = 0
    while start < len(data):
        end = min(start + size, len(data))
        while end < len(data) and (data[end] & 0xC0) == 0x80:  # continuation octet
            end -= 1
        pieces.append(data[start:end].decode("utf-8"))
        start = end
    return pieces or [""]


def _escape(piece: str) -> str:
    out = []
    for byte in piece.encode("utf-8"):
        if byte in (0x22, 0x5C):  # " and \
            out.append("\\" + chr(byte))
        elif 0x20 <= byte < 0x7F:
            out.append(chr(byte))
        else:  # RFC 1035 §5.1: \\DDD in decimal (Route 53 wants octal: providers/route53.py has its own codec)
            out.append(f"\\{byte:03d}")
    return "".join(out)


def quote(value: str, size: int = MAX_STRING_OCTETS) -> str:
    """Presentation form: quoted strings of at most `size` octets, `"` and `\\` escaped."""
    return " ".join(f'"{_escape(piece)}"' for piece in chunk(value, size))
