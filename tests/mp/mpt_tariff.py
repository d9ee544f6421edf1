# Tariff engine (firmware/meter/cores/tariff/): calendar evaluation, special days, seasons, passive
# activation, exact split, DST days, validation.
# mp-heap: 256K
import json
from mptest import eq, raises
from meter.cores.tariff import engine as tf
from meter.cores.tariff import calendar as tcal
from meter.services import clock as mc
from meter.common import timezone as tzm
from meter.common import timeutil as tu
from meter.common import events as ev
from meter.common.events import EventLog

TZ = tzm.TimeZone()


def U(y, m, d, hh=0, mm=0, ss=0):
    """meter seconds of a UTC date-time"""
    return tu.to_secs(y, m, d, hh, mm, ss)


def L(y, m, d, hh=0, mm=0, ss=0):
    """meter seconds of an Amsterdam local date-time (first occurrence)"""
    return TZ.to_utc(y, m, d, hh, mm, ss)


def nl():
    with open("firmware/config/tariff.json") as f:
        return tcal.load_json(f.read())


def cal(day_profiles, week_profiles=None, seasons=None, special_days=(), **kw):
    if week_profiles is None:
        n = sorted(day_profiles)[0]
        week_profiles = {"w": [n] * 7}
    if seasons is None:
        seasons = [{"name": "s", "start": "*-01-01 00:00", "week": sorted(week_profiles)[0]}]
    o = {"version": 1, "day_profiles": day_profiles, "week_profiles": week_profiles, "seasons": seasons,
         "special_days": list(special_days)}
    o.update(kw)
    return tcal.load_json(json.dumps(o))


class Valid:
    valid = True


def test_nl_default_weekdays_and_weekends():
    c = nl()
    eq(c.name, "NL two-rate")
    eq(c.rates_used, 2)
    eq(c.invalid_rate, 1)
    t = tf.Tariff(c, TZ)
    # Monday 2 March 2026 (winter time)
    eq(t.rate_at(L(2026, 3, 2, 6, 59, 59)), 1)
    eq(t.rate_at(L(2026, 3, 2, 7)), 2)
    eq(t.rate_at(L(2026, 3, 2, 22, 59, 59)), 2)
    eq(t.rate_at(L(2026, 3, 2, 23)), 1)
    eq(t.rate_at(L(2026, 3, 2, 0)), 1)
    # the same in summer time, and the UTC instants differ by an hour
    eq(L(2026, 7, 6, 7), U(2026, 7, 6, 5))
    eq(t.rate_at(U(2026, 7, 6, 4, 59, 59)), 1)
    eq(t.rate_at(U(2026, 7, 6, 5)), 2)
    eq(t.rate_at(U(2026, 7, 6, 20, 59, 59)), 2)
    eq(t.rate_at(U(2026, 7, 6, 21)), 1)
    # Friday / Saturday / Sunday
    eq(t.rate_at(L(2026, 3, 6, 12)), 2)
    eq(t.rate_at(L(2026, 3, 7, 12)), 1)
    eq(t.rate_at(L(2026, 3, 8, 12)), 1)
    # next_switch
    eq(t.next_switch(L(2026, 3, 2, 3)), L(2026, 3, 2, 7))
    eq(t.next_switch(L(2026, 3, 2, 7)), L(2026, 3, 2, 23))
    eq(t.next_switch(L(2026, 3, 2, 23, 30)), L(2026, 3, 3, 0))


