"""Property tests of the MicroPython tariff engine against an independent CPython reference.

The reference below is written from the calendar semantics in firmware/config/TARIFF.md, using
datetime + zoneinfo('Europe/Amsterdam') for local time; it shares no code with the firmware. Each
hypothesis example is one batch (several random calendars x many instants) evaluated by one
MicroPython subprocess per interpreter (JSON on stdin, results on stdout).
"""
import calendar as pycal
import datetime as dt
import json
import os
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, Phase, given, settings, strategies as st

from conftest import INTERPRETERS, ROOT, run_mp

AMS = ZoneInfo("Europe/Amsterdam")
UNIX_OFFSET = 1577836800  # 2020-01-01T00:00:00Z
T_MIN = 0
T_MAX = int(dt.datetime(2050, 12, 31, tzinfo=dt.timezone.utc).timestamp()) - UNIX_OFFSET
DST_BEGIN_MONTH, DST_END_MONTH = 3, 10

pytestmark = pytest.mark.skipif(not all(os.path.exists(p) for p in INTERPRETERS.values()),
                                reason="MicroPython interpreters not built (make interpreters)")

# ------------------------------------------------------------------ MicroPython side

DRIVER = r"""
import sys, json
from meter.cores.tariff import engine as tf
from meter.cores.tariff import calendar as tcal
from meter.services import clock as mc
from meter.common import timezone as tzm
tz = tzm.TimeZone()
req = json.loads(sys.stdin.read())
res = []
for case in req:
    try:
        cal = tcal.load_json(case["cal"])
    except ValueError as e:
        res.append({"error": str(e)})
        continue
    t = tf.Tariff(cal, tz)
    rates = [t.rate_at(x) for x in case["instants"]]
    nxt = [t.next_switch(x) for x in case["next"]]
    splits = []
    for t0, t1, amount in case["splits"]:
        out = [0] * 8
        t.split(t0, t1, amount, out)
        splits.append(out)
    res.append({"rates": rates, "next": nxt, "splits": splits})
print(json.dumps(res))
"""


