"""``registry agent draft --from``: a new version without retyping; empty drafts and bad KB pins refused."""

from __future__ import annotations

from tests.registry.helpers import approve_clean, insert_kb
from tests.registry.test_cli import _run, sb, sb_json

ORG = ["--org", "acme"]


async def _setup() -> None:
    await approve_clean("orders", "1.0.0")
    await approve_clean("orders", "1.1.0")
    await insert_kb("acme", "faq", "kb-faq", 2)


def _tools(info: dict) -> dict[str, tuple]:
    return {
        t["exposed_name"]: (t["server_version"], t["policy"], t["timeout_ms"], t["max_calls_per_turn"])
        for t in info["tools"]
    }


def test_draft_from_copies_everything_and_flags_change_parts(db, tmp_path):
    _run(_setup())
    prompt = tmp_path / "prompt.md"
    prompt.write_text(
        "주문번호를 확인한 뒤 조회하세요. 주민번호 900101-1234567 같은 값은 묻지 마세요.", encoding="utf-8"
    )
    sb("agent", "create", "cs-agent", *ORG)
    first = sb_json(
        "agent", "draft", "cs-agent", *ORG, "--model", "offline:planner", "--prompt-file", str(prompt),
        "--tool", "orders@1.0.0:get_order:confirm:4000", "--tool", "orders@1.0.0:list_orders:max=1",
        "--kb", "faq@1", "--param", "temperature=0.2",
    )  # fmt: skip
    assert first["copied_from"] is None
    sb("agent", "approve", "cs-agent@1", *ORG)

    copy = sb_json("agent", "draft", "cs-agent", *ORG, "--from", "cs-agent@1")
    assert copy["version"] == 2 and copy["state"] == "draft" and copy["copied_from"] == "cs-agent@1"
    assert (copy["model_provider"], copy["model_id"], copy["model_params"]) == (
        "offline",
        "planner",
        {"temperature": 0.2},
    )
    assert copy["system_prompt_sha256"] == first["system_prompt_sha256"]
    assert (
        _tools(copy)
        == _tools(first)
        == {
            "orders__get_order": ("1.0.0", "confirm", 4000, 3),
            "orders__list_orders": ("1.0.0", "never", 10_000, 1),
        }
    )
    assert [(k["kb_id"], k["kb_version"]) for k in copy["kbs"]] == [("kb-faq", "1")]

    # the open draft is replaced: move orders to 1.1.0, drop a tool, add one, re-pin the KB, merge a param
    changed = sb_json(
        "agent", "draft", "cs-agent", *ORG, "--from", "cs-agent@1", "--server", "orders@1.1.0",
        "--drop-tool", "orders__list_orders", "--tool", "orders@1.1.0:request_refund:approve",
        "--kb", "faq@2", "--param", "max_tokens=300", "--model", "anthropic:claude-sonnet-4-5",
    )  # fmt: skip
    assert changed["version"] == 2 and changed["model_id"] == "claude-sonnet-4-5"
    assert changed["model_params"] == {"temperature": 0.2, "max_tokens": 300}
    assert _tools(changed) == {
        "orders__get_order": ("1.1.0", "confirm", 4000, 3),
        "orders__request_refund": ("1.1.0", "approve", 10_000, 3),
    }
    assert [(k["kb_id"], k["kb_version"]) for k in changed["kbs"]] == [("faq", "2")]
    approved = sb_json("agent", "approve", "cs-agent@2", *ORG)
    assert approved["manifest"]["kbs"][0]["content_sha256"] == "2" * 64
    human = sb("agent", "draft", "cs-agent", *ORG, "--from", "cs-agent@2").stdout
    assert "from cs-agent@2" in human and "Next: switchboard registry agent approve cs-agent@3" in human


def test_draft_from_refuses_what_it_cannot_copy_and_writes_nothing(db, tmp_path):
    _run(_setup())
    prompt = tmp_path / "prompt.md"
    prompt.write_text("상담원입니다.", encoding="utf-8")
    sb("agent", "create", "cs-agent", *ORG)
    sb("agent", "draft", "cs-agent", *ORG, "--model", "offline:planner", "--prompt-file", str(prompt),
       "--tool", "orders@1.0.0:get_order")  # fmt: skip
    before = sb_json("agent", "show", "cs-agent@1", *ORG)
    cases = [
        (["--from", "cs-agent@9"], "NOT_FOUND", "agent list"),
        (["--from", "cs-agent"], "INVALID_ARGUMENT", "cs-agent@1"),
        (["--from", "other-agent@1"], "NOT_FOUND", "no such version"),
        (["--from", "cs-agent@1", "--server", "memory@1.0.0"], "INVALID_ARGUMENT", "binds no tool of 'memory'"),
        (["--from", "cs-agent@1", "--drop-tool", "orders__cancel_order"], "INVALID_ARGUMENT", "orders__get_order"),
        (["--from", "cs-agent@1", "--kb", "faq@7"], "NOT_FOUND", "no version 7"),
        (["--from", "cs-agent@1", "--kb", "faq'; DROP TABLE agent;--@1"], "NOT_FOUND", "kb list --org acme"),
        (["--from", "cs-agent@1", "--drop-kb", "faq"], "INVALID_ARGUMENT", "does not pin"),
        (["--drop-tool", "orders__get_order"], "INVALID_ARGUMENT", "add --from"),
        (["--tool", "orders@1.0.0:get_order"], "INVALID_ARGUMENT", "--from SLUG@N"),
    ]
    for args, code, words in cases:
        result = sb("agent", "draft", "cs-agent", *ORG, *args, ok=False)
        said = " ".join(result.output.split())  # Rich wraps long lines
        assert result.exit_code == 2 and code in said and words in said, (args, said)
    assert sb_json("agent", "show", "cs-agent@1", *ORG) == before  # nothing was written

    # a newcomer walk: the first --kb pin made the copy search only that KB, and nothing said so
    narrowed = sb("agent", "draft", "cs-agent", *ORG, "--from", "cs-agent@1", "--kb", "faq@1").stdout
    said = " ".join(narrowed.split())
    assert "pinned no KB (it searched every active KB); this draft, cs-agent@1, searches only faq" in said, said

    # a KB pin to a missing version is refused when drafting, not only at approval
    no_kb = sb("agent", "draft", "cs-agent", *ORG, "--model", "offline:planner", "--prompt-file", str(prompt),
               "--tool", "orders@1.0.0:get_order", "--kb", "faq@3", ok=False)  # fmt: skip
    assert no_kb.exit_code == 2 and "no version 3" in " ".join(no_kb.output.split())


def test_a_draft_without_tools_cannot_be_approved(db, tmp_path):
    _run(_setup())
    prompt = tmp_path / "prompt.md"
    prompt.write_text("상담원입니다.", encoding="utf-8")
    sb("agent", "create", "cs-agent", *ORG)
    empty = sb("agent", "draft", "cs-agent", *ORG, "--model", "offline:planner", "--prompt-file", str(prompt))
    assert "binds no tools" in empty.stdout and "Next:" not in empty.stdout
    refused = sb("agent", "approve", "cs-agent@1", *ORG, ok=False)
    said = " ".join(refused.output.split())
    assert refused.exit_code == 2 and "CONFLICT" in said and "no tools" in said and "--from" in said
    assert sb_json("agent", "show", "cs-agent@1", *ORG)["state"] == "draft"