def test_nl_holidays():
    t = tf.Tariff(nl(), TZ)
    noon = 12
    low = [(2026, 1, 1), (2026, 4, 6), (2026, 4, 27), (2026, 5, 14), (2026, 5, 25), (2026, 12, 25),
           (2025, 4, 21), (2025, 5, 29), (2025, 6, 9), (2027, 3, 29), (2027, 4, 27), (2027, 5, 6),
           (2027, 5, 17), (2028, 4, 17), (2028, 4, 27), (2028, 5, 25), (2028, 6, 5), (2028, 12, 25),
           (2028, 12, 26), (2031, 12, 25), (2031, 12, 26), (2031, 1, 1), (2040, 4, 2)]
    for y, m, d in low:
        assert tu.weekday(tu.days_from_civil(y, m, d)) <= 5, (y, m, d)  # only weekdays prove anything
        eq(t.rate_at(L(y, m, d, noon)), 1, (y, m, d))
    # working days that are not low-rate days in NL: Good Friday, Liberation Day, Christmas Eve,
    # the day after Ascension
    high = [(2026, 4, 3), (2026, 5, 5), (2026, 12, 24), (2026, 5, 15), (2025, 4, 18), (2030, 5, 6)]
    for y, m, d in high:
        eq(t.rate_at(L(y, m, d, noon)), 2, (y, m, d))
    # King's Day on Saturday 26 April 2025 (27th is a Sunday): weekend anyway, and listed
    eq(t.rate_at(L(2025, 4, 26, noon)), 1)
    # the holiday lasts the whole local day, not a UTC day
    eq(t.rate_at(L(2026, 12, 25, 0, 0, 0)), 1)
    eq(t.rate_at(L(2026, 12, 24, 23, 59, 59)), 1)  # 23:00-24:00 is off-peak anyway
    eq(t.rate_at(L(2026, 12, 24, 22, 59, 59)), 2)
    eq(t.rate_at(L(2026, 12, 28, 7)), 2)  # Monday after


def test_wildcard_special_day_recurs():
    # "every 25 December" must match in 2026 (Friday) and 2031 (Thursday): a matcher that compares
    # the wildcard date as an exact date fails here
    c = cal({"a_work": [["00:00", 2]], "b_hol": [["00:00", 5]]},
            {"w": ["a_work"] * 7}, special_days=[{"date": "*-12-25", "day": "b_hol"}])
    t = tf.Tariff(c, TZ)
    for y in (2026, 2031, 2024, 2053):
        eq(t.rate_at(L(y, 12, 25, 12)), 5, y)
        eq(t.rate_at(L(y, 12, 24, 12)), 2, y)
        eq(t.rate_at(L(y, 12, 26, 0)), 2, y)
    # a dated entry matches only its year
    c2 = cal({"a_work": [["00:00", 2]], "b_hol": [["00:00", 5]]},
             {"w": ["a_work"] * 7}, special_days=[{"date": "2026-12-25", "day": "b_hol"}])
    t2 = tf.Tariff(c2, TZ)
    eq(t2.rate_at(L(2026, 12, 25, 12)), 5)
    eq(t2.rate_at(L(2031, 12, 25, 12)), 2)


def test_wildcard_month_day_weekday_fields():
    sp = [
        {"date": "*-*-L", "day": "d_last"},              # last day of every month
        {"date": "*-*-13", "weekday": 5, "day": "e_f13"},  # every Friday 13th
        {"date": "*-DE-*", "weekday": 7, "day": "f_dst"},  # Sundays in the DST-end month
        {"date": "*-02-29", "day": "g_leap"},
        {"date": "2027-*-L2", "day": "h_l2"},             # second last day of each month of 2027
        {"date": "*-*-*", "weekday": 3, "day": "c_wed"},   # every Wednesday
    ]
    dps = {"a": [["00:00", 1]], "c_wed": [["00:00", 3]], "d_last": [["00:00", 4]], "e_f13": [["00:00", 5]],
           "f_dst": [["00:00", 6]], "g_leap": [["00:00", 7]], "h_l2": [["00:00", 8]]}
    t = tf.Tariff(cal(dps, {"w": ["a"] * 7}, special_days=sp), TZ)
    eq(t.rate_at(L(2026, 1, 31, 12)), 4)
    eq(t.rate_at(L(2026, 2, 28, 12)), 4)
    eq(t.rate_at(L(2028, 2, 28, 12)), 1)  # Monday, not the last day in a leap year
    eq(t.rate_at(L(2028, 2, 29, 12)), 7)  # leap day matches g_leap (more specific than *-*-L)
    eq(t.rate_at(L(2026, 4, 30, 12)), 4)
    eq(t.rate_at(L(2026, 3, 13, 12)), 5)  # Friday 13 March 2026
    eq(t.rate_at(L(2026, 2, 13, 12)), 5)
    eq(t.rate_at(L(2026, 5, 13, 12)), 3)  # a Wednesday 13th
    eq(t.rate_at(L(2026, 10, 4, 12)), 6)  # Sunday in October
    eq(t.rate_at(L(2026, 10, 25, 12)), 6)
    eq(t.rate_at(L(2026, 3, 29, 12)), 1)  # Sunday in March (DST begin month) no
    eq(t.rate_at(L(2026, 10, 31, 12)), 4)  # last day (Saturday) of October
    eq(t.rate_at(L(2027, 1, 30, 12)), 8)
    eq(t.rate_at(L(2027, 2, 27, 12)), 8)
    eq(t.rate_at(L(2026, 2, 27, 12)), 1)  # L2 is only for 2027
    eq(t.rate_at(L(2026, 3, 4, 12)), 3)


