# Meter clock service: UTC meter seconds in, local time and DST status out.
#
# Two classes:
#
#   TimeZone(offset_min=60, dst="eu", shift_min=60)   sans-I/O time-zone rules (pure arithmetic)
#   MeterClock(board_clock, events, config=None)      the service: reads/sets the board clock,
#                                                     validity, events, adjust hooks, persistence
#
# Time model
# ----------
# The meter keeps UTC internally (meter seconds since 2020-01-01, see timeutil). Local time is
# t + standard offset (+ DST shift while summer time is in force). DST rules are expressed in UTC,
# as the EU rule is (last Sunday of March 01:00 UTC to last Sunday of October 01:00 UTC), so "is DST
# in force at t" is never ambiguous, and local wall time is a function of t. The repeated hour in
# October and the skipped hour in March fall out of that: at the October transition local time runs
# 02:59:59 (S) -> 02:00:00 (W); at the March transition 01:59:59 (W) -> 03:00:00 (S).
#
# Configuration (dict, e.g. the "clock" object of firmware/config/tariff.json; all keys optional):
#   "tz_offset_min": standard-time offset from UTC in minutes (default 60, CET), -720..840
#   "dst": "eu" (default) | "none" | {"start": [month, week, weekday, hour_utc],
#                                      "end":   [month, week, weekday, hour_utc]}
#          week 1..4 = first..fourth, 5 = last; weekday 1 = Monday .. 7 = Sunday (ISO);
#          hour_utc 0..23. "eu" == {"start": [3, 5, 7, 1], "end": [10, 5, 7, 1]}.
#          start after end in the year (southern hemisphere) is allowed: DST spans new year.
#   "dst_shift_min": DST shift in minutes (default 60), 1..120
#   "rtc_back_tolerance_s": at boot, a board clock more than this many seconds behind the last
#          saved time is treated as a failed RTC (default 5)
#
# TimeZone methods (all allocation-free once a DST period is cached; a cache miss costs a few
# integer date computations, twice a year):
#   offset(t)        local - UTC in seconds at t
#   dst(t)           True while summer time is in force (DSMR S/W flag)
#   next_change(t)   smallest t' > t where offset() changes (NEVER if no DST)
#   local_secs(t)    t + offset(t) (local wall time as meter-seconds-like number)
#   to_utc(y, m, d, hh, mm, ss)  meter seconds of a local wall time: in the repeated hour the first
#                    occurrence, in the skipped hour the transition instant (the first instant whose
#                    local time is at or after the requested one)
#   next_month_start(t)  UTC instant of the next local midnight on the 1st of a month (> t); used to
#                    schedule a passive tariff calendar
#   begin_month / end_month  months of DST begin/end (0 if none), for COSEM month wildcards 0xFE/0xFD
#
# MeterClock wiring (the app):
#   clock = MeterClock(board.clock, events, cfg.get("clock"))
#   clock.load_from(buf)   # if storage has the clock section (state_size bytes)
#   clock.start()          # once at boot, after load_from: decides validity, restores time
#   clock.hooks.append(fn)  # fn(old, new) for each service that must see a step, e.g. metrology:
#                           #   lambda old, new: (m.tick(old), m.clock_adjusted(old, new))
#                           # (or tariff.on_adjust if the app uses Tariff.account's guard instead)
#   storage: clock.dump_into(buf) whenever it journals (buf has clock.state_size bytes)
#   optical/time sync:  clock.set(t_new, "optical" | "sync" | "board")
#
# Validity: after a power cut on a board without RTC backup (board_clock.valid False), start()
# restores the last saved time onto the board clock and marks the meter clock invalid
# (events.CLOCK_INVALID, a = board time found, b = restored time). It also does so if the board
# clock is more than rtc_back_tolerance_s behind the saved time (a failed RTC battery). The
# invalid flag is persisted in the state section, so it survives further power cuts, and is only
# cleared by set(). While invalid, the tariff bills into its calendar's invalid_clock_rate.
#
# set(t_new, source): steps the board clock, marks the clock valid, logs events.CLOCK_ADJUSTED
# (t = new, a = old, b = new) and calls every hook on_adjust(old, new) (errors in one hook do not
# stop the others; they are counted in hook_errors). Setting the time it already has on a valid
# clock changes nothing and logs nothing.
import struct

