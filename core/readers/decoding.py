"""A transcript file's text encoding (see ``core.readers`` for how it is chosen)."""

from __future__ import annotations

import codecs
import re

_BOMS = (  # UTF-32 first: its little-endian mark begins with UTF-16's
    (codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"), (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_UNDECODABLE = re.compile("[\udc80-\udcff]")  # bytes kept by the surrogateescape handler
_NON_ASCII = re.compile("[^\x00-\x7f]")


def decode_bytes(raw: bytes) -> str:
    """A file's text (see the module docstring for how the encoding is chosen).

    Bytes the chosen encoding cannot decode are kept as U+DC80..U+DCFF, so the transcript that
    holds them is reported (:func:`_scan`) and the others are still read.
    """
    for bom, encoding in _BOMS:
        if raw.startswith(bom):
            return _decode(raw[len(bom):], encoding)
    half = len(raw) // 2
    if half and raw.count(0) * 4 >= half:  # UTF-16 without a mark: every other byte is zero in ASCII text
        even, odd = raw[0::2].count(0), raw[1::2].count(0)
        if odd * 4 >= half and even * 20 <= half:
            return _decode(raw, "utf-16-le")
        if even * 4 >= half and odd * 20 <= half:
            return _decode(raw, "utf-16-be")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    text = raw.decode("utf-8", "surrogateescape")
    bad = len(_UNDECODABLE.findall(text))
    if len(_NON_ASCII.findall(text)) - bad >= bad:  # mostly UTF-8, a few bad bytes
        return text
    if _reads_as_chinese(raw):
        return raw.decode("gb18030")
    return raw.decode("cp1252", "surrogateescape")  # 0x81, 0x8D, 0x8F, 0x90 and 0x9D are undefined


def _decode(raw: bytes, encoding: str) -> str:
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError:
        pass
    handler = "surrogateescape" if encoding == "utf-8" else "surrogatepass"
    try:  # a bad byte in UTF-8, a lone surrogate in UTF-16/32 data: kept, then reported
        return raw.decode(encoding, handler)
    except UnicodeDecodeError:
        return raw.decode(encoding, "replace")


def _reads_as_chinese(raw: bytes) -> bool:
    """GB18030 that decodes cleanly and whose non-ASCII text is nearly all GB2312 characters
    (both bytes 0xA1-0xFE); Latin-1 accents, followed by ASCII letters, are not."""
    try:
        text = raw.decode("gb18030")
    except UnicodeDecodeError:
        return False
    chars = _NON_ASCII.findall(text)
    if not chars:
        return False
    counts: dict[str, int] = {}
    for ch in chars:
        counts[ch] = counts.get(ch, 0) + 1
    in_zone = sum(n for ch, n in counts.items() if _gb2312(ch))
    return in_zone >= 0.8 * len(chars)


def _gb2312(ch: str) -> bool:
    b = ch.encode("gb18030")
    return len(b) == 2 and b[0] >= 0xA1 and b[1] >= 0xA1
