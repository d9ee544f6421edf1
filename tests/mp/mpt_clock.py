# Meter clock service and time-zone rules (firmware/meter/services/clock.py).
import eu_dst_ref
from mptest import eq, raises
from meter.services import clock as mc
from meter.common import timezone as tzm
from meter.common import timeutil as tu
from meter.common import events as ev
from meter.common.events import EventLog


class FakeBoardClock:
    """Board clock contract: time(), set_time(t) (marks valid), valid."""

    def __init__(self, t, valid=True):
        self.t = t
        self.valid = valid
        self.sets = []

    def time(self):
        return self.t

    def set_time(self, t):
        self.sets.append(t)
        self.t = t
        self.valid = True


def U(y, m, d, hh=0, mm=0, ss=0):
    return tu.to_secs(y, m, d, hh, mm, ss)


def test_year_of_day_matches_civil():
    for z in range(-800, 40 * 366, 7):
        eq(tzm.year_of_day(z), tu.civil_from_days(z)[0], z)
    for y in (2020, 2023, 2024, 2028, 2100):
        eq(tzm.year_of_day(tu.days_from_civil(y, 1, 1)), y)
        eq(tzm.year_of_day(tu.days_from_civil(y, 1, 1) - 1), y - 1)
        eq(tzm.year_of_day(tu.days_from_civil(y, 12, 31)), y)


def test_eu_transitions_exact():
    tz = tzm.TimeZone()
    # 2026: DST from 29 March 01:00 UTC to 25 October 01:00 UTC
    s = U(2026, 3, 29, 1)
    e = U(2026, 10, 25, 1)
    eq(tz.offset(s - 1), 3600)
    eq(tz.offset(s), 7200)
    eq(tz.dst(s - 1), False)
    eq(tz.dst(s), True)
    eq(tz.offset(e - 1), 7200)
    eq(tz.offset(e), 3600)
    eq(tz.next_change(s - 100), s)
    eq(tz.next_change(s), e)
    eq(tz.next_change(e), U(2027, 3, 28, 1))
    eq(tz.next_change(U(2026, 1, 5)), s)
    # agrees with the EU rule's definition (eu_dst_ref) over several years, probed every ~5 hours
    for t in range(U(2024, 1, 1), U(2031, 1, 1), 17971):
        eq(tz.dst(t), eu_dst_ref.eu_dst(t), t)
    # and random access in reverse order (cache refill both ways)
    for t in range(U(2031, 1, 1), U(2024, 1, 1), -86399 * 11):
        eq(tz.dst(t), eu_dst_ref.eu_dst(t), t)


def test_local_time_on_dst_days():
    c = mc.MeterClock(FakeBoardClock(0), EventLog(), None)
    # spring: 01:59:59 W -> 03:00:00 S
    s = U(2026, 3, 29, 1)
    eq(c.local(s - 1), (2026, 3, 29, 1, 59, 59, 7, False))
    eq(c.local(s), (2026, 3, 29, 3, 0, 0, 7, True))
    # autumn: 02:59:59 S -> 02:00:00 W, the hour repeats with S then W
    e = U(2026, 10, 25, 1)
    eq(c.dsmr_timestamp(e - 1800), "261025023000S")
    eq(c.dsmr_timestamp(e + 1800), "261025023000W")
    eq(c.dsmr_timestamp(e - 1), "261025025959S")
    eq(c.dsmr_timestamp(e), "261025020000W")
    eq(c.iso(e + 1800), "2026-10-25 02:30:00")
    eq(c.iso(U(2026, 12, 31, 23, 0, 0)), "2027-01-01 00:00:00")
    eq(c.dsmr_timestamp(U(2026, 7, 1, 10, 11, 12)), "260701121112S")


def test_to_utc_fold_and_gap():
    tz = tzm.TimeZone()
    eq(tz.to_utc(2026, 1, 15, 7, 0, 0), U(2026, 1, 15, 6))
    eq(tz.to_utc(2026, 7, 15, 7, 0, 0), U(2026, 7, 15, 5))
    # 07:00 on the DST days themselves
    eq(tz.to_utc(2026, 3, 29, 7), U(2026, 3, 29, 5))
    eq(tz.to_utc(2026, 10, 25, 7), U(2026, 10, 25, 6))
    # repeated hour: first occurrence (summer time)
    eq(tz.to_utc(2026, 10, 25, 2, 30), U(2026, 10, 25, 0, 30))
    # skipped hour: the transition instant
    eq(tz.to_utc(2026, 3, 29, 2, 30), U(2026, 3, 29, 1))
    eq(tz.to_utc(2026, 3, 29, 2, 0), U(2026, 3, 29, 1))
    eq(tz.to_utc(2026, 3, 29, 3, 0), U(2026, 3, 29, 1))
    # midnight on the 1st of next month
    eq(tz.next_month_start(U(2026, 3, 15)), U(2026, 3, 31, 22))
    eq(tz.next_month_start(U(2026, 12, 31, 22, 59, 59)), U(2026, 12, 31, 23))
    eq(tz.next_month_start(U(2026, 12, 31, 23)), U(2027, 1, 31, 23))
    eq(tz.next_month_start(U(2026, 10, 20)), U(2026, 10, 31, 23))


