# The EU summer-time rule written directly from its definition (Directive 2000/84/EC: last Sunday of
# March 01:00 UTC to last Sunday of October 01:00 UTC): the reference the tests check the firmware's
# one TimeZone against. Not firmware: the meter has only common/timezone.py.
from meter.common.timeutil import days_from_civil, civil_from_days, weekday


def last_sunday(y, m):
    """Day number of the last Sunday of month m in year y."""
    nd = days_from_civil(y + (m == 12), m % 12 + 1, 1) - 1  # last day of month
    return nd - (weekday(nd) % 7)


def eu_dst(t):
    """True while EU summer time is in force at meter seconds t (last Sunday of March 01:00 UTC to
    last Sunday of October 01:00 UTC)."""
    y = civil_from_days(t // 86400)[0]
    start = last_sunday(y, 3) * 86400 + 3600
    end = last_sunday(y, 10) * 86400 + 3600
    return start <= t < end
