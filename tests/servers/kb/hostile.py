"""Hostile files from issue 19, generated on demand (also used by ``bench/hostile_files.py``).

The zip bombs are built without inflating anything: a deflate block ended by a full flush does
not depend on what came before, so one compressed block repeated N times is a valid stream of
N copies of its input. A 1.1 GB ``word/document.xml`` costs a few MB and about a second (CRC).
"""

from __future__ import annotations

import random
import struct
import zlib
from pathlib import Path

MB = 1024 * 1024
_W = b'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
_CONTENT_TYPES = (
    b'<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    b'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    b'<Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType='
    b'"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>'
)
_RELS = (
    b'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
    b'relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    b'relationships/officeDocument" Target="word/document.xml"/></Relationships>'
)


def _deflate(parts: list[tuple[bytes, int]]) -> tuple[bytes, int, int]:
    """Raw deflate of each (data, times) part in order: (stream, crc32, uncompressed size)."""
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    out: list[bytes] = []
    crc = 0
    size = 0
    for data, times in parts:
        block = comp.compress(data) + comp.flush(zlib.Z_FULL_FLUSH)
        out.append(block * times)
        for _ in range(times):
            crc = zlib.crc32(data, crc)
        size += len(data) * times
    out.append(comp.flush())
    return b"".join(out), crc, size


def _zip(members: list[tuple[str, list[tuple[bytes, int]]]]) -> bytes:
    """A zip archive of deflated members, written by hand (zipfile would inflate nothing, but compress all)."""
    body = bytearray()
    central = bytearray()
    for name, parts in members:
        data, crc, size = _deflate(parts)
        raw = name.encode()
        offset = len(body)
        body += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0x21, crc, len(data), size, len(raw), 0)
        body += raw + data
        central += struct.pack(
            "<IHHHHHHIIIHHHHHII",
            0x02014B50,
            20,
            20,
            0,
            8,
            0,
            0x21,
            crc,
            len(data),
            size,
            len(raw),
            0,
            0,
            0,
            0,
            0,
            offset,
        )
        central += raw
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(central), len(body), 0)
    return bytes(body + central + end)


def _docx(document: list[tuple[bytes, int]]) -> bytes:
    return _zip(
        [("[Content_Types].xml", [(_CONTENT_TYPES, 1)]), ("_rels/.rels", [(_RELS, 1)]), ("word/document.xml", document)]
    )


def zip_bomb_docx(unpacked_mb: int = 1100) -> bytes:
    """A .docx whose document.xml unpacks to ``unpacked_mb`` MB of Korean paragraphs."""
    para = b"<w:p><w:r><w:t>" + "환불은 영업일 기준 3일 안에 처리됩니다. ".encode() * 8 + b"</w:t></w:r></w:p>"
    block = para * (MB // len(para))
    head = b'<?xml version="1.0" encoding="UTF-8"?><w:document ' + _W + b"><w:body>"
    return _docx([(head, 1), (block, unpacked_mb * MB // len(block)), (b"</w:body></w:document>", 1)])


def huge_text_node_docx(unpacked_mb: int = 1150) -> bytes:
    """A .docx with a single text node of ``unpacked_mb`` MB."""
    head = b'<?xml version="1.0" encoding="UTF-8"?><w:document ' + _W + b"><w:body><w:p><w:r><w:t>"
    return _docx([(head, 1), (b"x" * MB, unpacked_mb), (b"</w:t></w:r></w:p></w:body></w:document>", 1)])


def run_on_line(size: int = 5 * MB) -> bytes:
    """``x`` × 5,242,880: one line, no spaces."""
    return b"x" * size


def high_bytes(size: int = 64 * 1024) -> bytes:
    """Bytes 0xB0-0xEF in a cycle: every pair decodes as CP949 Hangul or Hanja (35 chunks of garbage before)."""
    cycle = bytes(range(0xB0, 0xF0))
    return (cycle * (size // len(cycle) + 1))[:size]


def random_high_bytes(size: int = 64 * 1024, seed: int = 19) -> bytes:
    """Random bytes 0xB0-0xEF (some pairs are not valid CP949 at all)."""
    rng = random.Random(seed)
    return bytes(rng.randrange(0xB0, 0xF0) for _ in range(size))


def deep_html(levels: int = 100_000) -> bytes:
    """HTML nested ``levels`` deep around one sentence."""
    return b"<html><body>\n" + b"<div>\n" * levels + "환불 안내".encode() + b"</div>\n" * levels + b"</body></html>"


HOSTILE = {
    "run-on.txt": run_on_line,
    "bomb.docx": zip_bomb_docx,
    "huge-node.docx": huge_text_node_docx,
    "high-bytes.md": high_bytes,
    "deep.html": deep_html,
}


def symlink_folder(folder: Path) -> Path:
    """A folder with one real document and links to /etc/passwd and /proc/self/environ."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "refund.md").write_text("# 환불\n\n카드 환불은 3영업일이 걸립니다.\n", encoding="utf-8")
    (folder / "passwd.txt").symlink_to("/etc/passwd")
    (folder / "environ.txt").symlink_to("/proc/self/environ")
    return folder
