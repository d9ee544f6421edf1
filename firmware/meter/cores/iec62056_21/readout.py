# The IEC 62056-21 data readout view of the register table, and the objects the optical port
# exposes besides registers (identity, clock).
#
#   reg = iec62056_21.Registry(fallback=register_text_fn(registers),
#                              fallback_codes=lambda: registers.codes)
#   register_identity(reg, serial, equipment_id)
#   register_clock(reg, meter_clock)     # or a bare board clock: register_clock(reg, clk, log_fn)
#   ro = Readout(reg, DEFAULT_ITEMS)
#   Session(readout=ro.lines, registry=reg, ...)
#
# Register values are formatted `value*unit` with the register's own decimals (-scaler) and a fixed
# number of integer digits per unit (DSMR-like: kWh 6.3, kW 2.3, V 3.1, A 3.3, Hz 2.3); counters
# without a unit are zero-padded integers. Items of the readout list that the meter does not have
# (no register, no object) are left out, so one list serves every meter variant.
#
# Time: the meter keeps UTC seconds since 2020 (timeutil). The optical port shows local time (the
# MeterClock's time zone, or standard time = UTC + tz_s with EU summer time on a bare board clock):
#   0-0:1.0.0  YYYY-MM-DD hh:mm:ss   local date and time (as in common IEC 62056-21 readouts)
#   0.9.1      hh:mm:ss              local time
#   0.9.2      YY-MM-DD              local date
# Writes (level 1): 0-0:1.0.0 accepts 'YYYY-MM-DD hh:mm:ss' (local), 'YYMMDDhhmmss[X]' (local,
# X = S/W says which side of the October repeated hour) or 'YYYY-MM-DDThh:mm:ssZ' (UTC; what the
# host tool sends); 0.9.1 sets the local time of day, 0.9.2 the local date. Bad text raises
# ValueError('FORMAT'), impossible dates or times ValueError('RANGE'): (ERROR:FORMAT) /
# (ERROR:RANGE) on the port, clock unchanged. An accepted write sets the clock (MeterClock.set(t,
# 'optical'): CLOCK_ADJUSTED a = old, b = new, adjust hooks) and the session logs PARAM_WRITE.
from meter.common import timeutil
from meter.common import events
from meter.common.registers import fmt_fixed

# Same data as P1 plus identity and clock. Codes the meter lacks are skipped.
DEFAULT_ITEMS = (
    "0-0:C.1.0", "0-0:96.1.1", "0-0:1.0.0", "0.9.1", "0.9.2",
    "1-0:1.8.0", "1-0:1.8.1", "1-0:1.8.2", "1-0:2.8.0", "1-0:2.8.1", "1-0:2.8.2",
    "1-0:3.8.0", "1-0:4.8.0",
    "0-0:96.14.0",
    "1-0:1.7.0", "1-0:2.7.0",
    "1-0:32.7.0", "1-0:52.7.0", "1-0:72.7.0",
    "1-0:31.7.0", "1-0:51.7.0", "1-0:71.7.0",
    "1-0:21.7.0", "1-0:41.7.0", "1-0:61.7.0",
    "1-0:22.7.0", "1-0:42.7.0", "1-0:62.7.0",
    "1-0:14.7.0",
    "0-0:96.7.21", "0-0:96.7.9",
)

_INT_DIGITS = {"kWh": 6, "kvarh": 6, "Wh": 9, "kW": 2, "kvar": 2, "W": 5, "V": 3, "A": 3, "Hz": 2}


def fmt_value(value, scaler, unit):
    """`value*unit` text of a register (no '*unit' without a unit)."""
    dec = -scaler if scaler < 0 else 0
    if unit:
        return fmt_fixed(value, scaler, _INT_DIGITS.get(unit, 1), dec) + "*" + unit
    if scaler == 0 and value >= 0:
        s = str(value)
        return "0" * (5 - len(s)) + s if len(s) < 5 else s
    return fmt_fixed(value, scaler, 1, dec)


def register_text_fn(registers):
    """fallback(obis) for a Registry: the formatted register, or None if there is none."""
    def text(obis):
        if not registers.has(obis):
            return None
        v, sc, u = registers.info(obis)
        return fmt_value(v, sc, u)
    return text


