"""Korean-aware tokenization for lexical search (kiwipiepy morphological analysis).

``tokenize(text)`` returns lower-cased content morphemes (nouns, verb/adjective stems, adverbs...)
— particles, endings and punctuation are dropped. Latin words and numbers are taken as whole ASCII
runs (``iPhone-15`` → ``iphone``, ``15``), English stopwords dropped and plurals folded
(``refunds`` → ``refund``): on SQuAD this lifts BM25 R@1 from .733 (kiwi's own Latin tokens) to
.772, above whitespace BM25 (.750), while KorQuAD is unchanged. The KB's BM25 indexes go one
step further and match English words by their Snowball stem (:func:`servers.retrieval.lexical.terms`);
the tokens returned here, which are stored, stay unstemmed. A user dictionary
(``userdict.txt`` beside this module, plus ``SWITCHBOARD_USERDICT`` if set) keeps product names
whole and maps call-center slang to the word documents use ("비번" → "비밀번호").

Kiwi is created lazily, once per process, on first use (thread-safe), without its multi-word
dictionary (``load_multi_dict=False``): that dictionary made kiwi ~3x slower to be ready (≈1.3 s
instead of ≈4 s idle, 3 s instead of 9.7 s at load 5; the first search after a server starts waits
for it) and emitted names as one token with a space ("알렉산더 헤이그"), which the stored index
splits at the space but a query did not — the name never matched. Kiwi BM25 over KorQuAD dev
(964 passages, 5,774 questions): R@5 .973 with the dictionary, .982 without it, .982 with it and
query tokens split (``bench/kiwi_multidict.py``). Its default dictionary (3 MB of extra words
and names) is left out too: kiwi is ready in about half the time again (the first search after
a start waits for it), and BM25 R@5 over KorQuAD dev moves by .001 (.982 → .981; same bench).
Multi-word forms from a user
dictionary are still split at spaces, so query and index always agree.
If kiwipiepy cannot load, the tokenizer falls back to Hangul character bigrams (Latin words and
numbers whole) — a few points less precise, never an error. ``backend()`` says which one is active.

In ``switchboard serve kb|memory`` these functions are answered by a helper process that loads kiwi
on another core while the server starts (:mod:`servers.retrieval.kiwi_process`; the helper runs
this module: ``python -m servers.retrieval.korean --serve-stdio``); without the helper, or when it
fails, kiwi loads here.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import threading
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from servers.retrieval import kiwi_process

log = logging.getLogger("switchboard.retrieval")

USERDICT_PATH = Path(__file__).with_name("userdict.txt")
MAX_TEXT_CHARS = 200_000  # longer inputs are truncated before analysis (bounded work per call)

# content tags kept from kiwi's output
_KEEP_PREFIXES = ("NN", "XR", "VV", "VA", "MAG", "VX", "MM", "NR", "NP", "W_URL", "W_EMAIL")
_KEEP_PREFIXES += ("W_HASHTAG", "W_MENTION", "W_SERIAL")
_LATIN_STRIP = re.compile(r"^[\W_]+|[\W_]+$", re.UNICODE)
_ASCII_WORD = re.compile(r"[a-z0-9]+")
ENGLISH_STOPWORDS = frozenset(
    """a an the and or but if then else of to in on at by for with from as is are was were be been being it its
    this that these those which who whom whose what when where why how do does did done has have had having not
    no nor so than too very can could will would shall should may might must i me my we our you your he him his
    she her they them their there here into onto over under about after before between during through up down
    out off again further once all any both each few more most other some such only own same just also s t""".split()  # noqa: SIM905
)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\ufeff]")
_HANGUL = re.compile(r"[\uac00-\ud7a3]+")
MAX_RUN_CHARS = 128
_RUN = re.compile(rf"\S{{{MAX_RUN_CHARS}}}(?=\S)")
_WORDS = re.compile(r"[\uac00-\ud7a3]+|[^\W_]+", re.UNICODE)


@dataclass(slots=True)
class UserDictionary:
    """User words (added to kiwi) and canonical forms (emitted in place of slang)."""

    words: list[tuple[str, str]] = field(default_factory=list)
    canonical: dict[str, str] = field(default_factory=dict)
    expansions: dict[str, tuple[str, ...]] = field(default_factory=dict)  # canonical forms, tokenised

    @classmethod
    def load(cls, paths: Iterable[Path]) -> UserDictionary:
        out = cls()
        for path in paths:
            for raw in path.read_text(encoding="utf-8").splitlines():
                line = raw.strip()
                if not line or line.startswith("#"):
                    continue
                parts = [p.strip() for p in line.split("\t")]
                word = parts[0]
                tag = parts[1] if len(parts) > 1 and parts[1] else "NNP"
                if " " in word:
                    continue
                out.words.append((word, tag))
                if len(parts) > 2 and parts[2]:
                    out.canonical[word.lower()] = parts[2].lower()
        return out


def _dictionary_paths() -> list[Path]:
    paths = [USERDICT_PATH]
    extra = os.environ.get("SWITCHBOARD_USERDICT")
    if extra and Path(extra).is_file():
        paths.append(Path(extra))
    return paths


_lock = threading.Lock()
_kiwi: Any = None
_userdict: UserDictionary | None = None
_backend: str | None = None


def _load() -> tuple[Any, UserDictionary]:
    """Create the kiwi singleton (or select the bigram fallback) once per process."""
    global _kiwi, _userdict, _backend
    if _backend is not None:
        return _kiwi, _userdict  # type: ignore[return-value]
    with _lock:
        if _backend is not None:
            return _kiwi, _userdict  # type: ignore[return-value]
        userdict = UserDictionary.load(_dictionary_paths())
        kiwi = None
        try:
            from kiwipiepy import Kiwi

            kiwi = Kiwi(load_multi_dict=False, load_default_dict=False)
            for word, tag in userdict.words:
                try:
                    kiwi.add_user_word(word, tag)
                except Exception:  # a bad dictionary line must not disable kiwi
                    log.warning("user dictionary: cannot add %r/%s", word, tag)
        except Exception as exc:  # fall back to bigrams, never fail a search
            log.warning("kiwipiepy unavailable (%s): using Hangul bigrams", type(exc).__name__)
            kiwi = None
        if kiwi is not None:
            for word, form in userdict.canonical.items():
                try:
                    expanded = _from_kiwi(form, kiwi.tokenize(form), {}, {})
                except Exception:
                    expanded = [form]
                # kiwi may keep the canonical compound whole in one context and split it in another:
                # emit both the whole form and its pieces so either segmentation matches
                userdict.expansions[word] = tuple(dict.fromkeys([form, *expanded]))
        _kiwi, _userdict = kiwi, userdict
        _backend = "kiwi" if kiwi is not None else "bigram"
    return _kiwi, _userdict


_IN_PROCESS = object()


def _by_helper(op: str, arg: Any) -> Any:
    """The helper process's answer to ``op(arg)``, or ``_IN_PROCESS`` when there is none (any more)."""
    helper = kiwi_process.current()
    if helper is None:
        return _IN_PROCESS
    try:
        return helper.call(op, arg)
    except kiwi_process.HelperGone as exc:
        log.warning("%s: kiwi loads in this process", exc)
        return _IN_PROCESS


