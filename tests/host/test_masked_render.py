"""Masked personal data survives the plain-text rendering of answers (host/answer.py).

A privacy walk: a KB text holding '010-****-7730' and 'j***@example.org' (masked on upload) was
said on a voice channel as '010--7730' and 'j@example.org' / 'j*@example.org': the Markdown
renderer took the mask's asterisks for emphasis. What came out reads as another, real-looking
number or address; two masked names in one answer ('김*수 … 박*영') paired up as italics and were
said as '김수 … 박영'.
"""

from __future__ import annotations

import pytest

from host.answer import for_channel, for_channel_delta, plain_text

MASKED = [
    "010-****-7730",
    "+82-10-****-5678",
    "j***@example.org",
    "*****@naver.com",
    "4111-****-****-1111",
    "110-***-***890",
    "900101-*******",
    "김*수",
    "J*** S****",
    "이*",
]


@pytest.mark.parametrize("mask", MASKED)
@pytest.mark.parametrize("template", ["{m}", "연락처는 {m} 입니다.", "**확인**: {m}", "- 고객: {m}", "| 번호 | {m} |"])
def test_a_mask_is_said_as_it_is_written(mask: str, template: str) -> None:
    text = template.format(m=mask)
    assert mask in plain_text(text)
    assert mask in for_channel(text, "voice")
    assert mask in for_channel_delta(text, "sms")


def test_two_masked_names_do_not_pair_up_as_italics() -> None:
    text = "고객 김*수 님과 박*영 님의 주문입니다."
    assert plain_text(text) == text
    assert for_channel_delta(text, "voice") == text


@pytest.mark.parametrize(
    ("markdown", "said"),
    [
        ("**중요** 환불은 3일 이내", "중요 환불은 3일 이내"),
        ("**환불**은 3영업일 이내에 처리됩니다.", "환불은 3영업일 이내에 처리됩니다."),
        ("**Refund** policy: *within* 7 days", "Refund policy: within 7 days"),
        ("연락처: **010-****-7730**", "연락처: 010-****-7730"),
        ("`code` and __bold__", "code and bold"),
    ],
)
def test_markdown_emphasis_is_still_removed(markdown: str, said: str) -> None:
    assert plain_text(markdown) == said


def test_markdown_channels_get_the_text_unchanged() -> None:
    assert for_channel("**환불**: 010-****-7730", "websocket") == "**환불**: 010-****-7730"
