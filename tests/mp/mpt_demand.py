# Demand: block and sliding demand, maximum with its time and reset, against a brute-force reference
# that sums the per-second energy over each window directly; restore and outage handling.
# mp-heap: 4M
from meter.common.registers import Registers
from meter.services.metrology import Metrology
from meter.services.demand import Demand
from meter.common import timeutil
from meter.drivers import afe as A
from mptest import eq, raises
from mpt_metrology_fakes import Rng, ScriptDriver, SingleRate

T0 = timeutil.to_secs(2024, 5, 3, 7, 58, 11)


class At:
    """Consumer attached after the demand: records 1.5.0 / 1.6.0 / 2.5.0 at every boundary."""

    def __init__(self, regs, sub):
        self.regs = regs
        self.sub = sub
        self.next_boundary = (T0 // sub + 1) * sub
        self.rows = []

    def boundary(self, b):
        v = self.regs.value
        self.rows.append((b, v("1-0:1.5.0"), v("1-0:1.6.0"), v("1-0:2.5.0")))
        self.next_boundary = b + self.sub


def _run(period, nsub, n, d, seconds, seed):
    regs = Registers()
    drv = ScriptDriver(3, False, n, d)
    m = Metrology(regs, drv, SingleRate(), None, {})
    dm = Demand(regs, m, {"demand_period": period, "demand_subperiods": nsub})
    sub = period // nsub
    at = At(regs, sub)
    m.attach(dm)
    m.attach(at)
    m.start(T0)
    rng = Rng(seed)
    imp = {}
    exp = {}
    cur_checks = 0
    for t in range(T0 + 1, T0 + seconds + 1):
        burst = (t // 700) % 3 == 0
        ci = 0
        ce = 0
        for ph in range(3):
            c = rng.below(400 if burst else 60)
            if rng.below(5) == 0:
                drv.next[ph * A.EK + A.E_EXP] = c
                ce += c
            else:
                drv.next[ph * A.EK + A.E_IMP] = c
                ci += c
        imp[t] = ci
        exp[t] = ce
        m.tick(t)
        if t % 37 == 0:
            # current average demand: everything since the window's first completed subperiod
            lo = t - t % sub - (nsub - 1) * sub
            if lo < T0:
                lo = T0
            c = sum(imp[x] for x in range(lo + 1, t + 1))
            eq(regs.value("1-0:1.4.0"), c * d * (3600 // period) // n, "1.4.0 at %d" % t)
            cur_checks += 1
    # brute force over each subperiod end
    k = 3600 // period
    first = (T0 // sub + 1) * sub
    mx = 0
    mx_t = 0
    rows = []
    for b in range(first, T0 + seconds + 1, sub):
        lo = max(b - period, T0)  # window since the start (the sliding window restarts at start)
        ci = sum(imp[x] for x in range(lo + 1, b + 1))
        ce = sum(exp[x] for x in range(lo + 1, b + 1))
        w = ci * d * k // n
        if w > mx:
            mx, mx_t = w, b
        rows.append((b, w, mx, ce * d * k // n))
    eq(at.rows, rows)
    eq(dm.max_demand(0), (mx, mx_t))
    assert cur_checks > 10
    return regs, dm, mx


def test_block_demand_15_min():
    _run(900, 1, 11, 1, 3 * 3600, 1)


def test_sliding_demand_3_x_5_min():
    _run(900, 3, 11, 1, 3 * 3600, 2)


def test_sliding_demand_15_x_1_min_fractional_constant():
    _run(900, 15, 25, 2, 2 * 3600, 3)


def test_sliding_demand_hourly_4_x_15():
    _run(3600, 4, 320, 1, 5 * 3600, 4)


def test_reset_max_and_export():
    regs, dm, mx = _run(900, 1, 11, 1, 3600, 5)
    assert mx > 0
    dm.reset_max()
    eq(dm.max_demand(0), (0, 0))
    eq(regs.value("1-0:1.6.0"), 0)
    assert regs.value("1-0:2.5.0") >= 0


def _dm_setup(nsub, t0):
    regs = Registers()
    drv = ScriptDriver(1, False, 10, 1)
    m = Metrology(regs, drv, SingleRate(), None, {})
    dm = Demand(regs, m, {"demand_period": 900, "demand_subperiods": nsub})
    m.attach(dm)
    return regs, drv, m, dm


def test_persisted_window_continues_exactly():
    # run A: uninterrupted; run B: state dumped and restored into new objects half way
    def feed(m, drv, a, b):
        for t in range(a, b):
            drv.next[0] = (t * 7) % 31
            m.tick(t)

    regs, drv, m, dm = _dm_setup(3, T0)
    m.start(T0)
    feed(m, drv, T0 + 1, T0 + 4000)
    want = (regs.value("1-0:1.4.0"), regs.value("1-0:1.5.0"), dm.max_demand(0))
    regs, drv, m, dm = _dm_setup(3, T0)
    m.start(T0)
    feed(m, drv, T0 + 1, T0 + 2000)
    st_m = bytearray(m.state_size)
    st_d = bytearray(dm.state_size)
    m.dump_into(st_m)
    dm.dump_into(st_d)
    regs2, drv2, m2, dm2 = _dm_setup(3, T0)
    assert m2.load_from(st_m)
    assert dm2.load_from(st_d)
    m2.start(T0 + 1999)  # no gap: the window continues
    feed(m2, drv2, T0 + 2000, T0 + 4000)
    eq((regs2.value("1-0:1.4.0"), regs2.value("1-0:1.5.0"), dm2.max_demand(0)), want)


def test_outage_closes_subperiod_and_restarts_window():
    regs, drv, m, dm = _dm_setup(3, T0)
    m.start(T0)
    for t in range(T0 + 1, T0 + 1200):
        drv.next[0] = 50
        m.tick(t)
    st = bytearray(dm.state_size)
    dm.dump_into(st)
    mx_before = dm.max_demand(0)
    regs2, drv2, m2, dm2 = _dm_setup(3, T0)
    dm2.load_from(st)
    t_up = T0 + 20000
    m2.start(t_up)
    eq(dm2.filled, 0)
    eq(regs2.value("1-0:1.4.0"), 0)
    eq(dm2.next_boundary, (t_up // 300 + 1) * 300)
    eq(dm2.max_demand(0), mx_before)  # the short closed subperiod cannot raise the maximum


def test_bad_config():
    regs = Registers()
    m = Metrology(regs, ScriptDriver(), SingleRate(), None, {})
    raises(ValueError, Demand, regs, m, {"demand_period": 700})
    raises(ValueError, Demand, regs, m, {"demand_period": 900, "demand_subperiods": 7})