class Readout:
    """readout lines from a Registry (level-0 objects and the register fallback)."""

    def __init__(self, registry, items=DEFAULT_ITEMS):
        self.registry = registry
        self.items = items

    def lines(self):
        reg = self.registry
        for obis in self.items:
            try:
                v = reg.read_public(obis)
            except Exception:
                v = None  # a broken source loses its line, never the readout
            if v is not None:
                yield obis + "(" + v + ")"


def _clean(text):
    out = []
    for ch in text:
        o = ord(ch)
        out.append(ch if 0x20 <= o < 0x7F and ch not in "()*/!" else "_")
    return "".join(out)


def register_identity(registry, serial, equipment_id):
    """0-0:C.1.0 serial number and 0-0:96.1.1 equipment id: public, read-only."""
    s = _clean(str(serial))
    e = _clean(str(equipment_id))
    registry.register_object("0-0:C.1.0", lambda: s, None, level=2, read_level=0)
    registry.register_object("0-0:96.1.1", lambda: e, None, level=2, read_level=0)


def _2(n):
    return ("0" + str(n)) if n < 10 else str(n)


class LocalTime:
    """Fallback time-zone rules when no MeterClock is wired: fixed standard offset + EU DST."""

    def __init__(self, tz_s=3600, dst=True):
        self.tz_s = tz_s
        self.dst = dst

    def is_dst(self, t):
        return bool(self.dst and timeutil.eu_dst(t))

    def local(self, t):
        """(Y, M, D, hh, mm, ss, dst) local time of meter seconds t."""
        d = self.is_dst(t)
        p = timeutil.from_secs(t + self.tz_s + (3600 if d else 0))
        return p[0], p[1], p[2], p[3], p[4], p[5], d

    def to_utc(self, y, m, d, hh, mm, ss, flag=None):
        """Meter seconds of a local wall time; flag True/False = summer/winter time, None = by
        the EU rule (in the repeated October hour: the first occurrence)."""
        base = timeutil.to_secs(y, m, d, hh, mm, ss) - self.tz_s
        if flag is None:
            if not self.dst:
                return base
            t = base - 3600
            return t if timeutil.eu_dst(t) else base
        return base - (3600 if (flag and self.dst) else 0)


class _BoardClockView:
    """Clock objects on a board clock (time(), set_time(t)) with LocalTime rules; logs
    CLOCK_ADJUSTED itself."""

    def __init__(self, clock, lt, log):
        self.clock, self.lt, self.log = clock, lt, log

    def now(self):
        return self.clock.time()

    def local(self, t):
        return self.lt.local(t)

    def to_utc(self, y, m, d, hh, mm, ss, flag=None):
        return self.lt.to_utc(y, m, d, hh, mm, ss, flag)

    def set(self, t):
        old = self.clock.time()
        self.clock.set_time(t)
        if self.log is not None:
            try:  # the write has happened: a failing log must not make it look refused
                self.log(events.CLOCK_ADJUSTED, old, t)
            except Exception:
                pass


class _MeterClockView:
    """Clock objects on the MeterClock service (firmware/meter/clock.py): its time zone, and
    set(t, 'optical') which logs CLOCK_ADJUSTED and runs the adjust hooks (tariff, profile)."""

    def __init__(self, mc):
        self.mc = mc

    def now(self):
        return self.mc.now()

    def local(self, t):
        p = self.mc.local(t)
        return p[0], p[1], p[2], p[3], p[4], p[5], p[7]

    def to_utc(self, y, m, d, hh, mm, ss, flag=None):
        if flag is None:
            return self.mc.local_to_utc(y, m, d, hh, mm, ss)
        tz = self.mc.tz
        shift = tz.shift if (flag and tz.has_dst) else 0
        return timeutil.to_secs(y, m, d, hh, mm, ss) - tz.std - shift

    def set(self, t):
        self.mc.set(t, "optical")


def _num(s, lo, hi):
    if not s or not s.isdigit():
        raise ValueError("FORMAT")
    v = int(s)
    if v < lo or v > hi:
        raise ValueError("RANGE")
    return v


def _days_in(y, m):
    nxt = timeutil.days_from_civil(y + (m == 12), m % 12 + 1, 1)
    return nxt - timeutil.days_from_civil(y, m, 1)


def _check_date(y, m, d):
    if m < 1 or m > 12 or d < 1 or d > _days_in(y, m):
        raise ValueError("RANGE")


