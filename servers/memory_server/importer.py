"""Bulk import of conversations or plain memories from JSONL (``switchboard memory import``).

One JSON object per line, either a conversation::

    {"id": "conv-17", "customer": "C-1", "messages": [{"id": "m1", "role": "user", "name": "Caroline",
     "content": "I moved to Busan last week.", "timestamp": "2023-05-08T13:56:00+09:00"}, ...]}

(``speaker`` and ``text`` are accepted for ``name`` and ``content``; ``infer``, ``agent_id``,
``run_id`` and ``metadata`` optional) or a plain memory::

    {"id": "note-3", "customer": "C-1", "text": "VIP 골드 등급", "observed_at": "2024-05-01T10:00:00+09:00"}

The whole file is validated before anything is written: one bad line (with its line number in
the error) writes nothing; so does a record or message id that is personal data or holds a
control character or a path separator (:func:`source_id_problem`: ids are written as given to
the state file and the mapping). Each record is then stored in one transaction — all of a conversation
or none of it. Progress goes to a state file beside the input (``<file>.import-state.jsonl``), one
line per finished record with its mapping from source ids to memory ids, so a rerun after a crash
skips what is done — done *in this database and org*: a record whose memories are not there (the
file imported into another data home or org, or the database made again) is imported again
(:func:`still_recorded`), and one whose memories were erased there is not. A record committed
just before a crash but missing from the state is stored again on rerun and found as a duplicate
(same ids come back), so nothing is doubled.
"""

from __future__ import annotations

import json
import os
import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from core.context import customer_ref_problem, opaque_id_problem
from core.errors import invalid
from core.inputfile import not_regular_reason
from core.jsonload import loads
from servers.memory_server.filters import as_utc, time_range_problem

Ident = Annotated[str, Field(min_length=1, max_length=128)]


def _in_range(value: datetime) -> datetime:
    if value.tzinfo is None:  # '2024-05-01T10:00:00' from a Korean log is Seoul time; UTC would move it 9 h
        raise ValueError(
            "has no UTC offset: say which zone the time is in, e.g. 2024-05-01T10:00:00+09:00 (Korea) "
            "or 2024-05-01T01:00:00Z (UTC)"
        )
    if problem := time_range_problem(value):
        raise ValueError(problem)
    return value


Moment = Annotated[datetime, AfterValidator(_in_range)]  # year 1 at +09:00 overflowed converting to UTC
MAX_LINE_CHARS = 4_000_000
MAX_METADATA_CHARS = 16_000  # add_memory takes 20 fields of up to 500 characters


