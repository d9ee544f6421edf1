# No heap allocation per metering tick: gc.mem_alloc() across 10,000 ticks of the whole metering path
# (real ATM90E32 driver on a register-level SPI fake, metrology, sliding demand, load profile and
# billing with their boundaries inside the measured ticks). Runs in both interpreters; the 32-bit one
# (31-bit small ints) is the MCU proxy. Flash writes happen in flush(), outside the tick, as in the app.
# mp-heap: 2M
import gc
import time

from meter.common.registers import Registers
from meter.common.events import EventLog
from meter.services.metrology import Metrology
from meter.services.demand import Demand
from meter.services.load_profile import LoadProfile
from meter.services.billing import Billing
from meter.drivers.afe.atm90e32 import ATM90E32
from meter.services import storage as S, billing
import flash_fakes as F  # noqa: E402
from meter.services import load_profile as profile
from meter.common import timeutil
from mptest import eq
from mpt_metrology_fakes import SingleRate, SwitchTariff, ConstDriver


class AtmRegSpi:
    """Minimal allocation-free ATM90E32 register file: 16-bit address (bit 15 = read) + 16-bit data."""

    def __init__(self):
        self.vals = {}
        self.last = 0
        self.n = 0
        for a in range(0x81, 0x90):
            self.vals[a] = (a * 7) % 23  # energy registers (read-to-clear, constant refill)
        for a in range(0x300):
            if a not in self.vals:
                self.vals[a] = 0
        self.vals[0xD9] = 23012
        self.vals[0xDD] = 5123
        self.vals[0xB1] = 1170
        self.vals[0xF8] = 5001

    def select(self, on):
        pass

    def transfer(self, tx, rx):
        self.n += 1
        a = ((tx[0] & 3) << 8) | tx[1]
        if tx[0] & 0x80:
            v = self.last if a == 0x78 else self.vals[a]
            if a != 0x78:
                self.last = v
            rx[2] = v >> 8
            rx[3] = v & 0xFF
        else:
            self.vals[a] = (tx[2] << 8) | tx[3]
            self.last = self.vals[a]


def _build(driver, tariff, dev):
    regs = Registers()
    log = EventLog(32)
    m = Metrology(regs, driver, tariff, log, {})
    dm = Demand(regs, m, {"demand_period": 900, "demand_subperiods": 3})
    L = S.layout(dev)
    lp = LoadProfile(regs, S.RingStore(dev, L["profile"][0], L["profile"][1], profile.RECORD,
                                       S.REGION_PROFILE))
    bl = Billing(regs, dm, S.RingStore(dev, L["billing"][0], L["billing"][1], billing.RECORD,
                                       S.REGION_BILLING), log)
    m.attach(dm)
    m.attach(lp)
    m.attach(bl)
    lp.open()
    bl.open()
    return regs, m, lp, bl


def _measure(m, flushers, t_from, t_to):
    """Bytes allocated by m.tick() over [t_from, t_to). gc.mem_alloc() walks the heap, so it is read
    around runs of ticks; a run ends when a tick closed a record that must be flushed (flush()
    allocates and is not part of the tick)."""
    total = 0
    worst = 0
    t = t_from
    while t < t_to:
        gc.disable()
        a = gc.mem_alloc()
        while t < t_to:
            m.tick(t)
            t += 1
            if flushers[0].npend or flushers[1].npend:
                break
        b = gc.mem_alloc()
        gc.enable()
        if b - a:
            total += b - a
            if b - a > worst:
                worst = b - a
        for f in flushers:
            f.flush()
    return total, worst


def test_zero_alloc_10000_ticks_atm90e32_full_path():
    dev = F.RamFlash()
    drv = ATM90E32(AtmRegSpi(), {"meter_constant": 110})
    assert drv.begin()
    regs, m, lp, bl = _build(drv, SingleRate(), dev)
    t0 = timeutil.to_secs(2024, 3, 31, 20, 0, 0)  # billing boundary (local midnight) at 22:00 UTC
    m.start(t0)
    m.tick(t0 + 1)  # first tick: lazy one-time work
    total, worst = _measure(m, (lp, bl), t0 + 2, t0 + 10002)
    eq(total, 0, "bytes allocated in 10,000 ticks (worst tick %d)" % worst)
    assert lp.records >= 11, lp.records
    eq(regs.value("0-0:0.1.0"), 1)  # the billing boundary was inside the measured ticks
    assert regs.value("1-0:1.8.0") > 0
    eq(regs.value("1-0:32.7.0"), 2301)


def test_zero_alloc_10000_ticks_switching_tariff():
    dev = F.RamFlash()
    drv = ConstDriver(3, True, 25, 2)
    for i in range(12):
        drv.next[i] = 100 + i
    regs, m, lp, bl = _build(drv, SwitchTariff(7, 8), dev)
    t0 = timeutil.to_secs(2024, 6, 1, 0, 0, 0)
    m.start(t0)
    m.tick(t0 + 1)
    total, worst = _measure(m, (lp, bl), t0 + 2, t0 + 10002)
    eq(total, 0, "bytes allocated in 10,000 ticks (worst tick %d)" % worst)


def test_tick_cost_report():
    # informative only (tests never assert wall-clock times): prints us per tick
    spi = AtmRegSpi()
    drv = ATM90E32(spi, {"meter_constant": 110})
    drv.begin()
    regs, m, lp, bl = _build(drv, SingleRate(), F.RamFlash())
    t0 = timeutil.to_secs(2024, 1, 10)
    m.start(t0)
    n0 = spi.n
    a = time.ticks_us()
    for t in range(t0 + 1, t0 + 2001):
        m.tick(t)
        if lp.npend:
            lp.flush()  # two ring writes in 2000 ticks, as the app does after ticks
    us = time.ticks_diff(time.ticks_us(), a) / 2000
    nspi = (spi.n - n0) // 2000
    m.read_instant = False
    a = time.ticks_us()
    for t in range(t0 + 2001, t0 + 4001):
        m.tick(t)
        if lp.npend:
            lp.flush()
    us2 = time.ticks_diff(time.ticks_us(), a) / 2000
    print("tick cost: %.1f us with instantaneous values (%d SPI transfers), %.1f us energy only"
          % (us, nspi, us2))
