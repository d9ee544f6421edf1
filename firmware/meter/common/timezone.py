# The meter's one time zone: standard offset plus a DST rule, pure arithmetic (sans-I/O).
#
#   TimeZone(offset_min=60, dst="eu", shift_min=60)     TimeZone.from_config(clock_cfg)
#
# Every service that needs local time gets the MeterClock's TimeZone (clock.tz): the tariff
# calendar, billing (local midnight of the billing day), the load profile's DST status bit, P1 and
# optical time stamps. There is no second implementation, so a meter configured with another rule
# (UTC+2 without DST, a southern-hemisphere rule) is consistent everywhere.
#
# Time model: the meter keeps UTC internally (meter seconds since 2020-01-01, see timeutil). Local
# time is t + standard offset (+ DST shift while summer time is in force). DST rules are expressed
# in UTC, as the EU rule is (last Sunday of March 01:00 UTC to last Sunday of October 01:00 UTC), so
# "is DST in force at t" is never ambiguous, and local wall time is a function of t. The repeated
# hour in October and the skipped hour in March fall out of that: at the October transition local
# time runs 02:59:59 (S) -> 02:00:00 (W); at the March transition 01:59:59 (W) -> 03:00:00 (S).
#
# Configuration (dict, the "clock" object of firmware/config/tariff.json; all keys optional):
#   "tz_offset_min": standard-time offset from UTC in minutes (default 60, CET), -720..840
#   "dst": "eu" (default) | "none" | {"start": [month, week, weekday, hour_utc],
#                                      "end":   [month, week, weekday, hour_utc]}
#          week 1..4 = first..fourth, 5 = last; weekday 1 = Monday .. 7 = Sunday (ISO);
#          hour_utc 0..23. "eu" == {"start": [3, 5, 7, 1], "end": [10, 5, 7, 1]}.
#          start after end in the year (southern hemisphere) is allowed: DST spans new year.
#   "dst_shift_min": DST shift in minutes (default 60), 1..120
#   "rtc_back_tolerance_s": read by MeterClock (services/clock.py), accepted here
#
# Methods (allocation-free once a DST period is cached; a cache miss costs a few integer date
# computations, twice a year):
#   offset(t)        local - UTC in seconds at t
#   dst(t)           True while summer time is in force (DSMR S/W flag, load profile DST bit)
#   next_change(t)   smallest t' > t where offset() changes (NEVER if no DST)
#   local_secs(t)    t + offset(t) (local wall time as meter-seconds-like number)
#   local(t)         (Y, M, D, hh, mm, ss, weekday 1=Mon..7, dst) local time at t
#   to_utc(y, m, d, hh, mm, ss)  meter seconds of a local wall time: in the repeated hour the first
#                    occurrence, in the skipped hour the transition instant (the first instant whose
#                    local time is at or after the requested one)
#   to_utc_flag(y, m, d, hh, mm, ss, summer)  the same with the S/W side given (True = summer
#                    time, the DSMR/IEC 'S' flag), for texts that say which side of the repeated
#                    hour they mean
#   next_month_start(t)  UTC instant of the next local midnight on the 1st of a month (> t)
#   begin_month / end_month  months of DST begin/end (0 if none), for COSEM month wildcards 0xFE/0xFD
from meter.common import timeutil

NEVER = 0x3FFFFFFF  # largest 31-bit small int: "no further change"

EU_RULE = (3, 5, 7, 1, 10, 5, 7, 1)

_DIM = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def year_of_day(z):
    """Year of a day number since 2020-01-01 (integer-only, no tuple: allocation-free)."""
    z += timeutil.DAYS_0000_TO_2020
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    y = yoe + era * 400
    if doy >= 306:  # March-based year: Jan and Feb belong to the next civil year
        y += 1
    return y


def days_in_month(y, m):
    if m == 2 and (y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)):
        return 29
    return _DIM[m - 1]


def nth_weekday(y, m, week, wd):
    """Day number of the week-th (1..4, 5 = last) ISO weekday wd (1..7) of month m in year y."""
    if week >= 5:
        last = timeutil.days_from_civil(y, m, days_in_month(y, m))
        return last - (timeutil.weekday(last) - wd) % 7
    first = timeutil.days_from_civil(y, m, 1)
    return first + (wd - timeutil.weekday(first)) % 7 + (week - 1) * 7


def _int(v, lo, hi, what):
    if type(v) is not int or v < lo or v > hi:
        raise ValueError("clock: %s must be an integer %d..%d, got %r" % (what, lo, hi, v))
    return v


def _rule(v, what):
    if not isinstance(v, (list, tuple)) or len(v) != 4:
        raise ValueError("clock: dst %s must be [month, week, weekday, hour_utc]" % what)
    return (_int(v[0], 1, 12, "dst %s month" % what), _int(v[1], 1, 5, "dst %s week" % what),
            _int(v[2], 1, 7, "dst %s weekday" % what), _int(v[3], 0, 23, "dst %s hour_utc" % what))


