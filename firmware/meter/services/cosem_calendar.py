# Activity calendar (IC 20, v0) and special days table (IC 11, v0) of the COSEM model, mapped onto
# the meter's REAL tariff calendar (cores/tariff) and its passive/activation mechanism
# (services/tariff_config.py). Nothing is a second copy: the active attributes and the special days
# are encoded from the engine's Calendar on every read; a passive calendar written over DLMS becomes
# a calendar JSON text committed through TariffService.set_passive (the path the optical C.90.3
# commit takes), so it is stored, logged (CALENDAR_PASSIVE) and promoted exactly like one written
# over the optical port.
#
#   add_calendar(reg, svc, clock, rights_rw, rights_r, method_rights)
#
# 0-0:13.0.0.255 Activity calendar (Blue Book 4.5.5):
#   2/6 calendar_name_active/passive   octet-string (the calendar's "name")
#   3/7 season_profile_active/passive  array of {name, season_start date-time (year 0xFFFF = every
#                                      year), week_name}
#   4/8 week_profile_table             array of {name, day_id Monday..Sunday (unsigned)}
#   5/9 day_profile_table              array of {day_id, array of {start_time (time, 4 bytes),
#                                      script_logical_name 0-0:10.0.100.255 (tariffication script
#                                      table), script_selector = rate 1..8}}
#   10  activate_passive_calendar_time date-time; writing it commits the passive calendar
#   method 1 activate_passive_calendar(integer 0): commits the passive calendar (the draft, parts
#                                      not written from the scheduled one) with the activation time
#                                      now + 1 s: the tariff service promotes it on its next tick,
#                                      the path of attribute 10. Nothing passive -> temporary-failure
# Writing attributes 6..9 only drafts them (held in RAM, never stored; lost on a power cut, like
# an unfinished optical staging): reads of 6..9 show the draft, or else the scheduled passive
# calendar. Writing 10 builds the JSON from the draft (parts not written come from the scheduled
# passive calendar), with the active calendar's invalid-clock rate and special days and the meter's
# clock rules, and commits it; the draft is then dropped. Day profile day_id n is named "dNNN" in
# the JSON; reading a calendar back, day_id is that number, or the profile's index when its names
# are not all of that form (calendars written in JSON over the optical port).
# Errors: a malformed value -> type-unmatched (nothing drafted); an activation time in the past or
# a clock not valid -> temporary-failure; a calendar the service rejects (validation, storage) ->
# other-reason, with the reason in TariffService.last_error (optical C.90.9) and CALENDAR_REJECTED.
#
# 0-0:11.0.0.255 Special days table: 2 entries = array of {index (position in match order), date
#   (date, 5 bytes: year 0xFFFF, month 0xFD/0xFE DST end/begin, day 0xFD/0xFE second last/last,
#   weekday, 0xFF = any), day_id} of the ACTIVE calendar; read-only (the special days are part of
#   the calendar: a new set comes with a calendar).
import json

from meter.cores.dlms import axdr
from meter.cores.dlms import objects as O
from meter.cores.tariff import calendar as tcal
from meter.common.timezone import EU_RULE

ACTIVITY_CALENDAR = 20
SPECIAL_DAYS_TABLE = 11
_SCRIPT = bytes((0, 0, 10, 0, 100, 255))  # tariffication script table (Blue Book 6.2.x)
_UNSPEC = b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\x80\x00\xff"
_OS = axdr.OCTET_STRING


def _bad():
    raise O.DataAccessError(O.TYPE_UNMATCHED)


# ---- engine Calendar -> A-XDR values (reads) ----

def _day_ids(cal):
    """day_id of each day profile: the N of 'dNNN' names (all of them), else the index."""
    ids = []
    for nm in cal.dp_names:
        if len(nm) != 4 or nm[0] != "d" or not nm[1:].isdigit() or int(nm[1:]) > 255:
            return list(range(len(cal.dp_names)))
        ids.append(int(nm[1:]))
    return ids


def enc_name(cal):
    return (_OS, cal.name.encode() if cal is not None else b"")


