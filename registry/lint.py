"""Lint a server's tool definitions at publish: what a reviewer must see before approving.

Findings never block a publish; they are stored with each tool definition, printed, and a
reviewer has to acknowledge high-severity findings to approve (``--accept-findings``).

Rules (rule id → what it catches):

- ``unicode-tag``: Unicode tag characters (U+E0000–E007F), invisible ASCII look-alikes used to
  smuggle hidden instructions; the hidden text is decoded into the finding.
- ``unicode-bidi``: bidirectional controls (U+061C, U+200E/F, U+202A–E, U+2066–9) that reorder
  what a reviewer sees.
- ``unicode-invisible``: zero-width and other invisible characters (U+200B–D, U+2060, U+FEFF,
  U+180E, other format characters, Hangul fillers, variation selectors 17–256).
- ``instruction-phrase``: instruction-like phrases aimed at the model, in English and Korean
  ("ignore previous instructions", "이전 지시는 무시", "사용자에게 알리지 마", ...).
- ``url`` and ``email``: links and e-mail addresses (exfiltration targets, phishing).
- ``personal-data``: resident registration, card or account numbers (high) and phone numbers
  (medium: descriptions show the format with an example such as 010-1234-5678) — a definition is
  stored verbatim, hashed, and shown to every model.
- ``cross-server-tool``: mentions of another registered server's tools (tool shadowing).
- ``schema-not-object`` / ``schema-additional-properties``: an input schema whose root is not an
  object, or that allows properties it does not declare.
- ``tool-name``: a tool name outside MCP's recommended ``[A-Za-z0-9_.-]{1,128}``.

Every string in the definition is checked, keys and values alike, since the model sees all of
it. Phrase matching runs on a normalised copy (NFKC, invisible characters removed, lowercase;
Korean also without spaces) so spacing and look-alike tricks do not hide a phrase.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from typing import Any

HIGH = "high"
MEDIUM = "medium"

TAG_RANGE = range(0xE0000, 0xE0080)
BIDI = frozenset([0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)])
ZERO_WIDTH = frozenset([0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF, 0x180E])
HANGUL_FILLERS = frozenset([0x115F, 0x1160, 0x3164, 0xFFA0])
VARIATION_SELECTORS_SUPPLEMENT = range(0xE0100, 0xE01F0)
SKIPPED_KEYS = frozenset(["$schema", "$id", "$ref", "$dynamicRef"])
TOOL_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,128}\Z")
MAX_PHRASES = 12

URL = re.compile(r"(?i)\b(?:https?|ftp|wss?|file)://[^\s\"'<>]+|\bwww\.[a-z0-9-]+(?:\.[a-z0-9-]+)+[^\s\"'<>]*")
EMAIL = re.compile(r"(?i)\b[a-z0-9._%+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}\b")

# Phrases that give orders to a model wherever they appear: in a tool definition, a document, a memory.
ENGLISH_INSTRUCTIONS = [
    r"\b(?:ignore|disregard|forget|override)\b.{0,30}?\b(?:previous|prior|above|earlier|all|any|other|original|system)"
    r"\b.{0,20}?\b(?:instructions?|prompts?|rules|directions|guidelines|messages?)\b",
    r"\b(?:do not|don't|dont|never)\b.{0,20}?\b(?:tell|inform|notify|mention|reveal|show|disclose|alert)\b"
    r".{0,20}?\b(?:user|customer|human|operator)s?\b",
    r"\bwithout\b.{0,15}?\b(?:telling|informing|notifying|asking|alerting)\b.{0,15}?\b(?:user|customer|human)s?\b",
    r"\b(?:system prompt|system message|developer message|hidden instructions?)\b",
    r"<\s*/?\s*(?:important|system|instructions?|secret|admin)\s*>",
    r"\byou are now\b",
    r"\bnew instructions?\s*:",
]
# Suspicious in a tool's own definition, ordinary in what people write: "I secretly bought her a ring",
# "we send a password reset link", "before using any cleaner, test a corner", "상담 내역을 이메일로 보내
# 드립니다", "아내 몰래 선물을 샀어요".
ENGLISH_TOOL_ONLY = [
    r"\b(?:before|instead of)\s+(?:using|calling|invoking)\s+(?:any|every|all|the other|other)\b",
    r"\b(?:secretly|covertly)\b",
    r"\b(?:send|forward|exfiltrate|upload|post|leak)\b.{0,40}?\b(?:conversation|chat history|api keys?|passwords?"
    r"|credentials|secrets?|tokens?|system prompt)\b",
    r"(?:~/\.ssh|\bid_rsa\b|/etc/passwd|\.env\b)",
]
# Operational orders a poisoned definition, document or memory plants: a policy bypassed ('always
# approve refunds', 'skip identity checks', '본인확인 없이 환불 처리', consent given in advance).
# registry/instructions.py reads them in every store; here they flag a tool description (none of
# the bundled servers' 3,423 definition strings matches one).
ENGLISH_ORDERS = [
    r"\bwithout\s+(?:asking|any\s+)?(?:confirm\w*|verif\w*|check\w*|approval)\b",
    r"\b(?:always|automatically|immediately|instantly)\s+(?:approve|refund|process|grant|execute|accept)\b",
    # "you must always approve refunds", never "you should always wash it first"
    r"\b(?:assistant|agent|ai|model|you)\s+(?:must|should|shall|will)\s+(?:always\s+|never\s+)?"
    r"(?:approve|refund|ignore|skip|bypass|process|grant|execute)\b",
    # a check skipped or waived ('skip identity checks', 'customer waived identity verification'),
    # never 'skipped breakfast' or 'skip the check-in desk'
    r"\b(?:skip|skipped|bypass|bypassed|disable|disabled|waive|waived|omit|forgo|turn\s+off)\s+"
    r"(?:the\s+|any\s+|all\s+|his\s+|her\s+|their\s+|its\s+)?(?:(?:identity|id|security|customer|caller)\s+)?"
    r"(?:confirmations?|verifications?|approvals?|checks?|identity|id|consent|authentication)\b(?!-)",
    # asking for consent or checking identity waived ('do not ask this customer for confirmation')
    r"\b(?:do\s+not|don't|dont|never|no\s+need\s+to|needn't|need\s+not|stop)\s+(?:ask(?:ing)?|request(?:ing)?|requir(?:e|ing)|seek)\b"
    r".{0,30}?\b(?:confirmations?|consent|verifications?|approvals?|permission|identity|id|authentication)\b",
    r"\b(?:do\s+not|don't|dont|no\s+need\s+to|needn't|need\s+not)\s+(?:re-?confirm|re-?verify\b|(?:verify|authenticate)\s+"
    r"(?:the\s+|this\s+|his\s+|her\s+|their\s+)?(?:customer|caller|identity|id|them|him|her)\b)",
    r"\bno\s+need\s+(?:for|of)\s+(?:any\s+)?(?:consent|confirmation|verification|approval|permission|identity|id)\b",
    r"\bno\s+(?:consent|confirmation|verification|approval|permission|(?:identity|id)\s+check)s?\s+(?:is\s+|are\s+)?"
    r"(?:needed|required|necessary)\b",
    r"\b(?:consent|confirmation|verification|approval|permission)s?\s+(?:is|are)\s+(?:not|never)\s+(?:needed|required|necessary)\b",
    # consent given in advance for what comes later ('customer pre-approved all refunds')
    r"\bpre-?(?:approved|authori[sz]ed|consented|agreed|confirmed|verified)\s+(?:to\s+|for\s+)?(?:all|every|any|future)\b",
    r"\b(?:consent\w*|agree[sd]?|approv\w*|authori[sz]\w*|said\s+yes|says\s+yes)\b.{0,30}?\b(?:in\s+advance|ahead\s+of\s+time|from\s+now\s+on|"
    r"going\s+forward|(?:all|any|every)\s+future)\b",
    r"\b(?:blanket|standing|permanent)\s+(?:consent|approval|authori[sz]ation|permission)\b",
    # every question taken as answered yes ('treat every question as answered yes')
    r"\b(?:treat|assume|consider|regard)\b.{0,30}?\b(?:every|all|any|each)\s+(?:\w+\s+)?"
    r"(?:questions?|confirmations?|requests?|prompts?|refunds?)\b.{0,30}?\b(?:yes|approved|confirmed|consented|agreed|accepted)\b",
    r"\b(?:assume|treat|take|count)\s+(?:it\s+as\s+|as\s+)?(?:a\s+)?yes\b.{0,30}?\b(?:every|all|any|each)\b",
    r"\banswer(?:s|ed)?\s+yes\s+(?:on\s+(?:behalf|his|her|their|the)|for\s+(?:the\s+)?(?:customer|caller|them|him|her))",
]
ENGLISH_PHRASES = [*ENGLISH_INSTRUCTIONS, *ENGLISH_TOOL_ONLY, *ENGLISH_ORDERS]
# Matched against the text with all whitespace removed.
KOREAN_INSTRUCTIONS = [
    r"(?:이전|앞의|위의|기존|모든|원래|시스템)의?(?:지시|지침|명령|규칙|안내|프롬프트)\S{0,8}?무시",
    r"(?:지시|지침|명령|규칙)(?:는|은|을|를|사항은|사항을|사항)?무시",
    r"(?:사용자|고객|유저|상담원)(?:에게|한테|께|에게는|한테는)?\S{0,10}?"
    r"(?:알리지|말하지|알려주지|보여주지|공개하지|언급하지|전하지|밝히지)(?:마|말)",
    r"(?:사용자|고객|유저)(?:에게|한테|께)?(?:는)?(?:비밀로|숨기)",
    r"시스템프롬프트|시스템메시지|개발자메시지|숨겨진지시",
    r"(?:다른|모든)도구\S{0,10}?(?:전에|대신|보다먼저)",
]
KOREAN_TOOL_ONLY = [
    r"몰래",
    r"(?:대화|채팅|상담)(?:내용|기록|내역)\S{0,15}?(?:보내|전송|전달|업로드)",
    r"(?:api키|비밀번호|토큰|자격증명)\S{0,15}?(?:보내|전송|전달|알려)",
]
KOREAN_ORDERS = [
    r"확인(?:절차)?(?:없이|생략|하지말고|받지말고)",
    r"(?:묻지|물어보지)(?:말고|않고)|확인하지말고",
    r"즉시(?:처리|승인|환불|진행|지급)",
    r"(?:처리|승인|진행|환불|지급|실행|수락|허용)(?:할것|하시오|하라|해야한다|해야함)",
    r"(?:항상|무조건|자동으로)\S{0,8}(?:승인|환불|처리|진행|지급)",
    r"(?:어시스턴트|에이전트|상담봇|챗봇|ai|모델|너는|당신은)\S{0,12}(?:해야|할것|하라|하시오|따르)",
    r"(?:새로운|다음)(?:지시|규칙|명령)",
    # a customer's line that waives a check ("다음부터는 환불할 때 확인 안 해도 돼요", "승인 절차
    # 없이 처리됩니다"): stored, it would read to a model as a standing permission
    r"확인(?:은|을|도)?(?:안해도|안하셔도|하지않아도|안받아도|필요없|생략해도|생략하)",
    r"(?:승인|인증|본인확인|검증)(?:절차|과정)?(?:없이|생략|안해도|필요없)",
    # consent waived or given in advance for what comes later ('고객은 모든 확인 질문에 미리 동의함',
    # '이후 환불은 동의 없이 처리 가능'); never a consent that happened ('지난번에 환불 동의했는데'), nor
    # a policy that needs one ('사전 동의 없이 개인정보를 제공하지 않습니다')
    r"(?:확인|질문|환불|결제|취소|처리|승인|요청|모든|전부|향후|앞으로|이후)\S{0,10}?(?:미리|사전에?|일괄|포괄적으로|전부|모두)"
    r"동의(?:함|했|해둠|해뒀|해놓|하였|완료|한것|된것|한상태)",
    r"(?:동의|확인|본인확인|인증|승인)(?:절차|과정|질문)?(?:없이|안받고|받지않고|안하고|하지않고|생략하고|건너뛰고)"
    r"\S{0,10}?(?:처리|환불|진행|승인|지급|결제|취소|실행)(?:해도|하셔도|가능|할것|하세요|하라|하시오|하면됨|하면돼|하면된)",
    # an identity or confirmation check skipped for this customer ('이 고객에게는 본인확인 하지 마세요')
    r"(?:본인확인|신원확인|본인인증|인증|재확인|동의|확인)(?:절차|과정|질문)?(?:은|는|을|를|도)?"
    r"(?:하지마|하지말|하지않아도|안해도|안하셔도|안받아도|받지마|받지말|묻지마|묻지말|필요없|불필요|생략|건너뛰|스킵|패스(?!워|포)|면제)",
    # every question taken as answered yes ('확인 질문에는 항상 네라고 답한 것으로 간주')
    r"(?:확인|질문|물음|항상|매번|무조건|모두|전부|언제나|답변|응답)\S{0,10}?(?:네|예스?|동의|승인|수락|yes|ok)(?:라고|로)?"
    r"(?:답|대답|응답)?(?:한|된|했다는|했다고|하신|받은)(?:것으로|걸로)(?:간주|취급|처리|보|여기|알)",
    r"(?:질문|확인|물음)\S{0,6}?(?:네|예|yes)(?:라고|로)(?:간주|취급|처리)",
]
KOREAN_PHRASES = [*KOREAN_INSTRUCTIONS, *KOREAN_TOOL_ONLY, *KOREAN_ORDERS]
_ENGLISH = [re.compile(p, re.IGNORECASE | re.DOTALL) for p in ENGLISH_PHRASES]
_KOREAN = [re.compile(p, re.IGNORECASE) for p in KOREAN_PHRASES]


@dataclass(frozen=True, slots=True)
class LintFinding:
    """One lint finding on one tool: which rule, where (a JSON pointer into the definition), what."""

    rule: str
    severity: str
    tool: str
    path: str
    message: str
    excerpt: str = ""

    def to_dict(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LintFinding:
        return cls(**{k: str(data.get(k, "")) for k in ("rule", "severity", "tool", "path", "message", "excerpt")})


def json_pointer(parts: tuple[str, ...]) -> str:
    return "/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts) if parts else ""


def iter_strings(value: Any, parts: tuple[str, ...] = ()) -> Iterator[tuple[str, str]]:
    """Every string in a JSON value, keys included, with its JSON pointer (keys end in ``#key``)."""
    if isinstance(value, str):
        yield json_pointer(parts), value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            key = str(key)
            yield json_pointer((*parts, key)) + "#key", key
            if key in SKIPPED_KEYS:
                continue
            yield from iter_strings(item, (*parts, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from iter_strings(item, (*parts, str(index)))


def _is_invisible(cp: int) -> bool:
    if cp in ZERO_WIDTH or cp in HANGUL_FILLERS or cp in VARIATION_SELECTORS_SUPPLEMENT:
        return True
    return unicodedata.category(chr(cp)) == "Cf" and cp not in BIDI and cp not in TAG_RANGE


def visible(text: str) -> str:
    """The text with every invisible or control character shown as \\uXXXX."""
    out = []
    for ch in text:
        cp = ord(ch)
        if cp in TAG_RANGE or cp in BIDI or _is_invisible(cp) or unicodedata.category(ch) == "Cc":
            out.append(f"\\u{cp:04X}" if cp <= 0xFFFF else f"\\U{cp:08X}")
        else:
            out.append(ch)
    return "".join(out)


def _excerpt(text: str, start: int, end: int, width: int = 40) -> str:
    lo, hi = max(0, start - width), min(len(text), end + width)
    return ("…" if lo else "") + visible(text[lo:hi]) + ("…" if hi < len(text) else "")


def normalise_for_matching(text: str) -> str:
    """NFKC, invisible and direction characters removed, lowercase, whitespace collapsed."""
    text = unicodedata.normalize("NFKC", text)
    kept = (ch for ch in text if not (ord(ch) in TAG_RANGE or ord(ch) in BIDI or _is_invisible(ord(ch))))
    return re.sub(r"\s+", " ", "".join(kept)).lower()


def _unicode_findings(tool: str, path: str, text: str) -> list[LintFinding]:
    tags = [ch for ch in text if ord(ch) in TAG_RANGE]
    bidi = [ch for ch in text if ord(ch) in BIDI]
    hidden = [ch for ch in text if _is_invisible(ord(ch))]
    findings = []
    if tags:
        decoded = "".join(chr(ord(ch) - 0xE0000) for ch in tags if 0x20 <= ord(ch) - 0xE0000 < 0x7F)
        findings.append(
            LintFinding(
                "unicode-tag",
                HIGH,
                tool,
                path,
                f"{len(tags)} invisible Unicode tag characters",
                f"hidden text: {decoded!r}",
            )
        )
    if bidi:
        codes = sorted({f"U+{ord(ch):04X}" for ch in bidi})
        findings.append(
            LintFinding(
                "unicode-bidi",
                HIGH,
                tool,
                path,
                f"bidirectional control characters {', '.join(codes)}",
                visible(text)[:160],
            )
        )
    if hidden:
        codes = sorted({f"U+{ord(ch):04X}" for ch in hidden})
        findings.append(
            LintFinding(
                "unicode-invisible", HIGH, tool, path, f"invisible characters {', '.join(codes)}", visible(text)[:160]
            )
        )
    return findings


def _phrase_findings(tool: str, path: str, text: str) -> list[LintFinding]:
    """One finding per string that names every instruction-like phrase in it, in reading order."""
    normal = normalise_for_matching(text)
    compact = re.sub(r"\s+", "", normal)
    found: list[tuple[int, int, str]] = []  # (target, position, phrase): English first, then Korean
    for target_index, (patterns, target) in enumerate(((_ENGLISH, normal), (_KOREAN, compact))):
        for pattern in patterns:
            found.extend((target_index, m.start(), m.group(0)) for m in pattern.finditer(target) if m.group(0))
    phrases: list[str] = []
    for _target, _position, phrase in sorted(found):
        if not any(phrase in kept or kept in phrase for kept in phrases):  # overlapping rules: report once
            phrases.append(phrase)
    if not phrases:
        return []
    shown = ", ".join(repr(p[:60]) for p in phrases[:MAX_PHRASES]) + (" …" if len(phrases) > MAX_PHRASES else "")
    kind = "phrase" if len(phrases) == 1 else f"{len(phrases)} phrases"
    return [
        LintFinding(
            "instruction-phrase",
            HIGH,
            tool,
            path,
            f"instruction-like {kind} aimed at the model: {shown}",
            visible(text)[:160],
        )
    ]


_PII_NAMES = {"rrn": "resident registration number", "card": "card number", "account": "account number"}
_PII_NAMES |= {"phone": "phone number", "cvc": "card security code", "card_expiry": "card expiry date"}
_PII_HIGH = frozenset({"rrn", "card", "account", "cvc", "card_expiry"})


def _personal_findings(tool: str, path: str, text: str) -> list[LintFinding]:
    """One finding per string naming the kinds of personal data in it (e-mail has its own rule)."""
    from core.pii import detect

    kinds = sorted({str(match.kind) for match in detect(text)} - {"email"}, key=list(_PII_NAMES).index)
    if not kinds:
        return []
    named = ", ".join(_PII_NAMES[kind] for kind in kinds)
    return [
        LintFinding(
            "personal-data",
            HIGH if _PII_HIGH & set(kinds) else MEDIUM,
            tool,
            path,
            f"personal data in the definition ({named}): it is stored as published and shown to every model; "
            "use an obviously fake example, or publish a version without it",
            visible(text)[:160],
        )
    ]


def _masked(finding: LintFinding) -> LintFinding:
    """The finding with personal data in its excerpt masked (findings are stored and printed)."""
    from core.pii import mask_text

    if not finding.excerpt:
        return finding
    return LintFinding(**{**finding.to_dict(), "excerpt": mask_text(finding.excerpt)})


def _link_findings(tool: str, path: str, text: str) -> list[LintFinding]:
    findings = []
    normal = unicodedata.normalize("NFKC", text)
    emails = list(EMAIL.finditer(normal))
    for match in URL.finditer(normal):
        if any(e.start() <= match.start() < e.end() for e in emails):
            continue
        findings.append(LintFinding("url", MEDIUM, tool, path, "URL in the definition", visible(match.group(0))[:160]))
    for match in emails:
        findings.append(
            LintFinding("email", MEDIUM, tool, path, "e-mail address in the definition", visible(match.group(0))[:160])
        )
    return findings


def _mention_patterns(other_tools: Mapping[str, set[str]], own_tools: set[str]) -> list[tuple[re.Pattern, str]]:
    """Regexes for references to other servers' tools, with the server they belong to."""
    patterns = []
    for server, tools in sorted(other_tools.items()):
        for name in sorted(tools):
            escaped = re.escape(name)
            qualified = rf"(?<![A-Za-z0-9_-]){re.escape(server)}(?:__|\.|_|/|:){escaped}(?![A-Za-z0-9_])"
            patterns.append((re.compile(qualified, re.IGNORECASE), f"{server}:{name}"))
            distinctive = ("_" in name or "-" in name or len(name) >= 8) and name not in own_tools
            if distinctive:
                patterns.append((re.compile(rf"(?<![A-Za-z0-9_]){escaped}(?![A-Za-z0-9_])"), f"{server}:{name}"))
    return patterns


def _schema_findings(tool: str, definition: Mapping[str, Any]) -> list[LintFinding]:
    schema = definition.get("inputSchema")
    if not isinstance(schema, Mapping) or schema.get("type") != "object":
        shown = schema.get("type") if isinstance(schema, Mapping) else type(schema).__name__
        return [
            LintFinding(
                "schema-not-object", HIGH, tool, "/inputSchema", f"input schema root is not an object ({shown!r})"
            )
        ]
    closed = schema.get("additionalProperties") is False or schema.get("unevaluatedProperties") is False
    if closed:
        return []
    return [
        LintFinding(
            "schema-additional-properties",
            MEDIUM,
            tool,
            "/inputSchema/additionalProperties",
            "input schema allows undeclared properties: set additionalProperties to false",
            repr(schema.get("additionalProperties", "(absent)")),
        )
    ]


def lint_tool(
    definition: Mapping[str, Any],
    *,
    other_tools: Mapping[str, set[str]] | None = None,
    own_tools: set[str] | None = None,
) -> list[LintFinding]:
    """Every finding for one tool definition (the hashed wire fields).

    ``other_tools`` maps each other registered server to its tool names, for ``cross-server-tool``.
    """
    tool = str(definition.get("name", ""))
    findings: list[LintFinding] = []
    if not TOOL_NAME.match(tool):
        findings.append(
            LintFinding("tool-name", MEDIUM, tool, "/name", "tool name outside [A-Za-z0-9_.-]{1,128}", visible(tool))
        )
    mentions = _mention_patterns(other_tools or {}, own_tools or {tool})
    for path, text in iter_strings(dict(definition)):
        findings.extend(_unicode_findings(tool, path, text))
        findings.extend(_phrase_findings(tool, path, text))
        findings.extend(_link_findings(tool, path, text))
        findings.extend(_personal_findings(tool, path, text))
        seen: set[str] = set()
        for pattern, label in mentions:
            match = pattern.search(text)
            if match and label not in seen:
                seen.add(label)
                findings.append(
                    LintFinding(
                        "cross-server-tool",
                        HIGH,
                        tool,
                        path,
                        f"mentions tool {label.split(':', 1)[1]!r} of server {label.split(':', 1)[0]!r}",
                        _excerpt(text, match.start(), match.end()),
                    )
                )
    findings.extend(_schema_findings(tool, definition))
    return [_masked(finding) for finding in findings]


def lint_tools(
    definitions: list[Mapping[str, Any]], *, other_tools: Mapping[str, set[str]] | None = None
) -> dict[str, list[LintFinding]]:
    """Findings per tool name for a whole server version."""
    own = {str(d.get("name", "")) for d in definitions}
    return {str(d.get("name", "")): lint_tool(d, other_tools=other_tools, own_tools=own) for d in definitions}
