"""A tool author's and an operator's walk with sloppy input: each case failed before its fix."""

from __future__ import annotations

from tests.registry.helpers import approve_clean, publish_clean
from tests.registry.test_cli import _run, sb, sb_json

ORG = ["--org", "acme"]


def _tools(info: dict) -> dict[str, tuple]:
    return {t["exposed_name"]: (t["policy"], t["timeout_ms"], t["max_calls_per_turn"]) for t in info["tools"]}


def test_draft_from_with_a_tool_changing_only_its_policy_keeps_the_copied_timeout_and_limit(db, tmp_path):
    _run(approve_clean("orders", "1.0.0"))
    prompt = tmp_path / "prompt.md"
    prompt.write_text("상담원입니다.", encoding="utf-8")
    sb("agent", "create", "cs-agent", *ORG)
    sb(
        "agent", "draft", "cs-agent", *ORG, "--model", "offline:planner", "--prompt-file", str(prompt),
        "--tool", "orders@1.0.0:get_order:confirm:4000:max=2", "--tool", "orders@1.0.0:list_orders:approve:15000",
    )  # fmt: skip
    sb("agent", "approve", "cs-agent@1", *ORG)

    # only the policy is written: the copied timeout and limit stay
    copy = sb_json("agent", "draft", "cs-agent", *ORG, "--from", "cs-agent@1", "--tool", "orders@1.0.0:get_order:never")
    assert _tools(copy) == {
        "orders__get_order": ("never", 4000, 2),
        "orders__list_orders": ("approve", 15000, 3),
    }
    # only the timeout: the copied policy and limit stay
    copy = sb_json("agent", "draft", "cs-agent", *ORG, "--from", "cs-agent@1", "--tool", "orders@1.0.0:get_order:9000")
    assert _tools(copy)["orders__get_order"] == ("confirm", 9000, 2)
    # what is written wins, --max-calls-per-turn included
    copy = sb_json(
        "agent", "draft", "cs-agent", *ORG, "--from", "cs-agent@1", "--max-calls-per-turn", "5",
        "--tool", "orders@1.0.0:list_orders:never:max=1", "--tool", "orders@1.0.0:get_order:approve",
    )  # fmt: skip
    assert _tools(copy) == {
        "orders__get_order": ("approve", 4000, 5),
        "orders__list_orders": ("never", 15000, 1),
    }
    # a tool the copy does not bind gets the defaults
    copy = sb_json("agent", "draft", "cs-agent", *ORG, "--from", "cs-agent@1", "--tool", "orders@1.0.0:cancel_order")
    assert _tools(copy)["orders__cancel_order"] == ("never", 10_000, 3)


def test_review_with_both_approve_and_reject_is_refused_and_changes_nothing(db):
    _run(publish_clean("orders", "1.0.0"))
    both = sb("review", "orders@1.0.0", "--approve", "--reject", "--reason", "ok", ok=False)
    assert both.exit_code == 2 and "INVALID_ARGUMENT" in both.output and "not both" in both.output
    both = sb("review", "orders@1.0.0", "--reject", "--approve", "--reason", "ok", "--risk", "*=read", ok=False)
    assert both.exit_code == 2 and "not both" in both.output
    assert sb_json("show", "orders@1.0.0")["status"] == "pending_review"
    assert sb_json("review", "orders@1.0.0", "--reject", "--reason", "no")["status"] == "rejected"


def test_registry_serve_on_a_busy_port_is_one_conflict_before_any_banner(db):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = str(busy.getsockname()[1])
        for extra in ([], ["--json"]):
            result = sb("serve", "--port", port, *extra, ok=False)
            assert result.exit_code == 2, result.output
            assert "CONFLICT" in result.output and f"port {port} is in use" in result.output
            assert "Ctrl-C" not in result.output and "/v0.1/servers" not in result.output
    bad = sb("serve", "--port", "0", "--bind", "not an address", ok=False)
    assert bad.exit_code == 2 and "INVALID_ARGUMENT" in bad.output and "--bind" in bad.output


