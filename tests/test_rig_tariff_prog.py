"""Tariff calendars through the optical port's programming mode on the rig (issue 7): bad calendars
are rejected whole (the old one keeps billing), a good one becomes active now, a passive one
becomes active at local midnight on the 1st, and everything survives power cuts.

The client is the host tool (host_tools/cli_tariff.py on top of host_tools/iec_client.py), once as
a library and once as the command line. Virtual time is frozen (time_rate=0) while the optical
port runs in real time, so the energy per rate is exact: 3600 W = 1 Wh per second, compared with
the independent reference of test_tariff_property.py.
"""
import datetime as dt
import json
import os
import subprocess
import sys
import zlib

import pytest

from conftest import INTERPRETERS, ROOT
from host_tools.cli_tariff import encode_calendar, send_calendar
from host_tools.iec_client import IecClient, IecError
from host_tools.rig import Rig
from test_tariff_property import Ref, to_meter

pytestmark = pytest.mark.skipif(not os.path.exists(INTERPRETERS["unix"]),
                                reason="MicroPython interpreters not built (make interpreters)")

KEY2 = b"tariff-test level 2 key"
NL = os.path.join(ROOT, "firmware", "config", "tariff.json")
SEASONS = os.path.join(ROOT, "firmware", "config", "tariff_3season_4rate.json")
PARAM_WRITE, CAL_ACTIVATED, CAL_REJECTED, CAL_PASSIVE = 13, 14, 15, 21


def read(path):
    with open(path, "rb") as f:
        return f.read()


def crc(data):
    return zlib.crc32(data) & 0xFFFFFFFF


def rig_for(start, staging_max=None):
    """Frozen virtual time; the optical port at 19200 baud with a 20 ms reaction time (the
    standard's minimum for meters that offer it): fewer real seconds per calendar."""
    cfg = {"keys": {"optical_key2": KEY2.hex()}, "optical": {"baud_char": "6", "reaction_ms": 20}}
    if staging_max:
        cfg["tariff"] = {"staging_max": staging_max}
    return Rig(time_rate=0, start=start, config=cfg)


def rates(rig):
    regs = rig.registers()
    r = [regs["1-0:1.8.%d" % k][0] for k in range(1, 9)]
    assert sum(r) == regs["1-0:1.8.0"][0]
    return r


def events(rig, code):
    return [e for e in rig.query("events") if e[1] == code]


def add(a, b):
    return [x + y for x, y in zip(a, b)]


def expect_reject(c, data, reason_start, passive=None, **kw):
    with pytest.raises(IecError) as ei:
        send_calendar(c, data, passive, **kw)
    e = ei.value
    assert e.reason is not None and e.reason.startswith(reason_start), (e.reason, reason_start)
    return e


SMALL = {"name": "small", "day_profiles": {"d": [["00:00", 1], ["07:00", 2]]},
         "week_profiles": {"w": ["d"] * 7}, "seasons": [{"name": "s", "start": "*-01-01", "week": "w"}]}


def small(**kw):
    obj = dict(SMALL, **kw)
    return encode_calendar(json.dumps(obj))


