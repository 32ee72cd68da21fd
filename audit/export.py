"""Export records with their hashes as JSON lines, verifiable offline (``verify --file``).

Layout: a header line, then signed checkpoint lines (the org's checkpoints within the range,
the prune anchor right before it, and a fresh ``export`` checkpoint of the last exported record,
so a cut-off file is detected), then one line per record with every stored field.

Payloads stay sealed in the export (the hashes cover the sealed text), so destroying a data
subject's key also shreds their payloads in every export already made. ``decrypt=True`` adds
an ``opened`` object per record with the readable payloads (``[erased]`` for an erased subject):
such a file is plaintext outside the reach of ``customer erase``; keep it short-lived.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from audit import store
from audit.checkpoints import SignedCheckpoint, read_checkpoints, sign
from audit.keys import signing_key
from audit.record import utc_timestamp
from audit.sealing import Opener

FORMAT = "switchboard-audit-export"
EXPORT_START = "export_start"  # a checkpoint kind: the seq before an export's first record (see verify_file)


@dataclass(slots=True)
class ExportSummary:
    records: int = 0
    orgs: dict[str, tuple[int, int]] = field(default_factory=dict)  # org -> (first seq, last seq)
    signed: bool = False


async def export_records(
    out: TextIO,
    *,
    org_id: str | None = None,
    since: str | None = None,
    until: str | None = None,
    sign_export: bool = True,
    checkpoint_dir: Path | str | None = None,
    progress: Callable[[int], None] | None = None,
    decrypt: bool = False,
) -> ExportSummary:
    """Write the records of one org (or all) from ``since`` up to ``until`` (UTC timestamps) to ``out``.

    Each org's range is contiguous: from its first record at or after ``since`` to its last
    record before ``until`` (or the chain head).
    """
    summary = ExportSummary()
    private = signing_key() if sign_export else None
    summary.signed = private is not None
    header = {"format": FORMAT, "version": 1, "exported_at": utc_timestamp(), "since": since, "until": until}
    out.write(json.dumps(header) + "\n")
    orgs = [org_id] if org_id else await store.list_orgs()
    plans: list[tuple[str, int, int]] = []
    for org in orgs:
        head = await store.chain_head(org)
        low, high = await store.seq_bounds(org)
        if low is None or high is None:
            continue
        last = head[0] if head else high
        first = low
        if since:
            found = await store.first_seq_at_or_after(org, since)
            first = found if found is not None else last + 1
        if until:
            stop = await store.first_seq_at_or_after(org, until)
            last = min(last, stop - 1) if stop is not None else last
        if first > last:
            continue
        plans.append((org, first, last))
        for line in await _checkpoint_lines(org, first, last, private, checkpoint_dir):
            out.write(json.dumps(line, ensure_ascii=False) + "\n")
    opener = Opener() if decrypt else None
    for org, first, last in plans:
        count = 0
        async for row in store.iter_rows(org, from_seq=first, to_seq=last):
            if opener is not None:
                row["opened"] = {k: v for k, v in opener.open_fields(row).items() if v is not None}
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
            if progress is not None and count % 1000 == 0:
                progress(1000)
        if progress is not None:
            progress(count % 1000)
        summary.records += count
        summary.orgs[org] = (first, last)
    out.flush()
    return summary


async def _checkpoint_lines(
    org: str, first: int, last: int, private: object, checkpoint_dir: Path | str | None
) -> list[dict]:
    lines: list[dict] = []
    for prune in await store.prunes(org):
        if prune["through_seq"] == first - 1:
            lines.append(json.loads(prune["checkpoint"]))
    for _, signed in read_checkpoints(org, checkpoint_dir):
        if signed is not None and first - 1 <= signed.checkpoint.seq <= last:
            lines.append(signed.to_json())
    if private is not None:
        # the export's start, signed: the seq before its first record and that record's link to it,
        # so records cut from the start are found even when no other checkpoint lies before them
        # (a walk removed seqs 1..11 of an export whose first checkpoint was at 11: "intact")
        opening = await store.get_record(org, first)
        if opening is not None:
            start: SignedCheckpoint = sign(org, first - 1, opening.prev_hash, EXPORT_START, private)  # type: ignore[arg-type]
            lines.append(start.to_json())
        record = await store.get_record(org, last)
        if record is not None:
            fresh: SignedCheckpoint = sign(org, last, record.record_hash, "export", private)  # type: ignore[arg-type]
            lines.append(fresh.to_json())
    return lines
