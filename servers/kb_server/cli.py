"""``switchboard kb``: create knowledge bases, upload documents, manage versions, search.

Every command takes ``--org`` (or ``SWITCHBOARD_ORG``) and ``--json``. Heavy imports stay inside
the commands so ``switchboard --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.markup import escape  # KB names and titles are data, not Rich markup ("[faq] 환불")

from core.cliutil import console, err_console, print_json, run, table

app = typer.Typer(
    help="Knowledge bases: create, upload documents (each change is a new version), search.", no_args_is_help=True
)

OrgOption = typer.Option(..., "--org", envvar="SWITCHBOARD_ORG", help="The tenant (organisation) id.")
JsonOption = typer.Option(False, "--json", help="Print machine-readable JSON.")


def _kb_row(kb: dict[str, Any]) -> dict[str, Any]:
    return {
        "kb_id": kb["id"],
        "name": kb["name"],
        "description": kb["description"],
        "is_active": bool(kb["is_active"]),
        "version": kb["current_version"],
        "content_sha256": kb.get("content_sha256"),
        "n_documents": kb.get("n_documents", 0),
        "n_chunks": kb.get("n_chunks", 0),
        "created_at": kb["created_at"],
        "updated_at": kb["updated_at"],
    }


@app.command("create")
def create(
    name: str = typer.Argument(..., help="A name unique within the organisation, e.g. 고객센터."),
    org: str = OrgOption,
    description: str = typer.Option("", help="What the KB covers (shown to agents)."),
    inactive: bool = typer.Option(False, "--inactive", help="Create it inactive (not searched until activated)."),
    json_output: bool = JsonOption,
) -> None:
    """Create an empty knowledge base (version 0)."""
    from servers.kb_server.store import create_kb

    kb = run(lambda: create_kb(org, name, description, active=not inactive))
    if json_output:
        print_json(_kb_row(kb))
        return
    state = "inactive" if inactive else "active"
    console.print(f"[green]✓[/] created {state} KB [bold]{escape(kb['name'])}[/] ({kb['id']})")
    console.print(f"  next: [cyan]switchboard kb upload {escape(kb['name'])} FILE... --org {org}[/]")


def _warn(line: str) -> None:

    err_console.print(f"[yellow]![/] {escape(line)}", soft_wrap=True)


def _manifest(path: Path) -> dict[str, str]:
    from servers.kb_server.titles import read_manifest

    return read_manifest(path)


async def _store_version(org: str, kb: str, items: list[Any], bar: Any, task: Any, fold_copies: bool = True) -> Any:
    """Upload ``items`` as one new version and build its lexical index (what upload and import share);
    ``bar``'s ``task`` counts the files (rows) prepared."""
    from servers.kb_server.indexes import version_index
    from servers.kb_server.store import upload as do_upload

    bar.update(task, description=f"parsing, chunking, indexing {len(items)}", total=len(items), completed=0)
    result = await do_upload(org, kb, items, fold_copies=fold_copies, progress=lambda n: bar.advance(task, n))
    bar.update(task, description="writing the new version")
    if result.new_version:
        await version_index(org, result.kb_id, result.version)
    return result