def test_bad_calendars_rejected_whole_old_keeps_billing():
    ref_nl = Ref(json.loads(read(NL)))
    seasons = read(SEASONS)
    start = to_meter(dt.datetime(2028, 3, 6, 6, 0))  # Monday
    with rig_for(start, staging_max=2048) as rig:
        active0 = rig.query("tariff")["active"]
        assert active0 == "%08X" % crc(read(NL))  # the firmware default, read at boot
        rig.set_load(1, 240.0, 15.0, 1.0)
        rig.advance(1800)
        t = start + 1800
        n_rej = len(events(rig, CAL_REJECTED))
        with IecClient(rig.optical_port) as c:
            c.program(key=KEY2, level=2)
            assert c.read("C.90.0")[0] == active0
            bad9 = small(day_profiles={"d": [["00:00", 1], ["07:00", 9]]})
            e = expect_reject(c, bad9, "day_profiles.d[1]: rate 9 out of")
            assert e.detail == "day_profiles.d[1]: rate 9 out of 1..8"  # in full from C.90.9
            expect_reject(c, small()[:-3], "not valid JSON", encoding="hex")
            expect_reject(c, small(sesons=[]), "calendar: unknown key")
            expect_reject(c, small(clock={"tz_offset_min": 0, "dst": "eu"}), "TZ")
            expect_reject(c, small(day_profiles={"d": [["07:00", 2]]}), "day_profiles.d")
            expect_reject(c, small(special_days=[{"date": "2028-02-30", "day": "d"}]),
                          "special_days[0].date")
            # a bad passive one, and a good one whose activation is in the past
            expect_reject(c, bad9, "day_profiles", passive="next-month")
            expect_reject(c, small(), "PAST", passive="280301000000")
            # staged bytes that do not match the CRC the commit names (a lost chunk)
            data = small(name="x" * 30)
            c.write("C.90.1", "")
            c.write("C.90.1", "0:'" + data[:100].decode())
            with pytest.raises(IecError) as ei:
                c.write("C.90.1", "200:'" + data[200:].decode())  # gap: offset beyond the end
            assert ei.value.reason.startswith("OFFSET")
            c.write("C.90.1", "100:'" + data[100:-1].decode())  # all but the last byte
            assert c.read("C.90.1")[0] == "%d,%08X" % (len(data) - 1, crc(data[:-1]))
            with pytest.raises(IecError) as ei:
                c.write("C.90.2", "%08X" % crc(data))
            assert ei.value.reason.startswith("CRC")
            # too big for the staging buffer (this rig: 2048 bytes)
            with pytest.raises(IecError) as ei:
                for k in range(0, 2400, 236):
                    c.write("C.90.1", "%d:'%s" % (k, " " * 236))
            assert ei.value.reason.startswith("SIZE")
            c.write("C.90.1", "")  # an empty value clears the staging buffer
            with pytest.raises(IecError) as ei:
                c.write("C.90.2", "%08X" % crc(data))
            assert ei.value.reason.startswith("EMPTY")
            assert c.read("C.90.0")[0] == active0 and c.read("C.90.3")[0] == "NONE"
            c.bye()
        rej = events(rig, CAL_REJECTED)
        assert len(rej) - n_rej == 8  # every rejected calendar (7 invalid + the CRC mismatch)
        assert sorted(set(e[3] for e in rej[:8])) == [0, 1]  # active and passive targets
        assert not events(rig, CAL_ACTIVATED) and not events(rig, CAL_PASSIVE)
        assert not os.path.exists(os.path.join(rig.config_dir, "tariff.json"))
        assert not os.path.exists(os.path.join(rig.config_dir, "tariff_passive.json"))
        info = rig.query("tariff")
        assert info["active"] == active0 and info["passive"] is None and info["name"] == "NL two-rate"
        # the NL calendar keeps billing: to 18:00 (virtual time did not move during the session)
        assert rig.query("time")["t"] == t
        before = rates(rig)
        t1 = to_meter(dt.datetime(2028, 3, 6, 18, 0))
        rig.advance(t1 - t)
        assert rates(rig) == add(before, ref_nl.seconds_per_rate(t, t1))
        # now a good calendar, as hex chunks, active at once; then billed by it
        with IecClient(rig.optical_port) as c:
            c.program(key=KEY2, level=2)
            assert send_calendar(c, seasons, encoding="hex", chunk=150) == crc(seasons)
            assert c.read("C.90.0")[0] == "%08X" % crc(seasons)
            c.bye()
        act = events(rig, CAL_ACTIVATED)
        assert len(act) == 1 and act[0][0] == t1 and act[0][2] == crc(seasons) & 0x3FFFFFFF
        assert len(events(rig, PARAM_WRITE)) == 1  # the commit; chunk writes are not events
        with open(os.path.join(rig.config_dir, "tariff.json"), "rb") as f:
            assert f.read() == seasons  # stored exactly as sent
        before = rates(rig)
        t2 = to_meter(dt.datetime(2028, 3, 7, 12, 0))
        rig.advance(t2 - t1)
        assert rates(rig) == add(before, Ref(json.loads(seasons)).seconds_per_rate(t1, t2))
        # and it is what the meter boots with
        rig.power_cut()
        rig.power_restore()
        info = rig.query("tariff")
        assert info["active"] == "%08X" % crc(seasons) and info["name"].startswith("Example three")