def test_registry_serve_port_0_prints_the_port_it_bound_and_answers_there(db):
    import json
    import os
    import subprocess
    import sys
    import urllib.request

    _run(approve_clean("orders", "1.0.0"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "switchboard_cli", "registry", "serve", "--port", "0", "--json"],
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = []
        while not lines or lines[-1] != "}\n":
            line = proc.stdout.readline()
            assert line, proc.stderr.read()
            lines.append(line)
        url = json.loads("".join(lines))["url"]
        assert ":0/" not in url
        with urllib.request.urlopen(url, timeout=10) as response:
            body = json.load(response)
        assert [s["server"]["version"] for s in body["servers"]] == ["1.0.0"]
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_repeating_a_review_or_status_change_says_what_state_it_is_in_and_what_to_do(db):
    _run(approve_clean("orders", "1.0.0"))
    _run(publish_clean("orders", "1.1.0"))

    again = sb("review", "orders@1.0.0", "--approve", "--reason", "ok", "--risk", "*=read", ok=False)
    assert again.exit_code == 2 and "CONFLICT" in again.output
    assert "already approved" in again.output and "nothing was changed" in again.output

    sb("review", "orders@1.1.0", "--reject", "--reason", "no")
    rejected = sb("review", "orders@1.1.0", "--approve", "--reason", "ok", "--risk", "*=read", ok=False)
    assert rejected.exit_code == 2 and "rejected, which is final" in rejected.output
    assert "publish a new version" in rejected.output and "deprecate" not in rejected.output

    sb("deprecate", "orders@1.0.0", "--reason", "use 1.2")
    twice = sb("deprecate", "orders@1.0.0", "--reason", "use 1.2", ok=False)
    assert twice.exit_code == 2 and "already deprecated" in twice.output and "nothing was changed" in twice.output
    reviewed = sb("review", "orders@1.0.0", "--approve", "--reason", "ok", "--risk", "*=read", ok=False)
    assert "is deprecated" in reviewed.output and "registry reinstate" in reviewed.output
    sb("reinstate", "orders@1.0.0", "--reason", "rollback")
    twice = sb("reinstate", "orders@1.0.0", "--reason", "rollback", ok=False)
    assert "already approved" in twice.output
    sb("revoke", "orders@1.0.0", "--reason", "CVE")
    final = sb("reinstate", "orders@1.0.0", "--reason", "oops", ok=False)
    assert final.exit_code == 2 and "revoked, which is final" in final.output
    assert "publish a new version" in final.output
    history = sb_json("show", "orders@1.0.0")["history"]
    assert [h["status"] for h in history] == ["pending_review", "approved", "deprecated", "approved", "revoked"]


def test_a_kb_pin_that_does_not_exist_names_what_does_and_the_command_to_list_it(db, tmp_path):
    from tests.registry.helpers import insert_kb

    _run(approve_clean("orders", "1.0.0"))
    _run(insert_kb("acme", "faq", "kb-faq", 2))
    prompt = tmp_path / "prompt.md"
    prompt.write_text("상담원입니다.", encoding="utf-8")
    sb("agent", "create", "cs-agent", *ORG)
    base = ["agent", "draft", "cs-agent", *ORG, "--model", "offline:planner", "--prompt-file", str(prompt)]
    base += ["--tool", "orders@1.0.0:get_order"]

    no_version = sb(*base, "--kb", "faq@7", ok=False)
    assert no_version.exit_code == 2 and "NOT_FOUND" in no_version.output
    assert "versions 1, 2" in no_version.output
    assert "switchboard kb versions faq --org acme" in no_version.output

    no_kb = sb(*base, "--kb", "고객센터@1", ok=False)
    assert no_kb.exit_code == 2 and "NOT_FOUND" in no_kb.output
    assert "no knowledge base '고객센터'" in no_kb.output and "faq" in no_kb.output
    assert "switchboard kb list --org acme" in no_kb.output
    listed = sb("agent", "show", "cs-agent", *ORG, ok=False)
    assert listed.exit_code == 2  # nothing was drafted


def test_an_eval_gate_for_an_org_without_agents_is_refused_and_starts_no_audit_chain(db):
    import pytest

    from audit import store
    from core.errors import ErrorCode, SwitchboardError
    from registry.gate import get_gate, set_gate

    sb("agent", "create", "cs-agent", *ORG)

    async def go() -> None:
        # a typo ('acm' for 'acme') gated nothing: the real org stayed open, and 'acm' got an audit chain
        for rate in (0.9, None):
            with pytest.raises(SwitchboardError) as err:
                await set_gate("acm", rate, pack=None, set_by="lead")
            assert err.value.code is ErrorCode.NOT_FOUND
            assert "no agents" in err.value.message and "acme" in err.value.message
        assert await get_gate("acm") is None
        assert "acm" not in await store.list_orgs()
        # clearing a gate that is not set changes nothing and records nothing
        before = len(await store.tail("acme", limit=100))
        assert await set_gate("acme", None, pack=None, set_by="lead") is None
        assert len(await store.tail("acme", limit=100)) == before
        assert (await set_gate("acme", 0.9, pack=None, set_by="lead")).min_pass_rate == 0.9

    _run(go())


def test_a_version_whose_code_changed_since_publish_cannot_be_approved_and_show_says_so(db, tmp_path):
    import sys

    from registry import LaunchSpec, publish_version
    from tests.registry.fixtures.clean_server import build
    from tests.registry.helpers import FIXTURES

    server = tmp_path / "server.py"
    original = (FIXTURES / "clean_server.py").read_bytes()
    server.write_bytes(original)
    launch = LaunchSpec.stdio([sys.executable, str(server), "1.0.0"])
    _run(publish_version("orders", "1.0.0", launch, published_by="tess", connect_to=build("1.0.0")))
    # the author edits the published file in place before review: the reviewer read the old definitions,
    # and hosts refuse to start the version; it was approved all the same and `show` said nothing
    server.write_bytes(original + b"\n# edited after publish\n")
    shown = " ".join(sb("show", "orders@1.0.0").stdout.split())
    assert "changed since publish" in shown and "hosts refuse to start it" in shown
    refused = sb("review", "orders@1.0.0", "--approve", "--reason", "ok", "--risk", "*=read", ok=False)
    said = " ".join(refused.output.split())
    assert refused.exit_code == 2 and "CONFLICT" in said and "changed since publish" in said, said
    assert "publish the new code as a new version" in said
    assert sb_json("show", "orders@1.0.0")["status"] == "pending_review"
    # restoring the file makes it approvable; a rejection needs no running code
    server.write_bytes(original)
    assert sb_json("review", "orders@1.0.0", "--approve", "--reason", "ok", "--risk", "*=read")["status"] == "approved"


def test_a_tool_spec_naming_two_policies_or_timeouts_is_refused(db):
    import pytest

    from core.errors import SwitchboardError
    from registry.specs import ToolSpec

    # ':confirm:never' was read as 'never' (the last one won): a confirmation silently dropped
    for text, what in (
        ("orders@1.0.0:get_order:confirm:never", "two policies"),
        ("orders@1.0.0:get_order:confirm:confirm", "two policies"),
        ("orders@1.0.0:get_order:4000:9000", "two timeouts"),
        ("orders@1.0.0:get_order:max=1:max=5", "two call limits"),
    ):
        with pytest.raises(SwitchboardError) as err:
            ToolSpec.parse(text)
        assert err.value.code == "INVALID_ARGUMENT" and what in err.value.message, (text, err.value.message)
    assert ToolSpec.parse("orders@1.0.0:get_order:confirm:4000:max=2").policy == "confirm"


async def test_importing_a_server_json_of_another_version_than_the_one_here_says_which_runs_here(db):
    import copy

    import pytest

    from core.errors import SwitchboardError
    from registry.serverjson import export_server_json
    from registry.serverjson_import import import_server_json
    from servers.catalog import build
    from servers.kit import ServerLaunch
    from tests.registry.helpers import publish_bundled

    # an auditor imports last quarter's orders server.json after an upgrade: 'publish the version the
    # server reports, or bump the version in the server itself' told them to edit code they do not own
    info = await publish_bundled("orders")
    document = copy.deepcopy(await export_server_json(info.ref))
    here = document["version"]
    document["version"] = "1.0.0"
    with pytest.raises(SwitchboardError) as err:
        await import_server_json(
            document,
            published_by="ivan",
            name="orders-old",
            connect_to=build("orders", launch=ServerLaunch(org_id="registry"), hooks=[]),
        )
    said = err.value.message
    assert err.value.code == "INVALID_ARGUMENT" and "serverInfo.version" in said
    assert "describes orders 1.0.0" in said and f"serves {here}" in said and "bump the version" not in said, said
