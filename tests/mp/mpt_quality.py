# Power quality service: sag/swell detection per phase (thresholds, time threshold, hysteresis,
# lost phase), power failure counts and the long power failure event, persistence, no allocation.
# mp-heap: 128K
import gc

from mptest import eq, raises
from meter.common.registers import Registers
from meter.common.events import EventLog
from meter.common import events as ev
from meter.services import quality as Q


def make(phases=3, cfg=None):
    regs = Registers()
    for o in Q.V_OBIS[:phases]:
        regs.define(o, "V", -1, 2300)
    evs = EventLog(32)
    return regs, evs, Q.Quality(regs, evs, phases, cfg)


def setv(regs, ph, dv):
    regs.values[regs.slot(Q.V_OBIS[ph - 1])] = dv


def cnt(regs, obis):
    return regs.value(obis)


def test_limits_and_registers():
    regs, evs, q = make()
    eq((q.sag_v, q.swell_v, q.hyst, q.min_s, q.fail_v, q.long_s), (2070, 2530, 46, 30, 1150, 180))
    for o in Q.PF_OBIS + Q.SAG_OBIS + Q.SWELL_OBIS:
        eq(regs.info(o), (0, 0, ""))
    regs1, _, q1 = make(1)
    assert regs1.has("1-0:32.32.0") and not regs1.has("1-0:52.32.0") and not regs1.has("1-0:72.36.0")
    raises(ValueError, Q.Quality, Registers(), None, 3, {"sag_pct": 0})
    raises(ValueError, Q.Quality, Registers(), None, 3, {"bogus": 1})
    raises(ValueError, Q.Quality, Registers(), None, 3, {"min_s": -1})


def test_sag_counted_once_after_time_threshold():
    regs, evs, q = make()
    q.tick(100)
    setv(regs, 2, 2069)  # just below 207.0 V
    q.tick(101)
    eq(cnt(regs, "1-0:52.32.0"), 0)
    setv(regs, 2, 2000)
    q.tick(130)  # 29 s: not yet
    eq(cnt(regs, "1-0:52.32.0"), 0)
    q.tick(131)  # 30 s
    eq(cnt(regs, "1-0:52.32.0"), 1)
    eq(evs.get(0), (131, ev.VOLTAGE_SAG, 2, 2000))
    q.tick(500)  # still low: the same sag
    eq(cnt(regs, "1-0:52.32.0"), 1)
    setv(regs, 2, 2070 + 45)  # inside the hysteresis band: not over yet
    q.tick(501)
    setv(regs, 2, 2000)
    q.tick(600)
    eq(cnt(regs, "1-0:52.32.0"), 1)
    setv(regs, 2, 2116)  # 207 V + 2 %: over
    q.tick(601)
    setv(regs, 2, 1900)
    q.tick(602)
    q.tick(640)
    eq(cnt(regs, "1-0:52.32.0"), 2)
    eq(evs.get(0), (640, ev.VOLTAGE_SAG, 2, 1900))
    for o in ("1-0:32.32.0", "1-0:72.32.0", "1-0:32.36.0", "1-0:52.36.0", "1-0:72.36.0"):
        eq(cnt(regs, o), 0, o)


def test_short_dip_swell_and_lost_phase():
    regs, evs, q = make()
    setv(regs, 1, 2000)
    q.tick(10)
    setv(regs, 1, 2300)
    q.tick(20)  # 10 s dip: below the time threshold
    eq(cnt(regs, "1-0:32.32.0"), 0)
    setv(regs, 3, 2531)
    q.tick(30)
    q.tick(60)
    eq(cnt(regs, "1-0:72.36.0"), 1)
    eq(evs.get(0)[1:3], (ev.VOLTAGE_SWELL, 3))
    setv(regs, 3, 1800)  # straight from a swell into a sag
    q.tick(61)
    q.tick(91)
    eq((cnt(regs, "1-0:72.36.0"), cnt(regs, "1-0:72.32.0")), (1, 1))
    setv(regs, 1, 0)  # lost phase: not a sag
    q.tick(100)
    q.tick(1000)
    eq(cnt(regs, "1-0:32.32.0"), 0)
    q2 = Q.Quality(Registers(), None, 3, {"min_s": 0, "log_events": False})  # no voltage registers
    q2.tick(5)


def test_power_failures_and_persistence():
    regs, evs, q = make()
    eq(q.power_up(1000, 900), 0)  # 100 s: short
    eq((cnt(regs, "0-0:96.7.21"), cnt(regs, "0-0:96.7.9"), len(evs)), (1, 0, 0))
    eq(q.power_up(5000, 4820), 180)  # 3 min: long, logged at the end with its duration
    eq((cnt(regs, "0-0:96.7.21"), cnt(regs, "0-0:96.7.9")), (2, 1))
    eq(evs.get(0), (5000, ev.LONG_POWER_FAIL, 180, 0))
    eq(q.power_up(6000, None), 0)  # unknown start
    eq(cnt(regs, "0-0:96.7.21"), 3)
    buf = bytearray(q.state_size)
    q.dump_into(buf)
    regs2, _, q2 = make()
    assert q2.load_from(buf)
    for o in Q.PF_OBIS + Q.SAG_OBIS + Q.SWELL_OBIS:
        eq(regs2.value(o), regs.value(o))
    bad = bytearray(buf)
    bad[3] = 0xFF  # count >= 2**30
    regs3, _, q3 = make()
    eq(q3.load_from(bad), False)
    eq(cnt(regs3, "0-0:96.7.21"), 0)


def test_tick_allocates_nothing():
    regs, evs, q = make(3, {"log_events": False})
    q.tick(0)
    gc.collect()
    f0 = gc.mem_free()
    for k in range(200):
        setv(regs, 1 + k % 3, 2000 if k % 7 < 3 else 2600 if k % 11 < 2 else 2300)
        q.tick(1 + k * 20)
    eq(gc.mem_free(), f0)
