# Tariff engine: activity calendar (seasons, week and day profiles, special days), passive calendar,
# rate evaluation and exact energy split across rate switch points. Sans-I/O: time comes in as
# arguments (meter seconds UTC); local time comes from a clock.TimeZone.
#
# Calendar semantics (the JSON schema is documented in firmware/config/TARIFF.md)
# ------------------
# All calendar times are LOCAL wall-clock times; the rate is a function of the local wall time at t
# (plus which calendar is active). For local day D at second-of-day s:
#   1. special day: the special-day entries whose date matches D (wildcards per field) select the
#      day profile for the whole day, overriding the week profile. If several match, the most
#      specific wins (most non-wildcard fields among year, month, day, weekday), then file order.
#   2. otherwise the season: the season whose start (local date-time, year may be a wildcard =
#      recurs every year) is the latest one <= (D, s). Before the first start of a calendar made only
#      of fixed-year seasons, the earliest season applies. Its week profile gives the day profile for
#      D's weekday. A season may start at a time other than 00:00: the day then switches week
#      profile (and day profile) at that time.
#   3. the day profile: the action with the latest start <= s gives the rate. Every day profile must
#      have an action at 00:00 (validation), so nothing carries over from the previous day.
# In the repeated hour of October the rate follows the wall clock (e.g. a 02:30 switch happens in
# both passes); in the skipped hour of March, switch points inside the gap take effect at the
# transition instant.
#
# The tariff service
# ------------------
#   Tariff(calendar, tz, events=None, clock=None)
#       calendar  a Calendar (load_json / default) ; tz a clock.TimeZone (MeterClock.tz)
#       events    an EventLog (CALENDAR_ACTIVATED/REJECTED/PASSIVE are logged) or None
#       clock     anything with a `valid` attribute (the MeterClock); while not valid every rate
#                 evaluation returns calendar.invalid_rate
#   rate_at(t)             -> rate 1..8 at meter seconds t
#   next_switch(t)         -> smallest t' > t where the rate may change (NEVER while the clock is
#                             invalid)
#   split(t0, t1, amount, out)  add `amount` into out[rate-1] across the rate segments of [t0, t1),
#                             exactly: with switch points s_1 < ... < s_k inside, the part ending
#                             at s_j is amount*(s_j-t0)//(t1-t0) minus the parts before; the last
#                             part takes the rest, so the parts always sum to amount. t1 <= t0: the
#                             whole amount goes to rate_at(t0). Allocation-free when no big ints
#                             arise (amount*(t1-t0) < 2**30 on 32-bit), O(1) inside the cached
#                             segment.
#   Billing-time guard (how metrology gets non-overlapping, never-negative intervals):
#   resync(now)            at boot / after restoring registers: the next tick starts at now
#   on_adjust(old, new)    append to MeterClock.hooks: a clock step was made
#   advance(now)           once per metering tick: fixes this tick's interval(s) and sets bt = now
#   split_tick(amount, out) per quantity (import, export, ...) of that tick
#   account(now, amount, out)   advance(now) + split_tick(amount, out), for one quantity
#     A tick normally covers [bt, now). After a clock step reported by on_adjust(old, new), the tick
#     covers [bt, old) in the old time and [new, now) in the new time; the amount is shared between
#     them in proportion to their lengths (floor; the second gets the rest) and each piece is split
#     at its own rates: energy after a backward step bills at the rate of the new local time, none
#     is billed twice, none is lost. A backward jump nobody reported (now < bt without on_adjust)
#     bills the whole tick at rate_at(now). The energy itself always comes from the AFE: time only
#     chooses the rate.
#   activate(calendar, now) / load(text, now)            swap the active calendar now (atomic)
#   set_passive(calendar, t_act, now, log=True) / load_passive(text, t_act, now)
#                          schedule a calendar: from t_act on (evaluated lazily, on the first
#                          evaluation at or after t_act, e.g. the tick crossing it, split exactly
#                          at t_act) it becomes the active one; CALENDAR_ACTIVATED is logged with
#                          t = t_act. t_act is usually tz.next_month_start(now) (local midnight on
#                          the 1st). set_passive(None, ...) cancels. While the clock is invalid
#                          nothing is evaluated, so a due activation waits until the clock is set.
#                          on_promote: optional fn(calendar, t_act) called right after that
#                          promotion (tariff_service.py persists it); its errors are counted in
#                          promote_errors, never raised into the metering tick.
#   A bad calendar (load / load_passive) raises ValueError with the reason, logs CALENDAR_REJECTED
#   and changes nothing.
#   current_rate()         rate of the last accounted tick (P1 0-0:96.14.0, display)
#
# Wiring (app):
#   text = read firmware/config/tariff.json (or the stored copy written by programming mode)
#   clock = MeterClock(board.clock, events, json.loads(text).get("clock")); clock.start()
#   tariff = Tariff(load_json(text), clock.tz, events, clock)     # default_calendar() if unreadable
#   clock.hooks.append(tariff.on_adjust)
#   tariff.resync(clock.now())                    # after the registers are restored
#   metering tick:   now = clock.now(); tariff.advance(now)
#                    tariff.split_tick(wh_import, imp8); tariff.split_tick(wh_export, exp8)
#                    (imp8/exp8: caller-owned lists of 8 ints, moved into 1.8.x/2.8.x and zeroed)
# The active and passive calendars persist as their JSON texts (plus the activation time) in the
# writable config dir, written atomically by tariff_service.py (which also provides the optical
# programming-mode objects); bt is not persisted (resync at boot: no energy flowed while the power
# was off).
from meter.common import timeutil
from meter.common import events as ev
from meter.services import clock as _clock