@app.command("upload")
def upload(
    kb: str = typer.Argument(..., help="KB name or id."),
    files: list[Path] = typer.Argument(
        ...,
        help="Files (.md .txt .html .pdf .docx), or folders: a folder gives the files directly inside it;"
        " subfolders, symlinks and other file types are skipped with a warning.",
    ),
    org: str = OrgOption,
    doc_id: str = typer.Option(None, help="Document id (one file only; default: the file name)."),
    title: str = typer.Option(None, help="Title (one file only; default: the first heading or file name)."),
    source: str = typer.Option(None, help="Where the document came from, e.g. a URL (one file only)."),
    embed: bool = typer.Option(False, "--embed", help="Also compute the dense vectors now (slow on CPU)."),
    json_output: bool = JsonOption,
    titles: Path = typer.Option(
        None, "--titles", help="A manifest of titles for many files: JSON {file: title}, or JSONL/CSV (file, title)."
    ),
) -> None:
    """Upload documents as one new KB version. Identical content is skipped; a bad file changes nothing.

    A folder gives the .md .txt .html .pdf .docx files directly inside it, not
    its subfolders' (upload each subfolder on its own). Every entry left out
    (subfolder, other file type, symlink) is named with the reason; a folder
    with nothing to upload is an error, and nothing is written.

    The documents are keyword-searchable at once; semantic vectors are computed
    by the running server in the background, or now with --embed, or later with
    `switchboard kb embed`.
    """
    from dataclasses import asdict

    from rich.progress import Progress

    from core.errors import invalid
    from servers.kb_server.folders import expand
    from servers.kb_server.store import UploadItem

    found = run(lambda: _call(expand, files, _warn))
    paths = found.files
    if len(paths) > 1 and (doc_id or title or source):
        run(lambda: _raise(invalid("--doc-id, --title and --source need exactly one file")))

    async def go() -> Any:
        manifest = _manifest(titles) if titles else {}
        with Progress(console=console, transient=True, disable=json_output) as progress:
            task = progress.add_task("reading", total=len(paths))
            items = []
            for path in paths:
                progress.update(task, description=f"reading {path.name}")
                named = title or manifest.get(path.name)
                items.append(UploadItem.from_path(path, doc_id=doc_id, title=named, source=source))
                progress.advance(task)
            result = await _store_version(org, kb, items, progress, task)
        if embed:
            await _embed(org, result.kb_id, json_output)
        return result

    result = run(go)
    if json_output:
        print_json(
            {
                "kb_id": result.kb_id,
                "kb_name": result.kb_name,
                "version": result.version,
                "new_version": result.new_version,
                "documents": [asdict(d) for d in result.documents],
                "skipped": [asdict(s) for s in found.skipped],
                "symlinks_skipped": found.symlinks_skipped,
                "symlinks_followed": found.symlinks_followed,
            }
        )
        return
    for d in result.documents:
        note = f" (same content as {d.same_as})" if d.status == "unchanged" and d.same_as != d.doc_id else ""
        console.print(f"  {d.status:9} {d.doc_id}  {d.n_chunks} chunks{note}")
    if result.new_version:
        console.print(f"[green]✓[/] {escape(result.kb_name)} is now at version {result.version}")
        if not embed:
            console.print("  semantic vectors: computed by the running server, or run [cyan]switchboard kb embed[/]")
    else:
        console.print(f"[yellow]=[/] nothing changed: {escape(result.kb_name)} stays at version {result.version}")
    if found.skipped:
        console.print(f"[yellow]![/] {len(found.skipped)} skipped (named above with the reason)")


async def _raise(err: Exception) -> None:
    raise err


async def _call(func: Any, *args: Any) -> Any:
    """``func(*args)`` inside :func:`run`, so its SwitchboardError prints as one line and exits 2."""
    return func(*args)


