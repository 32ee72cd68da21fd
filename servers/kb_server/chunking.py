"""Structure-aware chunking sized for the embedding model.

Chunks never cross a section (heading path) or a PDF page, so each one cites exactly one place.
Consecutive paragraphs of a section are packed up to ``target`` estimated model tokens; a longer
paragraph is split at Korean sentence boundaries (kiwi), and a run-on sentence at whitespace.
multilingual-e5 reads 512 tokens; Korean costs ~0.57 tokens per character, so the default
target (220 tokens ≈ 380 Hangul characters) and hard maximum (400 ≈ 700) keep every chunk whole
inside the model's window while staying small enough to be a precise citation.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from servers.kb_server.parsers import Block

TARGET_TOKENS = 220
MAX_TOKENS = 400
_HANGUL = re.compile(r"[\uac00-\ud7a3\u3130-\u318f]")
_NON_SPACE = re.compile(r"\S")


@dataclass(slots=True, frozen=True)
class Chunk:
    """One passage of a document, with its citation anchor."""

    ordinal: int
    text: str
    page: int | None
    section: str | None


def _cost(text: str) -> float:
    """The additive part of :func:`estimate_tokens` (so pieces can be summed)."""
    hangul = len(_HANGUL.findall(text))
    other = len(_NON_SPACE.findall(text)) - hangul
    return hangul * 0.6 + other * 0.3


def estimate_tokens(text: str) -> int:
    """Rough e5 token count: ~0.6 per Hangul syllable, ~0.3 per other visible character."""
    return int(_cost(text)) + 1


def _cut_word(word: str, max_tokens: int) -> list[str]:
    """A whitespace-free run cut by length into pieces of at most ``max_tokens`` (linear in the run)."""
    pieces: list[str] = []
    start = 0
    step = max(1, int((max_tokens - 1) / 0.6))  # a safe length even when every character is Hangul
    while start < len(word):
        pieces.append(word[start : start + step])
        start += step
    return pieces


def _hard_split(text: str, max_tokens: int) -> list[str]:
    """Split a run-on text at whitespace (or by length inside a run without any) to fit ``max_tokens``.

    Linear in the text: each word's cost is computed once and summed, and an enormous "word" is
    cut by length (a 5 MB line without a space is ~5 MB of work, not 5 MB × its pieces).
    """
    budget = max_tokens - 1
    pieces: list[str] = []
    current: list[str] = []
    size = 0.0

    def emit() -> None:
        nonlocal size
        joined = "".join(current).strip()
        if joined:
            pieces.append(joined)
        current.clear()
        size = 0.0

    for word in _SPLIT_WS.split(text):
        if not word:
            continue
        cost = _cost(word)
        if size + cost <= budget:
            current.append(word)
            size += cost
            continue
        emit()
        if cost <= budget:
            current.append(word)
            size = cost
            continue
        pieces.extend(_cut_word(word, max_tokens))
    emit()
    return pieces


_SPLIT_WS = re.compile(r"(\s+)")
SENTENCE_WINDOW = 4000  # characters handed to the sentence splitter at once
_RUN_ON = re.compile(r"\S{200}")


def _windows(text: str) -> list[str]:
    """``text`` in windows of about ``SENTENCE_WINDOW`` characters, cut at whitespace when there is some."""
    out: list[str] = []
    start = 0
    while start < len(text):
        end = min(len(text), start + SENTENCE_WINDOW)
        if end < len(text):
            space = text.rfind(" ", start + SENTENCE_WINDOW // 2, end)
            newline = text.rfind("\n", start + SENTENCE_WINDOW // 2, end)
            cut = max(space, newline)
            end = cut + 1 if cut > 0 else end
        out.append(text[start:end])
        start = end
    return out


def _pieces(text: str, max_tokens: int, sentences: Callable[[str], list[str]]) -> list[str]:
    """``text`` as pieces of at most ``max_tokens``: sentences first, whitespace second, length last.

    The sentence splitter (kiwi) is superlinear on long runs, so it only ever sees windows of a
    few thousand characters, and never a window that holds a 200-character run without a space
    (that is no prose: it is split by whitespace and length directly).
    """
    if estimate_tokens(text) <= max_tokens:
        return [text]
    out: list[str] = []
    for window in _windows(text):
        found = None if _RUN_ON.search(window) else sentences(window)
        for sentence in found or [window]:
            if estimate_tokens(sentence) <= max_tokens:
                out.append(sentence)
            else:
                out.extend(_hard_split(sentence, max_tokens))
    return [p for p in (piece.strip() for piece in out) if p]


def chunk_blocks(
    blocks: Sequence[Block],
    *,
    target: int = TARGET_TOKENS,
    max_tokens: int = MAX_TOKENS,
    sentences: Callable[[str], list[str]] | None = None,
) -> list[Chunk]:
    """Pack ``blocks`` into chunks of about ``target`` tokens (never over ``max_tokens``)."""
    if sentences is None:
        from servers.retrieval.korean import split_sentences

        sentences = split_sentences
    chunks: list[Chunk] = []
    parts: list[str] = []
    size = 0
    anchor: tuple[int | None, str | None] = (None, None)

    def emit() -> None:
        nonlocal size
        if parts:
            chunks.append(Chunk(len(chunks), "\n".join(parts).strip(), anchor[0], anchor[1]))
            parts.clear()
            size = 0

    for block in blocks:
        where = (block.page, block.section)
        if where != anchor:
            emit()
            anchor = where
        same_block = False
        for piece in _pieces(block.text.strip(), max_tokens, sentences):
            cost = estimate_tokens(piece)
            if parts and size + cost > target:
                emit()
                same_block = False
            if same_block:
                parts[-1] = f"{parts[-1]} {piece}"
            else:
                parts.append(piece)
            same_block = True
            size += cost
            if size >= target:
                emit()
                same_block = False
    emit()
    return [c for c in chunks if c.text]
