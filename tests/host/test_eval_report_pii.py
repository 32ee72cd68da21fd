"""An eval report written under $SWITCHBOARD_HOME/evals (or -o) holds the transcript masked: a pack's
customer lines (often copied from real calls) read out a card, a phone, an e-mail; the host stores
them masked, and the report kept them raw (ko-callcenter's cc-en-card wrote 4111 1111 1111 1111)."""

from __future__ import annotations

import json

RAW = ("4111 1111 1111 1111", "010-4821-7730", "jiyoung.test@example.org", "900101-2345678")
DIGEST = "9f1c2a7e" * 8


def _report() -> dict:
    line = f"My card is {RAW[0]}, call 010-4821-7730, mail {RAW[2]}, 주민번호 {RAW[3]}"
    return {
        "run_id": "ev_0123456789abcdef",
        "pack": "mine",
        "pack_digest": DIGEST,
        "agent_version_id": "e522eaa6-6548-4357-88f6-935e653650a2",
        "summary": {"runs": 1, "passed": 1, "pass_rate": 1.0},
        "results": [
            {
                "id": "cc-en-card",
                "org_id": "eval-cc-en-card-t1-dad9b878",
                "trial": 1,
                "passed": True,
                "transcript": [{"role": "customer", "text": line, "asr": None}],
                "checks": [{"check": f"memory {RAW[0]!r}", "ok": True, "expected": "absent", "actual": []}],
            }
        ],
    }


def test_the_written_report_holds_no_raw_personal_data(tmp_path, monkeypatch):
    from host.evals.report import write_report

    monkeypatch.setenv("SWITCHBOARD_HOME", str(tmp_path / "home"))
    for path in (write_report(_report()), write_report(_report(), tmp_path / "out.json")):
        text = path.read_text(encoding="utf-8")
        assert not [raw for raw in RAW if raw in text], path
        written = json.loads(text)
        assert written["pack_digest"] == DIGEST and written["run_id"] == "ev_0123456789abcdef"
        assert written["results"][0]["org_id"] == "eval-cc-en-card-t1-dad9b878"
        assert "****-****-****-1111" in written["results"][0]["transcript"][0]["text"]