def test_special_day_priority_most_specific():
    dps = {"a": [["00:00", 1]], "b": [["00:00", 2]], "c": [["00:00", 3]], "d": [["00:00", 4]]}
    sp = [{"date": "*-*-*", "weekday": 4, "day": "b"},   # Thursdays (1 field)
          {"date": "*-12-25", "day": "c"},                # 2 fields
          {"date": "2031-12-25", "day": "d"}]             # 3 fields
    t = tf.Tariff(cal(dps, {"w": ["a"] * 7}, special_days=sp), TZ)
    eq(t.rate_at(L(2031, 12, 25, 9)), 4)  # Thursday, 25 Dec, 2031
    eq(t.rate_at(L(2036, 12, 25, 9)), 3)  # Thursday 25 Dec 2036 -> *-12-25 beats weekday
    eq(t.rate_at(L(2036, 12, 18, 9)), 2)
    eq(t.rate_at(L(2036, 12, 19, 9)), 1)


def test_week_profile_per_weekday():
    dps = {}
    for i in range(7):
        dps["d%d" % i] = [["00:00", i + 1], ["12:00", 8]]
    t = tf.Tariff(cal(dps, {"w": ["d%d" % i for i in range(7)]}), TZ)
    for k in range(7):  # 2 March 2026 is a Monday
        eq(t.rate_at(L(2026, 3, 2 + k, 11, 59, 59)), k + 1)
        eq(t.rate_at(L(2026, 3, 2 + k, 12)), 8)


def test_seasons_recur_yearly():
    dps = {"sum": [["00:00", 1], ["12:00", 2]], "win": [["00:00", 3], ["12:00", 4]]}
    wps = {"summer": ["sum"] * 7, "winter": ["win"] * 7}
    seas = [{"name": "winter", "start": "*-10-01 00:00", "week": "winter"},
            {"name": "summer", "start": "*-04-01 00:00", "week": "summer"}]
    t = tf.Tariff(cal(dps, wps, seas), TZ)
    eq(t.rate_at(L(2027, 1, 15, 8)), 3)  # winter from last year's 1 October
    eq(t.rate_at(L(2027, 1, 15, 13)), 4)
    eq(t.rate_at(L(2027, 3, 31, 23, 59, 59)), 4)
    eq(t.rate_at(L(2027, 3, 31, 11, 59, 59)), 3)
    eq(t.rate_at(L(2027, 4, 1, 0)), 1)
    eq(t.rate_at(L(2027, 9, 30, 13)), 2)
    eq(t.rate_at(L(2027, 10, 1, 0)), 3)
    eq(t.rate_at(L(2020, 2, 1, 0)), 3)
    eq(t.rate_at(L(2053, 12, 31, 13)), 4)
    eq(t.next_switch(L(2027, 3, 31, 20)), L(2027, 4, 1, 0))


def test_season_start_with_time_and_fixed_years():
    dps = {"a": [["00:00", 1], ["18:00", 2]], "b": [["00:00", 3], ["06:00", 4]]}
    wps = {"wa": ["a"] * 7, "wb": ["b"] * 7}
    seas = [{"name": "one", "start": "2026-01-01 00:00", "week": "wa"},
            {"name": "two", "start": "2026-06-01 12:00", "week": "wb"},
            {"name": "three", "start": "2027-01-01", "week": "wa"}]
    t = tf.Tariff(cal(dps, wps, seas), TZ)
    eq(t.rate_at(L(2025, 6, 1, 19)), 2)  # before the first fixed start: the earliest season
    eq(t.rate_at(L(2026, 6, 1, 11, 59, 59)), 1)
    eq(t.next_switch(L(2026, 6, 1, 11)), L(2026, 6, 1, 12))
    eq(t.rate_at(L(2026, 6, 1, 12)), 4)  # season two from 12:00: profile b at 12:00 -> rate 4
    eq(t.rate_at(L(2026, 6, 2, 5)), 3)
    eq(t.rate_at(L(2026, 12, 31, 23, 59, 59)), 4)
    eq(t.rate_at(L(2027, 1, 1, 0)), 1)
    eq(t.rate_at(L(2030, 1, 1, 19)), 2)