def backend() -> str:
    """``"kiwi"`` or ``"bigram"`` (loads the tokenizer if needed)."""
    found = _by_helper("backend", None)
    if found is not _IN_PROCESS:
        return str(found)
    _load()
    return _backend or "bigram"


def clean(text: str) -> str:
    """NFKC-normalised text without control characters, bounded in length.

    A run of more than ``MAX_RUN_CHARS`` characters without a space is broken by spaces: kiwi's
    analysis is quadratic in the length of a run (16,000 Hangul syllables take ~2 s), so this
    keeps tokenising linear in the text. No real word is that long.
    """
    text = unicodedata.normalize("NFKC", text[:MAX_TEXT_CHARS])
    return _RUN.sub(r"\g<0> ", _CONTROL.sub(" ", text))


def fold_english(word: str) -> str:
    """A light English plural fold: ``policies`` → ``policy``, ``refunds`` → ``refund``."""
    if len(word) <= 3 or not word.isalpha() or word.endswith("ss"):
        return word
    for suffix, replacement in (("ies", "y"), ("sses", "ss"), ("es", ""), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)] + replacement
    return word


def ascii_words(text: str, canonical: dict[str, str]) -> list[str]:
    """Latin words and numbers of already-cleaned text: lower-cased, stopwords dropped, plurals folded."""
    out = []
    for word in _ASCII_WORD.findall(text.lower()):
        if word in canonical:
            out.append(canonical[word])
        elif word not in ENGLISH_STOPWORDS:
            out.append(fold_english(word))
    return out