from meter.common import timeutil
from meter.common import events as ev

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


SOURCES = ("board", "optical", "sync", "rig", "restore")


class MeterClock:
    state_size = 8
    _VERSION = 1

    def __init__(self, board_clock, events, config=None):
        self.tz = TimeZone.from_config(config)
        self.tolerance = (config or {}).get("rtc_back_tolerance_s", 5)
        self.board = board_clock
        self.events = events
        self.hooks = []  # callables on_adjust(old, new)
        self.hook_errors = 0
        self.valid = bool(getattr(board_clock, "valid", True))
        self.saved = -1  # last saved time from the state section (-1: none)
        self._saved_valid = True
        self.last_source = None
        self.last_adjust = None  # (old, new) of the latest set()

    # -- time
    def now(self):
        return self.board.time()

    def dst(self, t=None):
        return self.tz.dst(self.board.time() if t is None else t)

    def offset(self, t=None):
        return self.tz.offset(self.board.time() if t is None else t)

    def local(self, t=None):
        """(Y, M, D, hh, mm, ss, weekday 1=Mon..7, dst) local time at t (default now)."""
        if t is None:
            t = self.board.time()
        y, mo, d, h, mi, s, wd = timeutil.from_secs(self.tz.local_secs(t))
        return y, mo, d, h, mi, s, wd, self.tz.dst(t)

    def dsmr_timestamp(self, t=None):
        """DSMR TST 'YYMMDDhhmmssX', X = 'S' in summer time, 'W' in winter time."""
        y, mo, d, h, mi, s, _, dst = self.local(t)
        return "%02d%02d%02d%02d%02d%02d%s" % (y % 100, mo, d, h, mi, s, "S" if dst else "W")

    def iso(self, t=None):
        """'YYYY-MM-DD hh:mm:ss' local time (IEC 62056-21 readout)."""
        y, mo, d, h, mi, s, _, _ = self.local(t)
        return "%04d-%02d-%02d %02d:%02d:%02d" % (y, mo, d, h, mi, s)

    def local_to_utc(self, y, m, d, hh=0, mm=0, ss=0):
        return self.tz.to_utc(y, m, d, hh, mm, ss)

    # -- setting
    def set(self, t_new, source="board"):
        """Step the clock to t_new (meter seconds UTC). Returns True if anything changed."""
        if type(t_new) is not int or t_new < 0 or t_new > NEVER:
            raise ValueError("clock: bad time %r" % (t_new,))
        old = self.board.time()
        was_valid = self.valid
        self.board.set_time(t_new)
        self.valid = True
        self.last_source = source
        if old == t_new and was_valid:
            return False
        self.last_adjust = (old, t_new)
        if self.events is not None:
            self.events.add(t_new, ev.CLOCK_ADJUSTED, old, t_new)
        for h in self.hooks:
            try:
                h(old, t_new)
            except Exception:
                self.hook_errors += 1
        return True

    # -- boot
    def start(self):
        """Decide validity once at boot (after load_from). Returns self.valid."""
        t = self.board.time()
        board_ok = bool(getattr(self.board, "valid", True))
        saved = self.saved
        lost = (not board_ok) or (saved >= 0 and t < saved - self.tolerance)
        if lost:
            restored = saved if saved >= 0 else t
            if restored != t:
                self.board.set_time(restored)
            if self.events is not None:
                self.events.add(restored, ev.CLOCK_INVALID, t, restored)
            self.valid = False
        else:
            # a clock that was invalid when last saved stays invalid until set()
            self.valid = self._saved_valid
        self._saved_valid = self.valid
        return self.valid

    # -- persistence (the storage service journals this fixed-size section)
    def dump_into(self, buf, offset=0):
        """Write the state (version, validity, current time as 'last saved time') into buf."""
        t = self.board.time()
        struct.pack_into("<BBHI", buf, offset, self._VERSION, 1 if self.valid else 0, 0, t)
        self.saved = t

    def load_from(self, buf, offset=0):
        """Read a state section written by dump_into. Returns False (and changes nothing) if it is
        not a valid section."""
        if len(buf) - offset < self.state_size:
            return False
        ver, flags, _, t = struct.unpack_from("<BBHI", buf, offset)
        if ver != self._VERSION or flags > 1 or t > NEVER:
            return False
        self.saved = t
        self._saved_valid = flags == 1
        return True
