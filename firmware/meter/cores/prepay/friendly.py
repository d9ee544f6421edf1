# Friendly periods of a prepayment account: times in which nothing is disconnected for lack of
# credit (nights, weekends, public holidays). Consumption still counts and may run into debt.
#
# Configuration (dict, all optional):
#   "hours": {weekday: [[start_h, end_h], ...]}   weekday "1".."7" (ISO, Monday = 1) or "*" for
#            every day; local hours 0..24, start < end (e.g. {"*": [[18, 24], [0, 8]]})
#   "special_days": ["YYYY-MM-DD", ...]   whole friendly days, with the tariff calendar's date
#            wildcards ('*' year/month/day, 'DB'/'DE' DST months, 'L'/'L2' last days) and matched
#            by the calendar's own special-day matching (cores/tariff/calendar.match_special)
#
#   f = FriendlyPeriods(config, tz)      ValueError naming the culprit
#   f.active(t)                          True inside a friendly period (local time of tz)
# Allocation-free at run time: a week of hour bits (7 x 24 bits) and a tuple of packed days.
from meter.cores.tariff.calendar import parse_special_date, pack_special, match_special

_ALL_DAYS = 0xFFFFFF


class FriendlyPeriods:
    def __init__(self, config=None, tz=None):
        cfg = config or {}
        for k in cfg:
            if k not in ("hours", "special_days"):
                raise ValueError("friendly periods: unknown key %r" % (k,))
        self.tz = tz
        self.week = [0] * 7  # bit h set: local hour h of that weekday is friendly
        hours = cfg.get("hours", {})
        if not isinstance(hours, dict):
            raise ValueError("friendly periods: hours must be {weekday: [[start, end], ...]}")
        for wd, spans in hours.items():
            days = range(7) if wd == "*" else (self._weekday(wd),)
            if not isinstance(spans, list):
                raise ValueError("friendly periods: hours[%s] must be a list of [start, end]" % wd)
            for sp in spans:
                if (not isinstance(sp, list) or len(sp) != 2 or type(sp[0]) is not int or
                        type(sp[1]) is not int or not 0 <= sp[0] < sp[1] <= 24):
                    raise ValueError("friendly periods: hours[%s]: want [start, end], 0 <= start < end <= 24" % wd)
                bits = ((1 << sp[1]) - 1) & ~((1 << sp[0]) - 1)
                for d in days:
                    self.week[d] |= bits
        sp = cfg.get("special_days", [])
        if not isinstance(sp, list) or len(sp) > 64:
            raise ValueError("friendly periods: special_days must be a list of at most 64 dates")
        packed = []
        for k, s in enumerate(sp):
            y, m, d = parse_special_date(s, "friendly.special_days[%d]" % k)
            packed.append(pack_special(y, m, d, -1, 0))
        self.special = tuple(packed)
        self.configured = bool(self.special) or any(self.week)

    @staticmethod
    def _weekday(wd):
        if not (isinstance(wd, str) and len(wd) == 1 and "1" <= wd <= "7"):
            raise ValueError("friendly periods: weekday must be '1'..'7' or '*', got %r" % (wd,))
        return ord(wd) - 49

    def active(self, t):
        if not self.configured:
            return False
        loc = self.tz.local_secs(t)
        dn = loc // 86400
        if self.special and match_special(self.special, dn, self.tz) >= 0:
            return True
        wd = (dn + 2) % 7  # 0 = Monday (2020-01-01 was a Wednesday)
        return (self.week[wd] >> ((loc - dn * 86400) // 3600)) & 1 == 1
