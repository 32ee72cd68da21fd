"""``switchboard registry export|import`` through the real CLI (in-process Typer runner)."""

from __future__ import annotations

import json

from registry.serverjson import PUBLISHER_META, schema_errors
from tests.registry.helpers import publish_bundled
from tests.registry.test_cli import _run, runner
from tests.registry.test_cli import app as cli_app


def sb(*args: str, code: int = 0):
    result = runner.invoke(cli_app, ["registry", *args])
    assert result.exit_code == code, (result.output, result.exception)
    return result


def test_export_and_import_from_the_command_line(db, tmp_path):
    info = _run(publish_bundled("orders"))
    out = tmp_path / "server.json"
    wrote = sb("export", info.ref, "--out", str(out))
    assert "wrote" in wrote.output and f"{len(info.tools)} tool pins" in wrote.output
    document = json.loads(out.read_text(encoding="utf-8"))
    assert schema_errors(document) == []
    assert json.loads(sb("export", info.ref).stdout) == document  # stdout for pipes
    assert "NOT_FOUND" in sb("export", "orders@9.9.9", code=2).output

    drifted = dict(document, _meta={PUBLISHER_META: dict(document["_meta"][PUBLISHER_META])})
    drifted["_meta"][PUBLISHER_META]["tools"] = {**drifted["_meta"][PUBLISHER_META]["tools"], "get_order": "0" * 64}
    bad = tmp_path / "drifted.json"
    bad.write_text(json.dumps(drifted), encoding="utf-8")
    refused = sb("import", str(bad), "--name", "orders-copy", "--by", "ivan", code=2)
    assert "CONFLICT" in refused.output and "'get_order' drifted" in refused.output

    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"name": "orders", "description": "d", "version": "1.0.0"}), encoding="utf-8")
    refused = sb("import", str(broken), code=2)
    # the pattern is shown as written (error text is never read as terminal markup)
    assert "'^[a-zA-Z0-9.-]+/[a-zA-Z0-9._-]+$'" in refused.output.replace("\n", "")
    assert "INVALID_ARGUMENT" in sb("import", str(tmp_path / "missing.json"), code=2).output

    imported = json.loads(sb("import", str(out), "--name", "orders-copy", "--by", "ivan", "--json").stdout)
    assert imported["pins_checked"] is True and imported["source"] == "package"
    assert imported["info"]["tools_manifest_sha256"] == info.tools_manifest_sha256
    assert imported["info"]["status"] == "pending_review" and imported["registry_name"] == document["name"]