class TimeZone:
    def __init__(self, offset_min=60, dst="eu", shift_min=60):
        self.std = _int(offset_min, -720, 840, "tz_offset_min") * 60
        self.shift = _int(shift_min, 1, 120, "dst_shift_min") * 60
        if dst == "eu":
            r = EU_RULE
        elif dst == "none" or dst is None:
            r = None
        elif isinstance(dst, dict):
            for k in dst:
                if k not in ("start", "end"):
                    raise ValueError("clock: unknown dst key %r" % (k,))
            if "start" not in dst or "end" not in dst:
                raise ValueError("clock: dst rule needs 'start' and 'end'")
            r = _rule(dst["start"], "start") + _rule(dst["end"], "end")
            if r[0] == r[4]:
                raise ValueError("clock: dst start and end must be in different months")
        else:
            raise ValueError("clock: dst must be 'eu', 'none' or a rule object, got %r" % (dst,))
        self.rule = r
        self.has_dst = r is not None
        self.begin_month = r[0] if r else 0
        self.end_month = r[4] if r else 0
        # cached period [lo, hi) with constant offset
        self._lo = 1
        self._hi = 0
        self._off = self.std
        self._dst = False

    @staticmethod
    def from_config(cfg):
        """TimeZone from a clock config dict (see module doc); ValueError on a bad one."""
        if cfg is None:
            cfg = {}
        if not isinstance(cfg, dict):
            raise ValueError("clock: config must be an object")
        for k in cfg:
            if k not in ("tz_offset_min", "dst", "dst_shift_min", "rtc_back_tolerance_s"):
                raise ValueError("clock: unknown key %r" % (k,))
        if "rtc_back_tolerance_s" in cfg:
            _int(cfg["rtc_back_tolerance_s"], 0, 86400, "rtc_back_tolerance_s")
        return TimeZone(cfg.get("tz_offset_min", 60), cfg.get("dst", "eu"), cfg.get("dst_shift_min", 60))

    def _start(self, y):
        r = self.rule
        return nth_weekday(y, r[0], r[1], r[2]) * 86400 + r[3] * 3600

    def _end(self, y):
        r = self.rule
        return nth_weekday(y, r[4], r[5], r[6]) * 86400 + r[7] * 3600

    def _fill(self, t):
        if not self.has_dst:
            self._lo = -NEVER
            self._hi = NEVER
            self._off = self.std
            self._dst = False
            return
        y = year_of_day(t // 86400)
        s = self._start(y)
        e = self._end(y)
        if s < e:  # northern: DST inside the year
            if t < s:
                lo, hi, d = self._end(y - 1), s, False
            elif t < e:
                lo, hi, d = s, e, True
            else:
                lo, hi, d = e, self._start(y + 1), False
        else:  # southern: DST across new year
            if t < e:
                lo, hi, d = self._start(y - 1), e, True
            elif t < s:
                lo, hi, d = e, s, False
            else:
                lo, hi, d = s, self._end(y + 1), True
        self._lo = lo
        self._hi = hi
        self._dst = d
        self._off = self.std + self.shift if d else self.std

    def offset(self, t):
        if t < self._lo or t >= self._hi:
            self._fill(t)
        return self._off

    def dst(self, t):
        if t < self._lo or t >= self._hi:
            self._fill(t)
        return self._dst

    def next_change(self, t):
        if t < self._lo or t >= self._hi:
            self._fill(t)
        return self._hi

    def local_secs(self, t):
        if t < self._lo or t >= self._hi:
            self._fill(t)
        return t + self._off

    def to_utc(self, y, m, d, hh=0, mm=0, ss=0):
        loc = timeutil.to_secs(y, m, d, hh, mm, ss)
        ta = loc - self.std
        if not self.has_dst:
            return ta
        tb = ta - self.shift
        vb = self.offset(tb) == self.std + self.shift
        if vb:
            return tb  # DST reading exists (first occurrence in the repeated hour)
        if self.offset(ta) == self.std:
            return ta
        return self.next_change(tb)  # skipped hour: the transition instant

    def local(self, t):
        """(Y, M, D, hh, mm, ss, weekday 1=Mon..7, dst) local time at t."""
        y, mo, d, h, mi, s, wd = timeutil.from_secs(self.local_secs(t))
        return y, mo, d, h, mi, s, wd, self._dst

    def to_utc_flag(self, y, m, d, hh, mm, ss, summer):
        shift = self.shift if (summer and self.has_dst) else 0
        return timeutil.to_secs(y, m, d, hh, mm, ss) - self.std - shift

    def next_month_start(self, t):
        y, m, d = timeutil.civil_from_days(self.local_secs(t) // 86400)
        while True:
            m += 1
            if m > 12:
                m = 1
                y += 1
            u = self.to_utc(y, m, 1)
            if u > t:
                return u
