# Prepayment account and friendly periods (cores/prepay): the rules told as short stories, bad
# configuration, persistence, and zero allocation per 1-s tick. The exactness over random sequences
# is tests/test_prepay_props.py (against a Fraction model).
from array import array

from mptest import eq, raises
from meter.cores.prepay import account as A
from meter.cores.prepay.friendly import FriendlyPeriods
from meter.common.timezone import TimeZone
from meter.common import timeutil as tu
from meter.common import events as ev

W = array("i", [0] * 8)


def wh(rate1=0, rate2=0):
    W[0] = rate1
    W[1] = rate2
    return W


def test_energy_story_ec_offered_invoked_repaid_first():
    a = A.Account({"unit": "energy", "ec_amount": 2000, "ec_threshold": 1000, "low_credit": [3000]})
    eq(a.add_credit(5000, 0), 5000)
    eq(a.ec_offered(), False)
    a.tick(1, wh(1500))
    eq(a.events, [])
    a.tick(2, wh(1000))
    eq(a.available(), 2500)
    eq(a.events, [(ev.CREDIT_LOW, 0, 3000)])  # crossed once
    a.tick(3, wh(1))
    eq(a.events, [])
    eq(a.invoke_emergency(3), False)  # not offered above its threshold
    a.tick(4, wh(1600))
    eq((a.available(), a.ec_offered()), (899, True))
    eq(a.exhausted(False), False)
    a.tick(5, wh(899))
    eq(a.exhausted(False), True)  # at zero: disconnect (no emergency credit invoked)
    eq(a.exhausted(True), False)  # ... but not in a friendly period
    eq(a.invoke_emergency(5), True)
    eq((a.available(), a.ec_state), (2000, A.EC_IN_USE))
    eq(a.invoke_emergency(5), False)  # once
    a.tick(6, wh(2500))  # the emergency credit and 500 Wh more (a friendly period, say)
    eq((a.token, a.ec_left, a.ec_state, a.available()), (-500, 0, A.EC_EXHAUSTED, -500))
    # a top-up repays the emergency credit first, then the owed consumption
    eq(a.add_credit(1000, 7), 0)
    eq((a.ec_state, a.token), (A.EC_IN_USE, -500))  # partly paid back: 1000 of 2000
    eq(a.add_credit(3000, 8), 2000)
    eq((a.ec_state, a.ec_left, a.token, a.available()), (A.EC_AVAILABLE, 0, 1500, 1500))


def test_currency_prices_per_rate_standing_and_remainders():
    a = A.Account({"unit": "currency", "prices": [250, 100], "standing_per_day": 864})
    a.add_credit(100000, 0)
    a.tick(0, wh())
    a.tick(1, wh(3, 0))  # 3 Wh at 250 milli/kWh = 0.75 milli: below 1, carried
    eq(a.paid, 0)
    a.tick(2, wh(1, 0))  # 4 Wh: 1 milli; standing 864/day = 0.01 milli per second
    eq(a.paid, 1)
    a.tick(102, wh(0, 10))  # 100 s more: standing 1 milli (0.01 * 102 s, floored), 1 milli energy
    eq(a.paid, 3)
    a.tick(86402, wh())  # one day: standing 864 in all
    eq(a.paid, 2 + 864)


def test_debt_recovery_percentage_time_cap():
    a = A.Account({"unit": "currency", "debt": 10000, "debt_percent": 25, "debt_cap": 3000,
                   "debt_per_day": 8640, "debt_period": 86400})
    eq(a.add_credit(8000, 100), 6000)  # 25 % = 2000 to the debt
    eq(a.debt, 8000)
    eq(a.add_credit(8000, 200), 7000)  # the period's cap leaves 1000
    eq(a.debt, 7000)
    a.tick(300, wh())
    a.tick(400, wh())  # 100 s at 8640/day = 10: capped (the period's cap is used up)
    eq(a.debt, 7000)
    a.tick(86400 + 100, wh())  # a new period: time-based recovery again (collecting seconds)
    assert a.debt < 7000
    raises(ValueError, a.add_debt, 0)
    raises(ValueError, a.add_debt, A.MAX)


