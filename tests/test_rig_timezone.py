"""One time zone on the rig, for rules other than the EU one: the calendar's `clock` rules are the
meter's only time zone, and billing, the load profile's DST bit, P1, the optical readout and the
tariff calendar all follow them.

Two meters: South Africa (UTC+2, no DST; zoneinfo Africa/Johannesburg is the oracle) and a
southern-hemisphere DST rule (UTC+10, +1 h from the first Sunday of October 16:00 UTC to the first
Sunday of April 16:00 UTC, i.e. 02:00 / 03:00 local as Australia/Sydney switches; the instants
checked are days away from a transition, where zoneinfo Australia/Sydney agrees with the rule).
Expected local times come from zoneinfo, never from the firmware.
"""
import datetime as dt
import json
import os
import re
from zoneinfo import ZoneInfo

from conftest import ROOT
from host_tools.iec_client import IecClient
from host_tools.rig import Rig, UNIX_2020
from test_rig_optical import wait_idle

SAST = {"tz_offset_min": 120, "dst": "none"}
SOUTH = {"tz_offset_min": 600, "dst": {"start": [10, 1, 7, 16], "end": [4, 1, 7, 16]}}
DST_BIT = 0x08


def meter_s(d):
    return int(d.timestamp()) - UNIX_2020


def utc(*a):
    return dt.datetime(*a, tzinfo=dt.timezone.utc)


def rig_with_clock(clock, start):
    """A rig whose config dir holds the default NL calendar with `clock` rules (before boot)."""
    with open(os.path.join(ROOT, "firmware", "config", "tariff.json")) as f:
        cal = json.load(f)
    cal["clock"] = clock
    rig = Rig(time_rate=0, start=start)
    with open(os.path.join(rig.config_dir, "tariff.json"), "w") as f:
        json.dump(cal, f)
    return rig


def p1_local(rig):
    """(local datetime, S/W flag, rate) of the next P1 telegram."""
    mark = rig.p1_mark()
    rig.advance(1)
    tg = rig.read_p1_newest(mark).decode()
    m = re.search(r"0-0:1\.0\.0\((\d{12})([SW])\)", tg)
    rate = int(re.search(r"0-0:96\.14\.0\((\d{4})\)", tg).group(1))
    return dt.datetime.strptime(m.group(1), "%y%m%d%H%M%S"), m.group(2), rate, tg


def optical_local(rig):
    wait_idle(rig)  # the previous readout's session has ended (back at 300 baud)
    with IecClient(rig.optical_port) as c:
        r = c.readout()
    return dt.datetime.strptime(r.values["0-0:1.0.0"][0], "%Y-%m-%d %H:%M:%S")


def check_views(rig, zone):
    """P1 and optical time stamps are the meter time in `zone`, and the P1 rate is the NL
    calendar's rate at that local time (weekdays 07:00-23:00 rate 2)."""
    local, flag, rate, tg = p1_local(rig)
    t = rig.query("time")["t"]
    want = dt.datetime.fromtimestamp(t + UNIX_2020, ZoneInfo(zone))
    assert local == want.replace(tzinfo=None), (local, want)
    assert flag == ("S" if want.dst() else "W")
    work = want.weekday() < 5 and 7 <= want.hour < 23
    assert rate == (2 if work else 1), (want, rate)
    opt = optical_local(rig)
    assert abs((opt - want.replace(tzinfo=None)).total_seconds()) <= 2  # read a moment later
    return want


def test_south_africa_utc2_no_dst():
    # Friday 2026-01-30 05:30Z = 07:30 SAST (rate 2; under CET it would be 06:30, rate 1)
    rig = rig_with_clock(SAST, "2026-01-30T05:30:00Z")
    with rig:
        rig.set_load(1, 230.0, 4.0, 1.0)
        want = check_views(rig, "Africa/Johannesburg")
        assert want.hour == 7
        # the billing snapshot falls on local midnight of 1 February: 2026-01-31T22:00Z (CET: 23:00Z)
        boundary = meter_s(utc(2026, 1, 31, 22, 0))
        rig.advance(boundary - rig.now() + 3600)
        snap = rig.query("billing", 0)
        assert snap is not None and snap[0] == boundary, (snap, boundary)
        # in EU summer time (July) the profile's DST bit stays clear: the meter's rule has no DST
        rig.command("settime", meter_s(utc(2026, 7, 6, 10, 0)))
        rig.advance(3 * 900)
        recs = rig.query("profile", 0, 3)  # the newest three
        assert recs and all(not (r[1] & DST_BIT) for r in recs), recs
        check_views(rig, "Africa/Johannesburg")


def test_southern_hemisphere_dst_rule():
    # January: summer time down under (UTC+11). 2027-01-29 12:30Z = 23:30 local Friday
    rig = rig_with_clock(SOUTH, "2027-01-29T12:30:00Z")
    with rig:
        rig.set_load(1, 230.0, 4.0, 1.0)
        want = check_views(rig, "Australia/Sydney")
        assert want.dst() and want.hour == 23
        # billing at local midnight of 1 February (AEDT): 2027-01-31T13:00Z
        boundary = meter_s(dt.datetime(2027, 2, 1, 0, 0, tzinfo=ZoneInfo("Australia/Sydney")))
        assert boundary == meter_s(utc(2027, 1, 31, 13, 0))
        rig.advance(boundary - rig.now() + 1800)
        snap = rig.query("billing", 0)
        assert snap is not None and snap[0] == boundary, (snap, boundary)
        summer = rig.query("profile", 0, 4)
        assert summer and all(r[1] & DST_BIT for r in summer), summer
        # July: winter down under, no DST bit, local = UTC+10
        rig.command("settime", meter_s(utc(2027, 7, 7, 0, 0)))
        rig.advance(3 * 900)
        winter = rig.query("profile", 0, 2)
        assert winter and all(not (r[1] & DST_BIT) for r in winter), winter
        want = check_views(rig, "Australia/Sydney")
        assert not want.dst()
