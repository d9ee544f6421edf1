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
# The rate engine
# ---------------
#   Tariff(calendar, tz, events=None, clock=None)
#       calendar  a Calendar (calendar.load_json / default_calendar) ; tz the meter's TimeZone
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
#                             segment. The metrology calls it per tick with the tick's interval.
#   activate(calendar, now) / load(text, now)            swap the active calendar now (atomic)
#   set_passive(calendar, t_act, now, log=True) / load_passive(text, t_act, now)
#                          schedule a calendar: from t_act on (evaluated lazily, on the first
#                          evaluation at or after t_act, e.g. the tick crossing it, split exactly
#                          at t_act) it becomes the active one; CALENDAR_ACTIVATED is logged with
#                          t = t_act. t_act is usually tz.next_month_start(now) (local midnight on
#                          the 1st). set_passive(None, ...) cancels. While the clock is invalid
#                          nothing is evaluated, so a due activation waits until the clock is set.
#   take_promoted()        -> (calendar, t_act) of a passive calendar that became active since the
#                          last call, else None. The engine never touches storage: the tariff
#                          configuration service (services/tariff_config.py) polls this after each
#                          metering tick and makes the files say so.
#   A bad calendar (load / load_passive) raises ValueError with the reason, logs CALENDAR_REJECTED
#   and changes nothing.
#
# Wiring (app):
#   tariff = Tariff(load_json(text), clock.tz, events, clock)     # default_calendar() if unreadable
#   metering tick: metrology.tick(now) calls tariff.split(t0, t1, counts, out) per quantity
#   after the tick: tariff_config.after_tick()   (persists a promotion)
from meter.common import timeutil
from meter.common import events as ev
from meter.common.timezone import NEVER
from meter.cores.tariff.calendar import load_json, text_ident, match_special, ANY

_NO_DAY = -NEVER
_civil_packed = timeutil.civil_packed


class Tariff:
    def __init__(self, calendar, tz, events=None, clock=None):
        self.cal = calendar
        self.tz = tz
        self.events = events
        self.clock = clock
        self.passive = None
        self.activation = NEVER
        self._promoted = None  # calendar of a promotion not yet taken by the owner (and its t_act)
        self._promoted_t = 0
        # cached segment [_lo, _hi) of constant rate
        self._lo = 1
        self._hi = 0
        self._rate = 1
        # cached day plan for local day _dn: profile _dpa before second-of-day _S, _dpb from _S
        self._dn = _NO_DAY
        self._dpa = 0
        self._dpb = 0
        self._S = 86400

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
            self._log(now, ev.CALENDAR_REJECTED, text_ident(text), 0)
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
            self._log(now, ev.CALENDAR_REJECTED, text_ident(text), 1)
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
        self._promoted = cal  # no allocation inside the metering tick
        self._promoted_t = t

    def take_promoted(self):
        """(calendar, t_act) of the latest promotion not yet taken, else None (see the header)."""
        cal = self._promoted
        if cal is None:
            return None
        self._promoted = None
        return cal, self._promoted_t

    # -- evaluation
    def _plan(self, dn):
        """Choose the day profile(s) of local day dn (special day, else season/week profile)."""
        cal = self.cal
        y = _civil_packed(dn) >> 9
        wd = (dn + 2) % 7 + 1
        sdp = match_special(cal.specials, dn, self.tz)
        if sdp >= 0:
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
