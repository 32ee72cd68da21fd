"""Lexical index tokens of a memory: its text's morphemes plus context words (the speaker)."""

from __future__ import annotations


def lexical_tokens(text: str, context: list[str] | None = None) -> list[str]:
    """Index tokens of a memory: its text's morphemes plus context words (e.g. the speaker's name)."""
    return lexical_tokens_many([(text, context or [])])[0]


def lexical_tokens_many(items: list[tuple[str, list[str]]]) -> list[list[str]]:
    from servers.retrieval.korean import tokenize, tokenize_many

    lists = [tokenize(items[0][0])] if len(items) == 1 else tokenize_many([text for text, _ in items])
    for tokens, (_, context) in zip(lists, items, strict=True):
        for word in context:
            tokens.extend(tokenize(word))
    return lists
