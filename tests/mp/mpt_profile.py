# Load profile against brute-force references: interval values at exact boundaries for 1-s ticks and
# for long (rig fast-forward) ticks, status flags (power down, clock adjusted, DST), restore across an
# outage, ring persistence, and 60 days of 15-minute intervals in the RP2040 layout.
# mp-heap: 4M
from meter.common.registers import Registers
from meter.common.events import EventLog
from meter.services.metrology import Metrology, ROLLOVER
from meter.services import load_profile as P
from meter.services.load_profile import LoadProfile
from meter.services import storage as S
import flash_fakes as F  # noqa: E402
from meter.common import timeutil
from meter.drivers import afe as A
from mptest import eq, raises
from mpt_metrology_fakes import Rng, ScriptDriver, SingleRate, split_ref

N = 11
T_WINTER = timeutil.to_secs(2024, 1, 15, 10, 7, 13)
T_SUMMER = timeutil.to_secs(2024, 7, 15, 10, 7, 13)


def _setup(t0, period=900, ring=True, nph=1):
    regs = Registers()
    drv = ScriptDriver(nph, True, N, 1)
    m = Metrology(regs, drv, SingleRate(), EventLog(8), {})
    r = None
    dev = None
    if ring:
        dev = F.RamFlash(64 * 1024, 4096)
        r = S.RingStore(dev, 0, 16, P.RECORD, S.REGION_PROFILE)
        r.open()
    lp = LoadProfile(regs, r, {"profile_period": period})
    m.attach(lp)
    m.start(t0)
    return regs, drv, m, lp, dev


