"""Verify a chain in the database (:func:`verify_chain`); export files: :mod:`audit.verify_file`.

Each record is checked for: its own hash (an edited field), its link to the record before it
(a replaced, removed or reordered record), gapless numbering (a deleted record), and the signed
checkpoints (a truncated tail, a chain rewritten with recomputed hashes). The report names the
first broken seq and why.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from audit.checkpoints import Checkpoint, SignedCheckpoint, read_checkpoints
from audit.keys import load_public_key, local_public_key
from audit.record import GENESIS_HASH, compute_record_hash

MAX_PROBLEMS = 100
EXIT_BROKEN, EXIT_UNCOVERED, EXIT_WITNESS = 1, 3, 4
COVERAGE_GRACE_S = 10.0  # a checkpoint is due T seconds after a record; allow this much on top


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a chain, at ``seq`` (``line`` for export files)."""

    seq: int | None
    kind: str
    reason: str
    line: int | None = None


@dataclass(slots=True)
class VerifyReport:
    """The outcome of verifying one org's chain."""

    org_id: str
    records: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    last_hash: str | None = None
    head_seq: int | None = None
    checkpoints_checked: int = 0
    checkpointed_seq: int | None = None  # the last seq a valid signed checkpoint covers
    after_checkpoint: int = 0  # records after it (protected by the hash chain only)
    uncovered_since: str | None = None  # when the first of those was recorded
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def exit_code(self) -> int:
        """0 intact; 1 broken (edited, deleted, rewritten, truncated...); 3 only uncovered records
        (older than the checkpoint interval, no checkpoint covers them); 4 only the witness
        contradicts the database (e.g. the database and the local checkpoints restored from a backup)."""
        kinds = {p.kind for p in self.problems}
        if not kinds:
            return 0
        if kinds == {"uncovered"}:
            return EXIT_UNCOVERED
        if all(k.startswith("witness_") or k == "uncovered" for k in kinds):
            return EXIT_WITNESS
        return EXIT_BROKEN

    @property
    def first_problem(self) -> Problem | None:
        if not self.problems:
            return None
        return min(self.problems, key=lambda p: (p.seq if p.seq is not None else -1, p.line or 0))

    @property
    def broken_seq(self) -> int | None:
        first = self.first_problem
        return first.seq if first else None

    @property
    def reason(self) -> str | None:
        first = self.first_problem
        return first.reason if first else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "org_id": self.org_id,
            "ok": self.ok,
            "records": self.records,
            "first_seq": self.first_seq,
            "last_seq": self.last_seq,
            "head_seq": self.head_seq,
            "checkpoints_checked": self.checkpoints_checked,
            "checkpointed_seq": self.checkpointed_seq,
            "after_checkpoint": self.after_checkpoint,
            "uncovered_since": self.uncovered_since,
            "exit_code": self.exit_code,
            "broken_seq": self.broken_seq,
            "reason": self.reason,
            "problems": [asdict(p) for p in sorted(self.problems, key=lambda p: (p.seq or 0, p.line or 0))],
            "warnings": self.warnings,
        }


