"""The committed NL calendar (firmware/config/tariff.json) is what host_tools/gen_nl_calendar.py
generates, and the engine bills every NL low-rate holiday of 2024-2045 at rate 1, with the holiday
dates computed here independently (dateutil's Easter, or a table of known Easter dates)."""
import datetime as dt
import json
import os
from zoneinfo import ZoneInfo

import pytest

from conftest import INTERPRETERS, ROOT, run_mp
from host_tools import gen_nl_calendar

AMS = ZoneInfo("Europe/Amsterdam")
UNIX_OFFSET = 1577836800
KNOWN_EASTER = {2024: (3, 31), 2025: (4, 20), 2026: (4, 5), 2027: (3, 28), 2028: (4, 16), 2029: (4, 1),
                2030: (4, 21)}


def easter(y):
    try:
        from dateutil.easter import easter as de
    except ImportError:
        if y not in KNOWN_EASTER:
            pytest.skip("python-dateutil not installed")
        return dt.date(y, *KNOWN_EASTER[y])
    return de(y)


def test_committed_calendar_is_generated():
    assert gen_nl_calendar.main(["--check"]) == 0, "run: .venv/bin/python -m host_tools.gen_nl_calendar"


def test_easter_known_dates():
    for y, (m, d) in KNOWN_EASTER.items():
        assert gen_nl_calendar.easter(y) == dt.date(y, m, d)
        assert easter(y) == dt.date(y, m, d)
    for y in range(2024, 2046):
        assert gen_nl_calendar.easter(y) == easter(y)


def meter_noon(d):
    return int(dt.datetime(d.year, d.month, d.day, 12, tzinfo=AMS).timestamp()) - UNIX_OFFSET


DRIVER = r"""
import sys, json
from meter.cores.tariff import engine as tf
from meter.cores.tariff import calendar as tcal
from meter.services import clock as mc
from meter.common import timezone as tzm
with open("firmware/config/tariff.json") as f:
    t = tf.Tariff(tcal.load_json(f.read()), tzm.TimeZone())
print(json.dumps([t.rate_at(x) for x in json.loads(sys.stdin.read())]))
"""


@pytest.mark.skipif(not os.path.exists(INTERPRETERS["unix32"]), reason="interpreters not built")
def test_engine_bills_nl_holidays_low_2024_2045():
    expect = {}
    for y in range(2024, 2046):
        e = easter(y)
        kd = dt.date(y, 4, 27) if dt.date(y, 4, 27).isoweekday() != 7 else dt.date(y, 4, 26)
        low = [dt.date(y, 1, 1), e + dt.timedelta(1), kd, e + dt.timedelta(39), e + dt.timedelta(50),
               dt.date(y, 12, 25), dt.date(y, 12, 26)]
        for d in low:
            expect[d] = 1
        # not low-rate days: Good Friday, Liberation Day, Christmas Eve, the day after Whit Monday
        for d in (e - dt.timedelta(2), dt.date(y, 5, 5), dt.date(y, 12, 24), e + dt.timedelta(51)):
            if d not in expect:
                expect[d] = 1 if d.isoweekday() >= 6 else 2
    days = sorted(expect)
    for interp in INTERPRETERS:
        p = run_mp(interp, ["-c", DRIVER], heap="512K", input_data=json.dumps([meter_noon(d) for d in days]))
        assert p.returncode == 0, p.stderr
        got = json.loads(p.stdout)
        bad = [(d.isoformat(), g, expect[d]) for d, g in zip(days, got) if g != expect[d]]
        assert not bad, (interp, bad)