class ImportMessage(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    id: Annotated[str | None, Field(max_length=128)] = None
    role: Annotated[str, Field(pattern=r"^[a-z_]{1,20}$")] = "user"
    content: Annotated[str, Field(max_length=8000, alias="text")]
    name: Annotated[str | None, Field(max_length=64, alias="speaker")] = None
    timestamp: Moment | None = None

    @model_validator(mode="before")
    @classmethod
    def _aliases(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = dict(data)
            if "content" in data and "text" not in data:
                data["text"] = data.pop("content")
            if "name" in data and "speaker" not in data:
                data["speaker"] = data.pop("name")
        return data


class ImportRecord(BaseModel):
    """One line: a conversation (``messages``) or a plain memory (``text``)."""

    model_config = ConfigDict(extra="forbid")
    id: Ident
    customer: Ident | None = None
    agent_id: Ident | None = None
    run_id: Ident | None = None
    messages: Annotated[list[ImportMessage] | None, Field(min_length=1)] = None
    text: Annotated[str | None, Field(min_length=1, max_length=8000)] = None
    observed_at: Moment | None = None
    infer: bool | None = None
    metadata: dict[str, Any] | None = None  # any shape (masked in every string), up to MAX_METADATA_CHARS
    _line: int = PrivateAttr(default=0)  # where it stands in the file (for errors found after reading)

    @field_validator("metadata")
    @classmethod
    def _metadata(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        from servers.memory_server.guard import SOURCES

        if value is None:
            return value
        if "origin" in value and value["origin"] not in SOURCES:
            raise ValueError(f"origin must be one of {', '.join(SOURCES)} (who says so), as add_memory takes")
        if len(json.dumps(value, ensure_ascii=False)) > MAX_METADATA_CHARS:  # stored with every memory of the record
            raise ValueError(
                f"is longer than {MAX_METADATA_CHARS:,} characters as JSON: keep ids and labels there, "
                "not documents (a 3 MB value was stored with each memory and loaded with every search)"
            )
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> ImportRecord:
        if (self.messages is None) == (self.text is None):
            raise ValueError("give exactly one of `messages` (a conversation) or `text` (a plain memory)")
        return self


@dataclass(slots=True)
class ImportReport:
    records: int = 0
    skipped: int = 0  # already done (state file, and its memories are in this database)
    not_in_database: int = 0  # in the state file, but their memories are not here (another home or org): redone
    imported: int = 0
    memories_added: int = 0
    duplicates: int = 0
    mapping: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # record id -> source id -> memory ids


def state_path(source: Path) -> Path:
    return source.with_name(source.name + ".import-state.jsonl")


_NOT_TEXT = "{name}: not UTF-8, UTF-16 or CP949 text (binary data?): save the records as UTF-8 JSONL"
_HANGUL = re.compile(r"[가-힣]")
_HANJA = re.compile(r"[\u4e00-\u9fff\uf900-\ufaff]")


def _encoding(path: Path) -> str:
    """UTF-8 (a BOM, as Excel and Windows exports write it, is not data), UTF-16 with its BOM, else
    CP949 as Korean Windows tools save text, like ``kb import`` and ``search --file``;
    INVALID_ARGUMENT for none of them."""
    import codecs

    with path.open("rb") as handle:
        utf16 = handle.read(2) in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)  # Notepad's "Unicode"
    for encoding in ("utf-16",) if utf16 else ("utf-8-sig", "cp949"):
        decoder = codecs.getincrementaldecoder(encoding)()
        hangul = hanja = 0
        try:
            with path.open("rb") as handle:
                while block := handle.read(1 << 20):
                    text = decoder.decode(block)
                    hangul += len(_HANGUL.findall(text))
                    hanja += len(_HANJA.findall(text))
                decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            continue
        if encoding != "utf-8-sig" and hanja > hangul // 2:  # UTF-8 read as CP949, bytes as UTF-16: Hanja
            break
        return encoding
    raise invalid(_NOT_TEXT.format(name=path.name))


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    with path.open(encoding=_encoding(path)) as handle:
        for number, line in enumerate(handle, start=1):
            if len(line) > MAX_LINE_CHARS:
                raise invalid(
                    f"{path.name}:{number}: line longer than {MAX_LINE_CHARS} characters; nothing was imported"
                )
            if line.strip():
                yield number, line


def source_id_problem(value: str) -> str | None:
    """Why ``value`` cannot be a record or message id of an import, or None when it can.

    Source ids are written as given to the state file beside the input and to the ``--mapping``
    output (the database masks them; those files cannot), so an id that is personal data is
    refused, as an agent or run id is (:func:`core.context.opaque_id_problem`); so is one with a
    control character (NUL, a newline, a terminal escape) or a path separator (``../``).
    """
    from core.pii import contains_pii

    if any(unicodedata.category(ch) in ("Cc", "Zl", "Zp") for ch in value):
        return "holds a control character (NUL, a line break, an escape): use printable characters"
    if "/" in value or "\\" in value:
        return "holds a path separator ('/' or '\\'): use an opaque id instead, e.g. conv-0001"
    if contains_pii(value):
        return (
            "looks like personal data (a phone, card, account or resident number, or an e-mail address): "
            "use an opaque id instead, e.g. conv-0001"
        )
    return None


def _id_problems(record: ImportRecord) -> Iterator[tuple[str, str]]:
    """(where, problem) for each of ``record``'s source ids that cannot be one."""
    if problem := source_id_problem(record.id):
        yield "id", problem
    for index, message in enumerate(record.messages or []):
        if message.id is not None and (problem := source_id_problem(message.id)):
            yield f"messages.{index}.id", problem


def read_records(path: Path, default_customer: str | None) -> list[ImportRecord]:
    """Every record of ``path``, validated; the first bad line raises with its line number."""
    if reason := not_regular_reason(path):  # a FIFO is not waited on, a folder is named
        raise invalid(f"{path} does not exist" if reason.startswith("no such") else f"{path}: {reason}")
    records: list[ImportRecord] = []
    seen: set[tuple[str | None, str]] = set()
    try:
        for number, line in _lines(path):
            data = loads(
                line, source=path.name, line=number, hint=" — fix the line and run again; nothing was imported"
            )
            try:
                record = ImportRecord.model_validate(data)
            except (ValueError, ValidationError) as exc:
                detail = exc.errors()[0] if isinstance(exc, ValidationError) else None
                where = ".".join(str(p) for p in detail["loc"]) if detail else ""
                reason = detail["msg"].removeprefix("Value error, ") if detail else str(exc)
                raise invalid(
                    f"{path.name}:{number}: {where + ': ' if where else ''}{reason} — fix the line and run again; "
                    "nothing was imported"
                ) from None
            if bad_id := next(_id_problems(record), None):
                raise invalid(f"{path.name}:{number}: {bad_id[0]} {bad_id[1]}; nothing was imported")
            record.customer = record.customer or default_customer
            if not record.customer:
                raise invalid(f"{path.name}:{number}: no `customer` on the line and no --customer given")
            if problem := customer_ref_problem(record.customer):
                raise invalid(f"{path.name}:{number}: customer {problem}; nothing was imported")
            for label, value in (("agent_id", record.agent_id), ("run_id", record.run_id)):
                if value is not None and (problem := opaque_id_problem(value)):
                    raise invalid(f"{path.name}:{number}: {label} {problem}; nothing was imported")
            record._line = number
            key = (record.customer, record.id)
            if key in seen:
                raise invalid(f"{path.name}:{number}: record id {record.id!r} appears twice for this customer")
            seen.add(key)
            records.append(record)
    except UnicodeDecodeError:  # changed while read
        raise invalid(_NOT_TEXT.format(name=path.name)) from None
    if not records:
        raise invalid(f"{path.name} holds no records (every line is empty): nothing to import")
    return records


def check_state_file(path: Path) -> None:
    """Refuse a state file that is a symbolic link or not a regular file: it is read whole and
    appended to, so a link planted beside the input (to /dev/zero, to another file) must not be
    followed. Checked before anything is written."""
    if path.is_symlink():
        raise invalid(
            f"{path.name} is a symbolic link (to {os.readlink(path)}), not this import's state file: remove it "
            "and run again; nothing was imported"
        )
    if os.path.lexists(path) and (reason := not_regular_reason(path)):
        raise invalid(
            f"{path.name} {reason}, not this import's state file: remove it and run again; nothing was imported"
        )


def load_state(path: Path, org: str) -> dict[tuple[str, str], list[dict[str, list[str]]]]:
    """Finished records of earlier runs into ``org``: (customer, record id) -> their mappings (one
    per run that stored them: another data home gives other ids). A torn last line is ignored."""
    done: dict[tuple[str, str], list[dict[str, list[str]]]] = {}
    check_state_file(path)
    if not path.exists():
        return done
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entry = loads(line, source=path.name)
            if entry.get("org", org) == org:  # lines written before the org was recorded: checked below
                done.setdefault((entry["customer"], entry["id"]), []).append(entry["memories"])
        except (ValueError, KeyError, TypeError, AttributeError):
            continue
    return done


async def still_recorded(
    org: str, recorded: dict[tuple[str, str], list[dict[str, list[str]]]]
) -> dict[tuple[str, str], dict[str, list[str]]]:
    """The state file's records whose memories are in this database and org — or were erased there
    (a tombstone: an erased customer's data is not imported again by a rerun). A state file made
    against another data home or org, or a database made again since, does not skip anything."""
    from sqlalchemy import select

    from servers.memory_server.db import memory_engine
    from servers.memory_server.tables import memory_item, memory_tombstone

    wanted = sorted({i for runs in recorded.values() for mapping in runs for ids in mapping.values() for i in ids})
    known: set[str] = set()
    engine = await memory_engine()
    async with engine.connect() as conn:
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            for table, column in ((memory_item, memory_item.c.id), (memory_tombstone, memory_tombstone.c.memory_id)):
                rows = await conn.execute(select(column).where(table.c.org_id == org, column.in_(chunk)))
                known.update(r[0] for r in rows)
    done = {}
    for key, runs in recorded.items():
        here = [m for m in runs if all(i in known for ids in m.values() for i in ids)]
        if here:
            done[key] = here[-1]
    return done


def _candidates(record: ImportRecord, default_infer: bool) -> list[Any]:
    from servers.memory_server.extract import Message, extract_facts, from_text, verbatim

    if record.text is not None:
        cand = from_text(record.text, as_utc(record.observed_at) if record.observed_at else None)
        cand.meta = {"source_id": record.id}
        return [cand]
    msgs = [
        Message(m.role, m.content, m.name, as_utc(m.timestamp) if m.timestamp else None, m.id)
        for m in record.messages or []
    ]
    infer = default_infer if record.infer is None else record.infer
    candidates = extract_facts(msgs) if infer else verbatim(msgs)
    for cand in candidates:  # the record a memory came from: a rerun finds it stored (supersede.source_key)
        cand.meta = {**cand.meta, "source_id": record.id}
    return candidates


def check_file(
    path: Path, org: str, customer: str | None, infer: bool, scope_of: Callable[..., Any], bar: Any
) -> tuple[list[ImportRecord], list[list[Any]]]:
    """``path``'s records and the memories each would store, all checked (:func:`read_records`,
    :func:`screen_records`) with a "checking" progress bar. Runs outside the event loop, so a Ctrl-C
    stops it at once (exit 130); nothing is written before it ends."""
    from core.cliutil import fail
    from core.errors import SwitchboardError

    try:
        scope_of(org, customer or "import", None)  # the org and --customer, checked as every command does
        with bar:
            records = read_records(path, customer)
            task = bar.add_task("checking", total=len(records))
            return records, screen_records(path, records, org, infer, progress=lambda n: bar.advance(task, n))
    except SwitchboardError as err:
        fail(err.code.value, err.message)
    except KeyboardInterrupt:
        fail("UNAVAILABLE", f"interrupted while checking {path.name}: nothing was imported", exit_code=130)


def screen_records(
    path: Path, records: list[ImportRecord], org: str, infer: bool, progress: Callable[[int], None] | None = None
) -> list[list[Any]]:
    """The memories each record would store, checked as the write path checks them (an
    instruction, a bare personal number, a memory too long, a time in the future) before anything
    is written. Every record is checked: a refusal raises naming the first refused record in full
    and the lines of the others (up to :data:`MORE_LINES`), so one run shows what to fix; nothing
    was imported."""
    out, refused = [], []
    for record in records:
        candidates, problem = _screen_one(record, org, infer)
        if problem is not None:
            refused.append((record, problem))
        out.append(candidates)
        if progress:
            progress(1)
    if refused:
        record, problem = refused[0]
        message = f"{path.name}:{record._line}: record {record.id!r}: {problem}"
        if more := [str(r._line) for r, _ in refused[1:]]:
            shown = ", ".join(more[:MORE_LINES]) + (", …" if len(more) > MORE_LINES else "")
            message += f" ({len(more)} more records are refused, at lines {shown})"
        raise invalid(f"{message}; nothing was imported")
    return out


MORE_LINES = 30  # refused records named by line after the first


def _screen_one(record: ImportRecord, org: str, infer: bool) -> tuple[list[Any], str | None]:
    """(the memories ``record`` would store, why it is refused or None)."""
    from core.errors import SwitchboardError
    from servers.memory_server import guard
    from servers.memory_server.generations import FUTURE_SKEW, now
    from servers.memory_server.textnorm import MAX_MEMORY_CHARS, clean_text

    said = [record.text] if record.text is not None else [m.content for m in record.messages or []]
    candidates = [c for c in _candidates(record, infer) if not guard.left_out(clean_text(c.text), c.source)]
    texts = [clean_text(cand.text) for cand in candidates]
    if not any(clean_text(text) for text in said) or (candidates and not any(texts)):
        return candidates, "nothing to remember (the text or messages are empty)"
    for cand, text in zip(candidates, texts, strict=True):
        if not text:
            continue
        try:
            stored = guard.screen(text, org, verbatim=cand.source == "message")
        except SwitchboardError as exc:
            return candidates, exc.message
        if len(stored) > MAX_MEMORY_CHARS:
            return candidates, f"a memory is at most {MAX_MEMORY_CHARS} characters"
        observed = cand.observed_at or record.observed_at
        if observed is not None and as_utc(observed) > now() + FUTURE_SKEW:
            return candidates, "observed_at is in the future"
    return candidates, None


async def import_records(
    service: Any,
    org: str,
    records: list[ImportRecord],
    state: Path,
    *,
    candidates_of: list[list[Any]] | None = None,
    infer: bool = False,
    actor: str = "import",
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Store ``records`` not yet in ``state``, one transaction each; append each finished one to ``state``."""
    from servers.memory_server.scope import Scope

    done, report = {}, ImportReport(records=len(records))
    recorded = load_state(state, org)
    if recorded:
        done = await still_recorded(org, recorded)
        report.not_in_database = len(recorded) - len(done)
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)  # a link made since: refused
    with os.fdopen(os.open(state, flags, 0o644), "a", encoding="utf-8") as out:
        for number, record in enumerate(records):
            assert record.customer is not None
            key = (record.customer, record.id)
            if key in done:
                report.skipped += 1
                report.mapping[record.id] = done[key]
                if progress:
                    progress(1)
                continue
            scope = Scope(org, record.customer, record.agent_id, record.run_id, actor=actor)
            candidates = candidates_of[number] if candidates_of is not None else _candidates(record, infer)
            mapping: dict[str, list[str]] = {}
            if candidates:
                outcomes = await service.add(
                    scope, candidates, observed_at=record.observed_at, metadata=record.metadata
                )
                for cand, outcome in zip(candidates, outcomes, strict=True):
                    source = str(cand.meta.get("message_id") or cand.meta.get("source_id") or record.id)
                    ids = mapping.setdefault(source, [])
                    if outcome.id and outcome.id not in ids:
                        ids.append(outcome.id)
                    if outcome.event == "NONE":
                        report.duplicates += 1
                    else:
                        report.memories_added += 1
            line = {"org": org, "customer": record.customer, "id": record.id, "memories": mapping}
            out.write(json.dumps(line) + "\n")
            out.flush()
            os.fsync(out.fileno())
            report.imported += 1
            report.mapping[record.id] = mapping
            if progress:
                progress(1)
    return report
