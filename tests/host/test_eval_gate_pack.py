"""The eval gate counts runs of its own pack only, pinned by content digest.

A walk: with `eval gate --min-pass-rate 0.9` and no --pack, an author ran a one-scenario pack of
their own (`pack.json` + one easy scenario) at 100 % and `registry agent approve` passed the gate;
an edited copy of the bundled pack under its own name passed it too. The gate now pins a pack by
name and by the digest of its content (the bundled `ko-callcenter` when none is named), and the
refusal says what the version has instead.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from host.evals.pack import BUNDLED, load_pack
from tests.host.test_eval_partial import _cli, _draft, _runs, every_scenario_passes  # noqa: F401
from tests.host.test_eval_token import no_processes  # noqa: F401  (a fixture)


def _copy(tmp_path: Path, name: str, *, keep: int | None = None, edit: bool = False) -> Path:
    """A copy of the bundled pack as ``name``: its first ``keep`` scenarios, or one expectation edited."""
    folder = tmp_path / name
    shutil.copytree(BUNDLED / "ko-callcenter", folder)
    meta = json.loads((folder / "pack.json").read_text(encoding="utf-8"))
    (folder / "pack.json").write_text(json.dumps({**meta, "name": name}), encoding="utf-8")
    files = sorted((folder / "scenarios").glob("*.json"))
    if keep is not None:
        for extra in files[1:]:
            extra.unlink()
        first = json.loads(files[0].read_text(encoding="utf-8"))
        items = first if isinstance(first, list) else [first]
        files[0].write_text(json.dumps(items[:keep], ensure_ascii=False), encoding="utf-8")
    if edit:
        first = json.loads(files[0].read_text(encoding="utf-8"))
        items = first if isinstance(first, list) else [first]
        items[0]["title"] = items[0]["title"] + " (easier)"
        files[0].write_text(json.dumps(items, ensure_ascii=False), encoding="utf-8")
    return folder


def _approve(sb_env: dict[str, str]) -> Any:
    return _cli(sb_env, "registry", "agent", "approve", "gated@1", "--org", "o1", "--by", "rev")


def test_the_digest_is_of_the_content_not_of_the_folder(tmp_path: Path) -> None:
    bundled = load_pack("ko-callcenter")
    assert len(bundled.digest) == 64
    same = load_pack(_copy(tmp_path, "ko-callcenter"))
    assert same.digest == bundled.digest  # the same content anywhere on disk
    assert load_pack(_copy(tmp_path / "e", "ko-callcenter", edit=True)).digest != bundled.digest
    assert load_pack(_copy(tmp_path / "k", "ko-callcenter", keep=1)).digest != bundled.digest


def test_a_gate_without_pack_counts_only_the_bundled_pack(
    sb_env: dict[str, str],
    tmp_path: Path,
    every_scenario_passes: None,  # noqa: F811
) -> None:
    _draft(sb_env, tmp_path)
    gate = _cli(sb_env, "eval", "gate", "--org", "o1", "--min-pass-rate", "0.9", "--json")
    assert gate.exit_code == 0, gate.output
    pinned = json.loads(gate.output)
    assert pinned["pack"] == "ko-callcenter" and pinned["pack_digest"] == load_pack("ko-callcenter").digest

    tiny = _copy(tmp_path, "tiny", keep=1)
    assert _runs(sb_env, "--pack", str(tiny))["summary"]["pass_rate"] == 1.0
    refused = _approve(sb_env)
    assert refused.exit_code != 0 and "FORBIDDEN" in refused.output, refused.output
    said = " ".join(refused.output.split())
    assert "no whole run of ko-callcenter" in said and "tiny@" in said, said

    _runs(sb_env)  # the whole bundled pack, every scenario passing
    passed = _approve(sb_env)
    assert "FORBIDDEN" not in passed.output, passed.output


def test_an_edited_copy_under_the_same_name_does_not_count(
    sb_env: dict[str, str],
    tmp_path: Path,
    every_scenario_passes: None,  # noqa: F811
) -> None:
    _draft(sb_env, tmp_path)
    set_on_bundled = _cli(sb_env, "eval", "gate", "--org", "o1", "--min-pass-rate", "0.9", "--pack", "ko-callcenter")
    assert set_on_bundled.exit_code == 0, set_on_bundled.output
    shown = _cli(sb_env, "eval", "gate", "--org", "o1")
    assert load_pack("ko-callcenter").short_digest in shown.output, shown.output

    edited = _copy(tmp_path, "ko-callcenter", edit=True)
    _runs(sb_env, "--pack", str(edited))
    refused = _approve(sb_env)
    said = " ".join(refused.output.split())
    assert refused.exit_code != 0 and "FORBIDDEN" in said and "the pack was changed" in said, said

    # the org's own pack can be the gate's pack: set by folder, pinned by its digest
    regate = _cli(sb_env, "eval", "gate", "--org", "o1", "--min-pass-rate", "0.9", "--pack", str(edited))
    assert regate.exit_code == 0, regate.output
    assert "FORBIDDEN" not in _approve(sb_env).output


def test_a_gate_on_a_pack_that_does_not_exist_is_refused_and_writes_nothing(sb_env: dict[str, str]) -> None:
    bad = _cli(sb_env, "eval", "gate", "--org", "o1", "--min-pass-rate", "0.9", "--pack", "ko-calcenter")
    assert bad.exit_code == 2 and "not a scenario pack" in bad.output, bad.output
    shown = _cli(sb_env, "eval", "gate", "--org", "o1")
    assert "no eval gate" in shown.output, shown.output
