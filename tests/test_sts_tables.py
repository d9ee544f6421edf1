"""The generated STA tables (firmware/meter/cores/sts/sta_tables.py) are current: regenerated from
the substitution and permutation tables in cores/sts/sta.py they come out byte for byte the same.
(Their correctness is checked by the STS vectors and round trips through the decoder.)"""
from host_tools import gen_sta_tables


def test_generated_tables_are_current():
    with open(gen_sta_tables.OUT) as f:
        assert f.read() == gen_sta_tables.render(), "stale: run .venv/bin/python -m host_tools.gen_sta_tables"


def test_each_nibble_reaches_exactly_its_four_permuted_bits():
    # independent of the folding: the bits a nibble position n can set over both tables and all
    # values are exactly the images of its 4 bits under the inverse permutation
    subst1, subst2, perm = gen_sta_tables.sta_constants()
    inv = [0] * 64
    for i, d in enumerate(perm):
        inv[d] = i
    t = gen_sta_tables.fold()
    for n in range(16):
        reach = set()
        for idx in range(n << 5, (n + 1) << 5):
            for k in range(4):
                w = t[k][idx]
                reach |= {k * 16 + b for b in range(16) if w >> b & 1}
        assert reach == {inv[(n << 2) | b] for b in range(4)}
