# End to end in the simulator: AfeSim loads -> real ATM90E32 driver over the fake SPI -> Metrology, with
# 1 s and long (up to 900 s) ticks, checked against the ground-truth formula of the AfeSim docstring
# computed here independently with integers (the CPython property test does it with Fractions).
# mp-heap: 4M
from mptest import eq
from mpt_metrology_fakes import Rng
from mpt_metrology_simrun import run

T0 = 134000000
UJ_WH = 3600000000


def _truth(sc, n, d):
    """Reads happen at the ticks; per read: counts delta per phase/kind from the formula
    C = floor(E * N / (3.6e9 * D)), quadrant by the read's import vs export."""
    # integrate each phase's piecewise constant load up to every tick, walking time forward
    cur = [[0, 0, 0] for _ in range(3)]  # (since_ms, p, q)
    e = [[0, 0, 0, 0] for _ in range(3)]
    prev = [[0] * 4 for _ in range(3)]
    tot = {"imp": [0, 0, 0], "exp": [0, 0, 0], "q": [0, 0, 0, 0]}

    def integrate(ph, to_ms):
        since, p, q = cur[ph]
        dt = to_ms - since
        if dt > 0:
            for k, v in enumerate((p, -p, q, -q)):
                if v > 0:
                    e[ph][k] += v * dt
            cur[ph][0] = to_ms

    for st in sc["steps"]:
        if st[0] == "load":
            ph = st[2]
            integrate(ph, st[1])
            cur[ph] = [max(st[1], cur[ph][0]), st[5], st[6]]
            continue
        t_ms = st[1] * 1000
        for ph in range(3):
            integrate(ph, t_ms)
            c = [e[ph][k] * n // (UJ_WH * d) for k in range(4)]
            dl = [c[k] - prev[ph][k] for k in range(4)]
            prev[ph] = c
            tot["imp"][ph] += dl[0]
            tot["exp"][ph] += dl[1]
            if dl[0] >= dl[1]:
                tot["q"][0] += dl[2]
                tot["q"][3] += dl[3]
            else:
                tot["q"][1] += dl[2]
                tot["q"][2] += dl[3]
    return tot


def _scenario(seed, nsteps, mc):
    rng = Rng(seed)
    steps = []
    t = T0
    for ph in range(3):
        steps.append(["load", T0 * 1000, ph, 230000, 0, 0, 0])
    steps.append(["load", T0 * 1000, 0, 230000, 10000, 2300000, 400000])
    for _ in range(nsteps):
        if rng.below(4) == 0:
            ph = rng.below(3)
            p = rng.below(40000001) - 20000000
            q = rng.below(8000001) - 4000000
            at = t * 1000 + rng.below(1000)
            steps.append(["load", at, ph, 230000 + rng.below(2000), abs(p) // 230, p, q])
        t += rng.pick((1, 1, 1, 2, 15, 60, 300, 899, 900))
        steps.append(["tick", t])
    return {"mc": mc, "t0": T0, "tariff_period": 1800, "steps": steps}


def _check(sc):
    res = run(sc)
    eq(res["overflows"], 0)
    eq(res["errors"], 0)
    regs = res["regs"]
    n, d = regs["1-0:1.8.0"][2], regs["1-0:1.8.0"][3]
    tot = _truth(sc, n, d)

    def check(code, c):
        wh, rem, nn, dd = regs[code]
        eq(wh * nn + rem, c * dd, code)

    check("1-0:1.8.0", sum(tot["imp"]))
    check("1-0:2.8.0", sum(tot["exp"]))
    for ph in range(3):
        check("1-0:%d.8.0" % (20 * ph + 21), tot["imp"][ph])
        check("1-0:%d.8.0" % (20 * ph + 22), tot["exp"][ph])
    for k in range(4):
        check("1-0:%d.8.0" % (k + 5), tot["q"][k])
    s = 0
    for r in range(1, 9):
        wh, rem, nn, dd = regs["1-0:1.8.%d" % r]
        s += wh * nn + rem
    eq(s, sum(tot["imp"]) * d)
    return res


def test_sim_pipeline_exact_mc110():
    res = _check(_scenario(1, 1500, 110))
    assert res["regs"]["1-0:1.8.0"][0] > 100000
    assert res["regs"]["1-0:2.8.0"][0] > 100000


def test_sim_pipeline_exact_fractional_mc125():
    _check(_scenario(2, 1000, (125, 1)))


def test_sim_pipeline_exact_mc3200_one_second_ticks():
    sc = _scenario(3, 800, 3200)
    # MC 3200 (320 counts/Wh) only allows short reads at high power: keep 1-s ticks
    t = T0
    steps = []
    for st in sc["steps"]:
        if st[0] == "tick":
            t += 1
            steps.append(["tick", t])
        else:
            steps.append(["load", t * 1000 + st[1] % 1000, st[2], st[3], st[4], st[5], st[6]])
    sc["steps"] = steps
    _check(sc)
