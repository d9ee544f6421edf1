# Tariff calendar: parsing and validation of the activity calendar JSON (firmware/config/TARIFF.md)
# into a compact Calendar (tuples of small ints), and the special-day matching the rate engine and
# the prepayment friendly periods share. Sans-I/O.
#
#   load_json(text) -> Calendar        from_dict(obj, ident) -> Calendar      ValueError: the reason
#   json_scan(data, st) / json_closed(st)   incremental completeness check of a JSON text
#   match_special(specials, dn, tz)    day-profile index of the first matching packed special day
#                                      on local day number dn, or -1
#   parse_special_date(s, path), pack_special(y, m, d, wd, dp), unpack_special(x)
#   SpecialDays(cal, n).add(entry, k) ... .finish()   special days built one entry at a time
#   CalendarSpans().feed(data, offset)   where the parts and the special days are in a text, for
#                                      decoding a large calendar part by part (tariff_config.py)
#   default_calendar()                 the built-in NL two-rate fallback
#
# Calendar semantics (the rate engine, engine.py, evaluates them): all calendar times are LOCAL
# wall-clock times. Special days select the day profile for a whole day, overriding the week
# profile; if several match, the most specific wins (most non-wildcard fields among year, month,
# day, weekday), then file order. Otherwise the season in force (latest start <= the local date and
# time) gives the week profile, and the week profile the day profile of the weekday. Every day
# profile has an action at 00:00 (validated), so nothing carries over from the previous day.
from array import array

from meter.common import timeutil
from meter.common.crc import crc32
from meter.common.timezone import TimeZone, days_in_month

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
        lim = days_in_month(y, m) if y != ANY else days_in_month(2000, m)
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
    if d > days_in_month(2001 if y == ANY else y, m):
        _err(path, "season start %r does not exist" % s)
    return y, m, d, sod


def _check_keys(obj, allowed, path):
    if not isinstance(obj, dict):
        _err(path, "must be an object")
    for k in obj:
        if k not in allowed:
            _err(path, "unknown key %r" % (k,))


def text_ident(text):
    """Calendar ident of a JSON text: its CRC-32 & 0x3FFFFFFF (events a/b, C.90.x objects)."""
    return crc32(text.encode() if type(text) is str else text) & 0x3FFFFFFF


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
            TimeZone.from_config(obj["clock"])  # validated here, used by MeterClock at boot
        except ValueError as e:
            raise ValueError("tariff: %s" % e)
    dp_index = _day_profiles(obj.get("day_profiles"), cal)
    w_index = _week_profiles(obj.get("week_profiles"), dp_index, cal)
    _seasons(obj.get("seasons"), w_index, cal)
    sps = obj.get("special_days", [])
    if not isinstance(sps, list):
        _err("special_days", "must be a list of {date, day}")
    b = SpecialDays(cal, len(sps))
    for k in range(len(sps)):
        b.add(sps[k], k)
    cal.specials = b.finish()
    return cal


def _day_profiles(dps, cal):
    """cal.dp_names / dp_starts / dp_rates / rates_used; returns {name: index} for the week
    profiles and special days that refer to them."""
    rates_used = cal.invalid_rate
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
    return dp_index


def _week_profiles(wps, dp_index, cal):
    """cal.week_names / weeks (7 day-profile indices each); returns {name: index}."""
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
    return w_index


def _seasons(ses, w_index, cal):
    """cal.season_names, se_year/se_month/se_day/se_sod/se_week, first_season."""
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


class SpecialDays:
    """Builds the packed special days one entry at a time (so a caller can parse a large calendar
    entry by entry instead of holding the whole decoded list): add(entry, k) for k = 0..n-1 in
    file order, then finish() -> tuple in match priority order (most specific first, file order).
    No per-entry heap object survives add() (only preallocated lists of small ints): with the parse
    garbage in between, long-lived small tuples would fragment a 100 KB heap so badly that a 1 KB
    block could not be found with 30 KB free."""

    def __init__(self, cal, n):
        if n > LIMIT_SPECIAL_DAYS:
            _err("special_days", "at most %d special days" % LIMIT_SPECIAL_DAYS)
        self.dp_index = {nm: i for i, nm in enumerate(cal.dp_names)}
        self.n = n
        self.keys = [0] * n  # packed date fields, for the duplicate check
        self.vals = [0] * n  # packed special day
        self.prio = bytearray(n)  # specificity 0..4

    def add(self, s, k):
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
        if type(dn) is not str or dn not in self.dp_index:
            _err(path + ".day", "unknown day profile %r" % (dn,))
        self.keys[k] = pack_special(y, m, d, wd, 0)
        self.vals[k] = pack_special(y, m, d, wd, self.dp_index[dn])
        self.prio[k] = (y != ANY) + (m != ANY) + (d != ANY) + (wd != ANY)

    def finish(self):
        n = self.n
        keys = self.keys
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
        out = [0] * n
        j = 0
        for spec in (4, 3, 2, 1, 0):
            for k in range(n):
                if self.prio[k] == spec:
                    out[j] = self.vals[k]
                    j += 1
        return tuple(out)


