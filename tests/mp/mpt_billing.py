# Billing: month boundaries in local time (CET/CEST) checked against a hand-made table, snapshots of
# all energy registers at the exact boundary (1-s and long ticks), max demand in the snapshot and its
# reset, missed boundaries after an outage, persistence of the snapshots.
# mp-heap: 4M
from meter.common.registers import Registers
from meter.common.events import EventLog
from meter.common import events as ev
from meter.services.metrology import Metrology
from meter.services.demand import Demand
from meter.services.billing import Billing
from meter.services import billing as B
from meter.common.timezone import TimeZone
from meter.services import storage as S
import flash_fakes as F  # noqa: E402
from meter.common import timeutil
from meter.drivers import afe as A
import eu_dst_ref
from mptest import eq, raises
from mpt_metrology_fakes import Rng, ScriptDriver, SwitchTariff, split_ref

N = 11


def utc(y, m, d, hh=0, mm=0):
    return timeutil.to_secs(y, m, d, hh, mm)


def test_boundaries_in_local_time():
    regs = Registers()
    b = Billing(regs, None)
    # local midnight on the 1st: CET = UTC+1 in winter, CEST = UTC+2 in summer
    table = [
        (utc(2023, 12, 20), utc(2023, 12, 31, 23)),
        (utc(2023, 12, 31, 23), utc(2024, 1, 31, 23)),  # exactly at a boundary: the next one
        (utc(2024, 3, 15), utc(2024, 3, 31, 22)),  # 1 April is in summer time
        (utc(2024, 3, 31, 22), utc(2024, 4, 30, 22)),
        (utc(2024, 10, 10), utc(2024, 10, 31, 23)),  # back to CET on 27 Oct
        (utc(2024, 12, 31, 22, 59), utc(2024, 12, 31, 23)),
        (utc(2028, 2, 10), utc(2028, 2, 29, 23)),  # leap year
    ]
    for t, want in table:
        eq(b.next_after(t), want, "after %r" % (timeutil.from_secs(t),))
    b2 = Billing(regs, None, config={"billing_day": 15, "billing_hour": 6}, tz=TimeZone(0, "none"))
    eq(b2.next_after(utc(2024, 2, 15, 6)), utc(2024, 3, 15, 6))
    eq(b2.next_after(utc(2024, 2, 15, 5, 59)), utc(2024, 2, 15, 6))
    # billing hour inside the DST switches (last Sundays: 25 March and 28 October 2029): local 02:00
    # does not exist in March (-> the switch instant, 01:00 UTC) and occurs twice in October (-> the
    # first, still summer time, 00:00 UTC)
    b3 = Billing(regs, None, config={"billing_day": 25, "billing_hour": 2})
    eq(b3.next_after(utc(2029, 3, 20)), utc(2029, 3, 25, 1))
    eq(b3.next_after(utc(2029, 3, 25, 1)), utc(2029, 4, 25, 0))
    b4 = Billing(regs, None, config={"billing_day": 28, "billing_hour": 2})
    eq(b4.next_after(utc(2029, 10, 20)), utc(2029, 10, 28, 0))
    eq(b4.next_after(utc(2029, 10, 28, 0)), utc(2029, 11, 28, 1))
    raises(ValueError, Billing, regs, None, None, None, {"billing_day": 29})


def _setup(t0, dev=None, demand=True):
    regs = Registers()
    log = EventLog(64)
    drv = ScriptDriver(3, True, N, 1)
    m = Metrology(regs, drv, SwitchTariff(3600, 2), log, {"rates": 2})
    dm = Demand(regs, m, {}) if demand else None
    if dm:
        m.attach(dm)
    if dev is None:
        dev = F.RamFlash(16 * 1024, 4096)
    ring = S.RingStore(dev, 0, 4, B.RECORD, S.REGION_BILLING)
    bl = Billing(regs, dm, ring, log, {})
    bl.open(log, t0)
    m.attach(bl)
    return regs, log, drv, m, dm, bl, dev