NEVER = _clock.NEVER
MAX_RATES = 8
ANY = -1
M_DST_END = -2  # COSEM month 0xFD
M_DST_BEGIN = -3  # COSEM month 0xFE
D_LAST = -2  # COSEM day 0xFE: last day of the month
D_LAST2 = -3  # COSEM day 0xFD: second last day of the month

LIMIT_DAY_PROFILES = 32
LIMIT_ACTIONS = 48
LIMIT_WEEK_PROFILES = 16
LIMIT_SEASONS = 16
LIMIT_SPECIAL_DAYS = 256

_NO_DAY = -NEVER


# ---------------------------------------------------------------- parsing and validation

def _err(path, msg):
    raise ValueError("tariff: %s: %s" % (path, msg))


def _digits(s):
    if not s:
        return False
    for c in s:
        if c < "0" or c > "9":
            return False
    return True


def _rate(v, path):
    if type(v) is not int or v < 1 or v > MAX_RATES:
        _err(path, "rate %r out of 1..%d" % (v, MAX_RATES))
    return v


def _name(v, path):
    if type(v) is not str or not v or len(v) > 32:
        _err(path, "name must be a non-empty string of at most 32 characters")
    return v


def parse_time(s, path):
    """'hh:mm' or 'hh:mm:ss' -> second of day."""
    if type(s) is not str:
        _err(path, "time must be a string 'hh:mm' or 'hh:mm:ss', got %r" % (s,))
    p = s.split(":")
    if len(p) not in (2, 3):
        _err(path, "bad time %r (want 'hh:mm' or 'hh:mm:ss')" % s)
    for x in p:
        if not _digits(x) or len(x) > 2:
            _err(path, "bad time %r (want 'hh:mm' or 'hh:mm:ss')" % s)
    h = int(p[0])
    m = int(p[1])
    sec = int(p[2]) if len(p) == 3 else 0
    if h > 23 or m > 59 or sec > 59:
        _err(path, "bad time %r (hour 0..23, minute and second 0..59)" % s)
    return h * 3600 + m * 60 + sec


def _year_field(x, path, s):
    if x == "*":
        return ANY
    if not _digits(x) or len(x) != 4:
        _err(path, "bad year in %r (4 digits or '*')" % s)
    y = int(x)
    if y < 2000 or y > 2099:
        _err(path, "year %d in %r out of 2000..2099" % (y, s))
    return y


