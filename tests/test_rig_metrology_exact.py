"""Issue 4, exactness on the rig: 10^6 one-second metering ticks with varying load (import, export,
all four quadrants, every phase, load changes at any virtual ms) and every energy register equals the
rig's ground truth exactly, Wh plus remainder.

The firmware runs the load schedule itself (link `sched`, Rig.schedule): no round trip per tick, a
metering tick at every whole virtual second, load changes acknowledged with their virtual ms. The
ground truth is computed here in CPython, independently of the firmware: Rig.truth_energy() applies
the AfeSim counting formula (boards/unix_sim/afe_sim.py docstring) to the acknowledged load segments
with Python ints/Fractions, and the per-rate truth comes from this test's own evaluation of the
tariff calendar (zoneinfo Europe/Amsterdam for the local time; the calendar file is written into the
rig's config dir), not from the firmware's tariff engine.

METROLOGY_SEED=<n> replays another random schedule (the seed is in every failure message).
"""
import datetime
import json
import os
import random
import time
from zoneinfo import ZoneInfo

import pytest

from host_tools.rig import Rig, UNIX_2020

TICKS = 10 ** 6
CHECKPOINTS = 4
START = "2026-03-22T00:00:00Z"  # a Sunday; the run crosses the EU DST start (2026-03-29 01:00 UTC)
SEED = int(os.environ.get("METROLOGY_SEED", "20260322"))

# our own four-rate calendar (odd switch times, a special day, weekend profile), evaluated below
CALENDAR = {
    "version": 1,
    "name": "issue 4 test calendar",
    "invalid_clock_rate": 1,
    "clock": {"tz_offset_min": 60, "dst": "eu"},
    "day_profiles": {
        "work": [["00:00", 1], ["06:30", 3], ["11:15", 2], ["17:45", 4], ["22:00", 1]],
        "weekend": [["00:00", 1], ["09:00", 2], ["20:30", 1]],
    },
    "week_profiles": {"w": ["work", "work", "work", "work", "work", "weekend", "weekend"]},
    "seasons": [{"name": "all", "start": "*-01-01 00:00", "week": "w"}],
    "special_days": [{"date": "2026-03-25", "day": "weekend", "name": "test holiday"}],
}
TZ = ZoneInfo("Europe/Amsterdam")


def rate_windows(t0, t1):
    """[(a, b, rate)] in meter seconds covering [t0, t1), from CALENDAR and zoneinfo."""
    special = {s["date"]: s["day"] for s in CALENDAR["special_days"]}
    week = CALENDAR["week_profiles"]["w"]
    d0 = datetime.datetime.fromtimestamp(t0 + UNIX_2020, TZ).date() - datetime.timedelta(days=1)
    d1 = datetime.datetime.fromtimestamp(t1 + UNIX_2020, TZ).date() + datetime.timedelta(days=1)
    sw = []
    d = d0
    while d <= d1:
        prof = special.get(d.isoformat(), week[d.weekday()])
        for hhmm, rate in CALENDAR["day_profiles"][prof]:
            hh, mm = map(int, hhmm.split(":"))
            local = datetime.datetime(d.year, d.month, d.day, hh, mm, tzinfo=TZ)
            sw.append((int(local.timestamp()) - UNIX_2020, rate))
        d += datetime.timedelta(days=1)
    sw.sort()
    out = []
    for k in range(len(sw) - 1):
        a, b = max(sw[k][0], t0), min(sw[k + 1][0], t1)
        if a < b:
            out.append((a, b, sw[k][1]))
    return out


