"""`switchboard demo` checks its own promises (issue 18, part 1): any failed step is a failure."""

from __future__ import annotations

from pathlib import Path

from host.demo import DemoReport, check_call, next_commands


def good_report() -> DemoReport:
    report = DemoReport()
    report.tool_calls = [
        {"exposed_name": "orders__get_order", "ok": True},
        {"exposed_name": "kb__search", "ok": True},
    ]
    report.transcript = [
        {"role": "customer", "text": "주문번호는 8841입니다."},
        {"role": "agent", "kind": "confirm", "text": "주문번호 8841로 조회해도 될까요?"},
        {"role": "agent", "kind": "answer", "text": "… [출처: 환불 진행 상태 안내 v1]", "kb_references": [{"v": 1}]},
        {"role": "agent", "kind": "escalation", "text": "상담원에게 연결해 드리겠습니다."},
    ]
    return report


def test_a_complete_call_has_no_failures() -> None:
    assert check_call(good_report()) == []


def test_a_timed_out_search_and_an_uncited_answer_are_failures() -> None:
    report = good_report()
    report.tool_calls[1] = {
        "exposed_name": "kb__search",
        "ok": False,
        "error_code": "UNAVAILABLE",
        "error": "timed out after 30035 ms",
    }
    report.transcript[2]["kb_references"] = []
    failures = check_call(report)
    assert failures[0] == "tool call kb__search failed: UNAVAILABLE timed out after 30035 ms"
    assert any("no answer cited the knowledge base" in f for f in failures)


def test_disabled_tools_missing_confirmation_and_escalation_are_failures() -> None:
    report = good_report()
    report.notes = ["kb__search is disabled: definition changed since it was pinned"]
    report.transcript = [t for t in report.transcript if t.get("kind") not in ("confirm", "escalation")]
    failures = check_call(report)
    assert failures == [
        "kb__search is disabled: definition changed since it was pinned",
        "no tool call asked the customer to confirm the order number",
        "'상담원 연결해 주세요' did not escalate to a human",
    ]
    assert not DemoReport(failures=failures).ok


def test_next_commands_quote_a_home_with_spaces() -> None:
    commands = next_commands(Path("/tmp/my data/.sbhome/demo"))
    assert commands[0] == "export SWITCHBOARD_HOME='/tmp/my data/.sbhome/demo'"
    assert all(c.startswith("switchboard ") for c in commands[1:])
    assert all("--org demo" in c for c in commands[2:])


def test_next_commands_export_the_database_url_without_its_password() -> None:
    """A walk: `switchboard demo` on PostgreSQL printed only `export SWITCHBOARD_HOME=…`, so the
    next commands in a new shell read an empty SQLite store."""
    commands = next_commands(Path("/tmp/demo"), "postgresql://sb:s3cret@db.internal:5432/switchboard")
    assert commands[0] == "export SWITCHBOARD_HOME=/tmp/demo"
    assert commands[1] == (
        "export SWITCHBOARD_DATABASE_URL='postgresql://sb:***@db.internal:5432/switchboard'"
        "  # put the password in place of ***"
    )
    assert not any("s3cret" in c for c in commands)
    assert all(c.startswith("switchboard ") for c in commands[2:])
    without = next_commands(Path("/tmp/demo"), "postgresql://sb@127.0.0.1:55432/switchboard")
    assert without[1] == "export SWITCHBOARD_DATABASE_URL=postgresql://sb@127.0.0.1:55432/switchboard"
    assert next_commands(Path("/tmp/demo"), None)[1].startswith("switchboard ")