def test_dst_days_switch_at_right_utc_instant():
    dps = {"a": [["00:00", 1], ["02:30", 3], ["07:00", 2], ["23:00", 1]]}
    t = tf.Tariff(cal(dps), TZ)
    # 29 March 2026 (clocks go 02:00 -> 03:00): 02:30 does not exist; it takes effect at the jump
    eq(t.rate_at(U(2026, 3, 29, 0, 59, 59)), 1)
    eq(t.next_switch(U(2026, 3, 29, 0)), U(2026, 3, 29, 1))
    eq(t.rate_at(U(2026, 3, 29, 1)), 3)
    eq(t.next_switch(U(2026, 3, 29, 1)), U(2026, 3, 29, 5))
    eq(t.rate_at(U(2026, 3, 29, 4, 59, 59)), 3)
    eq(t.rate_at(U(2026, 3, 29, 5)), 2)  # 07:00 CEST
    # 25 October 2026 (03:00 S -> 02:00 W): 02:30 happens twice
    eq(t.rate_at(U(2026, 10, 25, 0, 29, 59)), 1)
    eq(t.rate_at(U(2026, 10, 25, 0, 30)), 3)   # 02:30 S
    eq(t.rate_at(U(2026, 10, 25, 1)), 1)       # 02:00 W
    eq(t.rate_at(U(2026, 10, 25, 1, 30)), 3)   # 02:30 W
    eq(t.rate_at(U(2026, 10, 25, 5, 59, 59)), 3)
    eq(t.rate_at(U(2026, 10, 25, 6)), 2)       # 07:00 CET
    eq(t.rate_at(U(2026, 10, 25, 21, 59, 59)), 2)
    eq(t.rate_at(U(2026, 10, 25, 22)), 1)


