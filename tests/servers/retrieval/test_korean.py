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
