"""A question that names a time ("two weeks ago", "지난주에") lifts the memories observed then."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from servers.memory_server.timeframe import find_window

ASKED = datetime(2023, 4, 22, 11, 24, tzinfo=UTC)  # a Saturday

# (question, a day the window must cover, a day it must not) — None: no window at all
LABELLED = [
    ("What charity event did I take part in a month ago?", date(2023, 3, 22), date(2023, 4, 20)),
    ("I mentioned an investment for a competition four weeks ago?", date(2023, 3, 25), date(2023, 4, 15)),
    ("I mentioned cooking something a couple of days ago.", date(2023, 4, 20), date(2023, 4, 10)),
    ("Who did I go with to the music event last Saturday?", date(2023, 4, 15), date(2023, 4, 22)),
    ("What game did I finally beat last weekend?", date(2023, 4, 16), date(2023, 4, 8)),
    ("What certification did I complete last month?", date(2023, 3, 10), date(2023, 1, 20)),
    ("How many times did I bake in the past two weeks?", date(2023, 4, 12), date(2023, 3, 30)),
    ("What did I order yesterday?", date(2023, 4, 21), date(2023, 4, 15)),
    ("What airline did I fly with on Valentine’s day?", date(2023, 2, 14), date(2023, 3, 14)),
    ("What sports events did I watch in January?", date(2023, 1, 15), date(2022, 12, 1)),
    ("Who was elected President in November 1960?", date(1960, 11, 8), date(2022, 11, 8)),
    ("Who opened the new Parliament building on October 9, 2004?", date(2004, 10, 9), date(2022, 10, 9)),
    ("What did I order on February 29?", date(2020, 2, 29), date(2023, 2, 1)),  # the last leap day's
    ("2월 30일에 주문했어요", None, None),
    ("지난주에 주문한 거 언제 와요", date(2023, 4, 12), date(2023, 3, 20)),
    ("어제 전화했을 때 상담원이 뭐라고 했죠", date(2023, 4, 21), date(2023, 4, 10)),
    ("3일 전에 주문했어요", date(2023, 4, 19), date(2023, 4, 1)),
    ("두 달 전에 바꾼 주소가 뭐였죠", date(2023, 2, 20), date(2023, 4, 20)),
    ("지난 토요일에 받은 택배가 파손됐어요", date(2023, 4, 15), date(2023, 4, 8)),
    ("지난주 토요일에 받은 택배", date(2023, 4, 15), date(2023, 4, 8)),
    ("5월 15일에 주문한 밥솥", date(2022, 5, 15), date(2023, 4, 15)),  # May 15 has not come yet: last year's
    ("2009년 1월 10일 공연 이름은?", date(2009, 1, 10), date(2023, 1, 10)),
    ("3월에 환불 요청한 건 어떻게 됐어요", date(2023, 3, 15), date(2023, 1, 15)),
    ("지난달 요금이 이상해요", date(2023, 3, 15), date(2023, 1, 15)),
    ("이번 달 결제 내역 알려 주세요", date(2023, 4, 10), date(2023, 3, 10)),
    ("작년에 산 노트북 수리", date(2022, 6, 1), date(2023, 3, 1)),
    ("최근 3일 동안 주문한 것", date(2023, 4, 20), date(2023, 4, 10)),
    # no time named, or a duration asked for, or words that only look like a time
    ("How many days ago did I attend a networking event?", None, None),
    ("May I ask about my order?", None, None),
    ("What do today's pharmacists do?", None, None),
    ("3일 전화했는데 아무도 안 받았어요", None, None),
    ("오늘날의 경찰청에 해당하는 기관은?", None, None),
    ("올해의 책으로 뽑힌 소설은?", None, None),
    ("3개월 할부로 해 주세요", None, None),
    ("환불은 아직 하지 마세요", None, None),
    ("", None, None),
]


@pytest.mark.parametrize(("question", "inside", "outside"), LABELLED)
def test_the_window_a_question_names(question: str, inside: date | None, outside: date | None) -> None:
    window = find_window(question, ASKED)
    if inside is None:
        assert window is None, window
        return
    assert window is not None
    noon = lambda d: datetime(d.year, d.month, d.day, 12, tzinfo=UTC).timestamp()  # noqa: E731
    assert window.covers(noon(inside)), (window, inside)
    assert outside is None or not window.covers(noon(outside)), (window, outside)
    assert window.end <= ASKED.timestamp()  # never after the question


def test_a_window_never_reaches_past_the_question() -> None:
    window = find_window("what did I say today", ASKED)
    assert window is not None and window.end == ASKED.timestamp()
    assert find_window("what did I say today", ASKED + timedelta(hours=6)) is not None


def _doc_index(observed: list[datetime]):
    import numpy as np

    from servers.memory_server.index import Doc, ScopeIndex

    index = ScopeIndex("o", "c", 2)
    for i, at in enumerate(observed):
        doc = Doc(
            id=f"m{i}", text=f"concert memory {i}", agent_id=None, run_id=None, kind="message", categories=[],
            meta={}, slot=None, slot_values={}, source="message", status="active", content_hash=f"h{i}",
            tokens=["concert", f"m{i}"], observed_at=at, created_at=at, updated_at=at, valid_to=None,
            superseded_by=None, vector_model="m", observed_ts=at.timestamp(), created_ts=at.timestamp(),
        )  # fmt: skip
        angle = 0.1 * i  # m0 is nearest the query, m1 next, ...
        index.upsert(doc, np.array([np.cos(angle), np.sin(angle)], dtype=np.float32))
    return index


def test_the_memory_observed_then_rises_and_a_window_with_nothing_in_it_changes_nothing() -> None:
    import numpy as np

    from servers.memory_server.ranking import RankOptions, rank

    days = [ASKED - timedelta(days=d) for d in (40, 35, 30, 25, 20, 7, 3)]  # m5 was observed last week
    index = _doc_index(days)
    query = np.array([1.0, 0.0], dtype=np.float32)
    opts = RankOptions(top_k=3)
    plain = [h.doc.id for h in rank(index, ["concert"], query, opts)]
    assert "m5" not in plain
    week = find_window("Who did I go to the concert with last Saturday?", ASKED)
    assert week is not None
    lifted = [h.doc.id for h in rank(index, ["concert"], query, opts, window=week)]
    assert lifted[0] == "m5"
    empty = find_window("Who did I go to the concert with in November 1960?", ASKED)
    assert empty is not None
    assert [h.doc.id for h in rank(index, ["concert"], query, opts, window=empty)] == plain
    lexical = RankOptions(top_k=3, mode="lexical")
    assert rank(index, ["concert"], None, lexical, window=week)[0].doc.id == "m5"


async def test_search_counts_relative_times_from_the_reference(call) -> None:
    """Through the service: the same question lifts last week's memory when asked a week after it,
    and nothing when asked years later."""
    from servers.memory_server.ranking import RankOptions
    from servers.memory_server.scope import Scope
    from servers.memory_server.service import get_service

    base = datetime(2024, 3, 1, 10, tzinfo=UTC)
    for i in range(8):
        at = (base + timedelta(days=5 * i)).isoformat()
        text = f"I went to a concert with friend number {i}"
        assert (await call("add_memory", {"text": text, "observed_at": at, "infer": False}))["ok"]
    service = get_service()
    scope = Scope("acme", "C1", actor="t")
    question = "Who did I go to the concert with two weeks ago?"
    asked = (base + timedelta(days=5 * 3 + 14)).timestamp()  # two weeks after friend number 3's
    hits = await service.search(scope, question, RankOptions(top_k=1, mode="lexical", reference=asked))
    assert hits[0].doc.text.endswith("number 3")
    now = await service.search(scope, question, RankOptions(top_k=8, mode="lexical"))  # asked now: nothing then
    years_later = datetime(2031, 1, 1, tzinfo=UTC).timestamp()
    later = await service.search(scope, question, RankOptions(top_k=8, mode="lexical", reference=years_later))
    assert [h.doc.id for h in now] == [h.doc.id for h in later] and len(now) == 8


def test_any_text_gives_no_window_or_one_that_ends_by_the_question() -> None:
    """Hostile and sloppy input: never an error, never a window after the question or inside out."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    words = st.sampled_from(
        ["ago", "last", "week", "지난", "주", "달", "전", "월", "일", "2월", "29일", "in", "may", "on", "today", "오늘",
         "어제", "two", "a", "few", "of", "October", "1960", "년", "\u2019", " ", "3", "31"]
    )  # fmt: skip

    @settings(max_examples=300, deadline=None)
    @given(st.lists(words | st.text(max_size=5), max_size=40), st.datetimes(min_value=datetime(1990, 1, 1)))
    def check(parts: list[str], asked: datetime) -> None:
        window = find_window(" ".join(parts), asked.replace(tzinfo=UTC))
        if window is not None:
            assert window.start < window.end <= asked.replace(tzinfo=UTC).timestamp()

    check()


async def test_through_the_mcp_tool_relative_times_count_from_now(call) -> None:
    """The production path: a customer's "사흘 전에/3일 전에" counts from the moment of the search."""
    now = datetime.now(UTC)
    for days, item in ((20, "운동화"), (10, "청바지"), (3, "패딩"), (1, "모자")):
        text = f"{item} 배송 문의를 남겼어요"
        at = (now - timedelta(days=days)).isoformat()
        assert (await call("add_memory", {"text": text, "observed_at": at, "infer": False}))["ok"]
    for question, expected in (("3일 전에 남긴 배송 문의", "패딩"), ("10일 전에 남긴 배송 문의", "청바지")):
        found = await call("search_memories", {"query": question, "top_k": 1, "mode": "lexical"})
        assert found["results"][0]["text"].startswith(expected), (question, found["results"])