class CalendarSpans:
    """Where the parts of a calendar JSON text are, found by feeding the text in pieces
    (feed(data, offset)): for every key of the top-level object the byte span of its value
    (keys[i], vstart[i], vend[i]) and, inside the "special_days" array, the span of every object
    (starts[k], ends[k]); counts nkeys and nstarts. With them a caller decodes a large calendar part by part: no contiguous
    allocation larger than one part, and never the whole decoded special-day list (a fragmented
    96 KB heap has 16 KB free but no 1.4 KB hole). `usable()` is False for a text that is not a
    plain object of such parts (the caller then decodes it whole and gets the usual error)."""

    MAX_KEY = 24
    MAX_PARTS = 16  # top-level keys (the schema has 9)

    def __init__(self):
        # preallocated once (an owner keeps one scanner): no list growth while a fragmented heap
        # is parsing; 16-bit offsets (a calendar text beyond 64 KB is decoded whole and refused)
        self.keys = [None] * self.MAX_PARTS
        self.vstart = array("H", bytes(2 * self.MAX_PARTS))
        self.vend = array("H", bytes(2 * self.MAX_PARTS))
        self.starts = array("H", bytes(2 * LIMIT_SPECIAL_DAYS))
        self.ends = array("H", bytes(2 * LIMIT_SPECIAL_DAYS))
        self.reset()

    def reset(self):
        self.depth = 0
        self.instr = False
        self.esc = False
        self.key = bytearray(self.MAX_KEY)
        self.klen = -1  # length of the key being read (-1: none, MAX_KEY+1: too long)
        self.cur = None  # the key whose value comes next
        self.nkeys = 0
        self.nvend = 0
        self.in_sd = False  # inside the special_days array
        self.exp = self._KEY
        self.gap = False
        self.nstarts = 0
        self.nends = 0
        self.bad = False

    # what the top-level object expects next
    _KEY = 0
    _COLON = 1
    _VALUE = 2
    _NEXT = 3  # ',' or '}'
    _DONE = 4

    def feed(self, data, base):
        for i in range(len(data)):
            c = data[i]
            pos = base + i
            if self.instr:
                if self.esc:
                    self.esc = False
                elif c == 0x5C:
                    self.esc = True
                elif c == 0x22:
                    self.instr = False
                    if self.klen >= 0:  # a key ended
                        if self.klen > self.MAX_KEY:
                            self.bad = True
                        else:
                            self.cur = bytes(self.key[:self.klen]).decode()
                        self.klen = -1
                        self.exp = self._COLON
                elif 0 <= self.klen < self.MAX_KEY:
                    self.key[self.klen] = c
                    self.klen += 1
                elif self.klen >= 0:
                    self.klen = self.MAX_KEY + 1
                continue
            if c in (0x20, 0x0A, 0x0D, 0x09):
                if self.depth == 1 and self.exp == self._NEXT:
                    self.gap = True  # a scalar value cannot go on after white space
                continue
            d = self.depth
            if d == 0:
                if c != 0x7B or self.exp != self._KEY or self.nkeys:
                    self.bad = True  # not one object, or something after it
                self.depth = 1
                continue
            if d == 1:
                e = self.exp
                if e == self._KEY:
                    if c == 0x22:
                        self.instr = True
                        self.klen = 0
                    elif c == 0x7D and not self.nkeys:
                        self.depth = 0  # {}
                        self.exp = self._DONE
                    else:
                        self.bad = True
                    continue
                if e == self._COLON:
                    if c == 0x3A:
                        self.exp = self._VALUE
                    else:
                        self.bad = True
                    continue
                if e == self._VALUE:
                    if self.nkeys == self.MAX_PARTS or pos > 0xFFFF:
                        self.bad = True
                        continue
                    self.keys[self.nkeys] = self.cur
                    self.vstart[self.nkeys] = pos
                    self.nkeys += 1
                    self.exp = self._NEXT
                    self.gap = False
                    if self.cur == "special_days" and c == 0x5B:
                        self.in_sd = True
                    if c == 0x22:
                        self.instr = True
                        continue
                    if c == 0x7B or c == 0x5B:
                        self.depth = 2
                    continue
                # _NEXT: after a value
                if c == 0x2C or c == 0x7D:
                    if self.nvend < self.nkeys:
                        self.vend[self.nvend] = pos
                        self.nvend += 1
                    self.gap = False
                    if c == 0x2C:
                        self.exp = self._KEY
                    else:
                        self.depth = 0
                        self.exp = self._DONE
                elif self.gap or c in (0x22, 0x3A, 0x7B, 0x5B, 0x5D):
                    self.bad = True  # two values, or a key without a comma before it
                # else: still inside a scalar value (digits, true, ...)
                continue
            if c == 0x22:
                self.instr = True
                continue
            if self.in_sd and d == 2 and c not in (0x7B, 0x2C, 0x5D):
                self.bad = True  # a value other than an object in the special days
            if c == 0x7B or c == 0x5B:
                self.depth = d + 1
                if d == 2 and self.in_sd:
                    if self.nstarts == LIMIT_SPECIAL_DAYS or pos > 0xFFFF:
                        self.bad = True
                    else:
                        self.starts[self.nstarts] = pos
                        self.nstarts += 1
            elif c == 0x7D or c == 0x5D:
                self.depth = d - 1
                if d == 3 and self.in_sd and self.nends < self.nstarts:
                    self.ends[self.nends] = pos + 1
                    self.nends += 1
                elif d == 2:
                    self.in_sd = False

    def usable(self):
        return (not self.bad and self.exp == self._DONE and self.nkeys == self.nvend and
                self.nstarts == self.nends)

    def special(self):
        """Index of the special_days value, or -1."""
        for i in range(self.nkeys):
            if self.keys[i] == "special_days":
                return i
        return -1


