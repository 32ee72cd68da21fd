"""What is not a word in a reply to a confirmation prompt: signs (jamo, emoji, symbols, marks).

:func:`signs` takes them out of the text and says what they mean (see :mod:`host.replies`): the
negation signs deny, the plain agreement signs affirm, every other sign makes a reply unclear.
:func:`normalise` reads question marks of any script as '?', full-width forms as ASCII, and drops
invisible characters.
"""

from __future__ import annotations

import re
import unicodedata

# question marks of any script (and emoji ones) read as '?'; full-width forms as ASCII; invisible
# characters dropped; typographic quotes and the ellipsis as their ASCII spelling
_QUESTION_MARKS = "？‽⁇⁈⁉؟⸮¿❓❔︖﹖\u037e՞፧꘏᥅⳺⳻"
_NORMALISE = str.maketrans(
    {
        **{chr(c): chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F)},
        **dict.fromkeys(_QUESTION_MARKS, "?"),
        **dict.fromkeys("\u200b\u2060\ufeff\u00ad", ""),
        "\u3000": " ",
        "…": "...",
        "‘": "'",
        "’": "'",
        "“": '"',
        "”": '"',
    }
)
_PLAIN_PUNCT = frozenset(".,!?~'\"-")
# what may follow an emoji and belongs to it: variation selectors, skin tones, keycap, tag characters
_EMOJI_MODIFIER = re.compile(r"[\ufe00-\ufe0f\U0001f3fb-\U0001f3ff\u20e3\U000e0020-\U000e007f]")
_JAMO_RUN = re.compile(r"[\u3131-\u318e\u1100-\u11ff\ua960-\ua97f\ud7b0-\ud7ff]+")
_NEG_JAMO = re.compile(r"ㄴ+|ㅅㄹ|ㅇㄴ")  # no no, 싫어, 아니
_YES_JAMO = re.compile(r"ㅇㅇ+|(?:ㅇㅋ)+|ㄱㄱ+")  # 응응, 오케이, 고고 (go go)
_NEG_EMOJI = frozenset("🙅👎❌✖❎✗✘⛔🚫🛑✋")
_YES_EMOJI = frozenset("👍👌🙆")
_ZWJ_GENDER = frozenset("\u2640\u2642")  # ♀ ♂


def plain(char: str) -> bool:
    return (char.isascii() and char.isalnum()) or "\uac00" <= char <= "\ud7a3" or char.isspace() or char in _PLAIN_PUNCT


def normalise(text: str) -> str:
    return unicodedata.normalize("NFC", text.translate(_NORMALISE)).strip()


def signs(text: str) -> tuple[str, set[str]]:
    """``text`` without its signs (each replaced by a space), and the cues the signs carry.

    A sign is anything but a Hangul syllable, a Latin letter, a digit, a space or . , ! ? ~ ' " -: a run
    of jamo ('ㄴㄴ', 'ㅠㅠ'), one emoji with its modifiers and ZWJ parts ('🙅‍♂️', '👍🏻'), or one other
    character. Negation signs are a ``negation``, plain agreement signs an ``affirm``, all others a
    ``sign`` (which keeps the reply from being a yes); a ZWJ sequence is read by each emoji it joins
    (a gender sign aside), so it is an agreement sign only when every part is one.
    """
    rest: list[str] = []
    cues: set[str] = set()
    index = 0
    while index < len(text):
        char = text[index]
        if plain(char):
            rest.append(char)
            index += 1
            continue
        if jamo := _JAMO_RUN.match(text, index):
            unit = jamo.group()
            index = jamo.end()
            if _NEG_JAMO.fullmatch(unit):
                cues.add("negation")
            elif _YES_JAMO.fullmatch(unit):
                cues.add("affirm")
            else:
                cues.add("sign")
        else:
            parts = [char]
            index += 1
            while index < len(text):
                if _EMOJI_MODIFIER.match(text[index]):
                    index += 1
                elif text[index] == "\u200d" and index + 1 < len(text):
                    if text[index + 1] not in _ZWJ_GENDER:  # '🙅' + ZWJ + '♂' is 🙅; '👍' + ZWJ + '👎' is both
                        parts.append(text[index + 1])
                    index += 2
                else:
                    break
            if any(part in _NEG_EMOJI for part in parts):
                cues.add("negation")
            elif all(part in _YES_EMOJI for part in parts):
                cues.add("affirm")
            else:
                cues.add("sign")
        rest.append(" ")
    return re.sub(r"\s+", " ", "".join(rest)).strip(), cues