def random_load(rnd, prev):
    """Raw (mV, mA, p_mW, q_mvar) of one phase: all quadrants, tiny to heavy, often unchanged."""
    if prev is not None and rnd.random() < 0.35:
        return prev
    kind = rnd.random()
    if kind < 0.12:
        p = 0
    elif kind < 0.27:
        p = rnd.randint(1, 400000)  # below ~327 W: ticks without an import count
    elif kind < 0.55:
        p = rnd.randint(400000, 8000000)
    elif kind < 0.65:
        p = rnd.randint(8000000, 23000000)
    elif kind < 0.80:
        p = -rnd.randint(1, 400000)  # small export: ticks without an export count
    else:
        p = -rnd.randint(400000, 10000000)
    q = rnd.choice((1, -1)) * rnd.randint(0, abs(p) // 2 + 1) if rnd.random() < 0.8 else 0
    mv = rnd.randint(207000, 253000)
    s = (p * p + q * q) ** 0.5  # mVA
    ma = int(s * 1000 // mv)
    return (mv, ma, p, q)


def random_schedule(rnd, total_ms):
    segs = []
    loads = [None, None, None]
    left = total_ms
    while left > 0:
        r = rnd.random()
        if r < 0.4:
            dur = rnd.randint(1, 3000)  # changes within a tick
        elif r < 0.85:
            dur = rnd.randint(3000, 1200000)
        else:
            dur = rnd.randint(1200000, 3600000)
        dur = min(dur, left)
        loads = [random_load(rnd, loads[k]) for k in range(3)]
        segs.append((dur, tuple(loads)))
        left -= dur
    return segs


def split_at(segs, every_ms):
    """Cut the schedule into parts of exactly every_ms (a segment crossing a cut is split in two
    with the same loads), so each checkpoint falls on a metering tick."""
    parts = [[]]
    room = every_ms
    for dur, loads in segs:
        while dur > 0:
            d = min(dur, room)
            parts[-1].append((d, loads))
            dur -= d
            room -= d
            if room == 0:
                parts.append([])
                room = every_ms
    return [p for p in parts if p]


def check_registers(rig, t0, tag):
    """All energy registers vs the ground truth at the rig's current virtual ms."""
    got = rig.query("energies")
    vms = rig._vms
    truth = rig.truth_energy(vms, tick_ms=1000)
    n, d = truth["1-0:1.8.0"][2], truth["1-0:1.8.0"][3]
    keys = [k for k in truth if k.startswith("1-0:")]
    assert len(keys) == 12
    bad = {k: (got.get(k), list(truth[k][:2])) for k in keys if got.get(k) != list(truth[k][:2])}
    assert not bad, "%s: registers != truth {obis: (meter, truth)}: %r" % (tag, bad)
    # reactive quadrant sums, also by the tick-independent channel totals
    for a, b, key in (("1-0:5.8.0", "1-0:6.8.0", "R+"), ("1-0:7.8.0", "1-0:8.8.0", "R-")):
        s = got[a][0] * n + got[a][1] + got[b][0] * n + got[b][1]
        assert s == truth[key][0] * n + truth[key][1], tag + ": " + key

    # per rate: sum over rates == total, exactly, and each rate == its calendar windows
    t_now = t0 + vms // 1000
    want = {r: [0, 0] for r in range(1, 9)}
    for a, b, rate in rate_windows(t0, t_now):
        ca = rig.counts_at((a - t0) * 1000)
        cb = rig.counts_at((b - t0) * 1000)
        want[rate][0] += cb[0] - ca[0]
        want[rate][1] += cb[1] - ca[1]
    for ch, code in ((0, "1"), (1, "2")):
        tot = got["1-0:%s.8.0" % code]
        rates = [got["1-0:%s.8.%d" % (code, r)] for r in range(1, 9)]
        assert sum(w * n + rm for w, rm in rates) == tot[0] * n + tot[1], (tag, code, rates, tot)
        for r in range(1, 9):
            x = want[r][ch] * d
            assert rates[r - 1] == [x // n, x % n], "%s: 1-0:%s.8.%d %r != truth %r" % (
                tag, code, r, rates[r - 1], [x // n, x % n])
    regs = rig.registers()
    for k in keys:
        assert regs[k][0] == truth[k][0], (tag, k)
    return truth


def test_million_ticks_exact():
    rnd = random.Random(SEED)
    segs = random_schedule(rnd, TICKS * 1000)
    rig = Rig(time_rate=0, start=START, config={"metrology": {"instant": False}})
    with open(os.path.join(os.path.dirname(rig.storage_path), "tariff.json"), "w") as f:
        json.dump(CALENDAR, f)
    with rig:
        assert rig.query("rate") in (1, 2, 3, 4)
        t0 = rig.now()
        parts = split_at(segs, TICKS * 1000 // CHECKPOINTS)
        assert len(parts) == CHECKPOINTS
        tsched = 0.0
        for k, part in enumerate(parts):
            t = time.monotonic()
            rig.schedule(part, tick_ms=1000)
            tsched += time.monotonic() - t
            check_registers(rig, t0, "seed %d, checkpoint %d/%d" % (SEED, k + 1, CHECKPOINTS))
        assert rig._vms == TICKS * 1000
        assert rig.now() == t0 + TICKS
        st = rig.query("status")
        assert st["time"] == t0 + TICKS
        # every kind of load really happened: all registers moved, all four rates were used
        got = rig.query("energies")
        for code in ("1-0:1.8.0", "1-0:2.8.0", "1-0:21.8.0", "1-0:42.8.0", "1-0:62.8.0", "1-0:5.8.0",
                     "1-0:6.8.0", "1-0:7.8.0", "1-0:8.8.0", "1-0:1.8.1", "1-0:1.8.2", "1-0:1.8.3",
                     "1-0:1.8.4", "1-0:2.8.4"):
            assert got[code][0] > 0, code
        print("\n%d segments, %d ticks: %.1f s in the firmware (%.0f us per tick)" % (
            len(segs), TICKS, tsched, tsched / TICKS * 1e6))


def test_exact_smoke_32bit():
    """The same checks on the 32-bit interpreter (registers near small-int limits are covered by
    tests/mp; this is the rig path): 3000 one-second ticks."""
    rnd = random.Random(SEED + 32)
    segs = random_schedule(rnd, 3000 * 1000)
    rig = Rig(time_rate=0, start=START, interp="unix32", config={"metrology": {"instant": False}})
    with open(os.path.join(os.path.dirname(rig.storage_path), "tariff.json"), "w") as f:
        json.dump(CALENDAR, f)
    with rig:
        t0 = rig.now()
        for k, part in enumerate(split_at(segs, 1000 * 1000)):
            rig.schedule(part, tick_ms=1000)
            check_registers(rig, t0, "unix32 seed %d, part %d" % (SEED, k))