def parse_special_date(s, path):
    """'YYYY-MM-DD' with wildcards: year '*'; month '*', 'DB' (DST begin month), 'DE' (DST end
    month); day '*', 'L' (last day of month), 'L2' (second last day). -> (y, m, d)."""
    if type(s) is not str:
        _err(path, "date must be a string 'YYYY-MM-DD' (wildcards allowed)")
    p = s.split("-")
    if len(p) != 3:
        _err(path, "bad date %r (want 'YYYY-MM-DD', '*' wildcards)" % s)
    y = _year_field(p[0], path, s)
    x = p[1]
    if x == "*":
        m = ANY
    elif x == "DE":
        m = M_DST_END
    elif x == "DB":
        m = M_DST_BEGIN
    elif _digits(x) and len(x) <= 2 and 1 <= int(x) <= 12:
        m = int(x)
    else:
        _err(path, "bad month in %r (1..12, '*', 'DB', 'DE')" % s)
    x = p[2]
    if x == "*":
        d = ANY
    elif x == "L":
        d = D_LAST
    elif x == "L2":
        d = D_LAST2
    elif _digits(x) and len(x) <= 2 and 1 <= int(x) <= 31:
        d = int(x)
    else:
        _err(path, "bad day in %r (1..31, '*', 'L', 'L2')" % s)
    if d > 0 and m > 0:
        lim = _clock.days_in_month(y, m) if y != ANY else _clock.days_in_month(2000, m)
        if d > lim:
            _err(path, "date %r does not exist" % s)
    return y, m, d


def parse_season_start(s, path):
    """'YYYY-MM-DD hh:mm[:ss]' or '*-MM-DD hh:mm' (time optional: 00:00). -> (y, m, d, sod)."""
    if type(s) is not str:
        _err(path, "start must be a string 'YYYY-MM-DD hh:mm' (year may be '*')")
    p = s.split(" ")
    if len(p) > 2 or not p[0]:
        _err(path, "bad start %r (want 'YYYY-MM-DD hh:mm')" % s)
    sod = parse_time(p[1], path) if len(p) == 2 else 0
    q = p[0].split("-")
    if len(q) != 3:
        _err(path, "bad start date %r" % s)
    y = _year_field(q[0], path, s)
    if not (_digits(q[1]) and len(q[1]) <= 2 and 1 <= int(q[1]) <= 12):
        _err(path, "bad month in season start %r (1..12; no wildcard)" % s)
    m = int(q[1])
    if not (_digits(q[2]) and len(q[2]) <= 2 and 1 <= int(q[2]) <= 31):
        _err(path, "bad day in season start %r (1..31; no wildcard)" % s)
    d = int(q[2])
    if y == ANY and m == 2 and d == 29:
        _err(path, "a recurring season cannot start on 29 February")
    if d > _clock.days_in_month(2001 if y == ANY else y, m):
        _err(path, "season start %r does not exist" % s)
    return y, m, d, sod


def _check_keys(obj, allowed, path):
    if not isinstance(obj, dict):
        _err(path, "must be an object")
    for k in obj:
        if k not in allowed:
            _err(path, "unknown key %r" % (k,))


def _crc(text):
    try:
        import binascii
        b = text.encode() if type(text) is str else bytes(text)
        return binascii.crc32(b) & 0x3FFFFFFF
    except Exception:
        return 0


class Calendar:
    """A parsed, validated activity calendar in compact form (tuples of small ints).

    name, ident (crc32 of the JSON text & 0x3FFFFFFF), invalid_rate, rates_used (highest rate)
    dp_names[i], dp_starts[i] (second-of-day tuple, sorted, starts at 0), dp_rates[i] (bytes)
    week_names[k], weeks[k] (7 day-profile indices Monday..Sunday)
    season_names[j], se_year[j] (ANY or year), se_month, se_day, se_sod, se_week[j]; first_season
    specials: tuple of packed special days (see _pack_special / unpack_special) in match priority
              order (most specific first, then file order)
    """

    def describe(self):
        return "%s (%d day profiles, %d week profiles, %d seasons, %d special days)" % (
            self.name, len(self.dp_names), len(self.week_names), len(self.season_names),
            len(self.specials))


