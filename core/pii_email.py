"""E-mail addresses in text, typed ("hong@example.com") or written out ("hong at example dot com",
"hong 골뱅이 naver 닷컴", "kim.minsu at gmail.com"): the patterns :mod:`core.pii` reads folded text with.

A plain " at " is an ordinary English word, so an address written with one needs more: a spoken
dot ("hong at example dot com") and no filler word ("look at the dot com bubble" is no address),
or, with the domain typed as it is written ("kim.minsu at gmail.com"), a one-word local part with
a letter that is a mailbox's (a dot, "_" or "+" inside it: "kim.minsu", "hong_gd") or any but a
few English words in a Korean sentence ("메일은 minsu88 at naver.com 이에요"). English prose such
as "meet me at example.com", "buy them online at etsy.com" or "Read more at wikipedia.org" stays
as it is.
"""

from __future__ import annotations

import re

EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+\-@])[A-Za-z0-9._%+\-]{1,64}@"
    r"[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?)*"
    r"\.[A-Za-z]{2,24}(?![A-Za-z\-])"  # a digit after the top-level domain is glue: "a@b.com010-…"
)
# An address typed with Hangul in it ("김민수@네이버.com", "minsu@네이버.com"; a Hangul domain is an
# internationalised one, and "한국" a top-level domain): core.pii keeps the matches that are not ASCII.
_HANGUL_PART = r"[가-힣A-Za-z0-9](?:[가-힣A-Za-z0-9\-]{0,61}[가-힣A-Za-z0-9])?"
HANGUL_EMAIL = re.compile(
    rf"(?<![가-힣A-Za-z0-9._%+\-@])[가-힣A-Za-z0-9._%+\-]{{1,64}}@{_HANGUL_PART}(?:\.{_HANGUL_PART})*"
    r"\.(?:[A-Za-z]{2,24}(?![A-Za-z\-])|한국(?![가-힣]))"
)
# An address written out: "hong.gildong at example dot com", "hong 골뱅이 naver 닷컴",
# "hong [at] example [dot] co [dot] kr". The top-level domain must be a known one.
_TLDS = r"(?:com|net|org|kr|co|io|ai|me|biz|info|edu|gov|dev|app|jp|cn|us|uk|de|fr|ca|au|xyz|email)(?![A-Za-z\-])|컴|넷"
# Bounded everywhere (spaces, dots per part): each place an address may start costs the same, so
# a long "a dot a dot …" is read in linear time.
_AT_WORD = r"\s{0,3}(?:@|[\[({<]\s?at\s?[\])}>]|골뱅이|앳)\s{0,3}|\s{1,3}at\s{1,3}"
_DOT_WORD = r"\s{0,3}(?:[\[({<]\s?dot\s?[\])}>]|닷|점)\s{0,3}|\s{1,3}(?-i:dot|DOT|Dot)\s{1,3}|\s{0,3}\.\s{0,3}"
_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9_%+\-]{0,62}[A-Za-z0-9])?"
SPOKEN_EMAIL = re.compile(
    rf"(?i)(?<![A-Za-z0-9._%+\-@])(?P<local>{_NAME}(?:(?:{_DOT_WORD}){_NAME}){{0,3}})(?P<at>{_AT_WORD})"
    rf"(?P<domain>{_NAME}(?:(?:{_DOT_WORD}){_NAME}){{0,3}})(?:{_DOT_WORD})(?P<tld>{_TLDS})"
)
SPACED_AT = re.compile(r"\s@|@\s")
# " at " (one space each side) before a typed domain ("at gmail.com"): what an address with a plain
# at and typed dots needs (the pre-screens and the rule's gate look for it; a spoken dot has gates
# of its own).
PLAIN_AT = re.compile(r"(?i) at [a-z0-9][a-z0-9_%+\-]*(?:\.[a-z0-9][a-z0-9_%+\-]*)*\.[a-z]{2}")
PLAIN_AT_WORDS = (" at ", " AT ", " At ")
_DOT_SPLIT = re.compile(rf"(?i)(?:{_DOT_WORD})")
_SPACED_DOT = re.compile(r"\s\.|\.\s")
_SPOKEN_DOT = re.compile(r"(?i)[\[({<]\s?dot|(?<![a-z])(?-i:dot|DOT|Dot)(?![a-z])|닷|점")
_FILLER_WORDS = frozenset({"the", "a", "an", "my", "your", "our", "his", "her", "their", "this", "that", "at", "dot"})
# words before a plain " at " that are no mailbox: "email me at example.com"
_PLAIN_WORDS = frozenset(
    {"me", "us", "we", "you", "him", "them", "it", "these", "those", "here", "there", "home", "work", "more", "online"}
    | {"website", "site", "team", "e-mail", "email", "mail"}
)
_TLD_WORDS = {"컴": "com", "넷": "net"}
_MAILBOX = re.compile(r"[A-Za-z0-9][._+][A-Za-z0-9]")
_HANGUL = re.compile(r"[가-힣]")
_SPACE = re.compile(r"\s")


def spoken_email(m: re.Match[str]) -> str | None:
    """The address a :data:`SPOKEN_EMAIL` match writes out, lower case, or None when it is none."""
    local = _DOT_SPLIT.split(m["local"])
    domain = _DOT_SPLIT.split(m["domain"])
    tld = _TLD_WORDS.get(m["tld"], m["tld"])
    if m["at"].strip().lower() == "at" and not _plain_at_address(m, local, domain):
        return None
    if (
        m["at"].strip() == "@"
        and m["at"] == "@"
        and not _SPOKEN_DOT.search(m.string, m.start("domain"), m.start("tld"))
        and not _SPACED_DOT.search(m.group())
    ):
        return None  # a typed address: EMAIL's ("minsu . kim @ example . com", spaced as ASR writes it, is this one's)
    return (".".join(local) + "@" + ".".join([*domain, tld])).lower()


def _plain_at_address(m: re.Match[str], local: list[str], domain: list[str]) -> bool:
    """Whether a match with a plain " at " is an address (see the module's notes)."""
    if any(word.lower() in _FILLER_WORDS for word in (*local, *domain)):
        return False
    if _SPOKEN_DOT.search(m.string, m.start("domain"), m.start("tld")):
        return True
    # " at " and the domain typed as written ("gmail.com"), the local part one word ("kim.minsu",
    # not "home. com")
    if m["at"] not in PLAIN_AT_WORDS or _SPACE.search(m.string, m.start("domain"), m.end("tld")):
        return False
    if _SPACE.search(m["local"]):
        return False
    if not any(ch.isalpha() for ch in m["local"]):
        return False  # "3.11 at python.org": a version, no mailbox
    if _MAILBOX.search(m["local"]):
        return True
    return m["local"].lower() not in _PLAIN_WORDS and _HANGUL.search(m.string) is not None


def hangul_email_mask(address: str) -> str:
    """The mask of an address with Hangul in it: its first character when ASCII, and its domain in
    its ASCII (IDNA) form, as a mail client sends it ("***@xn--950bt9s8xi.com" for 네이버.com)."""
    local, _, domain = address.partition("@")
    try:
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        domain = "***"
    head = local[:1] if local[:1].isascii() else ""
    return f"{head}***@{domain}"
