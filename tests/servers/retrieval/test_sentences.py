"""Latin-script sentence splitting (kiwi leaves English sentences joined)."""

from __future__ import annotations

import pytest

from servers.retrieval.sentences import split_latin


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "I moved last week. The commute is long. Any gyms?",
            ["I moved last week.", "The commute is long.", "Any gyms?"],
        ),
        ('He said "Great." Then left!', ['He said "Great."', "Then left!"]),
        ("Dr. Kim and Mr. Lee met at 5 p.m. Then it rained.", ["Dr. Kim and Mr. Lee met at 5 p.m. Then it rained."]),
        ("I live in the U.S. now. J. Smith too.", ["I live in the U.S. now.", "J. Smith too."]),
        ("version 2.5 is out. 3 people came", ["version 2.5 is out.", "3 people came"]),
        ("ok so i moved. then what", ["ok so i moved. then what"]),  # ASR: no capital, no cut
        ("어제 이사했어요. 주소 바꿔 주세요.", ["어제 이사했어요. 주소 바꿔 주세요."]),  # kiwi's job
        ("   ", []),
        ("Wait... What?! Really.", ["Wait...", "What?!", "Really."]),
    ],
)
def test_split_latin(text: str, expected: list[str]) -> None:
    assert split_latin(text) == expected