def from_dict(obj, ident=0):
    """Validate a decoded calendar object and build a Calendar; ValueError naming the culprit."""
    _check_keys(obj, ("version", "name", "note", "invalid_clock_rate", "day_profiles",
                      "week_profiles", "seasons", "special_days", "clock"), "calendar")
    if obj.get("version", 1) != 1:
        _err("version", "unsupported version %r (want 1)" % (obj.get("version"),))
    cal = Calendar()
    cal.ident = ident
    cal.name = obj.get("name", "")
    if type(cal.name) is not str:
        _err("name", "must be a string")
    cal.invalid_rate = _rate(obj.get("invalid_clock_rate", 1), "invalid_clock_rate")
    if "clock" in obj:
        try:
            _clock.TimeZone.from_config(obj["clock"])  # validated here, used by MeterClock at boot
        except ValueError as e:
            raise ValueError("tariff: %s" % e)
    rates_used = cal.invalid_rate

    # day profiles
    dps = obj.get("day_profiles")
    if not isinstance(dps, dict) or not dps:
        _err("day_profiles", "must be a non-empty object {name: [[time, rate], ...]}")
    if len(dps) > LIMIT_DAY_PROFILES:
        _err("day_profiles", "at most %d day profiles" % LIMIT_DAY_PROFILES)
    names = sorted(dps.keys())
    dp_index = {}
    starts_l = []
    rates_l = []
    for i, nm in enumerate(names):
        path = "day_profiles.%s" % nm
        _name(nm, path)
        acts = dps[nm]
        if not isinstance(acts, list) or not acts:
            _err(path, "must be a non-empty list of [time, rate]")
        if len(acts) > LIMIT_ACTIONS:
            _err(path, "at most %d actions" % LIMIT_ACTIONS)
        pairs = []
        for k, a in enumerate(acts):
            p = "%s[%d]" % (path, k)
            if not isinstance(a, list) or len(a) != 2:
                _err(p, "action must be [time, rate]")
            pairs.append((parse_time(a[0], p), _rate(a[1], p)))
        pairs.sort()
        for k in range(1, len(pairs)):
            if pairs[k][0] == pairs[k - 1][0]:
                _err(path, "two actions start at the same time %02d:%02d:%02d" % (
                    pairs[k][0] // 3600, pairs[k][0] // 60 % 60, pairs[k][0] % 60))
        if pairs[0][0] != 0:
            _err(path, "the first action must start at 00:00 (no carry-over from the previous day)")
        starts_l.append(tuple(p[0] for p in pairs))
        rates_l.append(bytes([p[1] for p in pairs]))
        for p in pairs:
            if p[1] > rates_used:
                rates_used = p[1]
        dp_index[nm] = i
    cal.dp_names = tuple(names)
    cal.dp_starts = tuple(starts_l)
    cal.dp_rates = tuple(rates_l)
    cal.rates_used = rates_used

    # week profiles
    wps = obj.get("week_profiles")
    if not isinstance(wps, dict) or not wps:
        _err("week_profiles", "must be a non-empty object {name: [7 day profile names, Monday first]}")
    if len(wps) > LIMIT_WEEK_PROFILES:
        _err("week_profiles", "at most %d week profiles" % LIMIT_WEEK_PROFILES)
    wnames = sorted(wps.keys())
    w_index = {}
    weeks = []
    for k, nm in enumerate(wnames):
        path = "week_profiles.%s" % nm
        _name(nm, path)
        days = wps[nm]
        if not isinstance(days, list) or len(days) != 7:
            _err(path, "must list exactly 7 day profile names (Monday..Sunday)")
        row = []
        for j, dn in enumerate(days):
            if type(dn) is not str or dn not in dp_index:
                _err("%s[%d]" % (path, j), "unknown day profile %r" % (dn,))
            row.append(dp_index[dn])
        weeks.append(tuple(row))
        w_index[nm] = k
    cal.week_names = tuple(wnames)
    cal.weeks = tuple(weeks)

    # seasons
    ses = obj.get("seasons")
    if not isinstance(ses, list) or not ses:
        _err("seasons", "must be a non-empty list of {name, start, week}")
    if len(ses) > LIMIT_SEASONS:
        _err("seasons", "at most %d seasons" % LIMIT_SEASONS)
    rows = []
    seen_names = {}
    for j, s in enumerate(ses):
        path = "seasons[%d]" % j
        _check_keys(s, ("name", "start", "week", "note"), path)
        nm = _name(s.get("name"), path + ".name")
        if nm in seen_names:
            _err(path, "duplicate season name %r" % nm)
        seen_names[nm] = 1
        y, m, d, sod = parse_season_start(s.get("start"), path + ".start")
        wk = s.get("week")
        if type(wk) is not str or wk not in w_index:
            _err(path + ".week", "unknown week profile %r" % (wk,))
        for r in rows:
            same = r[1] == m and r[2] == d and (r[0] == ANY or y == ANY or r[0] == y)
            if same:
                _err(path, "starts on the same date as season %r (one season change per day)" % r[5])
        rows.append((y, m, d, sod, w_index[wk], nm))
    # order: recurring first by (month, day), then fixed by date; only for a stable presentation
    rows.sort(key=lambda r: (r[0], r[1], r[2], r[3]))
    cal.season_names = tuple(r[5] for r in rows)
    cal.se_year = tuple(r[0] for r in rows)
    cal.se_month = tuple(r[1] for r in rows)
    cal.se_day = tuple(r[2] for r in rows)
    cal.se_sod = tuple(r[3] for r in rows)
    cal.se_week = tuple(r[4] for r in rows)
    first = 0
    best = None
    for j, r in enumerate(rows):
        if r[0] != ANY:
            key = (r[0], r[1], r[2], r[3])
            if best is None or key < best:
                best = key
                first = j
    cal.first_season = first

    # special days
    sps = obj.get("special_days", [])
    if not isinstance(sps, list):
        _err("special_days", "must be a list of {date, day}")
    if len(sps) > LIMIT_SPECIAL_DAYS:
        _err("special_days", "at most %d special days" % LIMIT_SPECIAL_DAYS)
    # No per-entry heap objects survive the loop (only preallocated lists of small ints): with
    # the parse garbage in between, long-lived small tuples would fragment a 100 KB heap so badly
    # that a 1 KB block could not be found with 30 KB free.
    n = len(sps)
    keys = [0] * n  # packed date fields, for the duplicate check
    vals = [0] * n  # packed special day
    prio = bytearray(n)  # specificity 0..4
    for k in range(n):
        s = sps[k]
        path = "special_days[%d]" % k
        _check_keys(s, ("date", "day", "weekday", "name", "note"), path)
        y, m, d = parse_special_date(s.get("date"), path + ".date")
        wd = s.get("weekday", ANY)
        if wd != ANY and (type(wd) is not int or wd < 1 or wd > 7):
            _err(path + ".weekday", "weekday must be 1 (Monday)..7 (Sunday)")
        if y != ANY and m > 0 and d > 0 and wd != ANY:
            if timeutil.weekday(timeutil.days_from_civil(y, m, d)) != wd:
                _err(path, "date %s is not on weekday %d: the entry would never match" % (s["date"], wd))
        dn = s.get("day")
        if type(dn) is not str or dn not in dp_index:
            _err(path + ".day", "unknown day profile %r" % (dn,))
        keys[k] = _pack_special(y, m, d, wd, 0)
        vals[k] = _pack_special(y, m, d, wd, dp_index[dn])
        prio[k] = (y != ANY) + (m != ANY) + (d != ANY) + (wd != ANY)
    if n > 1:
        ks = sorted(keys)
        for i in range(1, n):
            if ks[i] == ks[i - 1]:
                a = -1
                for j in range(n):
                    if keys[j] == ks[i]:
                        if a < 0:
                            a = j
                        else:
                            _err("special_days[%d]" % j,
                                 "duplicate special day (same date as special_days[%d])" % a)
        ks = None
    # match priority: most specific first, then file order
    out = [0] * n
    j = 0
    for spec in (4, 3, 2, 1, 0):
        for k in range(n):
            if prio[k] == spec:
                out[j] = vals[k]
                j += 1
    cal.specials = tuple(out)
    return cal


# A special day is one small int (4 bytes in the tuple instead of a 5-tuple):
#   bits 18..24 year-1999 (0 = any) | 14..17 month 1..12, 13 = DST end, 14 = DST begin (0 = any)
#   | 8..13 day 1..31, 32 = last, 33 = second last (0 = any) | 5..7 weekday 1..7 (0 = any)
#   | 0..4 day profile index
def _pack_special(y, m, d, wd, dp):
    yc = 0 if y == ANY else y - 1999
    mc_ = 0 if m == ANY else (13 if m == M_DST_END else (14 if m == M_DST_BEGIN else m))
    dc = 0 if d == ANY else (32 if d == D_LAST else (33 if d == D_LAST2 else d))
    wc = 0 if wd == ANY else wd
    return (yc << 18) | (mc_ << 14) | (dc << 8) | (wc << 5) | dp


def unpack_special(x):
    """(year, month, day, weekday, day_profile) of a packed special day, wildcards as ANY and the
    M_/D_ codes (for displays and tests)."""
    yc = x >> 18
    mc_ = (x >> 14) & 15
    dc = (x >> 8) & 63
    wc = (x >> 5) & 7
    return (ANY if yc == 0 else yc + 1999,
            ANY if mc_ == 0 else (M_DST_END if mc_ == 13 else (M_DST_BEGIN if mc_ == 14 else mc_)),
            ANY if dc == 0 else (D_LAST if dc == 32 else (D_LAST2 if dc == 33 else dc)),
            ANY if wc == 0 else wc, x & 31)


def json_scan(data, st):
    """Incremental check that a JSON text is complete: feed its bytes in pieces with the same
    st = [depth, flags] (start with [0, 0]); complete when json_closed(st). MicroPython's json
    parser accepts a text whose outermost container is cut off at the end (e.g. '{"a": 1' or a
    calendar truncated after a special day), so a torn or incomplete text must be caught here."""
    depth = st[0]
    fl = st[1]  # bit 0 in a string, bit 1 after a backslash, bit 2 a container was opened
    for c in data:
        if fl & 1:
            if fl & 2:
                fl &= ~2
            elif c == 0x5C:  # backslash
                fl |= 2
            elif c == 0x22:  # quote
                fl &= ~1
        elif c == 0x22:
            fl |= 1
        elif c == 0x7B or c == 0x5B:  # { [
            depth += 1
            fl |= 4
        elif c == 0x7D or c == 0x5D:  # } ]
            depth -= 1
            if depth < 0:
                fl |= 8
    st[0] = depth
    st[1] = fl
    return st


def json_closed(st):
    return st[0] == 0 and (st[1] & 13) == 4


def load_json(text):
    """Parse and validate a calendar JSON text -> Calendar. ValueError with a clear message."""
    import json
    if not json_closed(json_scan(text.encode() if type(text) is str else text, [0, 0])):
        raise ValueError("tariff: not valid JSON (incomplete text)")
    try:
        obj = json.loads(text)
    except ValueError as e:
        raise ValueError("tariff: not valid JSON (%s)" % e)
    except Exception as e:
        raise ValueError("tariff: not valid JSON (%r)" % (e,))
    if not isinstance(obj, dict):
        raise ValueError("tariff: calendar: must be a JSON object")
    return from_dict(obj, _crc(text))


# ---------------------------------------------------------------- the service

_civil_packed = timeutil.civil_packed


class Tariff:
    def __init__(self, calendar, tz, events=None, clock=None):
        self.cal = calendar
        self.tz = tz
        self.events = events
        self.clock = clock
        self.passive = None
        self.activation = NEVER
        self.on_promote = None  # fn(calendar, t_act) after a passive calendar became active
        self.promote_errors = 0
        # cached segment [_lo, _hi) of constant rate
        self._lo = 1
        self._hi = 0
        self._rate = 1
        # cached day plan for local day _dn: profile _dpa before second-of-day _S, _dpb from _S
        self._dn = _NO_DAY
        self._dpa = 0
        self._dpb = 0
        self._S = 86400
        # billing-time guard
        self.bt = -1
        self._adj = False
        self._adj_old = 0
        self._adj_new = 0
        self._a0 = 0
        self._a1 = 0
        self._b0 = 0
        self._b1 = 0

    # -- calendar management
    def _install(self, cal):
        self.cal = cal
        self._dn = _NO_DAY
        self._lo = 1
        self._hi = 0

    def _log(self, t, code, a=0, b=0):
        if self.events is not None:
            self.events.add(t, code, a, b)

    def activate(self, calendar, now):
        self._install(calendar)
        self._log(now, ev.CALENDAR_ACTIVATED, calendar.ident, now)

    def load(self, text, now):
        """Parse text and make it the active calendar now; on error log, keep the old, raise."""
        try:
            cal = load_json(text)
        except ValueError:
            self._log(now, ev.CALENDAR_REJECTED, _crc(text), 0)
            raise
        self.activate(cal, now)
        return cal

    def set_passive(self, calendar, activation_t, now=0, log=True):
        """Schedule `calendar` to become active at activation_t (None cancels). log=False: restoring
        a persisted schedule at boot (no CALENDAR_PASSIVE event again)."""
        if calendar is None:
            self.passive = None
            self.activation = NEVER
        else:
            if type(activation_t) is not int or activation_t < 0 or activation_t >= NEVER:
                raise ValueError("tariff: bad activation time %r" % (activation_t,))
            self.passive = calendar
            self.activation = activation_t
            if log:
                self._log(now, ev.CALENDAR_PASSIVE, calendar.ident, activation_t)
        self._lo = 1
        self._hi = 0

    def load_passive(self, text, activation_t, now=0):
        try:
            cal = load_json(text)
        except ValueError:
            self._log(now, ev.CALENDAR_REJECTED, _crc(text), 1)
            raise
        self.set_passive(cal, activation_t, now)
        return cal

    def _promote(self):
        cal = self.passive
        t = self.activation
        self.passive = None
        self.activation = NEVER
        self._install(cal)
        self._log(t, ev.CALENDAR_ACTIVATED, cal.ident, t)
        cb = self.on_promote
        if cb is not None:
            try:
                cb(cal, t)
            except Exception:  # persistence trouble must never break the metering tick
                self.promote_errors += 1

    # -- evaluation
    def _plan(self, dn):
        """Choose the day profile(s) of local day dn (special day, else season/week profile)."""
        cal = self.cal
        p = _civil_packed(dn)
        y = p >> 9
        m = (p >> 5) & 15
        d = p & 31
        wd = (dn + 2) % 7 + 1
        dim = _clock.days_in_month(y, m)
        for sp in cal.specials:
            x = sp >> 18
            if x and x + 1999 != y:
                continue
            x = (sp >> 14) & 15
            if x:
                if x <= 12:
                    if x != m:
                        continue
                elif x == 13:
                    if m != self.tz.end_month:
                        continue
                elif m != self.tz.begin_month:
                    continue
            x = (sp >> 8) & 63
            if x:
                if x <= 31:
                    if x != d:
                        continue
                elif x == 32:
                    if d != dim:
                        continue
                elif d != dim - 1:
                    continue
            x = (sp >> 5) & 7
            if x and x != wd:
                continue
            sdp = sp & 31
            self._dn = dn
            self._dpa = sdp
            self._dpb = sdp
            self._S = 86400
            return
        # season in force at 00:00, and a season starting later today (at most one, validated)
        bd = _NO_DAY
        bs = 0
        bj = -1
        S = 86400
        wb = 0
        se_year = cal.se_year
        se_month = cal.se_month
        se_day = cal.se_day
        se_sod = cal.se_sod
        for j in range(len(se_year)):
            sy = se_year[j]
            sod = se_sod[j]
            if sy == ANY:
                od = timeutil.days_from_civil(y, se_month[j], se_day[j])
            else:
                od = timeutil.days_from_civil(sy, se_month[j], se_day[j])
            if od == dn and sod > 0:
                S = sod
                wb = cal.se_week[j]
                od = dn + 1  # not in force at 00:00
            if od > dn:
                if sy != ANY:
                    continue
                od = timeutil.days_from_civil(y - 1, se_month[j], se_day[j])
            if od > bd or (od == bd and sod > bs):
                bd = od
                bs = sod
                bj = j
        if bj < 0:
            bj = cal.first_season
        wk = cal.weeks[cal.se_week[bj]]
        self._dn = dn
        self._dpa = wk[wd - 1]
        self._S = S
        self._dpb = cal.weeks[wb][wd - 1] if S < 86400 else self._dpa

    def _seek(self, t):
        """Compute the segment [t, hi) of constant rate starting at t into the cache."""
        if t >= self.activation:
            self._promote()
        tz = self.tz
        loc = tz.local_secs(t)
        hi = tz.next_change(t)
        dn = loc // 86400
        sod = loc - dn * 86400
        if dn != self._dn:
            self._plan(dn)
        if sod < self._S:
            dp = self._dpa
            lim = self._S
        else:
            dp = self._dpb
            lim = 86400
        starts = self.cal.dp_starts[dp]
        n = len(starts)
        i = 0
        while i + 1 < n and starts[i + 1] <= sod:
            i += 1
        if i + 1 < n and starts[i + 1] < lim:
            lim = starts[i + 1]
        end = t + (lim - sod)
        if hi < end:
            end = hi
        if self.activation < end:
            end = self.activation
        self._lo = t
        self._hi = end
        self._rate = self.cal.dp_rates[dp][i]

    def rate_at(self, t):
        clk = self.clock
        if clk is not None and not clk.valid:
            return self.cal.invalid_rate
        if t < self._lo or t >= self._hi:
            self._seek(t)
        return self._rate

    def next_switch(self, t):
        clk = self.clock
        if clk is not None and not clk.valid:
            return NEVER
        if t < self._lo or t >= self._hi:
            self._seek(t)
        return self._hi

    def split(self, t0, t1, amount, out):
        clk = self.clock
        if clk is not None and not clk.valid:
            out[self.cal.invalid_rate - 1] += amount
            return
        if t0 < self._lo or t0 >= self._hi:
            self._seek(t0)
        if t1 <= self._hi:
            out[self._rate - 1] += amount
            return
        span = t1 - t0
        done = 0
        while True:
            e = self._hi
            if e >= t1:
                out[self._rate - 1] += amount - done
                return
            c = amount * (e - t0) // span
            out[self._rate - 1] += c - done
            done = c
            self._seek(e)

    # -- billing-time guard
    def resync(self, now):
        self.bt = now
        self._adj = False

    def on_adjust(self, old, new):
        if not self._adj:
            self._adj = True
            self._adj_old = old
        self._adj_new = new

    def advance(self, now):
        bt = self.bt
        if bt < 0:
            a0 = a1 = now
            b0 = b1 = 0
        elif self._adj:
            self._adj = False
            a0 = bt
            a1 = self._adj_old
            if a1 < a0:
                a1 = a0
            b0 = self._adj_new
            b1 = now
            if b1 < b0:
                b1 = b0
            if a1 == a0 and b1 == b0:
                a0 = a1 = now
        elif now >= bt:
            a0 = bt
            a1 = now
            b0 = b1 = 0
        else:
            a0 = a1 = now
            b0 = b1 = 0
        self._a0 = a0
        self._a1 = a1
        self._b0 = b0
        self._b1 = b1
        self.bt = now

    def split_tick(self, amount, out):
        la = self._a1 - self._a0
        lb = self._b1 - self._b0
        if lb <= 0:
            self.split(self._a0, self._a1, amount, out)
        elif la <= 0:
            self.split(self._b0, self._b1, amount, out)
        else:
            pa = amount * la // (la + lb)
            self.split(self._a0, self._a1, pa, out)
            self.split(self._b0, self._b1, amount - pa, out)

    def account(self, now, amount, out):
        bt = self.bt
        if now >= bt >= 0 and not self._adj:  # the common case, inlined: [bt, now)
            self.bt = now
            self._a0 = bt
            self._a1 = now
            self._b0 = self._b1 = 0
            clk = self.clock
            if (clk is None or clk.valid) and self._lo <= bt and now <= self._hi and bt < self._hi:
                out[self._rate - 1] += amount  # inside the cached segment (split's fast path)
                return
            self.split(bt, now, amount, out)
            return
        self.advance(now)
        self.split_tick(amount, out)

    # -- views
    def current_rate(self):
        """Rate of the last accounted tick (for P1 0-0:96.14.0 and displays)."""
        return self.rate_at(self.bt if self.bt >= 0 else 0)


def default_calendar():
    """The NL two-rate calendar without holidays (used only if tariff.json can't be read):
    weekdays 07:00-23:00 rate 2, otherwise rate 1."""
    return from_dict({
        "name": "NL two-rate (built-in fallback, no holidays)",
        "day_profiles": {"workday": [["00:00", 1], ["07:00", 2], ["23:00", 1]], "offpeak": [["00:00", 1]]},
        "week_profiles": {"nl": ["workday"] * 5 + ["offpeak"] * 2},
        "seasons": [{"name": "all year", "start": "*-01-01 00:00", "week": "nl"}],
    })