def test_split_exact_over_several_switch_points():
    dps = {"a": [["00:00", 1], ["07:00", 2], ["12:00", 3], ["12:00:10", 4], ["23:00", 1]]}
    t = tf.Tariff(cal(dps), TZ)
    out = [0] * 8
    t0 = L(2026, 3, 2, 6)
    t1 = L(2026, 3, 3, 1)
    span = t1 - t0
    t.split(t0, t1, span, out)  # 1 unit per second: parts are the durations
    eq(out, [3600 + 7200, 5 * 3600, 10, 11 * 3600 - 10, 0, 0, 0, 0])
    # an odd amount: cumulative floor split, parts sum to the amount
    out = [0] * 8
    amount = 1000003
    t.split(t0, t1, amount, out)
    eq(sum(out), amount)
    s1, s2, s3, s4 = L(2026, 3, 2, 7), L(2026, 3, 2, 12), L(2026, 3, 2, 12, 0, 10), L(2026, 3, 2, 23)
    f = [amount * (s - t0) // span for s in (s1, s2, s3, s4)]
    eq(out[1], f[1] - f[0])
    eq(out[2], f[2] - f[1])
    eq(out[3], f[3] - f[2])
    eq(out[0], f[0] + amount - f[3])
    # splitting the same interval tick by tick (1 s) gives the per-second exact attribution
    out2 = [0] * 8
    for k in range(t0, t1):
        t.split(k, k + 1, 1, out2)
    eq(out2, [3600 + 7200, 5 * 3600, 10, 11 * 3600 - 10, 0, 0, 0, 0])
    # empty / zero-length interval: the whole amount at rate_at(t0)
    out3 = [0] * 8
    t.split(s2, s2, 7, out3)
    eq(out3, [0, 0, 7, 0, 0, 0, 0, 0])
    # huge amounts (big ints in the 32-bit build) stay exact
    out4 = [0] * 8
    big = 3 * 10 ** 12 + 1
    t.split(t0, t1, big, out4)
    eq(sum(out4), big)


def test_split_dst_days():
    dps = {"a": [["00:00", 1], ["07:00", 2], ["23:00", 1]]}
    t = tf.Tariff(cal(dps), TZ)
    for (y, m, d), hours in (((2026, 3, 29), 23), ((2026, 10, 25), 25), ((2028, 3, 26), 23), ((2028, 10, 29), 25)):
        t0 = L(y, m, d)
        t1 = L(y, m, d + 1)
        eq(t1 - t0, hours * 3600)
        out = [0] * 8
        t.split(t0, t1, t1 - t0, out)
        eq(out[1], 16 * 3600, (y, m, d))
        eq(out[0], (hours - 16) * 3600, (y, m, d))
        # the same day in 900-s ticks
        out = [0] * 8
        for k in range(t0, t1, 900):
            t.split(k, k + 900, 900, out)
        eq(out[1], 16 * 3600)
        eq(sum(out), hours * 3600)


def test_passive_calendar_activates_at_midnight_on_first():
    log = EventLog()
    a = cal({"a": [["00:00", 1]]})
    b = cal({"b": [["00:00", 3], ["12:00", 4]]}, name="B")
    t = tf.Tariff(a, TZ, log)
    now = L(2026, 3, 15, 10)
    act = TZ.next_month_start(now)
    eq(act, L(2026, 4, 1))
    t.set_passive(b, act, now)
    eq(log.get(0), (now, ev.CALENDAR_PASSIVE, b.ident, act))
    eq(t.rate_at(act - 1), 1)
    eq(t.next_switch(act - 3600), act)
    eq(t.cal is a, True)
    # a 900-s tick that spans the activation splits exactly at midnight
    out = [0] * 8
    t0 = act - 300
    t.split(t0, t0 + 900, 900, out)
    eq(out, [300, 0, 600, 0, 0, 0, 0, 0])
    eq(t.cal is b, True)
    eq(t.passive, None)
    eq(log.get(0), (act, ev.CALENDAR_ACTIVATED, b.ident, act))
    eq(t.rate_at(L(2026, 4, 1, 12)), 4)
    # cancel a passive calendar
    t.set_passive(a, L(2026, 5, 1), now)
    t.set_passive(None, 0)
    eq(t.rate_at(L(2026, 5, 2, 12)), 4)
    raises(ValueError, t.set_passive, a, -1)


def test_passive_from_json_and_rejection_keeps_old():
    log = EventLog()
    t = tf.Tariff(nl(), TZ, log)
    old = t.cal
    e = raises(ValueError, t.load_passive, '{"version": 1, "day_profiles": {}}', L(2026, 4, 1), 5)
    assert "day_profiles" in str(e), str(e)
    eq(t.passive, None)
    eq(t.cal is old, True)
    eq(log.get(0)[1], ev.CALENDAR_REJECTED)
    e = raises(ValueError, t.load, "{not json", 6)
    assert "JSON" in str(e)
    eq(t.cal is old, True)
    eq(log.get(0)[:2], (6, ev.CALENDAR_REJECTED))
    with open("firmware/config/tariff_3season_4rate.json") as f:
        text = f.read()
    c = t.load(text, 7)
    eq(t.cal is c, True)
    eq(log.get(0), (7, ev.CALENDAR_ACTIVATED, c.ident, 7))
    eq(c.rates_used, 4)


BAD = [
    ("[1, 2]", "object"),
    ('{"day_profiles": {"a": [["00:00", 1]]}, "week_profiles": {"w": ["a","a","a","a","a","a","a"]}}', "seasons"),
    ('{"day_profiles": {"a": [["00:00", 1]]}, "week_profiles": {"w": ["a","a","a","a","a","a","a"]}, "seasons": []}', "seasons"),
    ('{"day_profiles": {"a": [["00:00", 9]]}, "week_profiles": {"w": ["a","a","a","a","a","a","a"]}, "seasons": [{"name": "s", "start": "*-01-01", "week": "w"}]}', "rate 9"),
    ('{"day_profiles": {"a": [["00:00", 0]]}, "week_profiles": {"w": ["a","a","a","a","a","a","a"]}, "seasons": [{"name": "s", "start": "*-01-01", "week": "w"}]}', "rate 0"),
    ('{"day_profiles": {"a": [["00:00", true]]}, "week_profiles": {"w": ["a","a","a","a","a","a","a"]}, "seasons": [{"name": "s", "start": "*-01-01", "week": "w"}]}', "rate"),
    ('{"day_profiles": {"a": [["00:00", 1], ["25:00", 2]]}, "week_profiles": {"w": ["a","a","a","a","a","a","a"]}, "seasons": [{"name": "s", "start": "*-01-01", "week": "w"}]}', "bad time"),
    ('{"day_profiles": {"a": [["00:00", 1], ["7h", 2]]}, "week_profiles": {"w": ["a","a","a","a","a","a","a"]}, "seasons": [{"name": "s", "start": "*-01-01", "week": "w"}]}', "bad time"),
    ('{"day_profiles": {"a": [["00:00", 1], ["07:00", 2], ["07:00", 1]]}, "week_profiles": {"w": ["a","a","a","a","a","a","a"]}, "seasons": [{"name": "s", "start": "*-01-01", "week": "w"}]}', "same time"),
    ('{"day_profiles": {"a": [["01:00", 1]]}, "week_profiles": {"w": ["a","a","a","a","a","a","a"]}, "seasons": [{"name": "s", "start": "*-01-01", "week": "w"}]}', "00:00"),
    ('{"day_profiles": {"a": [["00:00", 1]]}, "week_profiles": {"w": ["a","a","a","a","a","a","x"]}, "seasons": [{"name": "s", "start": "*-01-01", "week": "w"}]}', "unknown day profile 'x'"),
    ('{"day_profiles": {"a": [["00:00", 1]]}, "week_profiles": {"w": ["a","a","a","a","a","a"]}, "seasons": [{"name": "s", "start": "*-01-01", "week": "w"}]}', "exactly 7"),
    ('{"day_profiles": {"a": [["00:00", 1]]}, "week_profiles": {"w": ["a","a","a","a","a","a","a"]}, "seasons": [{"name": "s", "start": "*-01-01", "week": "v"}]}', "unknown week profile 'v'"),
    ('{"day_profiles": {"a": [["00:00", 1]]}, "week_profiles": {"w": ["a","a","a","a","a","a","a"]}, "seasons": [{"name": "s", "start": "*-01-01", "week": "w"}, {"name": "t", "start": "*-01-01 12:00", "week": "w"}]}', "same date"),
    ('{"day_profiles": {"a": [["00:00", 1]]}, "week_profiles": {"w": ["a","a","a","a","a","a","a"]}, "seasons": [{"name": "s", "start": "*-01-01", "week": "w"}, {"name": "t", "start": "2027-01-01", "week": "w"}]}', "same date"),
    ('{"day_profiles": {"a": [["00:00", 1]]}, "week_profiles": {"w": ["a","a","a","a","a","a","a"]}, "seasons": [{"name": "s", "start": "*-01-01", "week": "w"}, {"name": "s", "start": "*-06-01", "week": "w"}]}', "duplicate season name"),
    ('{"day_profiles": {"a": [["00:00", 1]]}, "week_profiles": {"w": ["a","a","a","a","a","a","a"]}, "seasons": [{"name": "s", "start": "*-02-29", "week": "w"}]}', "29 February"),
    ('{"day_profiles": {"a": [["00:00", 1]]}, "week_profiles": {"w": ["a","a","a","a","a","a","a"]}, "seasons": [{"name": "s", "start": "*-*-01", "week": "w"}]}', "month"),
    ('{"day_profiles": {"a": [["00:00", 1]]}, "week_profiles": {"w": ["a","a","a","a","a","a","a"]}, "seasons": [{"name": "s", "start": "2026-04-31", "week": "w"}]}', "does not exist"),
    ('{"day_profiles": {"a": [["00:00", 1]]}, "week_profiles": {"w": ["a","a","a","a","a","a","a"]}, "seasons": [{"name": "s", "start": "*-01-01", "week": "w"}], "special_days": [{"date": "*-12-25", "day": "hol"}]}', "unknown day profile 'hol'"),
    ('{"day_profiles": {"a": [["00:00", 1]]}, "week_profiles": {"w": ["a","a","a","a","a","a","a"]}, "seasons": [{"name": "s", "start": "*-01-01", "week": "w"}], "special_days": [{"date": "*-12-25", "day": "a"}, {"date": "*-12-25", "day": "a"}]}', "duplicate special day"),
    ('{"day_profiles": {"a": [["00:00", 1]]}, "week_profiles": {"w": ["a","a","a","a","a","a","a"]}, "seasons": [{"name": "s", "start": "*-01-01", "week": "w"}], "special_days": [{"date": "*-02-30", "day": "a"}]}', "does not exist"),
    ('{"day_profiles": {"a": [["00:00", 1]]}, "week_profiles": {"w": ["a","a","a","a","a","a","a"]}, "seasons": [{"name": "s", "start": "*-01-01", "week": "w"}], "special_days": [{"date": "2026-12-25", "weekday": 1, "day": "a"}]}', "never match"),
    ('{"day_profiles": {"a": [["00:00", 1]]}, "week_profiles": {"w": ["a","a","a","a","a","a","a"]}, "seasons": [{"name": "s", "start": "*-01-01", "week": "w"}], "special_days": [{"date": "12/25", "day": "a"}]}', "bad date"),
    ('{"day_profiles": {"a": [["00:00", 1]]}, "week_profiles": {"w": ["a","a","a","a","a","a","a"]}, "seasons": [{"name": "s", "start": "*-01-01", "week": "w"}], "sesons": []}', "unknown key 'sesons'"),
    ('{"day_profiles": {"a": [["00:00", 1]]}, "week_profiles": {"w": ["a","a","a","a","a","a","a"]}, "seasons": [{"name": "s", "start": "*-01-01", "week": "w"}], "invalid_clock_rate": 12}', "invalid_clock_rate"),
    ('{"day_profiles": {"a": [["00:00", 1]]}, "week_profiles": {"w": ["a","a","a","a","a","a","a"]}, "seasons": [{"name": "s", "start": "*-01-01", "week": "w"}], "clock": {"dst": "mars"}}', "clock"),
    ('{"version": 2, "day_profiles": {"a": [["00:00", 1]]}, "week_profiles": {"w": ["a","a","a","a","a","a","a"]}, "seasons": [{"name": "s", "start": "*-01-01", "week": "w"}]}', "version"),
]


def test_bad_calendars_rejected_whole_old_kept():
    log = EventLog()
    t = tf.Tariff(nl(), TZ, log)
    old = t.cal
    probe = L(2026, 3, 2, 12)
    eq(t.rate_at(probe), 2)
    for i, (text, frag) in enumerate(BAD):
        e = raises(ValueError, t.load, text, 100 + i)
        assert frag in str(e), (i, frag, str(e))
        assert str(e).startswith("tariff"), str(e)
        eq(t.cal is old, True)
        eq(t.rate_at(probe), 2)
        eq(log.get(0)[:2], (100 + i, ev.CALENDAR_REJECTED))
    eq(log.count_code(ev.CALENDAR_ACTIVATED), 0)


def test_invalid_clock_uses_configured_rate():
    class Clk:
        valid = False
    clk = Clk()
    t = tf.Tariff(nl(), TZ, None, clk)
    peak = L(2026, 3, 2, 12)
    eq(t.rate_at(peak), 1)
    eq(t.next_switch(peak), tf.NEVER)
    out = [0] * 8
    t.split(peak, peak + 86400, 500, out)
    eq(out[0], 500)
    clk.valid = True
    eq(t.rate_at(peak), 2)
    c = cal({"a": [["00:00", 1], ["07:00", 2]]}, invalid_clock_rate=2)
    t2 = tf.Tariff(c, TZ, None, clk)
    clk.valid = False
    eq(t2.rate_at(L(2026, 3, 2, 3)), 2)


def test_leap_year_day_count():
    c = nl()
    t = tf.Tariff(c, TZ)
    out = [0] * 8
    t0 = L(2028, 2, 28)
    t1 = L(2028, 3, 2)
    t.split(t0, t1, t1 - t0, out)  # Mon 28, Tue 29, Wed 1 March: all working days
    eq(out[1], 3 * 16 * 3600)
    eq(out[0], 3 * 8 * 3600)