def test_bad_input_changes_nothing():
    a = A.Account({"unit": "energy", "ec_amount": 100, "ec_threshold": 100})
    a.add_credit(1000, 0)
    buf = bytearray(a.state_size)
    a.dump_into(buf)
    for amount in (0, -1, A.MAX + 1, "5", 1.5):
        raises(ValueError, a.add_credit, amount, 1)
    raises(ValueError, a.add_credit, A.MAX, 1)  # the balance would overflow
    raises(ValueError, a.set_payment_mode, 3)
    buf2 = bytearray(a.state_size)
    a.dump_into(buf2)
    eq(buf2, buf)
    for cfg, what in (({"unit": "gold"}, "unit"), ({"prices": [-1]}, "prices"), ({"nope": 1}, "unknown"),
                      ({"debt_percent": 101}, "debt_percent"), ({"low_credit": [0]}, "low_credit"),
                      ({"payment_mode": 0}, "payment_mode")):
        e = raises(ValueError, A.Account, cfg)
        assert what in str(e), (cfg, e)


def test_persistence_round_trip_and_bad_record():
    a = A.Account({"unit": "currency", "ec_amount": 500, "ec_threshold": 600, "debt": 50})
    a.add_credit(400, 0)
    a.tick(10, wh(7))
    a.invoke_emergency(10)
    buf = bytearray(a.state_size)
    a.dump_into(buf)
    b = A.Account({"unit": "currency", "ec_amount": 500, "ec_threshold": 600})
    eq(b.load_from(buf), True)
    eq((b.token, b.ec_left, b.ec_state, b.debt, b.tx), (a.token, a.ec_left, a.ec_state, a.debt, a.tx))
    bad = bytearray(buf)
    bad[0] = 9
    c = A.Account()
    eq(c.load_from(bad), False)
    eq((c.token, c.debt), (0, 0))


def test_friendly_periods_hours_and_special_days():
    tz = TimeZone()  # CET/CEST
    f = FriendlyPeriods({"hours": {"*": [[22, 24], [0, 7]], "6": [[0, 24]]},
                         "special_days": ["*-12-25", "2026-DE-L"]}, tz)
    at = tz.to_utc
    eq(f.active(at(2026, 3, 3, 21, 59)), False)  # Tuesday
    eq(f.active(at(2026, 3, 3, 22, 0)), True)
    eq(f.active(at(2026, 3, 4, 6, 59)), True)
    eq(f.active(at(2026, 3, 4, 7, 0)), False)
    eq(f.active(at(2026, 3, 7, 12, 0)), True)  # Saturday
    eq(f.active(at(2026, 12, 25, 12, 0)), True)  # Christmas, every year
    eq(f.active(at(2027, 12, 25, 12, 0)), True)
    eq(f.active(at(2026, 10, 31, 12, 0)), True)  # last day of the DST-end month (a Saturday too)
    eq(f.active(at(2026, 10, 30, 12, 0)), False)
    eq(FriendlyPeriods({}, tz).active(at(2026, 3, 3, 23, 0)), False)
    for cfg in ({"hours": {"8": [[0, 1]]}}, {"hours": {"*": [[5, 5]]}}, {"hours": {"1": [[0, 25]]}},
                {"special_days": ["2026-13-01"]}, {"night": 1}):
        raises(ValueError, FriendlyPeriods, cfg, tz)


def test_zero_alloc_per_second_tick():
    import gc
    a = A.Account({"unit": "currency", "prices": [250, 100, 300], "standing_per_day": 500,
                   "ec_amount": 1000, "ec_threshold": 500, "debt": 1000000, "debt_per_day": 2000,
                   "debt_cap": 100000, "low_credit": [900000, 100]})
    a.add_credit(1000000, 0)
    f = FriendlyPeriods({"hours": {"*": [[22, 24]]}, "special_days": ["*-12-25"]}, TimeZone())
    t = tu.to_secs(2026, 3, 3)
    for k in range(100):  # warm-up: attribute dicts, the low-credit crossing
        t += 1
        a.tick(t, wh(3, 1), True, f.active(t))
    gc.collect()
    m = gc.mem_alloc()
    for k in range(5000):
        t += 1
        a.tick(t, wh(k % 5, 1), True, f.active(t))
    eq(gc.mem_alloc() - m, 0)