def enc_seasons(cal):
    if cal is None:
        return (axdr.ARRAY, [])
    out = []
    for j in range(len(cal.season_names)):
        y = cal.se_year[j]
        s = cal.se_sod[j]
        st = bytes((0xFF, 0xFF) if y == tcal.ANY else (y >> 8, y & 0xFF)) + bytes(
            (cal.se_month[j], cal.se_day[j], 0xFF, s // 3600, s // 60 % 60, s % 60, 0xFF, 0x80, 0, 0xFF))
        out.append((axdr.STRUCTURE, ((_OS, cal.season_names[j].encode()), (_OS, st),
                                     (_OS, cal.week_names[cal.se_week[j]].encode()))))
    return (axdr.ARRAY, out)


def enc_weeks(cal):
    if cal is None:
        return (axdr.ARRAY, [])
    ids = _day_ids(cal)
    out = []
    for k in range(len(cal.week_names)):
        out.append((axdr.STRUCTURE, ((_OS, cal.week_names[k].encode()),) +
                    tuple((axdr.UNSIGNED, ids[i]) for i in cal.weeks[k])))
    return (axdr.ARRAY, out)


def enc_days(cal):
    if cal is None:
        return (axdr.ARRAY, [])
    ids = _day_ids(cal)
    out = []
    for i in range(len(cal.dp_names)):
        acts = []
        starts = cal.dp_starts[i]
        for k in range(len(starts)):
            s = starts[k]
            acts.append((axdr.STRUCTURE, ((_OS, bytes((s // 3600, s // 60 % 60, s % 60, 0))),
                                          (_OS, _SCRIPT), (axdr.LONG_UNSIGNED, cal.dp_rates[i][k]))))
        out.append((axdr.STRUCTURE, ((axdr.UNSIGNED, ids[i]), (axdr.ARRAY, acts))))
    return (axdr.ARRAY, out)


def _date5(y, m, d, wd):
    m = 0xFF if m == tcal.ANY else (0xFD if m == tcal.M_DST_END else (0xFE if m == tcal.M_DST_BEGIN else m))
    d = 0xFF if d == tcal.ANY else (0xFE if d == tcal.D_LAST else (0xFD if d == tcal.D_LAST2 else d))
    return bytes((0xFF, 0xFF) if y == tcal.ANY else (y >> 8, y & 0xFF)) + bytes(
        (m, d, 0xFF if wd == tcal.ANY else wd))


def enc_special_days(cal):
    ids = _day_ids(cal)
    out = []
    for k in range(len(cal.specials)):
        y, m, d, wd, dp = tcal.unpack_special(cal.specials[k])
        out.append((axdr.STRUCTURE, ((axdr.LONG_UNSIGNED, k), (_OS, _date5(y, m, d, wd)),
                                     (axdr.UNSIGNED, ids[dp]))))
    return (axdr.ARRAY, out)


# ---- A-XDR values -> calendar JSON parts (writes); DataAccessError(TYPE_UNMATCHED) on a bad shape

def _items(v, n=-1):
    if v[0] != (axdr.STRUCTURE if n >= 0 else axdr.ARRAY) or (n >= 0 and len(v[1]) != n):
        _bad()
    return v[1]


def _text(v):
    """A printable ASCII name from an octet-string (JSON names are text)."""
    if v[0] != _OS or not v[1]:
        _bad()
    for c in v[1]:
        if c < 0x20 or c > 0x7E:
            _bad()
    return v[1].decode()


def _uint(v, tag=axdr.UNSIGNED):
    if v[0] != tag:
        _bad()
    return v[1]


def _dp_name(i):
    return "d%03d" % i


def dec_name(v):
    if v[0] != _OS:
        _bad()
    return _text(v) if v[1] else ""


def dec_seasons(v):
    out = []
    for e in _items(v):
        f = _items(e, 3)
        st = f[1]
        if st[0] != _OS or len(st[1]) != 12:
            _bad()
        b = st[1]
        y = (b[0] << 8) | b[1]
        if b[2] > 12 or b[3] > 31 or b[5] > 23 or b[6] > 59 or b[7] > 59:
            _bad()
        out.append({"name": _text(f[0]), "week": _text(f[2]), "start": "%s-%02d-%02d %02d:%02d:%02d" % (
            "*" if y == 0xFFFF else "%04d" % y, b[2], b[3], b[5], b[6], b[7])})
    return out


def dec_weeks(v):
    out = {}
    for e in _items(v):
        f = _items(e, 8)
        out[_text(f[0])] = [_dp_name(_uint(f[i])) for i in range(1, 8)]
    return out


def dec_days(v):
    out = {}
    for e in _items(v):
        f = _items(e, 2)
        acts = []
        for a in _items(f[1]):
            g = _items(a, 3)
            t = g[0][1]
            if g[0][0] != _OS or len(t) != 4 or t[0] > 23 or t[1] > 59 or t[2] > 59:
                _bad()
            if g[1][0] != _OS or len(g[1][1]) != 6:
                _bad()
            acts.append(["%02d:%02d:%02d" % (t[0], t[1], t[2]), _uint(g[2], axdr.LONG_UNSIGNED)])
        out[_dp_name(_uint(f[0]))] = acts
    return out


def _special_json(cal, ids):
    out = []
    for sp in cal.specials:
        y, m, d, wd, dp = tcal.unpack_special(sp)
        e = {"date": "%s-%s-%s" % (
            "*" if y == tcal.ANY else "%04d" % y,
            "*" if m == tcal.ANY else ("DE" if m == tcal.M_DST_END else ("DB" if m == tcal.M_DST_BEGIN else "%02d" % m)),
            "*" if d == tcal.ANY else ("L" if d == tcal.D_LAST else ("L2" if d == tcal.D_LAST2 else "%02d" % d))),
            "day": _dp_name(ids[dp])}
        if wd != tcal.ANY:
            e["weekday"] = wd
        out.append(e)
    return out


def clock_rules(clock):
    """The calendar JSON "clock" object of the MeterClock's rules (tariff_config compares the zone
    with the meter's; the app configures the clock from the active calendar's object at boot)."""
    tz = clock.tz
    r = tz.rule
    dst = "none" if r is None else ("eu" if r == EU_RULE else {"start": list(r[:4]), "end": list(r[4:])})
    return {"tz_offset_min": tz.std // 60, "dst": dst, "dst_shift_min": tz.shift // 60,
            "rtc_back_tolerance_s": clock.tolerance}


_ENC = (enc_name, enc_seasons, enc_weeks, enc_days)
_DEC = (dec_name, dec_seasons, dec_weeks, dec_days)


class CalendarObject:
    """The IC 20 attributes on a TariffService; draft[0..3] = written passive attributes 6..9."""

    def __init__(self, svc, clock):
        self.svc = svc
        self.clock = clock
        self.draft = [None, None, None, None]

    def active(self, k):
        return lambda: _ENC[k](self.svc.tariff.cal)

    def passive(self, k):
        def get():
            d = self.draft[k]
            return d if d is not None else _ENC[k](self.svc.tariff.passive)

        def put(v):
            _DEC[k](v)  # shape check now: a bad value is refused at once, nothing drafted
            self.draft[k] = v
        return get, put

    def get_activation(self):
        t = self.svc.tariff
        if t.passive is None:
            return (_OS, _UNSPEC)
        from meter.services.cosem_model import datetime_of
        return (_OS, datetime_of(self.clock, t.activation))

    def set_activation(self, v):
        from meter.services.cosem_model import utc_of
        if v[0] != _OS:
            _bad()
        self._commit(utc_of(self.clock, v[1]))

    def activate(self, params):
        if params is not None and params[0] != axdr.INTEGER:
            _bad()
        if self.svc.tariff.passive is None and None in self.draft:
            raise O.DataAccessError(O.TEMPORARY_FAILURE)  # no passive calendar to activate
        self._commit(self.clock.now() + 1)

    def _commit(self, t_act):
        svc = self.svc
        now = self.clock.now()
        try:
            svc.check_activation(t_act, now)
        except ValueError:
            raise O.DataAccessError(O.TEMPORARY_FAILURE)
        act = svc.tariff.cal
        parts = [_DEC[k](self.passive(k)[0]()) for k in range(4)]
        obj = {"name": parts[0], "clock": clock_rules(self.clock),
               "invalid_clock_rate": act.invalid_rate, "day_profiles": parts[3],
               "week_profiles": parts[2], "seasons": parts[1],
               "special_days": _special_json(act, _day_ids(act))}
        try:
            svc.set_passive(json.dumps(obj), t_act, now)
        except (ValueError, MemoryError):  # rejected (reason in last_error, CALENDAR_REJECTED logged)
            raise O.DataAccessError(O.OTHER_REASON)
        self.draft = [None, None, None, None]


def add_calendar(reg, svc, clock, rw, ro, m_rights=None):
    """m_rights: who may call method 1 activate_passive_calendar (None: not offered)."""
    c = CalendarObject(svc, clock)
    attrs = {}
    for k in range(4):
        attrs[2 + k] = O.Attr(c.active(k), None, ro)
        g, s = c.passive(k)
        attrs[6 + k] = O.Attr(g, s, rw)
    attrs[10] = O.Attr(c.get_activation, c.set_activation, rw)
    methods = {1: O.Method(c.activate, m_rights)} if m_rights else None
    reg.add(O.CosemObject(ACTIVITY_CALENDAR, 0, O.obis(0, 0, 13, 0, 0), attrs, methods))
    reg.add(O.CosemObject(SPECIAL_DAYS_TABLE, 0, O.obis(0, 0, 11, 0, 0), {
        2: O.Attr(lambda: enc_special_days(svc.tariff.cal), None, ro)}))
    return c