class ChainVerifier:
    """Checks one org's records fed in order; :meth:`finish` adds the end-of-chain checks."""

    def __init__(
        self,
        org_id: str,
        *,
        start_seq: int,
        anchor_hash: str | None,
        checkpoints: Sequence[Checkpoint] = (),
        witness: Sequence[Checkpoint] = (),
        track_hashes: bool = False,
    ) -> None:
        self.report = VerifyReport(org_id)
        self.expected = start_seq
        self.prev_hash = anchor_hash
        # seq -> [(checkpoint, problem-kind prefix)]: a witness's checkpoints report as witness_*
        self.checkpoints: dict[int, list[tuple[Checkpoint, str]]] = {}
        for cp, prefix in [*((c, "") for c in checkpoints), *((c, "witness_") for c in witness)]:
            self.checkpoints.setdefault(cp.seq, []).append((cp, prefix))
        self.report.checkpoints_checked = len(checkpoints) + len(witness)
        self.track_hashes = track_hashes
        self.hashes: dict[int, str] = {}
        self._seen: set[tuple[int | None, str]] = set()

    def problem(self, seq: int | None, kind: str, reason: str, line: int | None = None) -> None:
        if (seq, kind) in self._seen or len(self.report.problems) >= MAX_PROBLEMS:
            return
        self._seen.add((seq, kind))
        self.report.problems.append(Problem(seq, kind, reason, line))

    def feed(self, row: Mapping[str, Any], line: int | None = None) -> None:
        """Check one record (a mapping with every stored field)."""
        seq = row["seq"]
        if seq < self.expected:
            if (seq, "missing") in self._seen:  # not deleted after all: it came late
                self.report.problems = [p for p in self.report.problems if (p.seq, p.kind) != (seq, "missing")]
            self.problem(
                seq, "out_of_order", f"seq {seq} appears after seq {self.expected - 1}: records were reordered", line
            )
            return
        link_known = self.prev_hash is not None
        if seq > self.expected:
            gap = f"seq {self.expected}" if seq == self.expected + 1 else f"seqs {self.expected}..{seq - 1}"
            self.problem(self.expected, "missing", f"{gap} missing: records were deleted", line)
            link_known = False
        if compute_record_hash(row) != row["record_hash"]:
            self.problem(seq, "edited", "its stored fields do not hash to its record_hash: the record was edited", line)
        if link_known and row["prev_hash"] != self.prev_hash:
            self.problem(
                seq,
                "broken_link",
                f"its prev_hash is not the record_hash of seq {seq - 1}: a record was replaced, inserted or "
                f"reordered here, or seq {seq - 1} was rewritten with a recomputed hash",
                line,
            )
        for cp, prefix in self.checkpoints.get(seq, ()):
            if cp.head_hash != row["record_hash"]:
                self.problem(
                    seq,
                    f"{prefix}rewritten",
                    f"its record_hash differs from the signed {cp.kind} of {cp.time}{_held_by(prefix)}: the chain "
                    f"up to seq {seq} was rewritten after that checkpoint",
                    line,
                )
        rep = self.report
        rep.records += 1
        rep.first_seq = seq if rep.first_seq is None else rep.first_seq
        rep.last_seq = seq
        rep.last_hash = row["record_hash"]
        if self.track_hashes:
            self.hashes[seq] = row["record_hash"]
        self.prev_hash = row["record_hash"]
        self.expected = seq + 1

    def finish(self, *, head: tuple[int, str] | None = None, late: Sequence[Checkpoint] = ()) -> VerifyReport:
        """End-of-chain checks against the chain head row and every checkpoint; returns the report."""
        last = self.expected - 1
        for cp in late:
            self.report.checkpoints_checked += 1
            known = self.hashes.get(cp.seq)
            if known is not None and known != cp.head_hash:
                self.problem(cp.seq, "rewritten", f"its record_hash differs from the signed {cp.kind} of {cp.time}")
        for cp, prefix in [*(c for cps in self.checkpoints.values() for c in cps), *((c, "") for c in late)]:
            if cp.seq > last:
                self.problem(
                    last + 1,
                    f"{prefix}truncated",
                    f"the signed {cp.kind} of {cp.time}{_held_by(prefix)} covers seq {cp.seq} but the chain ends at "
                    f"seq {last}: records were removed from the end (or the database was restored from a backup)",
                )
        if head is not None:
            head_seq, head_hash = head
            self.report.head_seq = head_seq
            if head_seq > last:
                self.problem(
                    last + 1,
                    "truncated",
                    f"the chain head says seq {head_seq} but the last record is seq {last}: "
                    "records were removed from the end",
                )
            elif head_seq < last:
                self.problem(head_seq + 1, "head_behind", f"the chain head says seq {head_seq} but records go on")
            elif self.prev_hash is not None and head_hash != self.prev_hash:
                self.problem(last, "rewritten", "its record_hash differs from the chain head's hash")
        return self.report


