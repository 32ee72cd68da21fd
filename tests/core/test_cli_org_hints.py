"""A typo'd --org is named on stderr with the orgs that have data, and nothing suggests using it."""

from __future__ import annotations

from typer.testing import CliRunner

from servers.kb_server.cli import app as kb_app
from servers.kit.cli import tokens_app

runner = CliRunner()


def test_kb_list_under_a_typo_does_not_suggest_creating_a_kb_there(sb_env):
    """A walk: `kb list --org acm` printed "No knowledge bases yet: switchboard kb create NAME
    --org acm" beside the hint naming acme."""
    assert runner.invoke(kb_app, ["create", "고객센터", "--org", "acme"]).exit_code == 0
    typo = runner.invoke(kb_app, ["list", "--org", "acm"])
    assert typo.exit_code == 0, typo.output
    assert "acme" in typo.stderr and "check --org" in typo.stderr
    assert "kb create" not in typo.stdout and "--org acm" not in typo.stdout, typo.stdout
    other = runner.invoke(kb_app, ["list", "--org", "acme", "--json"])
    assert other.exit_code == 0 and "고객센터" in other.stdout


def test_kb_list_in_an_empty_store_still_says_how_to_start(sb_env):
    fresh = runner.invoke(kb_app, ["list", "--org", "acme"])
    assert fresh.exit_code == 0 and "switchboard kb create NAME --org acme" in fresh.stdout
    assert not fresh.stderr


def test_tokens_create_for_an_org_without_data_names_the_orgs_that_have_some(sb_env):
    """A walk: `tokens create --org demoo` (typo) succeeded silently."""
    assert runner.invoke(kb_app, ["create", "고객센터", "--org", "demo"]).exit_code == 0
    typo = runner.invoke(tokens_app, ["create", "--org", "demoo", "--label", "x"])
    assert typo.exit_code == 0, typo.output  # a token may be made before the org has data
    assert "sbt_" in typo.stdout
    assert "'demoo' has no data here" in typo.stderr and "demo" in typo.stderr, typo.stderr
    known = runner.invoke(tokens_app, ["create", "--org", "demo", "--label", "y"])
    assert known.exit_code == 0 and not known.stderr, known.stderr
    service = runner.invoke(tokens_app, ["create", "--trusted", "--label", "host"])
    assert service.exit_code == 0 and not service.stderr, service.stderr