def test_leap_day_local():
    c = mc.MeterClock(FakeBoardClock(0), None, None)
    eq(c.local(U(2028, 2, 28, 23, 0, 0))[:4], (2028, 2, 29, 0))
    eq(c.iso(U(2028, 2, 29, 22, 59, 59)), "2028-02-29 23:59:59")
    eq(c.iso(U(2028, 2, 29, 23)), "2028-03-01 00:00:00")
    eq(c.iso(U(2027, 2, 28, 23)), "2027-03-01 00:00:00")
    eq(c.local(U(2028, 2, 29, 12))[6], 2)  # Tuesday


def test_no_dst_and_explicit_rules():
    tz = tzm.TimeZone(0, "none")
    eq(tz.offset(U(2026, 7, 1)), 0)
    eq(tz.dst(U(2026, 7, 1)), False)
    eq(tz.next_change(U(2026, 7, 1)), tzm.NEVER)
    eq(tz.to_utc(2026, 7, 1, 12), U(2026, 7, 1, 12))
    # explicit rule equal to the EU one
    tz2 = tzm.TimeZone.from_config({"tz_offset_min": 60, "dst": {"start": [3, 5, 7, 1], "end": [10, 5, 7, 1]}})
    tz1 = tzm.TimeZone()
    for t in range(U(2025, 1, 1), U(2029, 1, 1), 86400 * 3 + 3607):
        eq(tz2.offset(t), tz1.offset(t))
    # southern hemisphere style: DST from the first Sunday of October 16:00 UTC to the first Sunday
    # of April 16:00 UTC, +10:00 standard (Sydney-like)
    tz3 = tzm.TimeZone(600, {"start": [10, 1, 7, 16], "end": [4, 1, 7, 16]})
    eq(tz3.dst(U(2026, 1, 10)), True)
    eq(tz3.dst(U(2026, 6, 10)), False)
    eq(tz3.dst(U(2026, 12, 10)), True)
    eq(tz3.next_change(U(2026, 1, 10)), U(2026, 4, 5, 16))
    eq(tz3.next_change(U(2026, 6, 10)), U(2026, 10, 4, 16))
    eq(tz3.next_change(U(2026, 12, 10)), U(2027, 4, 4, 16))
    eq(tz3.offset(U(2026, 12, 10)), 39600)
    # a week-2 rule (US-like: second Sunday of March, first Sunday of November)
    tz4 = tzm.TimeZone(-300, {"start": [3, 2, 7, 7], "end": [11, 1, 7, 6]})
    eq(tz4.next_change(U(2026, 1, 1)), U(2026, 3, 8, 7))
    eq(tz4.next_change(U(2026, 4, 1)), U(2026, 11, 1, 6))
    eq(tz4.offset(U(2026, 4, 1)), -4 * 3600)


def test_bad_clock_config_rejected():
    for cfg, frag in (({"tz_offset_min": 2000}, "tz_offset_min"), ({"dst": "us"}, "dst must be"),
                      ({"dst": {"start": [3, 5, 7, 1]}}, "needs"), ({"dst": {"start": [13, 5, 7, 1], "end": [10, 5, 7, 1]}}, "month"),
                      ({"dst": {"start": [3, 6, 7, 1], "end": [10, 5, 7, 1]}}, "week"),
                      ({"dst": {"start": [3, 5, 0, 1], "end": [10, 5, 7, 1]}}, "weekday"),
                      ({"dst": {"start": [3, 5, 7, 24], "end": [10, 5, 7, 1]}}, "hour"),
                      ({"tz": 60}, "unknown key"), ({"dst_shift_min": 0}, "dst_shift_min"), ("eu", "object")):
        e = raises(ValueError, tzm.TimeZone.from_config, cfg)
        assert frag in str(e), (cfg, str(e))