def _held_by(prefix: str) -> str:
    return " held by the witness" if prefix else ""


def _public_key_file(path: Path) -> Ed25519PublicKey:
    """A --public-key file: PEM or base64 text; binary data (an image, an archive) is refused, named."""
    from core.errors import SwitchboardError, invalid

    try:
        text = path.read_bytes().decode("utf-8")
        return load_public_key(text)
    except UnicodeDecodeError:
        reason = "binary data, not an Ed25519 public key (PEM or base64 of 32 bytes)"
    except OSError as exc:
        reason = f"cannot be read: {exc.strerror or exc}"
    except SwitchboardError as err:
        reason = err.message
    raise invalid(f"--public-key {path}: {reason}")


def trusted_keys(paths: Sequence[Path | str] = ()) -> list[Ed25519PublicKey]:
    """The public keys checkpoints must be signed with: the given files, else the local key."""
    if paths:
        return [_public_key_file(Path(p)) for p in paths]
    local = local_public_key()
    return [local] if local is not None else []


def valid_checkpoints(
    entries: Sequence[tuple[str, SignedCheckpoint | None]],
    keys: list[Ed25519PublicKey],
    verifier_problems: list[Problem],
    warnings: list[str],
) -> list[Checkpoint]:
    valid: list[Checkpoint] = []
    for where, signed in entries:
        if signed is None:
            verifier_problems.append(Problem(None, "bad_checkpoint", f"{where} is not a readable checkpoint"))
            continue
        state = signed.check(keys)
        if state is True:
            valid.append(signed.checkpoint)
        elif state is False:
            verifier_problems.append(
                Problem(
                    signed.checkpoint.seq, "bad_checkpoint", f"{where} has an invalid signature (forged or altered)"
                )
            )
        elif keys:
            warnings.append(f"{where} is signed by another key ({signed.checkpoint.key_id}); pass --public-key")
        else:
            warnings.append(f"no public key to check {where}: pass --public-key")
    return valid