def _from_kiwi(
    text: str, tokens: Iterable[Any], canonical: dict[str, str], expansions: dict[str, tuple[str, ...]]
) -> list[str]:
    out: list[str] = []
    for tok in tokens:
        tag = str(tok.tag)
        if not tag.startswith(_KEEP_PREFIXES):
            continue
        form = tok.form.lower()
        if tag.startswith("W_"):
            form = _LATIN_STRIP.sub("", form)
        if not form:
            continue
        if form in expansions:
            out.extend(expansions[form])
        elif " " in form:  # a multi-word entry: the stored index splits tokens at spaces, so must we
            out.extend(canonical.get(part, part) for part in form.split())
        else:
            out.append(canonical.get(form, form))
    out.extend(ascii_words(text, canonical))
    return out


def bigrams(text: str, canonical: dict[str, str] | None = None) -> list[str]:
    """Fallback tokens: Hangul runs as character bigrams, other words whole, lower-cased."""
    canonical = canonical or {}
    out: list[str] = []
    for word in _WORDS.findall(clean(text).lower()):
        if word in canonical:
            out.append(canonical[word])
        elif _HANGUL.fullmatch(word) and len(word) > 1:
            out.extend(word[i : i + 2] for i in range(len(word) - 1))
        else:
            out.append(word)
    return out


def tokenize(text: str) -> list[str]:
    """Content tokens of ``text`` for BM25 (empty list for empty or punctuation-only text)."""
    found = _by_helper("tokenize", text)
    if found is not _IN_PROCESS:
        return list(found)
    kiwi, userdict = _load()
    text = clean(text)
    if not text.strip():
        return []
    if kiwi is None:
        return bigrams(text, userdict.canonical)
    try:
        return _from_kiwi(text, kiwi.tokenize(text), userdict.canonical, userdict.expansions)
    except Exception:  # analysis failure on odd input: degrade, never fail
        return bigrams(text, userdict.canonical)


def tokenize_many(texts: Iterable[str]) -> list[list[str]]:
    """``tokenize`` for many texts at once (kiwi's batch mode: much faster than one by one)."""
    texts = list(texts)
    found = _by_helper("tokenize_many", texts)
    if found is not _IN_PROCESS:
        return [list(tokens) for tokens in found]
    kiwi, userdict = _load()
    cleaned = [clean(t) for t in texts]
    if kiwi is None:
        return [bigrams(t, userdict.canonical) for t in cleaned]
    out: list[list[str]] = [[] for _ in cleaned]
    todo = [i for i, t in enumerate(cleaned) if t.strip()]
    try:
        for i, tokens in zip(todo, kiwi.tokenize([cleaned[i] for i in todo]), strict=True):
            out[i] = _from_kiwi(cleaned[i], tokens, userdict.canonical, userdict.expansions)
    except Exception:
        return [tokenize(t) for t in cleaned]
    return out


def split_sentences(text: str) -> list[str]:
    """Sentences of ``text`` (kiwi's Korean sentence splitter; a regex when kiwi is unavailable)."""
    if not text.strip():
        return []
    found = _by_helper("split_sentences", text)
    if found is not _IN_PROCESS:
        return list(found)
    kiwi, _ = _load()
    if kiwi is not None:
        try:
            return [s.text for s in kiwi.split_into_sents(text)]
        except Exception:
            pass
    parts = re.split(r"(?<=[.!?。])\s+|\n+", text)
    return [p.strip() for p in parts if p and p.strip()]


def _serve_helper() -> None:
    """The helper process (:mod:`servers.retrieval.kiwi_process`): load kiwi now, then answer."""
    _load()
    kiwi_process.serve_stdio(
        {
            "tokenize": tokenize,
            "tokenize_many": tokenize_many,
            "split_sentences": split_sentences,
            "backend": lambda _arg: backend(),
        }
    )


if __name__ == "__main__" and sys.argv[1:] == ["--serve-stdio"]:
    _serve_helper()
