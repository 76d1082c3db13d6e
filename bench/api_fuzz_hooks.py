"""Schemathesis hooks for bench/api-fuzz.sh: the string formats of the registry's
OpenAPI document that JSON Schema cannot say with a pattern, so that "schema-valid"
test data is valid for the registry too (the document's descriptions define them).

- `insz`: 11 digits; month (digits 3-4) 00-12, 20-32 or 40-52; check number
  97 - (first nine mod 97).
- `kbo`: 10 digits starting with 0 or 1; check number 97 - (first eight mod 97).
"""

import schemathesis
from hypothesis import strategies as st


def _insz(parts):
    yy, month, rest = parts
    first_nine = int(f"{yy:02d}{month:02d}{rest:05d}")
    return f"{first_nine:09d}{97 - first_nine % 97:02d}"


def _kbo(first_eight):
    return f"{first_eight:08d}{97 - first_eight % 97:02d}"


months = st.sampled_from(list(range(0, 13)) + list(range(20, 33)) + list(range(40, 53)))
schemathesis.openapi.format(
    "insz",
    st.tuples(st.integers(0, 99), months, st.integers(1, 99_999)).map(_insz),
)
schemathesis.openapi.format("kbo", st.integers(1, 19_999_999).map(_kbo))
