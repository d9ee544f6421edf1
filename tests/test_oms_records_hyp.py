"""Hypothesis round trips of the firmware's EN 13757-3 record codec: random (data field, VIF,
value, storage, tariff, subunit) encoded and decoded in the 32-bit interpreter must come back
unchanged, with the unit/scaler of the primary VIF table checked from the standard here."""
from hypothesis import given, settings, strategies as st

from tests.conftest import run_mp

SCRIPT = r"""
import sys
from meter.cores.wmbus import records as R
out = bytearray(64)
r = R.Record()
for line in sys.stdin:
    df, vif, val, s, t, u = [int(x) for x in line.split()]
    n = R.encode(out, 0, df, vif, val, s, t, u)
    q = r.decode(out, 0, n)
    print(q == n, r.value, r.storage, r.tariff, r.subunit, r.unit, r.scaler)
"""
# data field -> (bytes, BCD)
DF = {1: (1, 0), 2: (2, 0), 3: (3, 0), 4: (4, 0), 6: (6, 0), 7: (8, 0),
      9: (1, 1), 10: (2, 1), 11: (3, 1), 12: (4, 1), 14: (6, 1)}


def _value(df):
    n, bcd = DF[df]
    if bcd:
        return st.integers(0, 10 ** (2 * n) - 1)
    return st.integers(-(1 << (8 * n - 1)), (1 << (8 * n - 1)) - 1)


rec = st.sampled_from(sorted(DF)).flatmap(lambda df: st.tuples(
    st.just(df), st.sampled_from([0x03, 0x06, 0x13, 0x16, 0x2B, 0x2E]), _value(df),
    st.integers(0, 2 ** 13 - 1), st.integers(0, 63), st.integers(0, 7)))


@settings(max_examples=25, deadline=None)
@given(st.lists(rec, min_size=20, max_size=20))
def test_records_round_trip(cases):
    inp = "".join(" ".join(str(x) for x in c) + "\n" for c in cases)
    p = run_mp("unix32", ["-c", SCRIPT], input_data=inp)
    assert p.returncode == 0, p.stderr
    for c, line in zip(cases, p.stdout.splitlines()):
        df, vif, val, s, t, u = c
        ok, v, s2, t2, u2, unit, sc = line.split()
        assert ok == "True"
        assert (int(v), int(s2), int(t2), int(u2)) == (val, s, t, u)
        # EN 13757-3 Table 10: E000 0nnn Wh 10^(nnn-3); E001 0nnn m3 10^(nnn-6); E010 1nnn W
        want = {0x03: (1, 0), 0x06: (1, 3), 0x13: (3, -3), 0x16: (3, 0), 0x2B: (6, 0),
                0x2E: (6, 3)}[vif]
        assert (int(unit), int(sc)) == want
