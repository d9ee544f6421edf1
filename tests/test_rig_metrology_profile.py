"""Issue 4, load profile, maximum demand and billing on the rig, checked against values computed here
from the rig's acknowledged loads (not from the firmware).

One meter, 1-s metering ticks (Rig.schedule), sliding demand 3 x 300 s, 15-min profile, billing on
the 28th at 22:00 local, from 2026-03-28 18:00 UTC over the EU DST start (2026-03-29 01:00 UTC),
then a warned power cut inside a profile interval with a 2000-s outage, then 3 more hours.

Independent truth: per phase, the AfeSim counting formula (boards/unix_sim/afe_sim.py) on the load
segments: counts C(t) = floor(E_mWms(t) * N / (3.6e9 * D)); register Wh = floor(D * counts / N);
demand over a window = floor(D * window_counts * (3600 / 900) / N) W; EU summer time from zoneinfo.
"""
import bisect
import datetime
import random
from zoneinfo import ZoneInfo

from host_tools.rig import Rig, UNIX_2020, MWMS_PER_WH

START = "2026-03-28T18:00:00Z"
PERIOD = 900
SUB = 300
CFG = {
    "metrology": {"instant": False},
    "profile": {"profile_period": PERIOD},
    "demand": {"demand_period": 900, "demand_subperiods": 3},
    "billing": {"billing_day": 28, "billing_hour": 22},
}
TZ = ZoneInfo("Europe/Amsterdam")
POWER_DOWN, DST, DATA_NOT_VALID = 0x80, 0x08, 0x04


def summer(t):
    return bool(datetime.datetime.fromtimestamp(t + UNIX_2020, TZ).dst())


