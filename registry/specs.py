"""Parsing what an operator writes on ``registry agent draft``: model, tools, KB pins."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

from core.canonical import canonical_json
from core.errors import invalid
from core.jsonload import JSONInputError, loads
from registry.models import POLICIES
from registry.names import check_server_name, check_version

PROVIDERS = ("anthropic", "openai", "offline")
DEFAULT_TIMEOUT_MS = 10_000
DEFAULT_MAX_CALLS_PER_TURN = 3
_MODEL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@-]{0,199}\Z")


_TWICE = {"policy": "two policies", "timeout_ms": "two timeouts", "max_calls_per_turn": "two call limits"}


def _option_kind(option: str) -> str | None:
    """Which field a ``--tool`` option sets: a policy, a timeout in ms, or ``max=N``; None: neither."""
    if option in POLICIES:
        return "policy"
    if option.isdigit():
        return "timeout_ms"
    if option.startswith("max=") and option[4:].isdigit():
        return "max_calls_per_turn"
    return None


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """``<server>@<version>:<tool>[:never|:confirm|:approve][:<timeout_ms>][:max=<calls per turn>]``."""

    server: str
    version: str
    tool: str
    policy: str = "never"
    timeout_ms: int = DEFAULT_TIMEOUT_MS
    max_calls_per_turn: int = DEFAULT_MAX_CALLS_PER_TURN
    # which of policy, timeout_ms and max_calls_per_turn the operator wrote: on a copy
    # (``draft --from``) the others keep the copied binding's values
    given: frozenset[str] = field(default=frozenset(), compare=False)

    @classmethod
    def parse(cls, text: str, *, max_calls_per_turn: int | None = None) -> ToolSpec:
        """``max_calls_per_turn``: ``--max-calls-per-turn`` when the operator gave it (then it counts as written)."""
        ref, _, rest = text.partition(":")
        if "@" not in ref or not rest:
            raise invalid(
                f"--tool {text!r}: write <server>@<version>:<tool>[:confirm|:approve][:timeout_ms], "
                "e.g. orders@1.0.0:get_order:confirm"
            )
        server, _, version = ref.partition("@")
        check_server_name(server)
        check_version(version)
        tool, *options = rest.split(":")
        if not tool:
            raise invalid(f"--tool {text!r}: the tool name is missing")
        policy, timeout_ms = "never", DEFAULT_TIMEOUT_MS
        max_calls = DEFAULT_MAX_CALLS_PER_TURN if max_calls_per_turn is None else max_calls_per_turn
        given = set() if max_calls_per_turn is None else {"max_calls_per_turn"}
        written: set[str] = set()  # in this text: a second one of a kind is a mistake, not an override
        for option in options:
            kind = _option_kind(option)
            if kind in written:
                raise invalid(f"--tool {text!r} names {_TWICE[kind]}: give one, e.g. orders@1.0.0:get_order:confirm")
            if kind is not None:
                written.add(kind)
                given.add(kind)
            if option in POLICIES:
                policy = option
            elif option.isdigit():
                timeout_ms = int(option)
            elif option.startswith("max=") and option[4:].isdigit():
                max_calls = int(option[4:])
            else:
                raise invalid(
                    f"--tool {text!r}: {option!r} is not a policy ({', '.join(POLICIES)}), "
                    "a timeout in ms, or max=<calls per turn>"
                )
        if not 100 <= timeout_ms <= 600_000:
            raise invalid(f"--tool {text!r}: timeout_ms must be between 100 and 600000")
        if not 1 <= max_calls <= 100:
            raise invalid(f"--tool {text!r}: max calls per turn must be between 1 and 100")
        return cls(server, version, tool, policy, timeout_ms, max_calls, frozenset(given))

    def over(self, copied: ToolSpec) -> ToolSpec:
        """This binding replacing ``copied`` (the same server tool): what was not written is kept."""
        kept = {name: getattr(copied, name) for name in ("policy", "timeout_ms", "max_calls_per_turn")}
        return replace(self, **{name: value for name, value in kept.items() if name not in self.given})


@dataclass(frozen=True, slots=True)
class KbSpec:
    """``<kb name or id>@<version>``."""

    ref: str
    version: str

    @classmethod
    def parse(cls, text: str) -> KbSpec:
        ref, sep, version = text.rpartition("@")
        if not sep or not ref or not version:
            raise invalid(f"--kb {text!r}: write <kb>@<version>, e.g. faq@3")
        if len(ref) > 128 or len(version) > 64 or not (ref + version).isprintable():
            raise invalid(f"--kb {text!r}: the KB name or version is too long or has control characters")
        return cls(ref, version)


def parse_model(text: str) -> tuple[str, str]:
    """``anthropic:claude-sonnet-4-5`` → (``anthropic``, ``claude-sonnet-4-5``)."""
    provider, sep, model_id = text.partition(":")
    if not sep or provider not in PROVIDERS or not _MODEL_ID.match(model_id):
        raise invalid(f"--model {text!r}: write <provider>:<model>, provider one of {', '.join(PROVIDERS)}")
    return provider, model_id


def parse_model_params(items: list[str]) -> dict[str, Any]:
    """``key=value`` pairs; values are JSON when they parse (``0.2``, ``true``), else strings."""
    params: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not re.match(r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$", key):
            raise invalid(f"--param {item!r}: write key=value, e.g. temperature=0.2")
        try:
            params[key] = loads(raw, source=f"--param {key}")
        except JSONInputError as exc:
            if exc.kind != "syntax":  # deep, NaN or a repeated key: JSON meant, and refused
                raise
            params[key] = raw
    try:
        canonical_json(params)
    except Exception:
        raise invalid("model parameters must be plain JSON values (no NaN, integers within ±2^53)") from None
    for key, value in params.items():
        _check_known_param(key, value)
    return params


# parameters whose meaning is fixed: (integers only, lowest, highest, example)
_KNOWN_PARAMS: dict[str, tuple[bool, float, float, str]] = {
    "temperature": (False, 0, 2, "temperature=0.2"),
    "top_p": (False, 0, 1, "top_p=0.9"),
    "max_tokens": (True, 1, 1_000_000, "max_tokens=1024"),
    "max_retries": (True, 0, 10, "max_retries=2"),
}


def _check_known_param(key: str, value: Any) -> None:
    """A known parameter out of its range is refused at draft, not by the provider mid-conversation."""
    if key not in _KNOWN_PARAMS:
        return
    whole, low, high, example = _KNOWN_PARAMS[key]
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if not number or (whole and not isinstance(value, int)) or not low <= value <= high:
        kind = "an integer" if whole else "a number"
        raise invalid(f"--param {key}={value!r}: must be {kind} from {low} to {high}, e.g. {example}")
