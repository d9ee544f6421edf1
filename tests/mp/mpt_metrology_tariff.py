# Metrology with the tariff engineer's real Tariff (firmware/meter/cores/tariff/), when it is present:
# zero allocation per tick, rate registers summing exactly to the total, no split errors.
# (The other metrology tests use stand-in tariffs; this one guards the wiring contract.)
# mp-heap: 1M
import gc

from meter.common.registers import Registers
from meter.services.metrology import Metrology
from meter.common import timeutil
from mptest import eq, SkipTest
from mpt_metrology_fakes import ConstDriver


def _tariff():
    try:
        from meter.cores.tariff.engine import Tariff
        from meter.cores.tariff.calendar import default_calendar
        from meter.common.timezone import TimeZone
    except ImportError as e:
        raise SkipTest("meter.tariff not available: %s" % e)
    return Tariff(default_calendar(), TimeZone())


def test_real_tariff_zero_alloc_and_exact_rate_sum():
    tar = _tariff()
    regs = Registers()
    drv = ConstDriver(3, True, 11, 1)
    for i in range(12):
        drv.next[i] = 50 + 7 * i
    m = Metrology(regs, drv, tar, None, {})
    t0 = timeutil.to_secs(2024, 3, 29, 12)
    m.start(t0)
    for t in range(t0 + 1, t0 + 100):
        m.tick(t)
    gc.collect()
    gc.disable()
    a = gc.mem_alloc()
    for t in range(t0 + 100, t0 + 10100):
        m.tick(t)
    b = gc.mem_alloc()
    gc.enable()
    eq(b - a, 0, "bytes allocated in 10,000 ticks with the real tariff")
    for k in range(1, 3000):  # rig-style 15-min ticks over a month, across rate switches and DST
        m.tick(t0 + 10100 + 900 * k)
    eq(m.tariff_errors, 0)
    for tot, fmt in (("1-0:1.8.0", "1-0:1.8.%d"), ("1-0:2.8.0", "1-0:2.8.%d")):
        wh, rem, n, d = m.energy(tot)
        s = 0
        for r in range(1, 9):
            w, rm, _, _ = m.energy(fmt % r)
            s += w * n + rm
        eq(s, wh * n + rem, tot)
    used = [r for r in range(1, 9) if regs.value("1-0:1.8.%d" % r)]
    assert len(used) >= 2, used
