# Metrology core: exact energy accounting (Wh + remainder) against an independent integer reference,
# mp-heap: 8M
# tariff split invariant, long ticks cut at boundaries, quadrants, rollover, persistence.
from meter.common.registers import Registers
from meter.common.events import EventLog
from meter.common import events as ev
from meter.services.metrology import Metrology, ROLLOVER
from meter.drivers import afe as A
from mptest import eq, raises
from mpt_metrology_fakes import Rng, ScriptDriver, SingleRate, SwitchTariff, BadTariff, Probe, split_ref

T0 = 134000000  # 2024-03-31 (meter seconds)
DTS = (0, 1, 1, 1, 1, 2, 3, 7, 60, 450, 899, 900, 901, 1801, 3600)
IMP = "1-0:1.8.0"
EXP = "1-0:2.8.0"


def _tariff_split_ref(period, nrates, t0, t1, amount, out):
    # the stand-in tariff's rule, re-implemented: pieces at multiples of `period`
    cuts = []
    t = t0
    while t < t1:
        e = (t // period + 1) * period
        cuts.append((t, min(e, t1)))
        t = min(e, t1)
    rest = amount
    for a, b in cuts:
        part = rest * (b - a) // (t1 - a)
        out[(a // period) % nrates] += part
        rest -= part


def _check_acc(m, obis, counts):
    wh, rem, n, d = m.energy(obis)
    exp_units = (d * counts) % (ROLLOVER * n)
    eq(wh * n + rem, exp_units, obis)
    eq(wh, exp_units // n, obis)
    assert 0 <= rem < n


def _run_random(seed, ticks, n, d, nph, reactive, per_phase, probe_period):
    rng = Rng(seed)
    regs = Registers()
    drv = ScriptDriver(nph, reactive, n, d)
    tar = SwitchTariff(37, 8)
    m = Metrology(regs, drv, tar, EventLog(16), {"per_phase_energy": per_phase})
    probe = Probe(regs, [IMP, EXP], probe_period, T0)
    m.attach(probe)
    m.start(T0)
    c_imp = [0, 0, 0]
    c_exp = [0, 0, 0]
    c_q = [0, 0, 0, 0]
    r_imp = [0] * 8
    r_exp = [0] * 8
    cum_imp = 0
    cum_exp = 0
    want_bounds = []
    t = T0
    nb = (T0 // probe_period + 1) * probe_period
    for _ in range(ticks):
        dt = rng.pick(DTS)
        t1 = t + dt
        cap = 40 + dt * 60
        if cap > 65535:
            cap = 65535
        raw = [0] * A.NCH
        for ph in range(nph):
            for k in range(A.EK):
                if k >= 2 and not reactive:
                    continue
                if rng.below(3):
                    raw[ph * A.EK + k] = rng.below(cap + 1)
        for i in range(A.NCH):
            drv.next[i] = raw[i]
        # reference: quadrants by the import/export rule, pieces at probe boundaries, tariff split
        chans = []
        for ph in range(nph):
            chans.append(("i", ph, raw[ph * A.EK]))
            chans.append(("e", ph, raw[ph * A.EK + 1]))
        q = [0, 0, 0, 0]
        for ph in range(nph):
            b = ph * A.EK
            if raw[b] >= raw[b + 1]:
                q[0] += raw[b + 2]
                q[3] += raw[b + 3]
            else:
                q[1] += raw[b + 2]
                q[2] += raw[b + 3]
        bounds = []
        x = nb
        while x <= t1 and dt > 0:
            bounds.append(x)
            x += probe_period
        if dt == 0:
            pieces_i = [(t1, t1, sum(raw[ph * A.EK] for ph in range(nph)))]
            pieces_e = [(t1, t1, sum(raw[ph * A.EK + 1] for ph in range(nph)))]
            per_ph_i = [raw[ph * A.EK] for ph in range(nph)]
            per_ph_e = [raw[ph * A.EK + 1] for ph in range(nph)]
        else:
            sp_i = [split_ref(raw[ph * A.EK], t, t1, bounds) for ph in range(nph)]
            sp_e = [split_ref(raw[ph * A.EK + 1], t, t1, bounds) for ph in range(nph)]
            npieces = len(sp_i[0])
            pieces_i = [(sp_i[0][j][0], sp_i[0][j][1], sum(sp_i[ph][j][2] for ph in range(nph)))
                        for j in range(npieces)]
            pieces_e = [(sp_e[0][j][0], sp_e[0][j][1], sum(sp_e[ph][j][2] for ph in range(nph)))
                        for j in range(npieces)]
            per_ph_i = [raw[ph * A.EK] for ph in range(nph)]
            per_ph_e = [raw[ph * A.EK + 1] for ph in range(nph)]
        for ph in range(nph):
            c_imp[ph] += per_ph_i[ph]
            c_exp[ph] += per_ph_e[ph]
        for k in range(4):
            c_q[k] += q[k]
        for pieces, rates in ((pieces_i, r_imp), (pieces_e, r_exp)):
            for a, b, c in pieces:
                if not c:
                    continue
                if b > a:
                    _tariff_split_ref(37, 8, a, b, c, rates)
                else:
                    rates[(b // 37) % 8] += c
        # expected register values at each boundary of this tick
        for j in range(len(bounds)):
            cum_imp += pieces_i[j][2]
            cum_exp += pieces_e[j][2]
            want_bounds.append((bounds[j], [(d * cum_imp // n) % ROLLOVER, (d * cum_exp // n) % ROLLOVER]))
        for j in range(len(bounds), len(pieces_i)):
            cum_imp += pieces_i[j][2]
            cum_exp += pieces_e[j][2]
        if bounds:
            nb = bounds[-1] + probe_period
        m.tick(t1)
        t = t1
    tot_i = sum(c_imp)
    tot_e = sum(c_exp)
    eq(cum_imp, tot_i)
    _check_acc(m, IMP, tot_i)
    _check_acc(m, EXP, tot_e)
    for r in range(8):
        _check_acc(m, "1-0:1.8.%d" % (r + 1), r_imp[r])
        _check_acc(m, "1-0:2.8.%d" % (r + 1), r_exp[r])
    eq(sum(r_imp), tot_i)
    if per_phase:
        for ph in range(nph):
            _check_acc(m, "1-0:%d.8.0" % (20 * ph + 21), c_imp[ph])
            _check_acc(m, "1-0:%d.8.0" % (20 * ph + 22), c_exp[ph])
    if reactive:
        for k in range(4):
            _check_acc(m, "1-0:%d.8.0" % (k + 5), c_q[k])
    # sum of rate registers (Wh + remainder) == total exactly
    for tot, fmt in ((IMP, "1-0:1.8.%d"), (EXP, "1-0:2.8.%d")):
        wh, rem, n_, d_ = m.energy(tot)
        s = 0
        for r in range(8):
            w, rm, _, _ = m.energy(fmt % (r + 1))
            s += w * n_ + rm
        eq(s % (ROLLOVER * n_), (wh * n_ + rem) % (ROLLOVER * n_), "rates sum")
    eq(probe.imp, tot_i)
    eq(probe.exp, tot_e)
    eq(len(probe.seen), len(want_bounds))
    for k in range(len(want_bounds)):
        eq(probe.seen[k], want_bounds[k], "boundary %d" % k)
    for v in regs.values:
        assert -(1 << 30) < v < (1 << 30)
    return len(want_bounds)


def test_exact_three_phase_reactive_integer_constant():
    nb = _run_random(1, 1500, 11, 1, 3, True, True, 900)
    assert nb > 50, nb


def test_exact_single_phase_fractional_constant():
    _run_random(2, 1200, 25, 2, 1, True, True, 300)


def test_exact_bl0942_like_constant_no_reactive():
    _run_random(3, 1200, 3305, 1000, 1, False, False, 900)


def test_exact_two_phase():
    _run_random(4, 800, 320, 1, 2, True, True, 60)


def test_bad_tariff_cannot_break_rate_sum():
    regs = Registers()
    drv = ScriptDriver(3, False, 7, 1)
    m = Metrology(regs, drv, BadTariff(), EventLog(8), {})
    m.start(T0)
    tot = 0
    for k in range(1, 50):
        for ph in range(3):
            drv.next[ph * A.EK] = 5 + k
            tot += 5 + k
        m.tick(T0 + k)
    assert m.tariff_errors > 0
    wh, rem, n, d = m.energy(IMP)
    s = 0
    for r in range(8):
        w, rm, _, _ = m.energy("1-0:1.8.%d" % (r + 1))
        s += w * n + rm
    eq(s, wh * n + rem)
    eq(wh * n + rem, tot)


def test_quadrant_rule():
    regs = Registers()
    drv = ScriptDriver(3, True, 10, 1)
    m = Metrology(regs, drv, SingleRate(), None, {})
    m.start(T0)
    # L1 importing (Q1/Q4), L2 exporting (Q2/Q3), L3 import == export (counts as import side)
    nx = drv.next
    nx[0], nx[1], nx[2], nx[3] = 100, 0, 30, 0
    nx[4], nx[5], nx[6], nx[7] = 0, 100, 50, 70
    nx[8], nx[9], nx[10], nx[11] = 5, 5, 0, 90
    m.tick(T0 + 1)
    got = []
    for c in (5, 6, 7, 8):
        wh, rem, n, d = m.energy("1-0:%d.8.0" % c)
        got.append(wh * n + rem)
    eq(got, [30, 50, 70, 90])


def test_rollover_at_1e9_wh():
    regs = Registers()
    drv = ScriptDriver(1, False, 1, 1)
    m = Metrology(regs, drv, SingleRate(), None, {})
    m.start(T0)
    regs.values[regs.slot(IMP)] = ROLLOVER - 3
    regs.values[regs.slot("1-0:1.8.1")] = ROLLOVER - 3
    drv.next[0] = 10
    m.tick(T0 + 1)
    eq(regs.value(IMP), 7)
    eq(regs.value("1-0:1.8.1"), 7)


def test_long_tick_cut_exactly_at_boundaries():
    regs = Registers()
    drv = ScriptDriver(1, False, 1, 1)
    m = Metrology(regs, drv, SingleRate(), None, {})
    probe = Probe(regs, [IMP], 900, T0)
    m.attach(probe)
    start = (T0 // 900) * 900 + 300
    m.start(start)
    drv.next[0] = 3600  # over 3600 s: 1 count per second
    m.tick(start + 3600)
    eq([v[0] for _, v in probe.seen], [600, 1500, 2400, 3300])
    eq(regs.value(IMP), 3600)


def test_zero_length_and_backwards_ticks():
    regs = Registers()
    drv = ScriptDriver(1, False, 1, 1)
    tar = SwitchTariff(10, 2)
    m = Metrology(regs, drv, tar, None, {})
    probe = Probe(regs, [IMP], 900, T0)
    m.attach(probe)
    m.start(T0 + 5)
    drv.next[0] = 4
    m.tick(T0 + 5)  # zero length: booked at the rate of T0 + 5
    drv.next[0] = 6
    m.tick(T0 - 1000)  # clock went back without notice: treated as an adjustment
    eq(probe.adjusted, [(T0 + 5, T0 - 1000)])
    eq(regs.value(IMP), 10)
    ra, rb = tar.rate_at(T0 + 5), tar.rate_at(T0 - 1000)
    if ra == rb:
        eq(regs.value("1-0:1.8.%d" % ra), 10)
    else:
        eq(regs.value("1-0:1.8.%d" % ra), 4)
        eq(regs.value("1-0:1.8.%d" % rb), 6)


def test_state_roundtrip_and_register_set_changes():
    regs = Registers()
    drv = ScriptDriver(3, True, 11, 1)
    m = Metrology(regs, drv, SwitchTariff(5, 8), EventLog(8), {})
    m.start(T0)
    rng = Rng(9)
    for k in range(1, 200):
        for i in range(A.NCH):
            drv.next[i] = rng.below(500)
        m.tick(T0 + k)
    buf = bytearray(m.state_size)
    m.dump_into(buf)
    regs2 = Registers()
    m2 = Metrology(regs2, ScriptDriver(3, True, 11, 1), SingleRate(), EventLog(8), {})
    assert m2.load_from(buf)
    for code in m.acc_obis:
        eq(m2.energy(code), m.energy(code), code)
    # a firmware with only 2 rates restores what it has
    regs3 = Registers()
    m3 = Metrology(regs3, ScriptDriver(3, True, 11, 1), SingleRate(), None, {"rates": 2})
    assert m3.load_from(buf)
    eq(m3.energy("1-0:1.8.2"), m.energy("1-0:1.8.2"))
    assert not regs3.has("1-0:1.8.3")
    # and a firmware with more registers keeps the others at 0 and says so
    buf3 = bytearray(m3.state_size)
    m3.dump_into(buf3)
    regs4 = Registers()
    m4 = Metrology(regs4, ScriptDriver(3, True, 11, 1), SingleRate(), None, {})
    assert m4.load_from(buf3) is False
    eq(m4.energy("1-0:1.8.1"), m.energy("1-0:1.8.1"))
    eq(regs4.value("1-0:1.8.3"), 0)


def test_corrupt_state_changes_nothing():
    regs = Registers()
    drv = ScriptDriver(1, False, 11, 1)
    m = Metrology(regs, drv, SingleRate(), None, {})
    m.start(T0)
    drv.next[0] = 1234
    m.tick(T0 + 1)
    buf = bytearray(m.state_size)
    m.dump_into(buf)
    before = list(regs.values)
    bad = bytearray(buf)
    bad[0] ^= 1
    assert m.load_from(bad) is False
    bad = bytearray(buf)
    bad[20 + 12 * 3 + 8] = 0xFF  # a remainder out of range
    assert m.load_from(bad) is False
    assert m.load_from(bytes(7)) is False
    eq(list(regs.values), before)


def test_calibration_change_keeps_wh_and_logs():
    regs = Registers()
    drv = ScriptDriver(1, False, 11, 1)
    m = Metrology(regs, drv, SingleRate(), None, {})
    m.start(T0)
    drv.next[0] = 1000
    m.tick(T0 + 1)
    buf = bytearray(m.state_size)
    m.dump_into(buf)
    log = EventLog(8)
    regs2 = Registers()
    m2 = Metrology(regs2, ScriptDriver(1, False, 13, 1), SingleRate(), log, {})
    assert m2.load_from(buf) is False
    eq(regs2.value(IMP), 1000 // 11)
    eq(m2.energy(IMP)[1], 0)
    eq(log.get(0)[1], ev.CALIBRATION_CHANGED)


def test_afe_error_logged_once_per_episode():
    regs = Registers()
    drv = ScriptDriver(1, False, 1, 1)
    log = EventLog(8)
    m = Metrology(regs, drv, SingleRate(), log, {})
    m.start(T0)
    drv.ok = False
    for k in range(1, 4):
        m.tick(T0 + k)
    drv.ok = True
    m.tick(T0 + 5)
    drv.ok = False
    m.tick(T0 + 6)
    eq(log.count_code(ev.AFE_ERROR), 2)
    eq(m.afe_errors, 4)


def test_rejects_bad_config():
    raises(ValueError, Metrology, Registers(), ScriptDriver(), SingleRate(), None, {"rates": 9})