def _wh(c):
    return (c // N) % ROLLOVER


def test_one_second_ticks_against_prefix_sums():
    for t0, dstbit in ((T_WINTER, 0), (T_SUMMER, P.DST)):
        regs, drv, m, lp, _ = _setup(t0)
        rng = Rng(t0 & 0xFFFF)
        cum = [0, 0, 0, 0, 0, 0]  # imp, exp, q1, q2, q3, q4 counts
        at = {}
        for t in range(t0 + 1, t0 + 4 * 3600 + 1):
            imp = rng.below(80) if rng.below(4) else 0
            exp = 0 if imp else rng.below(40)
            qp = rng.below(30)
            qn = rng.below(20)
            drv.next[A.E_IMP], drv.next[A.E_EXP], drv.next[A.E_QPOS], drv.next[A.E_QNEG] = imp, exp, qp, qn
            cum[0] += imp
            cum[1] += exp
            if imp >= exp:
                cum[2] += qp
                cum[5] += qn
            else:
                cum[3] += qp
                cum[4] += qn
            m.tick(t)
            if t % 900 == 0:
                at[t] = (_wh(cum[0]), _wh(cum[1]), _wh(cum[2]) + _wh(cum[3]), _wh(cum[4]) + _wh(cum[5]))
            lp.flush()
        bounds = sorted(at)
        eq(len(bounds), 16)
        eq(lp.count(), 16)
        for k in range(16):
            b = bounds[15 - k]
            rec = lp.get(k)
            eq(rec[0], b)
            eq(rec[1], dstbit)
            eq(rec[2], 900 if k < 15 else b - t0)  # the first interval started mid-way
            eq(rec[3], at[b])
        for k in range(15):
            iv = lp.interval(k)
            b, prev = bounds[15 - k], bounds[14 - k]
            eq(iv[3], tuple(at[b][i] - at[prev][i] for i in range(4)))
        eq(lp.interval(15), None)


def test_long_ticks_cut_at_boundaries():
    t0 = T_WINTER
    regs, drv, m, lp, _ = _setup(t0, period=300, ring=False)
    rng = Rng(42)
    t = t0
    cum = 0
    want = []
    nb = (t0 // 300 + 1) * 300
    for _ in range(400):
        dt = rng.pick((1, 5, 299, 300, 301, 600, 1799, 3600))
        c = rng.below(20000)
        drv.next[A.E_IMP] = c
        bounds = []
        x = nb
        while x <= t + dt:
            bounds.append(x)
            x += 300
        pieces = split_ref(c, t, t + dt, bounds)
        for j in range(len(bounds)):
            cum += pieces[j][2]
            want.append((bounds[j], _wh(cum)))
        for j in range(len(bounds), len(pieces)):
            cum += pieces[j][2]
        if bounds:
            nb = bounds[-1] + 300
        t += dt
        m.tick(t)
        got = []
        for k in range(lp.npend - 1, -1, -1):
            r = lp.get(k)
            got.append((r[0], r[3][0]))
        eq(got, want[len(want) - len(got):])
        lp.npend = 0  # no ring: drop what was checked
    assert len(want) > 500
    eq(regs.value("1-0:1.8.0"), _wh(cum))


def test_power_fail_flag_and_restore_across_outage():
    t0 = T_WINTER - T_WINTER % 900 + 100
    regs, drv, m, lp, dev = _setup(t0)
    for t in range(t0 + 1, t0 + 1000):
        drv.next[A.E_IMP] = 11
        m.tick(t)
    lp.flush()
    t_cut = t0 + 1000 + 250
    for t in range(t0 + 1000, t_cut):
        drv.next[A.E_IMP] = 22
        m.tick(t)
    m.power_fail(t_cut)
    wh_at_cut = regs.value("1-0:1.8.0")
    state = bytearray(m.state_size + lp.state_size)
    m.dump_into(memoryview(state)[:m.state_size])
    lp.dump_into(memoryview(state)[m.state_size:])
    lp.flush()
    # power returns 2 h 10 min later: new objects, restored state
    regs2 = Registers()
    drv2 = ScriptDriver(1, True, N, 1)
    m2 = Metrology(regs2, drv2, SingleRate(), EventLog(8), {})
    r2 = S.RingStore(dev, 0, 16, P.RECORD, S.REGION_PROFILE)
    r2.open()
    lp2 = LoadProfile(regs2, r2, {})
    m2.attach(lp2)
    assert m2.load_from(memoryview(state)[:m.state_size])
    assert lp2.load_from(memoryview(state)[m.state_size:])
    t_up = t_cut + 7800
    m2.start(t_up)
    eq(lp2.npend, 1)
    rec = lp2.get(0)
    open_end = (t_cut // 900 + 1) * 900
    eq(rec[0], open_end)  # the interval open at power down, closed at its scheduled end
    eq(rec[1] & P.POWER_DOWN, P.POWER_DOWN)
    eq(rec[3][0], wh_at_cut)
    eq(lp2.next_boundary, (t_up // 900 + 1) * 900)
    for t in range(t_up + 1, lp2.next_boundary + 1):
        drv2.next[A.E_IMP] = 11
        m2.tick(t)
    rec = lp2.get(0)
    eq(rec[1] & P.POWER_DOWN, P.POWER_DOWN)  # power came back inside this interval
    eq(rec[2], lp2.next_boundary - 900 - t_up)
    eq(rec[3][0] - wh_at_cut, (lp2.next_boundary - 900 - t_up) * 11 // N)
    lp2.flush()
    eq(lp2.get(2)[1] & P.POWER_DOWN, 0)  # the one before the outage was normal


def test_clock_adjustments():
    t0 = T_WINTER - T_WINTER % 900
    regs, drv, m, lp, _ = _setup(t0 + 10, ring=False)
    m.tick(t0 + 100)
    # within the interval: only the flag
    m.clock_adjusted(t0 + 100, t0 + 200)
    eq(lp.npend, 0)
    m.tick(t0 + 900)
    eq(lp.get(0)[1] & P.CLOCK_ADJUSTED, P.CLOCK_ADJUSTED)
    # forward past a boundary: the open interval closes at its scheduled end
    m.tick(t0 + 1000)
    m.clock_adjusted(t0 + 1000, t0 + 5000)
    r = lp.get(0)
    eq((r[0], r[1] & P.CLOCK_ADJUSTED), (t0 + 1800, P.CLOCK_ADJUSTED))
    eq(lp.next_boundary, t0 + 5400)
    # backward out of the interval: closed at the old time
    m.tick(t0 + 5100)
    m.clock_adjusted(t0 + 5100, t0 + 3000)
    r = lp.get(0)
    eq((r[0], r[1] & P.CLOCK_ADJUSTED, r[2]), (t0 + 5100, P.CLOCK_ADJUSTED, 100))
    eq(lp.next_boundary, t0 + 3600)
    m.tick(t0 + 3600)
    r = lp.get(0)
    eq((r[0], r[1] & P.CLOCK_ADJUSTED, r[2]), (t0 + 3600, P.CLOCK_ADJUSTED, 600))


def test_sixty_days_of_intervals_in_the_rp2040_layout():
    dev = F.RamFlash(256 * 1024, 4096)
    L = S.layout(dev)
    regs = Registers()
    drv = ScriptDriver(3, True, N, 1)
    m = Metrology(regs, drv, SingleRate(), None, {})
    ring = S.RingStore(dev, L["profile"][0], L["profile"][1], P.RECORD, S.REGION_PROFILE)
    ring.open()
    lp = LoadProfile(regs, ring, {})
    m.attach(lp)
    t0 = timeutil.to_secs(2024, 2, 1)
    m.start(t0)
    days = 61
    for k in range(1, days * 96 + 1):
        for ph in range(3):
            drv.next[ph * A.EK] = (k % 97) * (ph + 1)
        m.tick(t0 + 900 * k)  # rig-style: one tick per interval
        lp.flush()
    # reopen (as after a reboot) and read 60 days back
    ring2 = S.RingStore(dev, L["profile"][0], L["profile"][1], P.RECORD, S.REGION_PROFILE)
    eq(ring2.open(), S.OK)
    lp2 = LoadProfile(regs, ring2, {})
    end = t0 + 900 * days * 96
    for k in range(0, 60 * 96):
        iv = lp2.interval(k)
        assert iv is not None, k
        n = days * 96 - k
        eq(iv[0], end - 900 * k)
        if k % 500 == 0:
            # tick i added 6 * (i % 97) import counts over the three phases
            c1 = sum(6 * (i % 97) for i in range(1, n + 1))
            c0 = c1 - 6 * (n % 97)
            eq(iv[3][0], c1 // N - c0 // N)


def test_bad_period_rejected():
    raises(ValueError, LoadProfile, Registers(), None, {"profile_period": 700})
    raises(ValueError, LoadProfile, Registers(), None, {"profile_period": 5000})
    LoadProfile(Registers(), None, {"profile_period": 7200})