def run_engine(interp, cases):
    p = run_mp(interp, ["-c", DRIVER], heap="2M", input_data=json.dumps(cases), timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    return json.loads(p.stdout)


# ------------------------------------------------------------------ independent reference

def parse_hm(s):
    parts = [int(x) for x in s.split(":")]
    while len(parts) < 3:
        parts.append(0)
    return dt.time(*parts)


class Ref:
    """Brute-force evaluation of a calendar object (the JSON dict) with datetime."""

    def __init__(self, obj):
        self.dp = {}
        for name, acts in obj["day_profiles"].items():
            self.dp[name] = sorted((parse_hm(a), r) for a, r in acts)
        self.wp = obj["week_profiles"]
        self.seasons = []
        for s in obj["seasons"]:
            date, _, time = s["start"].partition(" ")
            y, m, d = date.split("-")
            tm = parse_hm(time) if time else dt.time(0)
            self.seasons.append((None if y == "*" else int(y), int(m), int(d), tm, s["week"]))
        self.specials = []
        for i, s in enumerate(obj.get("special_days", [])):
            y, m, d = s["date"].split("-")
            wd = s.get("weekday")
            fields = (None if y == "*" else int(y), None if m == "*" else m, None if d == "*" else d, wd)
            spec = sum(f is not None for f in fields)
            self.specials.append((spec, -i, fields, s["day"]))
        self._day_cache = {}

    def special_day(self, date):
        best = None
        for spec, negi, (y, m, d, wd), day in self.specials:
            if y is not None and y != date.year:
                continue
            if m is not None:
                want = {"DB": DST_BEGIN_MONTH, "DE": DST_END_MONTH}.get(m)
                if want is None:
                    want = int(m)
                if date.month != want:
                    continue
            if d is not None:
                last = pycal.monthrange(date.year, date.month)[1]
                want = {"L": last, "L2": last - 1}.get(d)
                if want is None:
                    want = int(d)
                if date.day != want:
                    continue
            if wd is not None and date.isoweekday() != wd:
                continue
            if best is None or (spec, negi) > best[:2]:
                best = (spec, negi, day)
        return None if best is None else best[2]

    def season_week(self, local):
        best = None
        for y, m, d, tm, week in self.seasons:
            years = [local.year, local.year - 1] if y is None else [y]
            for yy in years:
                start = dt.datetime.combine(dt.date(yy, m, d), tm)
                if start <= local and (best is None or start > best[0]):
                    best = (start, week)
        if best is None:  # before the first start of a fixed-year calendar: the earliest season
            fixed = [(dt.datetime.combine(dt.date(y, m, d), tm), week) for y, m, d, tm, week in self.seasons
                     if y is not None]
            best = min(fixed)
        return best[1]

    def day_actions(self, local):
        date = local.date()
        acts = self._day_cache.get(date)
        if acts is None:
            day = self.special_day(date)
            cacheable = True
            if day is None:
                day = self.wp[self.season_week(local)][local.isoweekday() - 1]
                # a season starting later on this date changes the profile within the day
                cacheable = not any(m == date.month and d == date.day and tm != dt.time(0)
                                    for y, m, d, tm, week in self.seasons)
            acts = self.dp[day]
            if cacheable:
                self._day_cache[date] = acts
        return acts

    def rate_local(self, local):
        acts = self.day_actions(local)
        rate = acts[0][1]
        for tm, r in acts:
            if tm <= local.time():
                rate = r
        return rate

    def rate(self, t):
        local = dt.datetime.fromtimestamp(t + UNIX_OFFSET, AMS).replace(tzinfo=None)
        return self.rate_local(local)

    def seconds_per_rate(self, t0, t1):
        """Seconds of [t0, t1) in each rate; the rate is constant within each UTC minute because all
        switch times are whole minutes and offsets are whole hours."""
        out = [0] * 8
        m = t0 - t0 % 60
        while m < t1:
            a, b = max(m, t0), min(m + 60, t1)
            out[self.rate(m) - 1] += b - a
            m += 60
        return out

    def change_points(self, t0, t1):
        pts = []
        m = t0 - t0 % 60 + 60
        prev = self.rate(t0)
        while m < t1:
            r = self.rate(m)
            if r != prev:
                pts.append(m)
                prev = r
            m += 60
        return pts

    def split(self, t0, t1, amount):
        out = [0] * 8
        if t1 <= t0:
            out[self.rate(t0) - 1] += amount
            return out
        bounds = [t0] + self.change_points(t0, t1) + [t1]
        prev = 0
        for a, b in zip(bounds, bounds[1:]):
            c = amount * (b - t0) // (t1 - t0)
            out[self.rate(a) - 1] += c - prev
            prev = c
        return out


def to_meter(local_naive):
    """meter seconds of an Amsterdam local wall time (fold=0)."""
    return int(local_naive.replace(tzinfo=AMS).timestamp()) - UNIX_OFFSET


# ------------------------------------------------------------------ random calendars

def hm(sod):
    return "%02d:%02d" % (sod // 3600, sod // 60 % 60)


@st.composite
def calendars(draw):
    n_dp = draw(st.integers(1, 4))
    dps = {}
    for i in range(n_dp):
        minutes = draw(st.lists(st.integers(1, 1439), max_size=5, unique=True))
        # bias some switch points into the DST hours 02:00-03:00
        if draw(st.booleans()):
            minutes.append(draw(st.integers(120, 179)))
        minutes = sorted(set(minutes))
        dps["dp%d" % i] = [["00:00", draw(st.integers(1, 8))]] + [[hm(m * 60), draw(st.integers(1, 8))] for m in minutes]
    names = sorted(dps)
    n_wp = draw(st.integers(1, 3))
    wps = {"wk%d" % i: [draw(st.sampled_from(names)) for _ in range(7)] for i in range(n_wp)}
    wnames = sorted(wps)
    seasons, used = [], []
    for j in range(draw(st.integers(1, 4))):
        fixed = draw(st.integers(0, 4)) == 0
        y = draw(st.integers(2021, 2048)) if fixed else None
        m = draw(st.integers(1, 12))
        d = draw(st.integers(1, 28 if m == 2 else pycal.monthrange(2001, m)[1]))
        clash = any(um == m and ud == d and (uy is None or y is None or uy == y) for uy, um, ud in used)
        if clash:
            continue
        used.append((y, m, d))
        tm = 0 if draw(st.integers(0, 2)) else draw(st.integers(0, 1439)) * 60
        seasons.append({"name": "s%d" % j, "start": "%s-%02d-%02d %s" % ("*" if y is None else "%04d" % y, m, d, hm(tm)),
                        "week": draw(st.sampled_from(wnames))})
    specials, keys = [], set()
    for k in range(draw(st.integers(0, 6))):
        y = draw(st.one_of(st.just("*"), st.integers(2020, 2050).map(lambda v: "%04d" % v)))
        m = draw(st.one_of(st.just("*"), st.just("DB"), st.just("DE"), st.integers(1, 12).map(str)))
        if m.isdigit():
            dim = pycal.monthrange(2000 if y == "*" else int(y), int(m))[1]
        else:
            dim = 31
        d = draw(st.one_of(st.just("*"), st.just("L"), st.just("L2"), st.integers(1, dim).map(str)))
        wd = draw(st.one_of(st.none(), st.integers(1, 7)))
        if wd is not None and y != "*" and m.isdigit() and d.isdigit():
            wd = None  # fully dated: a weekday would only be consistent or rejected
        key = (y, m, d, wd)
        if key in keys:
            continue
        keys.add(key)
        e = {"date": "%s-%s-%s" % (y, m, d), "day": draw(st.sampled_from(names))}
        if wd is not None:
            e["weekday"] = wd
        specials.append(e)
    obj = {"version": 1, "day_profiles": dps, "week_profiles": wps, "seasons": seasons, "special_days": specials}
    if draw(st.booleans()):
        obj["invalid_clock_rate"] = draw(st.integers(1, 8))
    return obj


@st.composite
def instants(draw, obj):
    """Random instants, many of them at or next to local switch points, midnights, DST transitions
    and season starts."""
    out = []
    for _ in range(30):
        kind = draw(st.integers(0, 3))
        if kind == 0:
            out.append(draw(st.integers(T_MIN, T_MAX)))
            continue
        y = draw(st.integers(2020, 2049))
        if kind == 1:  # a DST transition (01:00 UTC on the last Sunday of March / October)
            mo = draw(st.sampled_from([3, 10]))
            last = max(d for d in range(25, 32) if dt.date(y, mo, d).isoweekday() == 7)
            base = int(dt.datetime(y, mo, last, 1, tzinfo=dt.timezone.utc).timestamp()) - UNIX_OFFSET
            base += draw(st.sampled_from([-3600, -1, 0, 1, 1800, 3600, 5400]))
        else:
            mo = draw(st.integers(1, 12))
            d = draw(st.integers(1, pycal.monthrange(y, mo)[1]))
            if kind == 2:
                dp = obj["day_profiles"][draw(st.sampled_from(sorted(obj["day_profiles"])))]
                tm = parse_hm(draw(st.sampled_from(dp))[0])
            else:
                s = draw(st.sampled_from(obj["seasons"]))
                _, mo, d = s["start"].split(" ")[0].split("-")
                mo, d = int(mo), int(d)
                tm = parse_hm(s["start"].split(" ")[1])
            base = to_meter(dt.datetime.combine(dt.date(y, mo, d), tm))
        out.append(base + draw(st.sampled_from([-61, -1, 0, 0, 1, 59, 3600])))
    return [t for t in out if T_MIN <= t <= T_MAX]


@st.composite
def batches(draw):
    cases = []
    for _ in range(draw(st.integers(3, 6))):
        obj = draw(calendars())
        ts = draw(instants(obj))
        nxt = ts[:6]
        splits = []
        for t0 in ts[6:10]:
            span = draw(st.sampled_from([1, 60, 900, 3599, 86400, 2 * 86400 + 17]))
            amount = draw(st.one_of(st.integers(0, 10 ** 6), st.integers(0, 10 ** 13)))
            splits.append([t0, min(t0 + span, T_MAX), amount])
        cases.append((obj, ts, nxt, splits))
    return cases


# No shrinking: every shrink step costs two interpreter runs; the assertion messages name the
# calendar and the instant, which is what a failure needs.
@settings(max_examples=12, deadline=None, database=None, suppress_health_check=list(HealthCheck),
          phases=(Phase.explicit, Phase.generate))
@given(batches())
def test_engine_matches_reference(batch):
    reqs = [{"cal": json.dumps(obj), "instants": ts, "next": nxt, "splits": splits} for obj, ts, nxt, splits in batch]
    for interp in INTERPRETERS:
        res = run_engine(interp, reqs)
        for (obj, ts, nxt, splits), r in zip(batch, res):
            assert "error" not in r, (r, obj)
            ref = Ref(obj)
            for t, got in zip(ts, r["rates"]):
                assert got == ref.rate(t), (interp, t, got, ref.rate(t), obj)
            for t, ns in zip(nxt, r["next"]):
                assert ns > t
                # the rate must not change inside [t, ns): every change is on a UTC minute
                horizon = min(ns, t + 3 * 86400, T_MAX)
                r0 = ref.rate(t)
                assert ref.rate(horizon - 1) == r0, (interp, t, ns, obj)
                assert not ref.change_points(t, horizon), (interp, t, ns, ref.change_points(t, horizon), obj)
            for (t0, t1, amount), got in zip(splits, r["splits"]):
                assert sum(got) == amount
                assert got == ref.split(t0, t1, amount), (interp, t0, t1, amount, got, obj)


# ------------------------------------------------------------------ year simulation

YEAR_DRIVER = r"""
import sys, json
from meter.cores.tariff import engine as tf
from meter.cores.tariff import calendar as tcal
from meter.common import timezone as tzm
tz = tzm.TimeZone()
req = json.loads(sys.stdin.read())
res = []
for path, start, end, step in req:
    with open(path) as f:
        t = tf.Tariff(tcal.load_json(f.read()), tz)
    out = [0] * 8
    now = start
    n = 0
    while now < end:
        nxt = now + step
        if nxt > end:
            nxt = end
        t.split(now, nxt, nxt - now, out)   # 1 W*s per second, as the metrology tick splits
        now = nxt
        n += 1
    res.append([out, n])
print(json.dumps(res))
"""


def test_year_simulation_leap_year_2028():
    start = to_meter(dt.datetime(2028, 1, 1)) - 437  # ticks not aligned with any switch point
    end = to_meter(dt.datetime(2029, 1, 1)) + 250
    files = ["firmware/config/tariff.json", "firmware/config/tariff_3season_4rate.json"]
    req = [[f, start, end, 900] for f in files]
    refs = []
    for f in files:
        with open(os.path.join(ROOT, f)) as fh:
            refs.append(Ref(json.load(fh)).seconds_per_rate(start, end))
    assert sum(refs[0]) == end - start
    assert refs[0][1] > 0 and refs[1][3] > 0
    for interp in INTERPRETERS:
        p = run_mp(interp, ["-c", YEAR_DRIVER], heap="1M", input_data=json.dumps(req), timeout=300)
        assert p.returncode == 0, p.stderr[-3000:]
        res = json.loads(p.stdout)
        for f, (out, n), ref in zip(files, res, refs):
            assert n == -(-(end - start) // 900)
            assert out == ref, (interp, f, out, ref)


# ------------------------------------------------------------------ malformed calendars

FUZZ_DRIVER = r"""
import sys, json
from meter.cores.tariff import engine as tf
from meter.cores.tariff import calendar as tcal
res = []
for text in json.loads(sys.stdin.read()):
    try:
        tcal.load_json(text)
        res.append("ok")
    except ValueError as e:
        res.append("ValueError" if str(e).startswith("tariff") else "bad message: " + str(e))
    except Exception as e:
        res.append("%s: %s" % (type(e).__name__, e))
print(json.dumps(res))
"""

json_values = st.recursive(st.none() | st.booleans() | st.integers(-2 ** 40, 2 ** 40) | st.text(max_size=12)
                           | st.sampled_from(["*-12-25", "00:00", "workday", "nl", "25:00", "*-*-L", "DE"]),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                           max_leaves=8)


def mutate(obj, path, value):
    """Replace the subtree at path (list of keys/indices, walked modulo sizes) with value."""
    if not path or not isinstance(obj, (dict, list)) or not obj:
        return value
    if isinstance(obj, dict):
        keys = sorted(obj)
        k = keys[path[0] % len(keys)]
        out = dict(obj)
        out[k] = mutate(obj[k], path[1:], value)
        return out
    i = path[0] % len(obj)
    out = list(obj)
    out[i] = mutate(obj[i], path[1:], value)
    return out


@settings(max_examples=4, deadline=None, database=None, suppress_health_check=list(HealthCheck),
          phases=(Phase.explicit, Phase.generate))
@given(st.lists(st.tuples(st.lists(st.integers(0, 50), min_size=1, max_size=5), json_values), min_size=60, max_size=60))
def test_malformed_calendars_raise_only_valueerror(muts):
    with open(os.path.join(ROOT, "firmware/config/tariff_3season_4rate.json")) as f:
        base = json.load(f)
    texts = [json.dumps(mutate(base, path, value)) for path, value in muts]
    texts.append('{"version": 1, "day_profiles": ')  # truncated
    for interp in INTERPRETERS:
        p = run_mp(interp, ["-c", FUZZ_DRIVER], heap="1M", input_data=json.dumps(texts))
        assert p.returncode == 0, p.stderr[-2000:]
        for text, r in zip(texts, json.loads(p.stdout)):
            assert r in ("ok", "ValueError"), (interp, r, text)
