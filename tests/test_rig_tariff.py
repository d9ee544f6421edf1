"""Tariff and clock on the rig (issue 7): a simulated leap year with both DST changes and 29
February for two calendars, clock steps across a switch point, and an RTC-less board after a power
cut.

The expected energy per rate comes from the independent reference in test_tariff_property.py
(datetime + zoneinfo Europe/Amsterdam, written from TARIFF.md, no firmware code). The load is
constant at 3600 W, i.e. exactly 1 Wh (11 AFE counts) per second, so the truth per rate is the
number of seconds the meter spent in that rate, to the Wh, and even ticks that straddle a switch
point split exactly (the year run is offset by 450 s from the 900-s tick grid on purpose).
"""
import concurrent.futures
import datetime as dt
import json
import os
import time
import zlib

import pytest

from conftest import INTERPRETERS, ROOT
from host_tools.rig import Rig
from test_tariff_property import Ref, to_meter

pytestmark = pytest.mark.skipif(not os.path.exists(INTERPRETERS["unix"]),
                                reason="MicroPython interpreters not built (make interpreters)")

NL = os.path.join(ROOT, "firmware", "config", "tariff.json")
SEASONS = os.path.join(ROOT, "firmware", "config", "tariff_3season_4rate.json")
CLOCK_ADJUSTED, CLOCK_INVALID = 6, 7


def load_3600w(rig):
    rig.set_load(1, 240.0, 15.0, 1.0)  # 3600 W: 1 Wh per second


def rates(regs):
    return [regs["1-0:1.8.%d" % r][0] for r in range(1, 9)]


def local(*a):
    return to_meter(dt.datetime(*a))


def events(rig, code):
    return [e for e in rig.query("events") if e[1] == code]


# ------------------------------------------------------------------ a year

# Checkpoints (local time): every month start, plus instants inside days that a DST or leap-day
# mistake would move across a switch point (daily totals alone would hide a shifted switch).
CHECKPOINTS = sorted(
    [dt.datetime(2028 + (m > 12), (m - 1) % 12 + 1, 1) for m in range(2, 14)]
    + [dt.datetime(2028, 2, 29, 7, 30), dt.datetime(2028, 2, 29, 16, 30),
       dt.datetime(2028, 3, 1, 7, 15),
       dt.datetime(2028, 3, 26, 9, 30), dt.datetime(2028, 3, 27, 7, 30),
       dt.datetime(2028, 3, 27, 17, 15), dt.datetime(2028, 7, 12, 7, 30),
       dt.datetime(2028, 7, 12, 22, 45), dt.datetime(2028, 10, 29, 2, 30),
       dt.datetime(2028, 10, 29, 9, 15), dt.datetime(2028, 10, 30, 7, 30),
       dt.datetime(2028, 12, 25, 12, 0), dt.datetime(2028, 12, 31, 12, 0)])