async def _embed(org: str, kb_id: str | None, json_output: bool, limit: int | None = None) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from servers.kb_server.vectors import embed_all, embed_lock, pending_total
    from servers.retrieval.embedding import get_embedder

    embedder = get_embedder()
    total = await pending_total(org_id=org, kb_id=kb_id, model_id=embedder.model_id)
    if limit is not None:
        total = min(total, limit)
    columns = (TextColumn("embedding"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with embed_lock(blocking=True), Progress(*columns, console=console, disable=json_output) as progress:
        task = progress.add_task("embedding", total=total)
        return await embed_all(
            org_id=org, kb_id=kb_id, embedder=embedder, limit=limit, progress=lambda n: progress.advance(task, n)
        )


@app.command("embed")
def embed_cmd(
    org: str = OrgOption,
    kb: str = typer.Option(None, help="Only this KB (name or id)."),
    limit: int = typer.Option(None, min=1, help="Stop after this many steps (see below)."),
    json_output: bool = JsonOption,
) -> None:
    """Compute missing semantic vectors now (resumable: interrupted work continues next time).

    Two steps per passage: its whole text, then its sentences (one vector each); every passage's
    first step comes before any second one, so a KB is searched by meaning as early as possible."""
    from servers.kb_server.store import get_kb

    async def go() -> tuple[int, str | None]:
        kb_id = (await get_kb(org, kb))["id"] if kb else None
        return await _embed(org, kb_id, json_output, limit), kb_id

    done, _ = run(go)
    if json_output:
        print_json({"embedded": done})
        return
    console.print(f"[green]✓[/] {done} embedding steps done (a passage's whole text and its sentences are one each)")


def _hint_org(org: str) -> bool:
    """No KB of ``org``: name the orgs that have some (a typo'd --org otherwise reads as "no hits").
    True when other orgs have KBs (``org`` is then likely a typo)."""
    from core.cliutil import hint_unknown_org
    from servers.kb_server.store import known_orgs

    return hint_unknown_org(org, run(known_orgs), "knowledge bases")


@app.command("list")
def list_cmd(org: str = OrgOption, json_output: bool = JsonOption) -> None:
    """List the organisation's knowledge bases."""
    from servers.kb_server.store import list_kbs

    kbs = [_kb_row(k) for k in run(lambda: list_kbs(org))]
    typo = not kbs and _hint_org(org)
    if json_output:
        print_json(kbs)
        return
    if not kbs:
        if not typo:  # other orgs have KBs: the hint on stderr names them; never suggest one under a typo
            console.print(f"no knowledge bases yet: [cyan]switchboard kb create NAME --org {escape(org)}[/]")
        return
    rows = [
        (
            escape(k["name"]),
            k["kb_id"],
            "yes" if k["is_active"] else "no",
            k["version"],
            k["n_documents"],
            k["n_chunks"],
        )
        for k in kbs
    ]
    console.print(table(f"Knowledge bases of {org}", ["name", "id", "active", "version", "docs", "chunks"], rows))


@app.command("show")
def show(
    kb: str = typer.Argument(..., help="KB name or id."), org: str = OrgOption, json_output: bool = JsonOption
) -> None:
    """Show a KB: its documents, current version and semantic-vector progress."""
    from servers.kb_server import sentences
    from servers.kb_server.purge import purged_documents
    from servers.kb_server.store import get_kb, list_documents
    from servers.kb_server.vectors import pending_total, progress_counts
    from servers.retrieval.embedding import get_embedder

    async def go() -> dict[str, Any]:
        info = await get_kb(org, kb)
        docs = await list_documents(org, info["id"])
        model_id = get_embedder().model_id
        version = info["current_version"]
        done, total = await progress_counts(org, info["id"], version, model_id)
        whole, _ = await progress_counts(org, info["id"], version, model_id, only=model_id)
        by_sentence, _ = await progress_counts(org, info["id"], version, model_id, only=sentences.marker(model_id))
        backlog = await pending_total(org_id=org, kb_id=info["id"], model_id=model_id)
        return {
            **_kb_row(info),
            "embedding": {
                "model_id": model_id,
                "embedded": done,
                "whole_embedded": whole,
                "sentence_vectors": sentences.enabled(),
                "sentences_embedded": by_sentence if sentences.enabled() else None,
                "total": total,
                "pending_all_versions": backlog,
            },
            "documents": [
                {
                    "doc_id": d["doc_id"],
                    "title": d["title"],
                    "source": d["source"],
                    "mime_type": d["mime_type"],
                    "content_sha256": d["content_sha256"],
                    "size_bytes": d["size_bytes"],
                    "n_chunks": d["n_chunks"],
                    "n_pages": d["n_pages"],
                    "uploaded_at": d["created_at"],
                }
                for d in docs
            ],
            "purged": await purged_documents(org, info["id"]),
        }

    data = run(go)
    if json_output:
        print_json(data)
        return
    emb = data["embedding"]
    share = emb["embedded"] / emb["total"] if emb["total"] else 1.0
    console.print(
        f"[bold]{escape(data['name'])}[/] ({data['kb_id']}) —"
        f" {'active' if data['is_active'] else '[yellow]inactive[/]'},"
        f" version {data['version']}, {data['n_documents']} documents, {data['n_chunks']} chunks"
    )
    if data["description"]:
        console.print(f"  {escape(data['description'])}")
    console.print(f"  semantic vectors: {emb['embedded']}/{emb['total']} ({share:.0%}) with {emb['model_id']}")
    if emb["sentence_vectors"] and emb["whole_embedded"] > emb["embedded"]:
        console.print(
            f"  whole passages {emb['whole_embedded']}/{emb['total']}, sentences {emb['sentences_embedded']}/"
            f"{emb['total']}: searched by whole passages until every passage also has its sentence vectors"
            " (`switchboard kb embed`)"
        )
    rows = [
        (d["doc_id"], escape(d["title"]), d["mime_type"].split("/")[-1][:20], d["n_chunks"], d["n_pages"] or "")
        for d in data["documents"]
    ]
    console.print(table("Documents", ["doc_id", "title", "type", "chunks", "pages"], rows))
    for p in data["purged"]:
        where = ", ".join(f"v{v}" for v in p["versions"]) or "-"
        console.print(
            f"  [yellow]purged[/] {p['doc_id']} (held by {where}) at {p['purged_at']} by {escape(p['purged_by'])}:"
            f" {escape(p['reason'])}"
        )


def _set_active(kb: str, org: str, active: bool, json_output: bool) -> None:
    from servers.kb_server.store import set_active

    info = run(lambda: set_active(org, kb, active))
    if json_output:
        print_json(_kb_row(info))
        return
    console.print(
        f"[green]✓[/] {escape(info['name'])} is now {'active (searched)' if active else 'inactive (not searched)'}"
    )


@app.command("activate")
def activate(
    kb: str = typer.Argument(..., help="KB name or id."), org: str = OrgOption, json_output: bool = JsonOption
) -> None:
    """Make a KB searchable."""
    _set_active(kb, org, True, json_output)


@app.command("deactivate")
def deactivate(
    kb: str = typer.Argument(..., help="KB name or id."), org: str = OrgOption, json_output: bool = JsonOption
) -> None:
    """Stop searching a KB (its versions and documents are kept)."""
    _set_active(kb, org, False, json_output)


@app.command("delete-doc")
def delete_doc(
    kb: str = typer.Argument(..., help="KB name or id."),
    doc_id: str = typer.Argument(..., help="The document id (see `kb show`)."),
    org: str = OrgOption,
    json_output: bool = JsonOption,
) -> None:
    """Remove a document: a new version without it (pinned older versions keep it)."""
    from servers.kb_server.indexes import version_index
    from servers.kb_server.store import delete_document

    async def go() -> Any:
        result = await delete_document(org, kb, doc_id)
        await version_index(org, result.kb_id, result.version)
        return result

    result = run(go)
    if json_output:
        print_json({"kb_id": result.kb_id, "kb_name": result.kb_name, "version": result.version, "deleted": doc_id})
        return
    console.print(f"[green]✓[/] removed {doc_id}; {escape(result.kb_name)} is now at version {result.version}")


@app.command("versions")
def versions(
    kb: str = typer.Argument(..., help="KB name or id."), org: str = OrgOption, json_output: bool = JsonOption
) -> None:
    """List a KB's versions (newest first) with their content hashes."""
    from servers.kb_server.store import list_versions

    rows = run(lambda: list_versions(org, kb))
    if json_output:
        print_json([{k: v for k, v in r.items() if k != "org_id"} for r in rows])
        return
    console.print(
        table(
            "Versions",
            ["version", "change", "summary", "docs", "chunks", "content sha256", "built"],
            [
                (
                    r["version"],
                    r["change"],
                    escape(r["summary"][:60]),
                    r["n_documents"],
                    r["n_chunks"],
                    r["content_sha256"][:16],
                    r["built_at"],
                )
                for r in rows
            ],
        )
    )


@app.command("search")
def search_cmd(
    query: str = typer.Argument(None, help="The question or keywords (or use --file)."),
    org: str = OrgOption,
    kb: list[str] = typer.Option(None, "--kb", help="Only this KB (repeatable; name or id)."),
    pin: list[str] = typer.Option(None, "--pin", help="Search a pinned version: KB_ID=VERSION (repeatable)."),
    top_k: int = typer.Option(5, "--top-k", min=1, max=50, help="How many passages."),
    json_output: bool = JsonOption,
    file: Path = typer.Option(
        None, "--file", help='Batch: JSONL of {"query": ..., "id"?: ..., "top_k"?: ...}; one JSON line per query.'
    ),
) -> None:
    """Search the active KBs as the MCP `search` tool does, and print the citations."""
    from core.errors import invalid
    from servers.kb_server.search import search

    if file is not None:
        from servers.kb_server.batch import search_file

        run(lambda: search_file(file, org, top_k, kb or None))
        return
    if query is None:
        run(lambda: _raise(invalid("give a query, or --file with one query per line")))

    pins: dict[str, int] | None = None
    if pin:
        pins = {}
        for item in pin:
            kb_id, sep, version = item.partition("=")
            if not sep or not version.isdigit():
                run(lambda: _raise(invalid("--pin takes KB_ID=VERSION, e.g. --pin kb_123=4")))
            pins[kb_id] = int(version)

    async def go() -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[str]]:
        from servers.kb_server.batch import keyword_only
        from servers.kb_server.lookups import cli_list_hint, resolve_targets

        targets = await resolve_targets(org, kb or None, pins, list_hint=cli_list_hint(org))
        hits = await search(org, query, top_k=top_k, targets=targets)
        return hits, targets, await keyword_only(org, targets)  # vectors not all computed yet

    hits, targets, behind = run(go)
    if not targets:
        _hint_org(org)
    from servers.kb_server.batch import keyword_only_note

    keyword_only_note(org, behind)
    if json_output:  # the MCP `search` tool's result shape
        searched = [{"kb_id": t["id"], "kb_name": t["name"], "version": t["version"]} for t in targets]
        print_json({"query": query, "hits": hits, "searched": searched})
        return
    if not hits:
        console.print("no hits")
        return
    for n, h in enumerate(hits, 1):
        where = f"p.{h['page']}" if h["page"] else escape(h["section"] or "")
        console.print(
            f"[bold]{n}.[/] [cyan]{escape(h['title'])}[/] {where}  [dim]{escape(h['kb_name'])} v{h['version']} ·"
            f" {h['doc_id']} · {h['chunk_id']} · score {h['score']:.3f}[/]"
        )
        console.print(f"   {h['text'][:300]}", markup=False, highlight=False)


@app.command("load-demo")
def load_demo_cmd(
    org: str = OrgOption,
    name: str = typer.Option("고객센터", help="The demo KB's name."),
    json_output: bool = JsonOption,
) -> None:
    """Load the bundled Korean call-center KB (idempotent: re-running changes nothing)."""
    from servers.kb_server.demo import load_demo

    result = run(lambda: load_demo(org, name=name))
    if json_output:
        print_json(
            {
                "kb_id": result.kb_id,
                "kb_name": result.kb_name,
                "version": result.version,
                "new_version": result.new_version,
            }
        )
        return
    changed = sum(1 for d in result.documents if d.status != "unchanged")
    console.print(
        f"[green]✓[/] demo KB {escape(result.kb_name)} at version {result.version} ({changed} documents changed)"
    )


@app.command("import")
def import_cmd(
    kb: str = typer.Argument(..., help="KB name or id."),
    file: Path = typer.Argument(..., help="Rows of passages: .jsonl or .csv (id, title, text, metadata); .parquet"),
    org: str = OrgOption,
    embed: bool = typer.Option(False, "--embed", help="Also compute the dense vectors now (slow on CPU)."),
    json_output: bool = JsonOption,
) -> None:
    """Import passages as documents (one per row) in ONE new KB version; a bad row imports nothing."""
    from rich.progress import Progress

    from servers.kb_server.rows import read_rows

    async def go() -> Any:
        with Progress(console=console, transient=True, disable=json_output) as progress:
            task = progress.add_task(f"reading {file.name}", total=None)
            items = read_rows(file)
            result = stored[0] = await _store_version(org, kb, items, progress, task, fold_copies=False)  # a doc per id
        if embed:
            await _embed(org, result.kb_id, json_output)
        return result

    stored: list[Any] = [None]
    try:
        result = run(go)
    except KeyboardInterrupt:  # the version is written in one transaction: all or nothing
        from core.cliutil import fail

        done = stored[0]
        said = (
            f"version {done.version} is stored; `switchboard kb embed` computes its vectors"
            if done
            else (f"nothing was imported from {file.name}; run it again")
        )
        fail("UNAVAILABLE", f"interrupted: {said}", exit_code=130)
    counts: dict[str, int] = {}
    for d in result.documents:
        counts[d.status] = counts.get(d.status, 0) + 1
    summary = {
        "kb_id": result.kb_id,
        "kb_name": result.kb_name,
        "version": result.version,
        "new_version": result.new_version,
        "rows": len(result.documents),
        **counts,
        "chunks": sum(d.n_chunks for d in result.documents),
    }
    if json_output:
        print_json(summary)
        return
    rows = [(key, escape(str(value))) for key, value in summary.items()]
    console.print(table(f"Imported {escape(file.name)}", ["what", "value"], rows))


def _register_purge() -> None:
    from servers.kb_server.purge_cli import register

    register(app, OrgOption, JsonOption)


_register_purge()
