"""The per-file budget every uploaded document is parsed under.

A hostile or sloppy file (a zip bomb, a 5 MB line without a space, HTML nested 100,000 levels,
random bytes named ``.md``) must cost at most its own budget and then be refused with a message
that names the limit and how to raise it. The static limits (decompressed size, compression
ratio, nesting depth, line length) are checked by the parsers before the expensive work; wall
time and memory are enforced for real by the ingestion worker (:mod:`servers.kb_server.worker`:
a separate process under ``RLIMIT_AS`` and a timeout).

Every limit is an environment variable read at upload time, so an operator can raise one for a
single run: ``SWITCHBOARD_KB_FILE_TIMEOUT_S=300 switchboard kb upload ...``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields

from core.errors import SwitchboardError, invalid

MB = 1024 * 1024


@dataclass(slots=True, frozen=True)
class IngestLimits:
    """Per-file limits; each field's metadata names the environment variable that sets it."""

    max_upload_mb: float = 20.0  # the file as stored (checked from its size before reading)
    max_decompressed_mb: float = 200.0  # the sum of a .docx archive's members once unpacked
    max_compression_ratio: float = 100.0  # unpacked / packed size, for archives over 10 MB unpacked
    max_line_chars: int = 1_000_000  # one line of a text, Markdown or HTML file
    max_depth: int = 256  # element nesting in HTML and DOCX XML (libxml2's own ceiling)
    timeout_s: float = 60.0  # wall time to parse, chunk and tokenise one file
    memory_mb: float = 1024.0  # address space one file may add to the ingestion worker

    @classmethod
    def from_env(cls) -> IngestLimits:
        """The defaults, overridden by ``SWITCHBOARD_KB_*`` variables (bad values keep the default)."""
        values = {}
        for f in fields(cls):
            raw = os.environ.get(ENV[f.name])
            if not raw:
                continue
            try:
                value = float(raw)
            except ValueError:
                continue
            if value > 0:
                values[f.name] = int(value) if f.type in (int, "int") else value
        return cls(**values)

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * MB)

    @property
    def max_decompressed_bytes(self) -> int:
        return int(self.max_decompressed_mb * MB)


ENV = {
    "max_upload_mb": "SWITCHBOARD_KB_MAX_UPLOAD_MB",
    "max_decompressed_mb": "SWITCHBOARD_KB_MAX_DECOMPRESSED_MB",
    "max_compression_ratio": "SWITCHBOARD_KB_MAX_COMPRESSION_RATIO",
    "max_line_chars": "SWITCHBOARD_KB_MAX_LINE_CHARS",
    "max_depth": "SWITCHBOARD_KB_MAX_DEPTH",
    "timeout_s": "SWITCHBOARD_KB_FILE_TIMEOUT_S",
    "memory_mb": "SWITCHBOARD_KB_FILE_MEMORY_MB",
}

# ratios are only judged on archives this large unpacked: small files may compress as they like
RATIO_FLOOR_BYTES = 10 * MB


def over_limit(filename: str, what: str, limit: str, hint: str | None = None) -> SwitchboardError:
    """INVALID_ARGUMENT naming the limit's variable: ``<file>: <what>; ... raise <VAR>``."""
    var = ENV[limit]
    hint = hint or f"split or simplify the document, or raise {var} if you trust it"
    return invalid(f"{filename}: {what}; the file was refused and nothing changed ({hint})", limit=var)


def check_line_length(text: str, filename: str, limits: IngestLimits) -> None:
    """Refuse text with a line longer than ``max_line_chars`` (linear: one pass over newlines)."""
    start = 0
    size = len(text)
    cap = limits.max_line_chars
    while start < size:
        end = text.find("\n", start)
        end = size if end < 0 else end
        if end - start > cap:
            raise over_limit(
                filename,
                f"a line of {end - start:,} characters is longer than the {cap:,}-character line limit",
                "max_line_chars",
            )
        start = end + 1


def describe() -> list[dict[str, object]]:
    """Each limit with its variable, default and current value (for docs, ``kb limits`` and the bench)."""
    current = IngestLimits.from_env()
    default = IngestLimits()
    return [
        {"limit": f.name, "env": ENV[f.name], "default": getattr(default, f.name), "value": getattr(current, f.name)}
        for f in fields(IngestLimits)
    ]