def test_set_logs_event_and_calls_hooks():
    bc = FakeBoardClock(U(2026, 5, 1, 12))
    log = EventLog()
    c = mc.MeterClock(bc, log, {"tz_offset_min": 60, "dst": "eu"})
    eq(c.start(), True)
    seen = []
    c.hooks.append(lambda old, new: seen.append((old, new)))

    def bad_hook(old, new):
        raise RuntimeError("profile full")
    c.hooks.append(bad_hook)
    c.hooks.append(lambda old, new: seen.append(("second", new)))
    old = c.now()
    new = old - 3600
    eq(c.set(new, "optical"), True)
    eq(c.now(), new)
    eq(seen, [(old, new), ("second", new)])
    eq(c.hook_errors, 1)
    eq(log.get(0), (new, ev.CLOCK_ADJUSTED, old, new))
    eq(c.last_source, "optical")
    # the same time again on a valid clock: nothing happens
    eq(c.set(new, "sync"), False)
    eq(len(log), 1)
    eq(len(seen), 2)
    raises(ValueError, c.set, -5)
    raises(ValueError, c.set, "now")
    eq(c.now(), new)


def test_power_cut_without_rtc_restores_saved_time_and_flags_invalid():
    # before the cut: a valid clock saves its state
    bc = FakeBoardClock(U(2026, 5, 1, 12))
    c = mc.MeterClock(bc, EventLog(), None)
    c.start()
    buf = bytearray(c.state_size)
    c.dump_into(buf)
    eq(len(buf), 8)
    # after the cut: the board clock restarted at 0 and knows it is invalid
    bc2 = FakeBoardClock(17, valid=False)
    log = EventLog()
    c2 = mc.MeterClock(bc2, log, None)
    eq(c2.load_from(buf), True)
    eq(c2.start(), False)
    eq(c2.valid, False)
    eq(c2.now(), U(2026, 5, 1, 12))
    eq(log.get(0), (U(2026, 5, 1, 12), ev.CLOCK_INVALID, 17, U(2026, 5, 1, 12)))
    # the invalid flag survives another save/restore even with a valid board clock
    bc2.t += 100
    buf2 = bytearray(c2.state_size)
    c2.dump_into(buf2)
    c3 = mc.MeterClock(FakeBoardClock(bc2.t + 5, valid=True), EventLog(), None)
    c3.load_from(buf2)
    eq(c3.start(), False)
    # set() makes it valid, logs the step
    c3.set(U(2026, 5, 3, 8), "optical")
    eq(c3.valid, True)
    eq(c3.events.get(0)[1], ev.CLOCK_ADJUSTED)
    buf3 = bytearray(8)
    c3.dump_into(buf3)
    c4 = mc.MeterClock(FakeBoardClock(U(2026, 5, 3, 9)), EventLog(), None)
    c4.load_from(buf3)
    eq(c4.start(), True)


def test_rtc_running_backwards_is_invalid():
    bc = FakeBoardClock(U(2026, 5, 1, 12))
    c = mc.MeterClock(bc, EventLog(), None)
    buf = bytearray(8)
    c.dump_into(buf)
    bc2 = FakeBoardClock(U(2026, 4, 1), valid=True)  # RTC battery failed, came back a month early
    log = EventLog()
    c2 = mc.MeterClock(bc2, log, {"rtc_back_tolerance_s": 5})
    c2.load_from(buf)
    eq(c2.start(), False)
    eq(c2.now(), U(2026, 5, 1, 12))
    eq(log.get(0)[1], ev.CLOCK_INVALID)
    # a few seconds behind is tolerated
    c3 = mc.MeterClock(FakeBoardClock(U(2026, 5, 1, 12) - 3), EventLog(), None)
    c3.load_from(buf)
    eq(c3.start(), True)


def test_state_load_rejects_garbage():
    c = mc.MeterClock(FakeBoardClock(100), EventLog(), None)
    eq(c.load_from(b"\x00" * 8), False)
    eq(c.load_from(b"\x01\x01"), False)
    eq(c.load_from(b"\x01\x07\x00\x00\x10\x00\x00\x00"), False)
    eq(c.load_from(b"\x01\x01\x00\x00\xff\xff\xff\xff"), False)
    eq(c.saved, -1)
    eq(c.load_from(b"\x01\x01\x00\x00\x10\x00\x00\x00"), True)
    eq(c.saved, 16)
    # an offset inside a bigger section
    big = bytearray(20)
    c.dump_into(big, 12)
    c2 = mc.MeterClock(FakeBoardClock(0), EventLog(), None)
    eq(c2.load_from(big, 12), True)
    eq(c2.saved, 100)


def test_fresh_board_without_state_invalid():
    log = EventLog()
    c = mc.MeterClock(FakeBoardClock(0, valid=False), log, None)
    eq(c.start(), False)
    eq(log.get(0)[1], ev.CLOCK_INVALID)
    eq(c.now(), 0)
