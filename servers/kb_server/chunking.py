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


def estimate_tokens(text: str) -> int:
    """Rough e5 token count: ~0.6 per Hangul syllable, ~0.3 per other visible character."""
    hangul = len(_HANGUL.findall(text))
    other = len(_NON_SPACE.findall(text)) - hangul
    return int(hangul * 0.6 + other * 0.3) + 1


def _hard_split(text: str, max_tokens: int) -> list[str]:
    """Split a run-on text at whitespace (or anywhere, if it has none) to fit ``max_tokens``."""
    pieces: list[str] = []
    current = ""
    for word in re.split(r"(\s+)", text):
        if estimate_tokens(current + word) <= max_tokens:
            current += word
            continue
        if current.strip():
            pieces.append(current.strip())
        current = word
        while estimate_tokens(current) > max_tokens:  # one enormous "word"
            cut = max(1, int(len(current) * max_tokens / estimate_tokens(current)))
            pieces.append(current[:cut])
            current = current[cut:]
    if current.strip():
        pieces.append(current.strip())
    return pieces


def _pieces(text: str, max_tokens: int, sentences: Callable[[str], list[str]]) -> list[str]:
    """``text`` as pieces of at most ``max_tokens``: sentences first, whitespace second."""
    if estimate_tokens(text) <= max_tokens:
        return [text]
    out: list[str] = []
    for sentence in sentences(text) or [text]:
        if estimate_tokens(sentence) <= max_tokens:
            out.append(sentence)
        else:
            out.extend(_hard_split(sentence, max_tokens))
    return out


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