# A special day is one small int (4 bytes in the tuple instead of a 5-tuple):
#   bits 18..24 year-1999 (0 = any) | 14..17 month 1..12, 13 = DST end, 14 = DST begin (0 = any)
#   | 8..13 day 1..31, 32 = last, 33 = second last (0 = any) | 5..7 weekday 1..7 (0 = any)
#   | 0..4 day profile index
def pack_special(y, m, d, wd, dp):
    yc = 0 if y == ANY else y - 1999
    mc_ = 0 if m == ANY else (13 if m == M_DST_END else (14 if m == M_DST_BEGIN else m))
    dc = 0 if d == ANY else (32 if d == D_LAST else (33 if d == D_LAST2 else d))
    wc = 0 if wd == ANY else wd
    return (yc << 18) | (mc_ << 14) | (dc << 8) | (wc << 5) | dp


def match_special(specials, dn, tz):
    """Day-profile index of the first packed special day in `specials` (priority order) that
    matches local day number dn (days since 2020-01-01), or -1. tz gives the DST begin/end months
    for the DB/DE month wildcards. Allocation-free."""
    p = timeutil.civil_packed(dn)
    y = p >> 9
    m = (p >> 5) & 15
    d = p & 31
    wd = (dn + 2) % 7 + 1
    dim = days_in_month(y, m)
    for sp in specials:
        x = sp >> 18
        if x and x + 1999 != y:
            continue
        x = (sp >> 14) & 15
        if x:
            if x <= 12:
                if x != m:
                    continue
            elif x == 13:
                if m != tz.end_month:
                    continue
            elif m != tz.begin_month:
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
        return sp & 31
    return -1


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
    except (MemoryError, RuntimeError) as e:  # too big, or nested past the parser's recursion limit
        raise ValueError("tariff: not valid JSON (%r)" % (e,))
    if not isinstance(obj, dict):
        raise ValueError("tariff: calendar: must be a JSON object")
    return from_dict(obj, text_ident(text))



def default_calendar():
    """The NL two-rate calendar without holidays (used only if tariff.json can't be read):
    weekdays 07:00-23:00 rate 2, otherwise rate 1."""
    return from_dict({
        "name": "NL two-rate (built-in fallback, no holidays)",
        "day_profiles": {"workday": [["00:00", 1], ["07:00", 2], ["23:00", 1]], "offpeak": [["00:00", 1]]},
        "week_profiles": {"nl": ["workday"] * 5 + ["offpeak"] * 2},
        "seasons": [{"name": "all year", "start": "*-01-01 00:00", "week": "nl"}],
    })
