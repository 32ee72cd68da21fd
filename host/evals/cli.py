"""``switchboard eval``: run a scenario pack against an agent version, compare runs, set the gate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from core.cliutil import check_output_file, console, err_console, fail, print_json, run, table

app = typer.Typer(help="Evaluate an agent version on a scenario pack before it serves customers.", no_args_is_help=True)

PACK_HELP = "A pack folder (with pack.json) or a bundled pack name: ko-callcenter."


@app.command("run")
def eval_run(
    agent: str = typer.Argument(..., help="AGENT@N (draft or approved), e.g. cs-agent@2; AGENT alone = newest."),
    pack: str = typer.Option("ko-callcenter", "--pack", help=PACK_HELP),
    org: str = typer.Option("demo", "--org", envvar="SWITCHBOARD_ORG", help="The org the agent version lives in."),
    trials: int = typer.Option(1, "--trials", min=1, max=20, help="Runs per scenario (pass^k for k ≤ trials)."),
    provider: str = typer.Option(None, "--provider", help="anthropic, openai or offline (default: the agent's)."),
    simulator: str = typer.Option("scripted", "--simulator", help="scripted (the pack's turns) or model."),
    simulator_provider: str = typer.Option(
        "anthropic", "--simulator-provider", help="Model simulator: anthropic|openai."
    ),
    only: list[str] = typer.Option(None, "--only", help="Scenario ids or categories; repeat."),
    parallel: int = typer.Option(
        1, "--parallel", min=1, max=16, help="Scenarios run at once, each in its own tenant (try the core count)."
    ),
    out: Path = typer.Option(None, "--out", help="Also write the JSON report here."),
    require_covered: bool = typer.Option(
        False, "--require-covered", help="Exit 1 when a scenario the offline planner covers fails (CI)."
    ),
    transcripts: bool = typer.Option(True, "--transcripts/--no-transcripts", help="Show failing transcripts."),
    json_output: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    keep_tenants: bool = typer.Option(
        False, "--keep-tenants", help="Leave the scenarios' tenants to inspect (remove them with `eval prune`)."
    ),
) -> None:
    """Run every scenario of the pack in a fresh tenant through the real host, servers and gateway.

    Each tenant (an eval-* org holding the scenario's conversation) is removed when the run ends,
    also when it fails; the report keeps the transcripts. Tenants a crashed run left behind are
    removed when the next run starts, or by `switchboard eval prune`.

    Prints the pass rate per category, pass^k, and for each failure the expected vs actual
    state with the transcript; writes a JSON report under $SWITCHBOARD_HOME/evals and, when the
    run covered the whole pack, records the result against the agent version (shown on approval,
    checked by the org's gate). A run with --only is partial: reported, not counted by the gate.
    """
    from host.evals.pack import load_pack
    from host.evals.runner import RunOptions

    if simulator not in ("scripted", "model"):
        raise typer.BadParameter("--simulator is scripted or model")
    check_output_file(out, "--out")  # before the run: a missing directory is named, not found after it
    if provider is not None:  # an explicit provider that cannot answer is an error, never a silent offline run
        from host.providers import explicit_provider_problem

        if problem := explicit_provider_problem(provider):
            fail("INVALID_ARGUMENT", problem)
    loaded = run(lambda: _load(pack, load_pack))
    opts = RunOptions(
        org_id=org,
        agent_ref=agent,
        trials=trials,
        provider=provider,
        simulator=simulator,
        simulator_provider=simulator_provider,
        only=list(only or []),
        parallel=parallel,
        keep_tenants=keep_tenants,
    )
    report, path = run(lambda: _run(loaded, opts, quiet=json_output))
    if out is not None:
        from host.evals.report import write_report

        write_report(report, out)
    if json_output:
        print_json(report)
    else:
        print_report(report, path, transcripts=transcripts)
    if require_covered and report["summary"]["covered_failures"]:
        raise typer.Exit(1)


async def _load(pack: str, load_pack: Any) -> Any:
    return load_pack(pack)


async def _run(pack: Any, opts: Any, *, quiet: bool) -> tuple[dict[str, Any], Path]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from host.evals.report import write_report
    from host.evals.runner import run_eval
    from registry.gate import record_result

    total = len(pack.select(opts.only)) * opts.trials
    progress = Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=err_console, disable=quiet,
    )  # fmt: skip
    with progress:
        task = progress.add_task(f"{pack.ref} · {opts.agent_ref}", total=total)

        def done(result: dict[str, Any]) -> None:
            mark = "[green]✓[/]" if result["passed"] else "[red]✗[/]"
            progress.console.print(f"{mark} {result['id']} [dim]t{result['trial']} {result.get('seconds', 0):.1f}s[/]")
            progress.advance(task)

        report = await run_eval(pack, opts, on_result=None if quiet else done)
    path = write_report(report)
    if report["scope"]["counted_by_gate"]:  # a partial run (--only) is reported, never recorded
        await record_result(report)
    return report, path


def print_report(report: dict[str, Any], path: Path | None, *, transcripts: bool = True) -> None:
    from host.evals.report import category_rows, failure_lines, pct

    s = report["summary"]
    title = (
        f"{report['agent']} on {report['pack']}@{report['pack_version']} · {report['provider']} · {report['simulator']}"
    )
    console.print(table(title, ["category", "runs", "passed", "pass rate"], category_rows(report)))
    for note in report.get("notes") or []:
        console.print(f"[yellow]note[/] {note}")
    if line := partial_line(report):
        console.print(f"[yellow]{line}[/]")
    langs = ", ".join(f"{k} {pct(v['pass_rate'])} ({v['passed']}/{v['runs']})" for k, v in s["by_language"].items())
    ks = ", ".join(f"pass^{k} {pct(v)}" for k, v in s["pass_hat_k"].items())
    console.print(f"languages: {langs}\n{ks}")
    cov, rest = s["covered"], s["not_covered"]
    console.print(
        f"offline-covered scenarios: {cov['passed']}/{cov['runs']} passed · others: {rest['passed']}/{rest['runs']}"
    )
    for result in report["results"]:
        if not result["passed"]:
            tag = "[red]COVERED[/] " if result["offline_covered"] else ""
            lines = failure_lines(result, transcript=transcripts)
            console.print(f"\n{tag}[bold]✗ {lines[0]}[/]", highlight=False)
            for line in lines[1:]:
                console.print(line, markup=False, highlight=False)
    if path is not None:
        console.print(f"\nreport {report['run_id']} written to {path}")
    gone = report.get("tenants") or {}
    if gone.get("kept"):
        kept = len(gone["kept"])
        console.print(f"{kept} eval tenant(s) kept (--keep-tenants): remove them with `switchboard eval prune`")
    elif gone.get("removed"):
        console.print(f"{gone['removed']} eval tenant(s) removed (only this report keeps the conversations)")


def partial_line(report: dict[str, Any]) -> str:
    """'partial run: 13 of 91 scenarios …' for a run that left scenarios out; '' for a whole-pack run
    (reports written before runs said so have no scope: they are taken as they were recorded)."""
    scope = report.get("scope")
    if not scope or scope["complete"]:
        return ""
    only = " ".join(f"--only {o}" for o in scope["only"])
    return (
        f"partial run: {scope['scenarios']} of {scope['pack_scenarios']} scenarios of {report['pack']} ({only}); "
        f"not recorded against {report['agent']}: the eval gate and approval count only runs of the whole pack"
    )


@app.command("compare")
def eval_compare(
    a: str = typer.Argument(..., help="A report path or run id (the baseline)."),
    b: str = typer.Argument(..., help="A report path or run id (the candidate)."),
    json_output: bool = typer.Option(False, "--json", help="Print the comparison as JSON."),
) -> None:
    """Show two eval runs side by side: pass rate per category, pass^k, scenarios that changed."""
    from host.evals.report import changed_scenarios, compare_rows, read_report

    ra, rb = run(lambda: _pair(read_report, a, b))
    rows, changed = compare_rows(ra, rb), changed_scenarios(ra, rb)
    if json_output:
        print_json({"a": ra["run_id"], "b": rb["run_id"], "rows": rows, "changed": changed})
        return
    pa, pb = (f"{r.get('pack')}@{r.get('pack_version')}" for r in (ra, rb))
    if pa != pb:
        err_console.print(f"[yellow]note[/] the runs used different packs ({pa} vs {pb}): rates are not comparable")
    for name, r in (("A", ra), ("B", rb)):
        if line := partial_line(r):
            err_console.print(f"[yellow]note[/] {name} is a {line}")
    head_a = f"A {ra['agent']} · {ra['provider']}"
    head_b = f"B {rb['agent']} · {rb['provider']}"
    console.print(table(f"{ra['run_id']} vs {rb['run_id']}", ["", head_a, head_b, "B − A"], rows))
    if changed:
        console.print(table("scenarios whose outcome changed", ["scenario", "A", "B"], changed))
    else:
        console.print("no scenario changed outcome")


async def _pair(read: Any, a: str, b: str) -> tuple[dict[str, Any], dict[str, Any]]:
    return read(a), read(b)


@app.command("list")
def eval_list(
    pack: str = typer.Option("ko-callcenter", "--pack", help=PACK_HELP),
    json_output: bool = typer.Option(False, "--json", help="Print the scenarios as JSON."),
) -> None:
    """List a pack's scenarios (validates the pack; every problem is reported at once)."""
    from host.evals.pack import load_pack

    loaded = run(lambda: _load(pack, load_pack))
    rows = [
        (s.id, s.category, s.language, s.customer["persona"], "yes" if s.offline_covered else "no", s.title)
        for s in loaded.scenarios
    ]
    if json_output:
        print_json(
            [dict(zip(("id", "category", "language", "persona", "offline", "title"), r, strict=True)) for r in rows]
        )
        return
    console.print(
        table(f"{loaded.ref}: {len(rows)} scenarios", ["id", "category", "lang", "persona", "offline", "title"], rows)
    )


@app.command("gate")
def eval_gate(
    org: str = typer.Option(..., "--org", envvar="SWITCHBOARD_ORG", help="The org whose approvals are gated."),
    min_pass_rate: float = typer.Option(None, "--min-pass-rate", help="0..1, e.g. 0.9; omit to show the gate."),
    pack: str = typer.Option("ko-callcenter", "--pack", help=PACK_HELP + " Its runs are the ones that count."),
    clear: bool = typer.Option(False, "--clear", help="Remove the requirement."),
    by: str = typer.Option(None, "--by", envvar="SWITCHBOARD_ACTOR", help="Who sets it (default: $USER)."),
    json_output: bool = typer.Option(False, "--json"),
) -> None:
    """Require a minimum eval pass rate before `registry agent approve` succeeds in an org.

    The gate pins the pack by name and content digest: only a run of the whole pack, exactly as it
    was when the gate was set, counts (a run with --only is partial and is not recorded; a run of
    another pack, or of an edited copy under the same name, does not count). After the pack
    changes, set the gate again.
    """
    import getpass

    from host.evals.pack import load_pack
    from registry.gate import get_gate, set_gate

    async def _go() -> Any:
        if clear:
            return await set_gate(org, None, pack=None, set_by=by or getpass.getuser())
        if min_pass_rate is not None:
            loaded = load_pack(pack)
            return await set_gate(
                org, min_pass_rate, pack=loaded.name, set_by=by or getpass.getuser(),
                pack_version=loaded.version, pack_digest=loaded.digest,
            )  # fmt: skip
        return await get_gate(org)

    gate = run(_go)
    if json_output:
        print_json(gate.to_dict() if gate else None)
    elif gate is None:
        console.print(f"{org}: no eval gate; approvals need no eval run")
    else:
        console.print(
            f"{org}: approvals need an eval pass rate ≥ {gate.min_pass_rate * 100:.1f}% on {gate.pack_line()} "
            f"(set by {gate.set_by}), from a run of that whole pack (a run with --only is partial and does not count)"
        )


@app.command("prune")
def eval_prune(json_output: bool = typer.Option(False, "--json", help="Print what was removed as JSON.")) -> None:
    """Remove every eval tenant no running eval holds: a crashed or killed run's, or --keep-tenants'.

    Their rows in every store (orders, KB, memories, conversations, the cloned agent), their
    vectors and index files; the reports and the audit log stay. Safe while another eval runs:
    its tenants are left alone."""
    from host.evals.cleanup import prune_tenants

    result = run(prune_tenants)
    if json_output:
        print_json(result.to_dict())
        return
    if not result.removed:
        busy = f" ({len(result.live)} in use by a running eval)" if result.live else ""
        console.print(f"no eval tenants to remove{busy}")
        return
    console.print(
        f"[green]✓[/] removed {len(result.removed)} eval tenant(s): {result.rows} rows, "
        f"{result.collections} vector collection(s), {result.index_dirs} index folder(s)"
    )
    if result.live:
        console.print(f"  left {len(result.live)} in use by a running eval")
    if not result.wal_checkpointed:
        err_console.print("[yellow]![/] the SQLite WAL could not be truncated (a reader is open): run it again later")
