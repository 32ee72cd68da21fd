"""Checkpoints by default: the two rewrite attacks of someone with database access are caught with
default settings after a clean shutdown or once the interval has passed; a witness (a real git
repository) catches a database restored from an older backup together with the local checkpoints."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from audit import close, verify_chain
from audit.checkpoints import checkpoint_dir, read_checkpoints
from audit.record import compute_record_hash
from audit.store import iter_rows
from core.db import dispose_engines

from .helpers import drop_guards, event, seed, sql

pytestmark = pytest.mark.usefixtures("audit_db")


async def _cli_verify(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    exe = str(Path(sys.executable).parent / "switchboard")
    return await asyncio.to_thread(
        subprocess.run,
        [exe, "audit", "verify", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _auto(org: str = "acme") -> list[int]:
    return [s.checkpoint.seq for _, s in read_checkpoints(org) if s is not None and s.checkpoint.kind == "auto"]


async def _truncate_and_rewind(keep: int) -> None:
    """Delete every record after ``keep`` and point the chain head back at it."""
    await drop_guards()
    last = (await sql(f"SELECT record_hash FROM audit_event WHERE org_id='acme' AND seq={keep}"))[0][0]
    await sql(f"DELETE FROM audit_value_hmac WHERE org_id='acme' AND seq > {keep}")
    await sql(f"DELETE FROM audit_event WHERE org_id='acme' AND seq > {keep}")
    await sql("UPDATE audit_chain_head SET seq=:s, head_hash=:h WHERE org_id='acme'", {"s": keep, "h": last})


async def _rewrite_and_recompute(target: int) -> None:
    """Change record ``target`` and recompute every later hash and the head, as an insider could."""
    await drop_guards()
    rows = [row async for row in iter_rows("acme")]
    prev = rows[target - 2]["record_hash"]
    for row in rows[target - 1 :]:
        if row["seq"] == target:
            row["tool_name"] = "refund_order"
        row["prev_hash"] = prev
        row["record_hash"] = prev = compute_record_hash(row)
        await sql(
            "UPDATE audit_event SET tool_name=:t, prev_hash=:p, record_hash=:r WHERE org_id='acme' AND seq=:s",
            {"t": row["tool_name"], "p": row["prev_hash"], "r": row["record_hash"], "s": row["seq"]},
        )
    await sql("UPDATE audit_chain_head SET head_hash=:h WHERE org_id='acme'", {"h": prev})


async def test_clean_shutdown_signs_and_both_attacks_are_caught(sb_env: dict[str, str]) -> None:
    await seed(30)
    assert _auto() == []  # nothing due yet: 30 records, well inside 60 s
    await close()  # clean shutdown
    assert _auto() == [30]
    await _rewrite_and_recompute(10)
    report = await verify_chain("acme")
    assert report.exit_code == 1 and {p.kind for p in report.problems} == {"rewritten"}, report.to_dict()
    await _truncate_and_rewind(20)
    done = await _cli_verify(sb_env, "--org", "acme", "--json")
    assert done.returncode == 1 and '"truncated"' in done.stdout, done.stdout + done.stderr


async def test_every_n_records_and_every_t_seconds(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SWITCHBOARD_AUDIT_CHECKPOINT_EVERY", "10")
    monkeypatch.setenv("SWITCHBOARD_AUDIT_CHECKPOINT_SECONDS", "0.3")
    monkeypatch.setenv("SWITCHBOARD_AUDIT_WITNESS", str(tmp_path / "other-disk"))  # a directory witness
    await seed(25)

    def held() -> list[int]:
        return sorted(s.checkpoint.seq for _, s in read_checkpoints("acme", tmp_path / "other-disk") if s)

    for _ in range(200):
        if 25 in held():  # the witness gets each checkpoint right after the local directory
            break
        await asyncio.sleep(0.05)
    seqs = _auto()
    assert 25 in seqs and any(10 <= s < 25 for s in seqs), seqs  # by count, then by time, no close
    assert held() == sorted(seqs)
    await _truncate_and_rewind(24)
    assert {p.kind for p in (await verify_chain("acme")).problems} == {"truncated", "witness_truncated"}


async def test_records_no_checkpoint_covers_exit_3(sb_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWITCHBOARD_AUDIT_CHECKPOINT_EVERY", "0")
    monkeypatch.setenv("SWITCHBOARD_AUDIT_CHECKPOINT_SECONDS", "0")  # like a writer killed before signing
    old = datetime.now(UTC) - timedelta(hours=2)
    from audit import append

    for i in range(3):
        await append(event(i, occurred_at=old + timedelta(seconds=i)))
    await close()
    assert _auto() == []
    monkeypatch.delenv("SWITCHBOARD_AUDIT_CHECKPOINT_EVERY")
    monkeypatch.delenv("SWITCHBOARD_AUDIT_CHECKPOINT_SECONDS")  # verify with the default settings
    done = await _cli_verify(sb_env, "--org", "acme")
    assert done.returncode == 3 and "no signed" in done.stdout.replace("\n", " "), done.stdout
    await seed(1)
    await close()  # the next clean shutdown covers them
    assert (await _cli_verify(sb_env, "--org", "acme")).returncode == 0


def _git(*args: str) -> None:
    subprocess.run(["git", *args], check=True, capture_output=True, timeout=30)


async def test_a_git_witness_catches_a_restore_from_an_older_backup(
    audit_db: str, sb_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "witness.git"
    _git("init", "-q", str(repo))
    _git("-C", str(repo), "config", "user.email", "audit@example.invalid")
    _git("-C", str(repo), "config", "user.name", "audit witness")
    command = (
        'cmd:sh -c \'mkdir -p "$0/$SWITCHBOARD_CHECKPOINT_ORG" && cat > "$0/$SWITCHBOARD_CHECKPOINT_FILE" '
        '&& git -C "$0" add -A && git -C "$0" commit -qm "checkpoint $SWITCHBOARD_CHECKPOINT_SEQ"\' ' + str(repo)
    )
    monkeypatch.setenv("SWITCHBOARD_AUDIT_WITNESS", command)
    await seed(10)
    await close()
    local = checkpoint_dir()
    backup = tmp_path / "backup"
    shutil.copytree(local, backup / "checkpoints")
    sqlite_file = Path(audit_db.split("///", 1)[1]) if audit_db.startswith("sqlite") else None
    if sqlite_file is not None:
        await dispose_engines()
        shutil.copyfile(sqlite_file, backup / "db")
    await seed(15)
    await close()
    log = subprocess.run(["git", "-C", str(repo), "log", "--oneline"], capture_output=True, text=True, check=True)
    assert "checkpoint 25" in log.stdout and "checkpoint 10" in log.stdout

    # restore the database and the local checkpoints from the backup
    if sqlite_file is not None:
        await dispose_engines()
        for suffix in ("-wal", "-shm"):
            Path(f"{sqlite_file}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(backup / "db", sqlite_file)
    else:
        await _truncate_and_rewind(10)
    shutil.rmtree(local)
    shutil.copytree(backup / "checkpoints", local)
    env = {**sb_env, "SWITCHBOARD_AUDIT_WITNESS": ""}
    assert (await _cli_verify(env, "--org", "acme")).returncode == 0  # locally all looks fine
    clone = tmp_path / "clone"
    _git("clone", "-q", str(repo), str(clone))
    done = await _cli_verify(env, "--org", "acme", "--witness", str(clone), "--json")
    assert done.returncode == 4 and '"witness_truncated"' in done.stdout, done.stdout + done.stderr


async def test_a_failing_witness_never_blocks_appends(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWITCHBOARD_AUDIT_WITNESS", "cmd:false")
    records = await seed(3)
    await close()
    assert [r.seq for r in records] == [1, 2, 3] and _auto() == [3]  # the local checkpoint is still written
