# Date and time texts of the IEC 62056-21 clock objects (local time of the meter's TimeZone).
#
#   0-0:1.0.0  'YYYY-MM-DD hh:mm:ss' local date and time (as in common IEC 62056-21 readouts)
#   0.9.1      'hh:mm:ss' local time          0.9.2  'YY-MM-DD' local date
# Writes accept for 0-0:1.0.0: 'YYYY-MM-DD hh:mm:ss' (local), 'YYMMDDhhmmss[X]' (local, X = S/W says
# which side of the October repeated hour) or 'YYYY-MM-DDThh:mm:ssZ' (UTC; what the host tool
# sends); 0.9.1 sets the local time of day, 0.9.2 the local date. Bad text raises
# ValueError('FORMAT'), impossible dates or times ValueError('RANGE') (the port answers
# (ERROR:FORMAT) / (ERROR:RANGE) and the clock is unchanged). Pure functions: tz is a TimeZone.
from meter.common import timeutil


def _2(n):
    return ("0" + str(n)) if n < 10 else str(n)


def datetime_text(tz, t):
    p = tz.local(t)
    return ("%d-" % p[0]) + _2(p[1]) + "-" + _2(p[2]) + " " + _2(p[3]) + ":" + _2(p[4]) + ":" + _2(p[5])


def time_text(tz, t):
    p = tz.local(t)
    return _2(p[3]) + ":" + _2(p[4]) + ":" + _2(p[5])


def date_text(tz, t):
    p = tz.local(t)
    return _2(p[0] % 100) + "-" + _2(p[1]) + "-" + _2(p[2])


def _to_utc(tz, y, m, d, hh, mm, ss, flag):
    if flag is None:
        return tz.to_utc(y, m, d, hh, mm, ss)
    return tz.to_utc_flag(y, m, d, hh, mm, ss, flag)


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


def parse_datetime(text, tz):
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
            t = tz.to_utc(y, m, d, hh, mm, ss)
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
        t = _to_utc(tz, y, m, d, _num(text[6:8], 0, 23), _num(text[8:10], 0, 59),
                    _num(text[10:12], 0, 59), flag)
        if t < 0:
            raise ValueError("RANGE")
        return t
    raise ValueError("FORMAT")




def parse_time_of_day(text, tz, now):
    """Meter seconds of local time 'hh:mm:ss' today (the local date at now)."""
    if len(text) != 8 or text[2] != ":" or text[5] != ":":
        raise ValueError("FORMAT")
    hh, mm, ss = _hms(text, 0)
    p = tz.local(now)
    return tz.to_utc(p[0], p[1], p[2], hh, mm, ss)


def parse_date(text, tz, now):
    """Meter seconds of local date 'YY-MM-DD' at the local time of day at now."""
    if len(text) != 8 or text[2] != "-" or text[5] != "-":
        raise ValueError("FORMAT")
    y = 2000 + _num(text[0:2], 20, 99)
    m = _num(text[3:5], 1, 12)
    d = _num(text[6:8], 1, 31)
    _check_date(y, m, d)
    p = tz.local(now)
    return tz.to_utc(y, m, d, p[3], p[4], p[5])
