# The TID memory (Used / Old rules, eviction, capacity, its fixed-size record, restore across a
# rollover) and the base dates. Date arithmetic for the base dates is done here from the calendar
# rules, independently of the core.
from mptest import eq, raises
from meter.cores.sts import tid, result
from meter.cores.sts.tid import TidMemory


def _days_from_2020(y):
    leap = lambda a: a % 4 == 0 and (a % 100 != 0 or a % 400 == 0)  # noqa: E731
    if y >= 2020:
        return sum(366 if leap(a) else 365 for a in range(2020, y))
    return -sum(366 if leap(a) else 365 for a in range(y, 2020))


def test_base_dates():
    eq(tid.BASE_YEARS, (1993, 2014, 2035))
    for i, y in enumerate(tid.BASE_YEARS):
        eq(tid.BASE_MINUTES[i], _days_from_2020(y) * 1440, str(y))
        eq(tid.meter_minutes(i, 0), _days_from_2020(y) * 1440)
    # rollover of the 1993 base: 2**24 minutes later = 2024-11-24 20:16 UTC
    days = _days_from_2020(2024) + 31 + 29 + 31 + 30 + 31 + 30 + 31 + 31 + 30 + 31 + 23  # Nov 24 2024
    eq(tid.meter_minutes(0, 1 << 24), days * 1440 + 20 * 60 + 16)
    # the later bases roll over at 2045-11-24 20:16 and 2066-11-24 20:16 (same day of year, 2**24
    # minutes = 11650 days 20:16 from a 1 January)
    eq(tid.meter_minutes(1, 1 << 24) - tid.meter_minutes(1, 0), tid.meter_minutes(0, 1 << 24) - tid.meter_minutes(0, 0))


def test_used_and_old():
    m = TidMemory(3)
    eq(m.check(100), 0)
    m.add(100)
    eq(m.check(100), result.USED)
    m.add(50)
    eq(m.check(10), 0, "not full: an older TID is still new")
    m.add(10)
    eq(len(m), 3)
    eq(m.check(5), result.OLD, "full: below the lowest is Old")
    eq(m.check(10), result.USED)
    eq(m.check(11), 0)
    m.add(11)  # replaces the lowest (10)
    eq(m.tids(), [11, 50, 100])
    eq(m.check(10), result.OLD, "evicted TIDs are refused as Old")
    eq(m.check(0xFFFFFF), 0)


def test_capacity_default_and_record_size():
    m = TidMemory()
    eq(m.capacity, 50)
    eq(len(m.record()), 4 + 3 * 50)
    for t in range(1000, 1050):
        eq(m.check(t), 0)
        m.add(t)
    eq(m.check(999), result.OLD)
    eq(m.check(1050), 0)
    raises(ValueError, TidMemory, 0)
    raises(ValueError, TidMemory, 256)


def test_record_round_trip_and_rollover_restore():
    m = TidMemory(4)
    m.clear(1)
    for t in (7, 0xFFFFFF, 3):
        m.add(t)
    rec = bytes(m.record())
    n = TidMemory(4)
    n.load(rec, 1)
    eq(n.tids(), [3, 7, 0xFFFFFF])
    eq(n.base(), 1)
    # a key of a later base date (a rollover whose cleared memory was not yet persisted): empty
    n.load(rec, 2)
    eq(n.tids(), [])
    eq(n.base(), 2)
    # a record of a later base date than the key: refused, memory unchanged
    n.add(9)
    before = bytes(n.record())
    raises(ValueError, n.load, rec, 0)
    eq(bytes(n.record()), before)


def test_malformed_records_are_refused():
    m = TidMemory(4)
    m.add(5)
    before = bytes(m.record())
    good = bytearray(before)
    for bad in (bytes(3), bytes(len(good) + 1)):
        raises(ValueError, m.load, bad, 0)
    for i, v in ((0, 9), (1, 5), (2, 5)):  # version, capacity, count > capacity
        b = bytearray(good)
        b[i] = v
        raises(ValueError, m.load, b, 0)
    eq(bytes(m.record()), before)
