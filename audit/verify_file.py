"""Verify an export file offline (``switchboard audit verify --file``), without the database.

An export holds a header, signed checkpoint lines (the org's checkpoints in the exported range,
the prune anchor right before it, and a fresh ``export`` checkpoint of its last record), then the
records. Besides each record's hash, link and numbering (:class:`~audit.verify.ChainVerifier`),
the checkpoints in the file say which records the export held, so removed records are found at
either end: a checkpoint past the last record (a cut-off end), a checkpoint more than one seq
before the first record (a cut-off start: an export includes checkpoints from the seq just before
its first record on), and checkpoints of an org without a single record (every record removed).
An empty file is not an export; a file with a header only has nothing to verify.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from audit.checkpoints import Checkpoint, SignedCheckpoint, read_checkpoints
from audit.keys import load_public_key
from audit.record import GENESIS_HASH, RECORD_FIELDS
from audit.verify import ChainVerifier, Problem, VerifyReport, trusted_keys, valid_checkpoints
from core.jsonload import loads

NO_ORG = "(none)"  # the report of a file that names no org
# what a record line of an export holds: the record, and with --decrypt its opened payload
_RECORD_LINE_FIELDS = frozenset(RECORD_FIELDS) | {"opened"}
NOTHING_TO_VERIFY = (
    "the file holds no records and no signed checkpoints: nothing to verify (an export of an empty "
    "range looks the same as one stripped of everything but its header)"
)


def verify_export(
    path: Path | str,
    *,
    public_keys: Sequence[Path | str] = (),
    checkpoint_dir: Path | str | None = None,
    strict: bool = False,
) -> list[VerifyReport]:
    """Verify an export file offline (no database): hashes, links, numbering, signed checkpoints.

    Checkpoints come from the file itself (and ``checkpoint_dir`` when given); their signatures
    are checked against ``public_keys``, else the local key, else the key embedded in the file
    (with a warning to compare its id with the published one). ``strict``: an org whose export
    start or end is not signed (an old export, or one whose checkpoint lines were removed) is a
    problem, not a warning.
    """
    path = Path(path)
    parsed = _read_export(path)
    if not parsed.lines:
        size = path.stat().st_size
        what = "empty (0 bytes)" if size == 0 else f"empty ({size} bytes of blank lines)"
        reason = f"{path.name} is {what}: not an audit export, or one cut short to nothing"
        return [VerifyReport(NO_ORG, problems=[Problem(None, "empty", reason)])]
    keys = trusted_keys(public_keys)
    warnings: list[str] = []
    if not keys:
        embedded = sorted({s.public_key for _, s in parsed.checkpoints if s is not None and s.public_key})
        keys = [load_public_key(k) for k in embedded]
        if keys:
            ids = ", ".join(sorted({s.checkpoint.key_id for _, s in parsed.checkpoints if s is not None}))
            warnings.append(f"checkpoints checked with the key in the file itself ({ids}): compare it with yours")
    orgs = sorted({row["org_id"] for _, row in parsed.records})
    shared: list[Problem] = list(parsed.problems)
    in_file = valid_checkpoints(parsed.checkpoints, keys, shared, warnings)
    local: list[tuple[str, SignedCheckpoint | None]] = []
    if checkpoint_dir is not None:
        for org in orgs:
            local.extend((str(p), s) for p, s in read_checkpoints(org, checkpoint_dir))
    valid = in_file + valid_checkpoints(local, keys, shared, warnings)
    verifiers: dict[str, ChainVerifier] = {}
    for number, row in parsed.records:
        org = row["org_id"]
        if org not in verifiers:
            verifiers[org] = _start_file_chain(org, row["seq"], valid, warnings)
        verifiers[org].feed(row, line=number)
    claimed = {s.checkpoint.org for _, s in parsed.checkpoints if s is not None}
    reports = []
    for org in sorted(set(verifiers) | claimed):
        if org in verifiers:
            report = _finish_file_chain(org, verifiers[org], valid, in_file)
        else:
            report = _stripped(org, parsed, in_file)
        report.problems.extend(shared)
        report.warnings.extend(warnings)
        if org in verifiers:
            for kind, end in (("export_start", "start"), ("export", "end")):
                if not any(cp.kind == kind and cp.org == org for cp in valid):
                    unproven = f"no signed export {end} for {org}: a cut-off {end} cannot be detected"
                    if strict:
                        report.problems.append(Problem(None, "unproven", f"{unproven} (--strict)"))
                    else:
                        report.warnings.append(unproven)
        reports.append(report)
    if reports:
        return reports
    nothing = VerifyReport(NO_ORG, problems=shared, warnings=warnings)
    if not shared:
        nothing.warnings.append(NOTHING_TO_VERIFY)
    return [nothing]


def _finish_file_chain(
    org: str, verifier: ChainVerifier, valid: list[Checkpoint], in_file: list[Checkpoint]
) -> VerifyReport:
    """The end checks of one org's records: checkpoints past its end, and the file's own checkpoints
    before its start (records removed from the start: an export begins at the checkpoint's next seq
    at the latest)."""
    first = verifier.report.first_seq or 0
    early = [cp for cp in in_file if cp.org == org and cp.seq < first - 1]
    if early:
        cp = min(early, key=lambda c: c.seq)
        gap = f"seq {cp.seq + 1}" if cp.seq + 2 == first else f"seqs {cp.seq + 1}..{first - 1}"
        verifier.problem(
            cp.seq + 1,
            "truncated",
            f"the file holds the signed {cp.kind} of {cp.time} for seq {cp.seq}, so the export began by seq "
            f"{cp.seq + 1}, but its records of {org} start at seq {first}: {gap} were removed from the start",
        )
    late = [cp for cp in valid if cp.org == org and cp.kind != "prune" and cp.seq >= first]
    report = verifier.finish(late=late)
    report.checkpoints_checked = sum(1 for cp in valid if cp.org == org)
    return report


def _stripped(org: str, parsed: _Export, in_file: list[Checkpoint]) -> VerifyReport:
    """An org the file has checkpoints of but no record: an export writes checkpoints only for the
    orgs it exports records of, so its records were removed (whether or not the signatures check)."""
    held = [s.checkpoint for _, s in parsed.checkpoints if s is not None and s.checkpoint.org == org]
    low, high = min(cp.seq for cp in held), max(cp.seq for cp in held)
    newest = max(held, key=lambda cp: (cp.seq, cp.time))
    count = f"{len(held)} signed checkpoint{'' if len(held) == 1 else 's'}"
    report = VerifyReport(org)
    report.checkpoints_checked = sum(1 for cp in in_file if cp.org == org)
    report.problems.append(
        Problem(
            low + 1 if high > low else low,
            "truncated",
            f"the file holds no records of {org}, but {count} of it up to seq {high} (the {newest.kind} of "
            f"{newest.time}): its records were removed",
        )
    )
    return report


@dataclass(slots=True)
class _Export:
    lines: int = 0  # lines that are not blank
    records: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    checkpoints: list[tuple[str, SignedCheckpoint | None]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def _read_export(path: Path) -> _Export:
    out = _Export()
    # utf-8-sig: a byte-order mark an editor put before the header (Notepad) is no part of any record
    with open(path, encoding="utf-8-sig", errors="replace") as handle:
        for number, text in enumerate(handle, start=1):
            if not text.strip():
                continue
            out.lines += 1
            try:
                data = loads(text, source="line", line=number)
            except ValueError as exc:  # core.jsonload: not JSON, nested too deeply, NaN, a repeated key
                reason = getattr(exc, "reason", "is not JSON").split(":")[0]
                out.problems.append(Problem(None, "bad_line", f"line {number} {reason}", number))
                continue
            if not isinstance(data, dict):
                out.problems.append(Problem(None, "bad_line", f"line {number} is not an audit record", number))
            elif "checkpoint" in data:
                try:
                    out.checkpoints.append((f"line {number}", SignedCheckpoint.from_json(data)))
                except Exception:
                    out.checkpoints.append((f"line {number}", None))
            elif "record_hash" in data:
                extra = sorted(set(data) - _RECORD_LINE_FIELDS)
                if not (all(name in data for name in RECORD_FIELDS) and isinstance(data.get("seq"), int)):
                    out.problems.append(Problem(None, "bad_line", f"line {number} lacks record fields", number))
                elif extra:  # the hash covers the record's fields only: anything else was added to it
                    seq = data["seq"]
                    shown = ", ".join(extra[:5])
                    reason = f"line {number} (seq {seq}) has fields no audit record has ({shown}): added after export"
                    out.problems.append(Problem(seq, "altered", reason, number))
                else:
                    out.records.append((number, data))
            elif data.get("format") != "switchboard-audit-export":
                out.problems.append(Problem(None, "bad_line", f"line {number} is not an audit record", number))
    return out


def _start_file_chain(org: str, first_seq: int, valid: list[Checkpoint], warnings: list[str]) -> ChainVerifier:
    anchor: str | None = GENESIS_HASH if first_seq == 1 else None
    for cp in valid:
        if anchor is None and cp.org == org and cp.seq == first_seq - 1:
            anchor = cp.head_hash
    if anchor is None:
        warnings.append(f"{org}: the export starts at seq {first_seq}; its link to seq {first_seq - 1} is not checked")
    return ChainVerifier(org, start_seq=first_seq, anchor_hash=anchor, track_hashes=True)