class Counts:
    """Counts of the simulated AFE this power-on, by meter second (ticks on whole seconds)."""

    def __init__(self, rig, epoch):
        cpw = rig.counts_per_wh()
        self.n, self.d = cpw.numerator, cpw.denominator
        self.epoch = epoch
        self.phases = []
        for p in (1, 2, 3):
            segs = [(v, pm, q) for (v, ph, pm, q) in rig.segments if ph == p]
            starts = [s[0] for s in segs]
            pre = [[0, 0, 0, 0]]
            for k, (v, pm, q) in enumerate(segs):
                v2 = segs[k + 1][0] if k + 1 < len(segs) else 1 << 62
                e = list(pre[-1])
                if v2 < 1 << 62:
                    e[0 if pm >= 0 else 1] += abs(pm) * (v2 - v)
                    e[2 if q >= 0 else 3] += abs(q) * (v2 - v)
                pre.append(e)
            self.phases.append((segs, starts, pre))

    def at(self, t):
        """[imp, exp, R+, R-] summed over the phases, at meter second t (its metering tick)."""
        vms = (t - self.epoch) * 1000
        tot = [0, 0, 0, 0]
        for segs, starts, pre in self.phases:
            i = bisect.bisect_right(starts, vms) - 1
            if i < 0:
                continue
            v, pm, q = segs[i]
            e = list(pre[i])
            e[0 if pm >= 0 else 1] += abs(pm) * (vms - v)
            e[2 if q >= 0 else 3] += abs(q) * (vms - v)
            for k in range(4):
                tot[k] += e[k] * self.n // (MWMS_PER_WH * self.d)
        return tot

    def watts(self, counts):
        return counts * self.d * (3600 // 900) // self.n


def schedule(rnd, seconds):
    segs = []
    left = seconds * 1000
    while left > 0:
        dur = min(left, rnd.randint(1000, 40 * 60 * 1000))
        loads = []
        for _ in range(3):
            r = rnd.random()
            p = 0 if r < 0.15 else rnd.randint(400000, 9000000) * (1 if r < 0.7 else -1)
            q = rnd.randint(-abs(p) // 2, abs(p) // 2) if p >= 0 else -rnd.randint(0, abs(p) // 2)
            loads.append((230000, abs(p) // 230, p, q))
        segs.append((dur, tuple(loads)))
        left -= dur
    return segs


def expected_session(rig, epoch, t_end, base, status0, restart):
    """Profile records, demand values and quadrant Wh of one power-on: boundaries after `restart`
    up to t_end; `base` = exact registers at power-on {obis: (wh, rem)}."""
    c = Counts(rig, epoch)
    n, d = c.n, c.d

    def wh(code, counts):
        b = base[code]
        return (b[0] * n + b[1] + counts * d) // n

    recs = []
    b = (restart // PERIOD + 1) * PERIOD
    first = True
    while b <= t_end:
        vms = (b - epoch) * 1000
        q = rig.truth_energy(vms, tick_ms=1000)
        cnt = c.at(b)

        def qwh(code):
            bq = base[code]
            return (bq[0] * n + bq[1] + q[code][0] * n + q[code][1]) // n

        vals = [wh("1-0:1.8.0", cnt[0]), wh("1-0:2.8.0", cnt[1]),
                qwh("1-0:5.8.0") + qwh("1-0:6.8.0"), qwh("1-0:7.8.0") + qwh("1-0:8.8.0")]
        st = (status0 if first else 0) | (DST if summer(b) else 0)
        dur = b - restart if first else PERIOD
        recs.append([b, st, dur, vals])
        first = False
        b += PERIOD
    dem = []
    b = (restart // SUB + 1) * SUB
    while b <= t_end:
        a = max(b - 900, restart)
        ca, cb = c.at(a), c.at(b)
        dem.append((b, c.watts(cb[0] - ca[0]), c.watts(cb[1] - ca[1])))
        b += SUB
    return recs, dem, c


def running_max(dem, ch, after=-1, upto=1 << 62):
    best, bt = 0, 0
    for b, wi, we in dem:
        if after < b <= upto:
            w = (wi, we)[ch]
            if w > best:
                best, bt = w, b
    return [best, bt]


def test_profile_demand_billing_against_independent_truth():
    rnd = random.Random(2803)
    with Rig(time_rate=0, start=START, config=CFG) as rig:
        t0 = rig.now()
        zero = {k: (0, 0) for k in rig.query("energies")}
        # session 1: 14 h, then a warned cut inside an interval (7.5 min in)
        rig.schedule(schedule(rnd, 14 * 3600 + 450))
        t_cut = rig.now()
        recs1, dem1, c1 = expected_session(rig, t0, t_cut, zero, 0, t0)
        base2 = {k: tuple(v) for k, v in rig.query("energies").items()}
        regs_at_cut = rig.registers()
        bill = rig.query("billing", 0)
        rig.power_cut(warn=True)
        rig.power_restore(off_s=2000)
        t1 = rig.now()
        assert t1 == t_cut + 2000
        # session 2: 3 h
        rig.schedule(schedule(rnd, 3 * 3600))
        t_end = rig.now()
        recs2, dem2, _ = expected_session(rig, t1, t_end, base2, POWER_DOWN, t1)

        # the interval open at the cut is closed at its scheduled end, flagged POWER_DOWN, with the
        # values at the cut; no records for the intervals the outage covered
        b_cut = (t_cut // PERIOD + 1) * PERIOD
        closed = [b_cut, POWER_DOWN | (DST if summer(b_cut) else 0), PERIOD,
                  [regs_at_cut["1-0:1.8.0"][0], regs_at_cut["1-0:2.8.0"][0],
                   regs_at_cut["1-0:5.8.0"][0] + regs_at_cut["1-0:6.8.0"][0],
                   regs_at_cut["1-0:7.8.0"][0] + regs_at_cut["1-0:8.8.0"][0]]]
        want = recs1 + [closed] + recs2
        n = len(want)
        got = rig.query("profile", 0, n + 1)[::-1]
        assert len(got) == n, (len(got), n)
        for g, w in zip(got, want):
            assert g == w, "profile record %s != expected %s" % (g, w)
        assert any(r[1] & DST for r in got) and any(not r[1] & DST for r in got)
        assert got[len(recs1)][0] == b_cut and got[len(recs1) + 1][2] < PERIOD  # irregular start

        # billing at 2026-03-28 22:00 local (21:00 UTC): registers and maximum demand at that instant
        b_bill = int(datetime.datetime(2026, 3, 28, 22, 0, tzinfo=TZ).timestamp()) - UNIX_2020
        assert bill is not None and bill[0] == b_bill, bill
        r_bill = [r for r in recs1 if r[0] == b_bill][0]
        assert bill[2]["1-0:1.8.0"] == r_bill[3][0] and bill[2]["1-0:2.8.0"] == r_bill[3][1]
        assert list(bill[3]) == running_max(dem1, 0, upto=b_bill), (bill, running_max(dem1, 0, upto=b_bill))
        assert list(bill[4]) == running_max(dem1, 1, upto=b_bill)
        assert bill[1] == 1

        # maximum demand since the billing reset, across the outage: the subperiod open at the cut is
        # closed at its scheduled end with the energy up to the cut, the window restarts at power-up
        b_sub = (t_cut // SUB + 1) * SUB
        md = rig.query("demand")
        all_dem = [x for x in dem1 if x[0] > b_bill] + dem2
        ca, cb = c1.at(max(b_sub - 900, t0)), c1.at(t_cut)
        all_dem.append((b_sub, c1.watts(cb[0] - ca[0]), c1.watts(cb[1] - ca[1])))
        assert md[0] == running_max(all_dem, 0), (md, running_max(all_dem, 0))
        assert md[1] == running_max(all_dem, 1), (md, running_max(all_dem, 1))
        regs = rig.registers()
        last = dem2[-1]
        assert regs["1-0:1.5.0"][0] == last[1] and regs["1-0:2.5.0"][0] == last[2]
        assert md[0][0] > 0 and md[1][0] > 0

