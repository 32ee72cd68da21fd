"""Scenario packs: a folder with ``pack.json`` and ``scenarios/*.json``, validated with JSON Schema.

A scenario is one customer call: the initial state of a fresh tenant, the customer (goal,
persona, scripted turns or simulator instructions), optional faults (a server that dies
mid-call) and the expected outcome graded on the final state. See docs/evals.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from core.canonical import canonical_sha256
from core.errors import SwitchboardError, invalid
from core.jsonload import read_json_file

PACK_FORMAT = 1
BUNDLED = Path(__file__).parent / "packs"
CATEGORIES = (
    "refund_status",
    "shipping",
    "refund_request",
    "other_customer",
    "unverified_caller",
    "contact_change",
    "policy_kb",
    "angry_escalation",
    "injection",
    "server_failure",
    "long_session",
)
PERSONAS = ("polite", "angry", "confused", "elderly", "asr_noisy", "hostile")

_TURN = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "say": {"type": "string", "minLength": 1, "maxLength": 4000},
        "asr": {"type": "number", "minimum": 0, "maximum": 1},
        "button": {"enum": ["yes", "no"]},
        "kill_server": {"enum": ["orders", "kb", "memory"]},
    },
    "oneOf": [{"required": ["say"]}, {"required": ["button"]}],
}
_STRINGS = {"type": "array", "items": {"type": "string", "minLength": 1}}
SCENARIO_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "required": ["id", "category", "language", "title", "offline_covered", "initial", "customer", "expect"],
    "properties": {
        "id": {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]{2,60}$"},
        "category": {"enum": list(CATEGORIES)},
        "language": {"enum": ["ko", "en"]},
        "title": {"type": "string", "minLength": 3},
        "offline_covered": {"type": "boolean"},
        "note": {"type": "string"},
        "initial": {
            "type": "object",
            "additionalProperties": False,
            "required": ["verified", "channel"],
            "properties": {
                "customer": {"type": "string", "pattern": "^C-[0-9]{4}$"},
                "verified": {"type": "boolean"},
                "channel": {"enum": ["chat", "유선", "voice", "app"]},
                "memories": _STRINGS,
                "kb_documents": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["name", "text"],
                        "properties": {
                            "name": {"type": "string", "pattern": r"^[\w.-]+\.md$"},
                            "text": {"type": "string"},
                        },
                    },
                },
            },
        },
        "customer": {
            "type": "object",
            "additionalProperties": False,
            "required": ["goal", "persona"],
            "properties": {
                "goal": {"type": "string", "minLength": 2},
                "persona": {"enum": list(PERSONAS)},
                "turns": {"type": "array", "minItems": 1, "maxItems": 40, "items": _TURN},
                "simulator": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["instructions"],
                    "properties": {
                        "instructions": {"type": "string", "minLength": 3},
                        "max_turns": {"type": "integer", "minimum": 1, "maximum": 30},
                    },
                },
            },
            "anyOf": [{"required": ["turns"]}, {"required": ["simulator"]}],
        },
        "expect": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "actions_required": _STRINGS,
                "actions_forbidden": _STRINGS,
                "refund_rows": {
                    "type": "object",
                    "additionalProperties": {"type": "integer", "minimum": 0},
                    "propertyNames": {"pattern": "^[0-9]{3,12}$"},
                },
                "memories": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["contains", "status"],
                        "properties": {
                            "contains": {"type": "string", "minLength": 1},
                            "status": {"enum": ["active", "superseded", "absent"]},
                        },
                    },
                },
                "review_items": {"type": "integer", "minimum": 0},
                "escalated": {"type": "boolean"},
                "cites_kb": {"type": "boolean"},
                "answer_contains": _STRINGS,
                "answer_excludes": _STRINGS,
                "no_raw_pii": {"type": "boolean"},
            },
        },
    },
}
PACK_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name", "version", "format", "description"],
    "properties": {
        "name": {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]{1,60}$"},
        "version": {"type": "string", "pattern": r"^[0-9]+\.[0-9]+\.[0-9]+$"},
        "format": {"const": PACK_FORMAT},
        "description": {"type": "string"},
    },
}
_SCENARIO = Draft202012Validator(SCENARIO_SCHEMA)
_PACK = Draft202012Validator(PACK_SCHEMA)


@dataclass(frozen=True, slots=True)
class Scenario:
    id: str
    category: str
    language: str
    title: str
    offline_covered: bool
    initial: dict[str, Any]
    customer: dict[str, Any]
    expect: dict[str, Any]
    source: str

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str) -> Scenario:
        fields = {k: data[k] for k in cls.__slots__ if k in data and k != "source"}
        return cls(**fields, source=source)


@dataclass
class Pack:
    name: str
    version: str
    description: str
    path: Path
    scenarios: list[Scenario] = field(default_factory=list)
    digest: str = ""  # sha-256 of the pack's content (RFC 8785): what the eval gate pins

    @property
    def short_digest(self) -> str:
        return self.digest[:12]

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    def select(self, only: list[str] | None) -> list[Scenario]:
        if not only:
            return list(self.scenarios)
        wanted = set(only)
        picked = [s for s in self.scenarios if s.id in wanted or s.category in wanted]
        if not picked:
            raise invalid(f"no scenario or category matches {', '.join(sorted(wanted))}: see `switchboard eval list`")
        return picked


def _errors(validator: Draft202012Validator, data: Any, where: str) -> list[str]:
    out = []
    for err in sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path)):
        path = "/".join(str(p) for p in err.absolute_path) or "(top)"
        out.append(f"{where}: {path}: {err.message[:200]}")
    return out


MAX_SCENARIO_FILE_BYTES = 4 * 1024 * 1024  # the bundled files are under 10 KB; checked before reading


def _read_json(path: Path) -> Any:
    return read_json_file(path, what="scenario pack JSON file", max_bytes=MAX_SCENARIO_FILE_BYTES)


def resolve_pack_path(text: str) -> Path:
    """A folder path, or the name of a bundled pack (``ko-callcenter``)."""
    path = Path(text)
    if path.is_file() and path.name == "pack.json":
        path = path.parent
    if not path.exists() and (BUNDLED / text).is_dir():
        path = BUNDLED / text
    if not (path / "pack.json").is_file():
        raise invalid(f"{text} is not a scenario pack: it needs a pack.json (bundled packs: ko-callcenter)")
    return path


def load_pack(text: str | Path) -> Pack:
    """Load and validate a pack; every problem in every file is reported at once."""
    path = resolve_pack_path(str(text))
    meta = _read_json(path / "pack.json")
    problems = _errors(_PACK, meta, "pack.json")
    scenarios: list[Scenario] = []
    raw: list[Any] = []
    seen: dict[str, str] = {}
    files = sorted((path / "scenarios").glob("*.json"))
    if not files:
        problems.append(f"{path}/scenarios holds no *.json files")
    for file in files:
        try:
            data = _read_json(file)
        except SwitchboardError as err:  # every file's problem in one run, as for a scenario's
            problems.append(err.message)
            continue
        items = data if isinstance(data, list) else [data]
        for i, item in enumerate(items):
            where = f"{file.name}[{i}]"
            errs = _errors(_SCENARIO, item, where)
            if errs:
                problems.extend(errs)
                continue
            if item["id"] in seen:
                problems.append(f"{where}: id {item['id']} is also used in {seen[item['id']]}")
                continue
            seen[item["id"]] = where
            raw.append(item)
            scenarios.append(Scenario.from_dict(item, file.name))
    if problems:
        shown = "\n  ".join(problems[:20])
        more = f"\n  … and {len(problems) - 20} more" if len(problems) > 20 else ""
        raise invalid(f"the pack {path} has {len(problems)} problem(s); fix them and run again:\n  {shown}{more}")
    digest = canonical_sha256({"pack": meta, "scenarios": sorted(raw, key=lambda item: item["id"])})
    return Pack(meta["name"], meta["version"], meta.get("description", ""), path, scenarios, digest)