def test_snapshot_at_exact_boundary_with_long_ticks_and_max_demand_reset():
    t0 = utc(2024, 3, 30, 9, 13)
    regs, log, drv, m, dm, bl, dev = _setup(t0)
    m.start(t0)
    boundary = utc(2024, 3, 31, 22)
    eq(bl.next_boundary, boundary)
    rng = Rng(8)
    t = t0
    cum = 0
    want_at_b = None
    win = {}  # demand window end -> import counts in it (reference for the maximum)
    while t < boundary + 5 * 3600:
        dt = rng.pick((1, 60, 899, 900, 1800, 3601))
        c = rng.below(30000)
        drv.next[A.E_IMP] = c
        bounds = [x for x in range((t // 900 + 1) * 900, t + dt + 1, 900)]
        pieces = split_ref(c, t, t + dt, bounds)
        for a, bb, cc in pieces:
            cum += cc
            if bb == boundary:
                want_at_b = cum
            if bb % 900 == 0 and bb > a:
                win[bb] = win.get(bb, 0) + cc
            elif bb > a:
                win[(bb // 900 + 1) * 900] = win.get((bb // 900 + 1) * 900, 0) + cc
        t += dt
        m.tick(t)
        bl.flush()
    eq(regs.value("0-0:0.1.0"), 1)
    snap = bl.get(0)
    eq(snap[0], boundary)
    eq(snap[1], 1)
    eq(snap[2]["1-0:1.8.0"], want_at_b // N)
    eq(snap[2]["1-0:1.8.1"] + snap[2]["1-0:1.8.2"] in (want_at_b // N, want_at_b // N - 1), True)
    # maximum demand of the month = the largest 15-min window ending at or before the boundary (the
    # first window is the partial one after the start, still divided by the full period)
    cands = [(win[e] * 4 // N, e) for e in win if e <= boundary]
    mx = max(c[0] for c in cands)
    eq(snap[3][0], mx)
    assert snap[3][1] in [e for w, e in cands if w == mx]
    # after the reset the maximum only covers windows after the boundary
    after = [win[e] * 4 // N for e in win if boundary < e <= t - t % 900]
    eq(dm.max_demand(0)[0], max(after))
    eq(log.latest(ev.BILLING_RESET, 1)[0][:3], (boundary, ev.BILLING_RESET, 1))


def test_missed_months_after_outage_and_persistence():
    t0 = utc(2024, 1, 20, 12)
    regs, log, drv, m, dm, bl, dev = _setup(t0)
    m.start(t0)
    for t in range(t0 + 1, t0 + 3601):
        drv.next[A.E_IMP] = 50
        drv.next[A.E_QPOS] = 5
        m.tick(t)
    bl.flush()
    wh = regs.value("1-0:1.8.0")
    st_m = bytearray(m.state_size)
    st_b = bytearray(bl.state_size)
    st_d = bytearray(dm.state_size)
    m.dump_into(st_m)
    bl.dump_into(st_b)
    dm.dump_into(st_d)
    mx = dm.max_demand(0)
    # power back on 10 March: the boundaries of 1 Feb and 1 Mar were missed
    regs2, log2, drv2, m2, dm2, bl2, _ = _setup(t0, dev)
    assert m2.load_from(st_m) and bl2.load_from(st_b) and dm2.load_from(st_d)
    m2.start(utc(2024, 3, 10, 8))
    eq(regs2.value("0-0:0.1.0"), 2)
    bl2.flush()
    s1 = bl2.get(1)
    s0 = bl2.get(0)
    eq((s1[0], s0[0]), (utc(2024, 1, 31, 23), utc(2024, 2, 29, 23)))
    eq(s1[2]["1-0:1.8.0"], wh)
    eq(s0[2]["1-0:1.8.0"], wh)
    eq(s1[3], mx)  # the maximum before the outage went into the first missed snapshot
    eq(s0[3], (0, 0))  # and was reset
    eq(bl2.next_boundary, utc(2024, 3, 31, 22))
    eq(log2.count_code(ev.BILLING_RESET), 2)
    # the snapshots survive a reboot
    ring3 = S.RingStore(dev, 0, 4, B.RECORD, S.REGION_BILLING)
    eq(ring3.open(), S.OK)
    bl3 = Billing(regs2, None, ring3)
    eq(bl3.get(1)[0], utc(2024, 1, 31, 23))
    assert "1-0:5.8.0" in bl3.get(0)[2]


def test_thirteen_months_of_rig_style_ticks():
    t0 = utc(2024, 1, 1)
    regs, log, drv, m, dm, bl, dev = _setup(t0)
    m.start(t0)
    t = t0
    n = 0
    while t < utc(2025, 2, 1):
        drv.next[A.E_IMP] = 3960  # 360 Wh per 1-hour tick
        t += 3600
        m.tick(t)
        bl.flush()
        n += 1
    eq(regs.value("0-0:0.1.0"), 13)
    snaps = [bl.get(k) for k in range(13)]
    assert all(s is not None for s in snaps)
    prev = None
    for s in reversed(snaps):
        # each snapshot was taken exactly at local midnight of the 1st
        y, mo, d, hh, mm, ss, _ = timeutil.from_secs(s[0] + 3600 + (3600 if eu_dst_ref.eu_dst(s[0]) else 0))
        eq((d, hh, mm, ss), (1, 0, 0, 0))
        # 360 Wh per hour since the start
        eq(s[2]["1-0:1.8.0"], (s[0] - t0) // 3600 * 360)
        if prev is not None:
            assert s[2]["1-0:1.8.0"] > prev
        prev = s[2]["1-0:1.8.0"]