def test_passive_calendar_activates_at_midnight_on_the_first():
    """The host CLI loads the three-season calendar as passive ('next-month') on the evening of 29
    February 2028; it survives a power cut; it becomes active at 00:00 on 1 March (local), the tick
    across midnight split there; the energy before midnight is billed by the NL calendar, after it
    by the new one; the new one is what the meter boots with afterwards."""
    nl = Ref(json.loads(read(NL)))
    seasons = read(SEASONS)
    sent = encode_calendar(seasons.decode())
    ref_s = Ref(json.loads(seasons))
    start = to_meter(dt.datetime(2028, 2, 29, 20, 0))  # Tuesday, leap day
    midnight = to_meter(dt.datetime(2028, 3, 1))
    with rig_for(start) as rig:
        rig.set_load(1, 240.0, 15.0, 1.0)
        rig.advance(600)
        t = start + 600
        env = dict(os.environ, METER_PASSWORD=KEY2.hex())
        p = subprocess.run([sys.executable, "-m", "host_tools", "optical", "tariff", rig.optical_port,
                            SEASONS, "--passive", "next-month", "--level", "2", "--hex"],
                           capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
        assert p.returncode == 0, p.stderr
        assert "calendar %08X" % crc(sent) in p.stdout
        assert "passive %08X,280301000000" % crc(sent) in p.stdout
        info = rig.query("tariff")
        assert info["passive"] == "%08X" % crc(sent) and info["activation"] == midnight
        ps = events(rig, CAL_PASSIVE)
        assert len(ps) == 1 and ps[0][2:] == [crc(sent) & 0x3FFFFFFF, midnight]
        rig.power_cut(warn=True)  # the schedule is in the config dir: it survives
        rig.power_restore()
        info = rig.query("tariff")
        assert info["passive"] == "%08X" % crc(sent) and info["activation"] == midnight
        assert info["name"] == "NL two-rate"
        before = rates(rig)
        end = to_meter(dt.datetime(2028, 3, 1, 19, 0))  # Wednesday 17:00-21:00 is rate 3 in spring
        rig.advance(end - t)
        expect = add(add(before, nl.seconds_per_rate(t, midnight)), ref_s.seconds_per_rate(midnight, end))
        assert rates(rig) == expect
        assert expect[2] > 0 and rig.query("rate") == 3
        act = events(rig, CAL_ACTIVATED)
        assert len(act) == 1 and act[0][0] == midnight and act[0][2] == crc(sent) & 0x3FFFFFFF
        info = rig.query("tariff")
        assert info["active"] == "%08X" % crc(sent) and info["passive"] is None
        with open(os.path.join(rig.config_dir, "tariff.json"), "rb") as f:
            assert f.read() == sent
        assert not os.path.exists(os.path.join(rig.config_dir, "tariff_passive.json"))
        rig.power_cut()
        rig.power_restore()
        info = rig.query("tariff")
        assert info["active"] == "%08X" % crc(sent) and info["passive"] is None
        assert len(events(rig, CAL_ACTIVATED)) == 1
        # the CLI's status view
        p = subprocess.run([sys.executable, "-m", "host_tools", "optical", "tariff", rig.optical_port,
                            "--status", "--hex"], capture_output=True, text=True, cwd=ROOT, env=env,
                           timeout=60)
        assert p.returncode == 0, p.stderr
        assert "active %08X, passive NONE" % crc(sent) in p.stdout


def test_small_heap_32bit_takes_the_nl_calendar():
    """Smoke on the MCU proxy (32-bit, firmware frozen in, 96 KB heap): the full NL calendar (90
    special days) goes in as the active calendar and again as a passive one that activates at
    midnight on the 1st; no memory error, the meter keeps running."""
    import inspect
    if "frozen" not in inspect.signature(Rig).parameters or not os.path.exists(INTERPRETERS["unix32"]):
        pytest.skip("this rig has no frozen 32-bit interpreter")
    nl = encode_calendar(read(NL).decode())
    seasons = read(SEASONS)
    start = to_meter(dt.datetime(2028, 4, 30, 23, 0))
    cfg = {"keys": {"optical_key2": KEY2.hex()}, "optical": {"baud_char": "6", "reaction_ms": 20}}
    with Rig(time_rate=0, start=start, interp="unix32", heap="96K", frozen=True, config=cfg) as rig:
        rig.set_load(1, 240.0, 15.0, 1.0)
        with IecClient(rig.optical_port) as c:
            c.program(key=KEY2, level=2)
            send_calendar(c, seasons)
            send_calendar(c, nl)  # the big one, active now
            assert c.read("C.90.0")[0] == "%08X" % crc(nl)
            send_calendar(c, seasons, passive="next-month")
            c.bye()
        info = rig.query("tariff")
        assert info["passive"] == "%08X" % crc(seasons)
        assert info["activation"] == to_meter(dt.datetime(2028, 5, 1))
        rig.advance(7200)
        info = rig.query("tariff")
        assert info["active"] == "%08X" % crc(seasons) and info["passive"] is None
        assert info["store_errors"] == 0 and info["mem_free"] > 8000
        wh = [rig.query("energy", "1-0:1.8.%d" % r)[0] for r in range(9)]  # (no big JSON here)
        assert wh[0] == sum(wh[1:]) == 7200
