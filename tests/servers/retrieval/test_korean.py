"""Korean tokenizer: content morphemes, user dictionary, bigram fallback, hostile input."""

from __future__ import annotations

import pytest

from servers.retrieval import korean


def test_keeps_content_morphemes_and_drops_particles() -> None:
    tokens = korean.tokenize("환불은 3~5영업일이 걸립니다.")
    assert "환불" in tokens and "영업일" in tokens
    assert "은" not in tokens and "." not in tokens


def test_user_dictionary_maps_slang_and_keeps_product_names() -> None:
    assert korean.tokenize("비번 바꾸고 싶어요")[0] == "비밀번호"
    assert "갤럭시s24" in korean.tokenize("갤럭시S24 교환")
    assert "카카오톡" in korean.tokenize("카톡으로 알려주세요")


def test_latin_words_lowercased_without_punctuation() -> None:
    tokens = korean.tokenize("iPhone-15 Pro, eSIM!")
    assert "iphone" in tokens and "pro" in tokens and "esim" in tokens


@pytest.mark.parametrize("text", ["", "   ", "!!!???...", "\x00\x01\x02\x1b", "😀😀"])
def test_no_tokens_from_empty_or_punctuation(text: str) -> None:
    assert korean.tokenize(text) == []


def test_long_and_control_character_input_does_not_crash() -> None:
    tokens = korean.tokenize("환불\x00정책 " * 5000)
    assert "환불" in tokens


def test_tokenize_many_matches_tokenize() -> None:
    texts = ["배송 조회", "", "교환 정책 안내", "..."]
    assert korean.tokenize_many(texts) == [korean.tokenize(t) for t in texts]


def test_bigram_fallback() -> None:
    assert korean.bigrams("환불정책 ABC-12") == ["환불", "불정", "정책", "abc", "12"]
    assert korean.bigrams("비번", {"비번": "비밀번호"}) == ["비밀번호"]


def test_user_dictionary_file_format(tmp_path) -> None:
    path = tmp_path / "extra.tsv"
    path.write_text("# comment\n폰번\tNNG\t전화번호\n한빛마켓\n\nbad word\tNNG\n", encoding="utf-8")
    loaded = korean.UserDictionary.load([path])
    assert ("한빛마켓", "NNP") in loaded.words
    assert loaded.canonical == {"폰번": "전화번호"}
    assert all(" " not in w for w, _ in loaded.words)


def test_sentence_split_korean() -> None:
    sents = korean.split_sentences("환불은 3영업일 걸립니다. 카드사 반영은 더 걸려요 감사합니다")
    assert len(sents) >= 2


def test_english_words_drop_stopwords_and_fold_plurals() -> None:
    tokens = korean.tokenize("The refunds for these policies are processed in 3 days")
    assert {"refund", "policy", "processed", "3", "day"} <= set(tokens)
    assert not {"the", "for", "these", "are", "in"} & set(tokens)
    assert korean.fold_english("class") == "class" and korean.fold_english("bus") == "bus"


def test_slang_matches_either_segmentation_of_the_canonical_word() -> None:
    query = set(korean.tokenize("비번 찾기"))
    assert {"비밀번호", "비밀", "번호"} <= query
    for document in ("비밀번호를 잊었을 때", "비밀 번호 찾기"):
        assert query & set(korean.tokenize(document)) - {"찾"}


@pytest.mark.parametrize(
    ("question", "name"),
    [
        ("알렉산더 헤이그는 어느 나라 국무장관이었나", "알렉산더 헤이그"),
        ("더글러스 맥아더가 지휘한 부대는?", "더글러스 맥아더"),
        ("스탠더드 앤드 푸어스 신용등급", "스탠더드 앤드 푸어스"),
    ],
)
def test_query_tokens_match_the_stored_index_for_multi_word_names(question: str, name: str) -> None:
    """The stored index splits tokens at spaces (``kb_chunk.tokens``, memory tokens): a query token
    with a space in it (kiwi's multi-word dictionary: "알렉산더 헤이그") could never match, so the name
    was lost from keyword search."""
    from servers.retrieval.lexical import StaticBM25

    query = korean.tokenize(question)
    assert all(" " not in token for token in query), query
    passages = [question.replace("?", "") + " 관련 기록이다.", "환불은 3~5영업일이 걸립니다.", "배송비는 무료입니다."]
    stored = [" ".join(tokens).split() for tokens in korean.tokenize_many(passages)]  # as kb_chunk.tokens
    assert set(name.split()) <= set(query) & set(stored[0])
    index = StaticBM25.build(["name", "refund", "shipping"], stored)
    assert index.search(query, 1)[0][0] == "name"