def _hms(text, at):
    return (_num(text[at:at + 2], 0, 23), _num(text[at + 3:at + 5], 0, 59),
            _num(text[at + 6:at + 8], 0, 59))


def parse_datetime(text, view):
    """Meter seconds of 'YYYY-MM-DD hh:mm:ss' (local), 'YYMMDDhhmmss[X]' (local, X = S/W) or
    'YYYY-MM-DDThh:mm:ssZ' (UTC). ValueError('FORMAT') / ValueError('RANGE')."""
    n = len(text)
    if n in (19, 20) and text[4] == "-" and text[7] == "-" and text[13] == ":" and text[16] == ":":
        y = _num(text[0:4], 2020, 2099)
        m = _num(text[5:7], 1, 12)
        d = _num(text[8:10], 1, 31)
        _check_date(y, m, d)
        hh, mm, ss = _hms(text, 11)
        if n == 20 and text[10] == "T" and text[19] == "Z":
            return timeutil.to_secs(y, m, d, hh, mm, ss)
        if n == 19 and text[10] == " ":
            t = view.to_utc(y, m, d, hh, mm, ss)
            if t < 0:
                raise ValueError("RANGE")
            return t
        raise ValueError("FORMAT")
    if n in (12, 13):
        flag = None
        if n == 13:
            if text[12] not in "SW":
                raise ValueError("FORMAT")
            flag = text[12] == "S"
        y = 2000 + _num(text[0:2], 20, 99)
        m = _num(text[2:4], 1, 12)
        d = _num(text[4:6], 1, 31)
        _check_date(y, m, d)
        t = view.to_utc(y, m, d, _num(text[6:8], 0, 23), _num(text[8:10], 0, 59),
                        _num(text[10:12], 0, 59), flag)
        if t < 0:
            raise ValueError("RANGE")
        return t
    raise ValueError("FORMAT")


def register_clock(registry, clock, log=None, tz_s=3600, dst=True, level=1):
    """Clock objects, public in the readout, writable at `level`:
      0-0:1.0.0  'YYYY-MM-DD hh:mm:ss' local time (as MeterClock.iso and common IEC readouts)
      0.9.1      'hh:mm:ss' local time      0.9.2  'YY-MM-DD' local date
    `clock` is the MeterClock service (preferred: its time zone; set(t, 'optical') logs
    CLOCK_ADJUSTED and runs the tariff/profile adjust hooks), or a bare board clock (time(),
    set_time(t)) with the fixed rules tz_s/dst, in which case log(code, a, b) gets
    CLOCK_ADJUSTED (a = old, b = new)."""
    if hasattr(clock, "local_to_utc"):
        view = _MeterClockView(clock)
    else:
        view = _BoardClockView(clock, LocalTime(tz_s, dst), log)

    def r_dt():
        p = view.local(view.now())
        return ("%d-" % p[0]) + _2(p[1]) + "-" + _2(p[2]) + " " + _2(p[3]) + ":" + _2(p[4]) + \
            ":" + _2(p[5])

    def r_time():
        p = view.local(view.now())
        return _2(p[3]) + ":" + _2(p[4]) + ":" + _2(p[5])

    def r_date():
        p = view.local(view.now())
        return _2(p[0] % 100) + "-" + _2(p[1]) + "-" + _2(p[2])

    def w_dt(text):
        view.set(parse_datetime(text, view))

    def w_time(text):
        if len(text) != 8 or text[2] != ":" or text[5] != ":":
            raise ValueError("FORMAT")
        hh, mm, ss = _hms(text, 0)
        p = view.local(view.now())
        view.set(view.to_utc(p[0], p[1], p[2], hh, mm, ss))

    def w_date(text):
        if len(text) != 8 or text[2] != "-" or text[5] != "-":
            raise ValueError("FORMAT")
        y = 2000 + _num(text[0:2], 20, 99)
        m = _num(text[3:5], 1, 12)
        d = _num(text[6:8], 1, 31)
        _check_date(y, m, d)
        p = view.local(view.now())
        view.set(view.to_utc(y, m, d, p[3], p[4], p[5]))

    registry.register_object("0-0:1.0.0", r_dt, w_dt, level, 0)
    registry.register_object("0.9.1", r_time, w_time, level, 0)
    registry.register_object("0.9.2", r_date, w_date, level, 0)
    return view
