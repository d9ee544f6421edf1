# The per-tick tariff path allocates nothing: 10,000 one-second ticks (rate evaluation + split +
# billing-time guard), across switch points, midnight (day plan with the NL special days), a DST
# transition, a season change and a passive calendar activation. gc is disabled while counting, so
# any allocation shows up in gc.mem_alloc().
# mp-heap: 256K
import gc
from mptest import eq
from meter.cores.tariff import engine as tf
from meter.cores.tariff import calendar as tcal
from meter.services import clock as mc
from meter.common import timezone as tzm
from meter.common.events import EventLog

TZ = tzm.TimeZone()
N = 10000


def load(path):
    with open(path) as f:
        return tcal.load_json(f.read())


NL = load("firmware/config/tariff.json")
S4 = load("firmware/config/tariff_3season_4rate.json")


class Clk:
    valid = True


def run_ticks(t, start, n, out, out2):
    # as the metrology calls the engine: each quantity of a 1 s tick split over [now - 1, now)
    now = start
    for k in range(n):
        now += 1
        t.split(now - 1, now, 3, out)
        t.split(now - 1, now, 1, out2)


def measure(t, start, n=N):
    out = [0] * 8
    out2 = [0] * 8
    run_ticks(t, start, 2, out, out2)  # warm up attribute dicts
    out[0] = out[1] = out2[0] = out2[1] = 0
    gc.collect()
    gc.disable()
    try:
        a = gc.mem_alloc()
        run_ticks(t, start, n, out, out2)
        used = gc.mem_alloc() - a
    finally:
        gc.enable()
    eq(sum(out), 3 * n)
    eq(sum(out2), n)
    return used, out


def test_no_alloc_across_morning_switch():
    t = tf.Tariff(NL, TZ, None, Clk())
    used, out = measure(t, TZ.to_utc(2026, 3, 2, 6, 0, 0))  # Monday 06:00 -> 08:46
    eq(out[0], 3 * 3600)
    eq(out[1], 3 * (N - 3600))
    eq(used, 0)


def test_no_alloc_across_midnight_and_holiday():
    t = tf.Tariff(NL, TZ, None, Clk())
    used, out = measure(t, TZ.to_utc(2026, 5, 13, 21, 0, 0))  # into Ascension Day
    eq(out[1], 3 * 7200)
    eq(used, 0)


def test_no_alloc_across_dst_end():
    t = tf.Tariff(S4, TZ, None, Clk())
    used, out = measure(t, TZ.to_utc(2026, 10, 24, 23, 0, 0))
    eq(used, 0)


def test_no_alloc_across_season_change_and_activation():
    log = EventLog()
    t = tf.Tariff(S4, TZ, log, Clk())
    start = TZ.to_utc(2026, 10, 31, 22, 0, 0)
    t.set_passive(NL, TZ.to_utc(2026, 11, 1, 0, 30, 0), 0)
    used, out = measure(t, start)
    eq(t.cal is NL, True)
    eq(used, 0)


def test_no_alloc_with_invalid_clock_and_rate_at():
    clk = Clk()
    clk.valid = False
    t = tf.Tariff(NL, TZ, None, clk)
    used, out = measure(t, TZ.to_utc(2026, 3, 2, 6, 0, 0))
    eq(out[0], 3 * N)
    eq(used, 0)
    clk.valid = True
    t0 = TZ.to_utc(2026, 3, 2, 22, 0, 0)
    t.rate_at(t0)
    gc.collect()
    gc.disable()
    try:
        a = gc.mem_alloc()
        s = 0
        for k in range(N):
            s += t.rate_at(t0 + k)
            t.next_switch(t0 + k)
        used = gc.mem_alloc() - a
    finally:
        gc.enable()
    eq(s, 2 * 3600 + (N - 3600))
    eq(used, 0)
