"""The hot-path canonical JSON encoders produce exactly the bytes rfc8785 does."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from audit.jcs import canonical
from audit.record import HASHED_FIELDS, canonical_row
from core.canonical import canonical_json

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53) + 1, 2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_fast_canonical_equals_rfc8785(value):
    try:
        expected = canonical_json(value)
    except Exception:  # rfc8785 refuses lone surrogates; so must we
        with pytest.raises(Exception):
            canonical(value)
        return
    assert canonical(value) == expected


def _ms(value: float) -> float:
    return round(value, 3)


utf8_text = st.text(alphabet=st.characters(exclude_categories=["Cs"]))


@settings(max_examples=200, deadline=None)
@given(
    st.fixed_dictionaries({name: st.one_of(st.none(), utf8_text) for name in HASHED_FIELDS}),
    st.integers(1, 2**40),
    st.one_of(
        st.none(), st.floats(allow_nan=False, allow_infinity=False), st.floats(0, 1e6).map(lambda f: round(f, 3))
    ),
    st.one_of(st.none(), st.booleans()),
)
@example(
    row={name: None for name in HASHED_FIELDS}, seq=1, latency=9007199254740992.0, is_error=None
)  # 2**53: the C encoder writes "9007199254740992.0", ECMAScript "9007199254740992"
def test_canonical_row_equals_rfc8785(row, seq, latency, is_error):
    row.update(seq=seq, record_version=1, latency_ms=latency, is_error=is_error, args_size=None, result_size=7)
    assert canonical_row(row) == canonical_json({k: row[k] for k in HASHED_FIELDS})