async def verify_chain(
    org_id: str,
    *,
    from_seq: int | None = None,
    checkpoint_dir: Path | str | None = None,
    public_keys: Sequence[Path | str] = (),
    progress: Callable[[int], None] | None = None,
    witness_dirs: Sequence[Path | str] | None = None,
    require_coverage: bool = False,
) -> VerifyReport:
    """Verify ``org_id``'s chain in the database (from ``from_seq`` when given).

    Checkpoints come from the local checkpoint directory and from each witness directory
    (default: ``SWITCHBOARD_AUDIT_WITNESS`` when it is a directory); a witness's checkpoint
    that the database contradicts is a ``witness_*`` problem. With ``require_coverage``, records
    older than the automatic checkpoint interval that no checkpoint covers are an ``uncovered``
    problem. ``progress`` is called with the number of records checked since its last call.
    """
    from audit import store

    keys = trusted_keys(public_keys)
    problems: list[Problem] = []
    warnings: list[str] = []
    base_seq, base_hash = 0, GENESIS_HASH
    for prune in await store.prunes(org_id):
        try:
            signed: SignedCheckpoint | None = SignedCheckpoint.from_json(json.loads(prune["checkpoint"]))
        except Exception:
            signed = None
        state = signed.check(keys) if signed is not None else False
        cp = signed.checkpoint if signed is not None else None
        if state is None:
            warnings.append(
                f"the prune through seq {prune['through_seq']} is signed by an unknown key: pass --public-key"
            )
        elif not (state and cp and cp.seq == prune["through_seq"] and cp.head_hash == prune["through_hash"]):
            problems.append(
                Problem(
                    prune["through_seq"] + 1,
                    "bad_prune",
                    f"the prune through seq {prune['through_seq']} has no valid signed checkpoint (forged or altered)",
                )
            )
        base_seq, base_hash = prune["through_seq"], prune["through_hash"]
    start, anchor = base_seq + 1, base_hash
    head = await store.chain_head(org_id)
    if from_seq is not None and head is not None and from_seq > head[0]:  # nothing there: no broken chain
        report = VerifyReport(org_id, head_seq=head[0])
        report.problems.extend(problems)
        report.warnings.extend(warnings)
        report.warnings.append(past_the_end(org_id, from_seq, head[0]))
        return report
    if from_seq is not None and from_seq > start:
        before = await store.get_record(org_id, from_seq - 1)
        start, anchor = from_seq, (before.record_hash if before else None)
    files = read_checkpoints(org_id, checkpoint_dir)  # before the head: checkpoints never pass it
    entries = [(str(path), signed) for path, signed in files]
    checkpoints = [cp for cp in valid_checkpoints(entries, keys, problems, warnings) if cp.seq >= base_seq]
    if witness_dirs is None:
        from audit.witness import witness_dir

        witness_dirs = [d for d in [witness_dir()] if d is not None]
    witnessed: list[Checkpoint] = []
    for folder in witness_dirs:
        held = [(f"witness {path}", signed) for path, signed in read_checkpoints(org_id, folder)]
        witnessed.extend(cp for cp in valid_checkpoints(held, keys, problems, warnings) if cp.seq >= base_seq)
    covered = max((cp.seq for cp in [*checkpoints, *witnessed]), default=base_seq)
    head = await store.chain_head(org_id)  # records appended from now on are not checked
    verifier = ChainVerifier(
        org_id,
        start_seq=start,
        anchor_hash=anchor,
        checkpoints=[cp for cp in checkpoints if cp.seq >= start],
        witness=[cp for cp in witnessed if cp.seq >= start],
    )
    async for rows in store.iter_row_pages(org_id, from_seq=start, to_seq=head[0] if head else None):
        for row in rows:
            verifier.feed(row)
        if progress is not None:
            progress(len(rows))
    report = verifier.finish(head=head)
    report.problems.extend(problems)
    report.warnings.extend(warnings)
    await _coverage(report, min(covered, report.last_seq or 0), require_coverage)
    return report


def past_the_end(org_id: str, from_seq: int, last_seq: int) -> str:
    """Why nothing of ``org_id`` was verified from ``from_seq``."""
    return f"--from-seq {from_seq} is past the end of {org_id}'s chain (it ends at seq {last_seq}): nothing verified"


async def _coverage(report: VerifyReport, covered: int, required: bool) -> None:
    """How many records no signed checkpoint covers yet, since when; ``uncovered`` when overdue."""
    from datetime import UTC, datetime, timedelta

    from audit import store
    from audit.autocheckpoint import policy
    from audit.record import utc_timestamp

    report.checkpointed_seq = covered or None
    last = report.last_seq or 0
    report.after_checkpoint = max(0, last - covered)
    if not report.after_checkpoint:
        return
    first = await store.get_record(report.org_id, covered + 1)
    report.uncovered_since = first.occurred_at if first else None
    _, seconds = policy()
    if not required or not seconds or report.uncovered_since is None:
        return
    due = utc_timestamp(datetime.now(UTC) - timedelta(seconds=seconds + COVERAGE_GRACE_S))
    if report.uncovered_since < due:
        report.problems.append(
            Problem(
                covered + 1,
                "uncovered",
                f"{report.after_checkpoint} records since {report.uncovered_since} are covered by no signed "
                f"checkpoint although one is due every {seconds:g} s: the process that wrote them died before "
                "signing, or checkpoints were removed. Run `switchboard audit checkpoint` after checking them.",
            )
        )


async def verify_all(org_id: str | None = None, **kwargs: Any) -> list[VerifyReport]:
    """Verify one org, or every org with a chain."""
    from audit import store

    orgs = await store.list_orgs()
    if org_id is not None:
        if org_id not in orgs:
            from core.errors import not_found

            raise not_found(f"no audit records for org {org_id!r}: see `switchboard audit tail` for the orgs")
        orgs = [org_id]
    return [await verify_chain(org, **kwargs) for org in orgs]