def run_year(path, interp):
    """One leap year from 2028-01-01 00:00 local with `path` as the meter's tariff.json (written to
    the writable config dir before boot). Returns (mismatches, figures)."""
    with open(path, "rb") as f:
        text = f.read()
    ref = Ref(json.loads(text))
    start = local(2028, 1, 1)
    bad = []
    rig = Rig(time_rate=0, start=start, interp=interp)
    with open(os.path.join(rig.config_dir, "tariff.json"), "wb") as f:
        f.write(text)
    t0 = time.monotonic()
    with rig:
        info = rig.query("tariff")
        if info["active"] != "%08X" % (zlib.crc32(text) & 0xFFFFFFFF):
            bad.append("calendar loaded at boot: %r" % info)
        load_3600w(rig)
        t = start + 450  # off the 900-s tick grid: ticks straddle the switch points
        rig.advance(450)
        last, expect, steps = start, [0] * 8, 0
        for cp_local in CHECKPOINTS:
            cp = to_meter(cp_local)
            rig.advance(cp - t)
            steps += -(-(cp - t) // 900)
            t = cp
            regs = rig.registers()
            expect = [a + b for a, b in zip(expect, ref.seconds_per_rate(last, cp))]
            last = cp
            got = rates(regs)
            total = regs["1-0:1.8.0"][0]
            if got != expect or total != cp - start or sum(got) != total:
                bad.append("%s at %s: rates %s, expected %s; total %d, expected %d" % (
                    os.path.basename(path), cp_local, got, expect, total, cp - start))
            if rig.query("rate") != ref.rate(cp):
                bad.append("%s at %s: current rate %s, expected %s" % (
                    os.path.basename(path), cp_local, rig.query("rate"), ref.rate(cp)))
        truth = rig.truth()[1][0]
        if truth != t - start:
            bad.append("truth %s != %d s at 1 Wh/s" % (truth, t - start))
        figures = {"calendar": os.path.basename(path), "interp": interp, "steps": steps,
                   "seconds": round(time.monotonic() - t0, 1), "rates": expect}
    return bad, figures


def test_leap_year_two_calendars_exact_per_rate():
    """NL two-rate and three-season four-rate, two rigs concurrently (64-bit interpreter; the
    32-bit smoke is test_rig_tariff_prog.py::test_small_heap_32bit_takes_the_nl_calendar): each
    rate register equals the reference energy to the Wh at every checkpoint of 2028 (both DST
    changes, 29 February, Christmas, the Sundays of October in the three-season calendar)."""
    jobs = [(NL, "unix"), (SEASONS, "unix")]
    with concurrent.futures.ThreadPoolExecutor(len(jobs)) as ex:
        results = list(ex.map(lambda j: run_year(*j), jobs))
    problems = [p for bad, _ in results for p in bad]
    for _, fig in results:
        print("year sim: %(calendar)s on %(interp)s: %(steps)d fast-forward steps, %(seconds)s s, "
              "Wh per rate %(rates)s" % fig)
    assert not problems, "\n".join(problems[:20])
    # both calendars really used several rates
    assert sum(1 for x in results[0][1]["rates"] if x) == 2
    assert sum(1 for x in results[1][1]["rates"] if x) == 4


# ------------------------------------------------------------------ clock steps

def test_clock_steps_across_a_switch_point_bill_nothing_twice():
    """Wednesday 1 March 2028, NL calendar (07:00 switch 1 -> 2). The clock is stepped forward
    over the switch and back again (the rig's time sync and the optical port's 0-0:1.0.0): every
    second of energy lands in the rate of the meter's local time when it flowed, the rates sum to
    the total, the total is the truth; each step logs CLOCK_ADJUSTED(old, new)."""
    from host_tools.iec_client import IecClient
    key = b"tariff-test level 2 key"
    start = local(2028, 3, 1, 6, 40)
    with Rig(time_rate=0, start=start,
             config={"keys": {"optical_key2": key.hex()}}) as rig:
        load_3600w(rig)
        rig.advance(600)  # 06:40 -> 06:50, rate 1
        assert rates(rig.registers())[:2] == [600, 0]
        fwd = local(2028, 3, 1, 7, 10)
        assert rig.command("settime", fwd) == fwd  # forward over 07:00
        rig.advance(600)  # 07:10 -> 07:20, rate 2
        assert rates(rig.registers())[:2] == [600, 600]
        back = local(2028, 3, 1, 6, 55)
        with IecClient(rig.optical_port) as c:  # backward over 07:00, through programming mode
            c.program(key=key, level=2)
            c.write("0-0:1.0.0", "2028-03-01 06:55:00")
            c.bye()
        assert rig.query("time")["t"] == back
        rig.advance(600)  # 06:55 -> 07:05: 300 s at rate 1, 300 s at rate 2
        regs = rig.registers()
        assert rates(regs) == [900, 900, 0, 0, 0, 0, 0, 0]
        assert regs["1-0:1.8.0"][0] == sum(rates(regs)) == 1800 == rig.truth()[1][0]
        adj = [(e[0], e[2], e[3]) for e in events(rig, CLOCK_ADJUSTED)]
        assert (fwd, local(2028, 3, 1, 6, 50), fwd) in adj
        assert (back, local(2028, 3, 1, 7, 20), back) in adj
        # a power cut keeps the registers and a valid clock (the rig's RTC then runs on world
        # time, which no longer knows about the steps: the time itself is not compared)
        rig.power_cut(warn=True)
        rig.power_restore()
        assert rig.query("time")["valid"] is True
        assert rates(rig.registers())[:2] == [900, 900]


# ------------------------------------------------------------------ RTC-less board

def test_rtc_less_board_restores_saved_time_invalid_until_set():
    """A board without RTC backup: after a power cut the meter restores its last saved time,
    flags the clock invalid (CLOCK_INVALID), and bills everything at invalid_clock_rate (rate 1,
    TARIFF.md) until the clock is set - even across a further power cut."""
    start = local(2028, 3, 1, 10, 0)  # Wednesday: rate 2 all day long
    # saves only on command, power fail and load-profile boundaries (every 15 min)
    policy = {"save_policy": [10 ** 8, 10 ** 7, 10 ** 7]}
    with Rig(time_rate=0, start=start, rtc_backup=False, config=policy) as rig:
        assert rig.query("time")["valid"] is False  # a fresh board without RTC: not set yet
        rig.command("settime", start)
        assert rig.query("time")["valid"] is True
        load_3600w(rig)
        rig.advance(1800)
        rig.command("save")  # last saved time: 10:30
        saved = local(2028, 3, 1, 10, 30)
        rig.advance(600)  # 10:40, not saved (the next profile boundary is 10:45)
        assert rates(rig.registers())[:2] == [0, 2400]
        rig.power_cut()  # hard cut: no power-fail save
        rig.power_restore(off_s=1200)  # the world is at 11:00 now
        st = rig.query("time")
        assert st["t"] == saved and st["valid"] is False
        inv = events(rig, CLOCK_INVALID)
        assert inv and inv[0][0] == saved and inv[0][3] == saved
        assert inv[0][2] == local(2028, 3, 1, 11, 0)  # a = the board time found at boot
        base = rates(rig.registers())
        assert base[:2] == [0, 1800]  # what was saved at 10:30
        rig.advance(1800)  # meter says 10:30 -> 11:00 (rate 2 time), but the clock is invalid
        assert rig.query("rate") == 1
        got = rates(rig.registers())
        assert got[:2] == [base[0] + 1800, base[1]]
        rig.power_cut(warn=True)  # still invalid after a further cut (the flag is persisted)
        rig.power_restore()
        assert rig.query("time")["valid"] is False
        rig.advance(600)
        got = rates(rig.registers())
        assert got[:2] == [base[0] + 2400, base[1]]
        world = local(2028, 3, 1, 11, 40)
        before = rig.query("time")["t"]
        rig.command("settime", world)  # time sync: valid again, calendar rates again
        assert rig.query("time")["valid"] is True
        assert (world, before, world) in [(e[0], e[2], e[3]) for e in events(rig, CLOCK_ADJUSTED)]
        rig.advance(600)
        got2 = rates(rig.registers())
        assert got2[:2] == [got[0], got[1] + 600]
        regs = rig.registers()
        assert sum(rates(regs)) == regs["1-0:1.8.0"][0]
