"""Prepayment and supply control on the rig, read back the way a customer and a utility see it:
the display, the relay contact (the rig's relay model), P1 (e-MUCS, read with dsmr-parser) and the
optical readout (the iec62056-21 peer client), plus the events.

- the whole customer story: top up (CLI), consume, low-credit warning, emergency credit by the
  button, disconnect at zero, the energy registers stop, a top-up repays the emergency credit and
  debt, reconnect by the button;
- a friendly-period night that does not disconnect (and the disconnection when it ends);
- a limiter trip and its reconnection, in a manual and an automatic control mode;
- a welded relay reported (RELAY_FAILURE, the real contact everywhere);
- remote disconnect/reconnect through the CLI, refused where the control mode forbids it, and a
  bad write that changes nothing.
"""
import os
import subprocess
import sys
import time

from dsmr_parser import telegram_specifications
from dsmr_parser.parsers import TelegramParser

from conftest import ROOT
from host_tools.iec_client import IecClient
from host_tools.rig import Rig
from test_rig_optical import wait_idle

KEY2 = "6c6576656c2d32207365637265742030"  # the optical level-2 secret (hex), rig config only
CREDIT_LOW, CREDIT_EXHAUSTED, EMERGENCY_CREDIT = 57, 58, 59
SUPPLY_DISCONNECTED, SUPPLY_CONNECTED, SUPPLY_READY, RELAY_FAILURE = 50, 51, 52, 53
LIMITER_OVER, LIMITER_UNDER, CREDIT_ADDED = 54, 55, 56


def config(**over):
    cfg = {"keys": {"optical_key2": KEY2},
           "p1": {"profile": "emucs"},
           "prepayment": {"unit": "energy", "payment_mode": 2, "low_credit": [1500],
                          "ec_amount": 1000, "ec_threshold": 800, "debt": 300, "debt_percent": 50},
           "supply": {"control_mode": 1}}
    for k, v in over.items():
        cfg[k] = v
    return cfg


def cli(rig, *args):
    p = subprocess.run([sys.executable, "-m", "host_tools"] + list(args[:1]) + [rig.optical_port] +
                       list(args[1:]) + ["--level", "2", "--hex", "--password", KEY2],
                       capture_output=True, text=True, timeout=60, cwd=ROOT, stdin=subprocess.DEVNULL)
    wait_idle(rig)
    return p


def p1_values(rig):
    """The next e-MUCS telegram through dsmr-parser: breaker state and the threshold (kW)."""
    mark = rig.p1_mark()
    rig.advance(1)
    tg = rig.read_p1_newest(mark).decode()
    parsed = TelegramParser(telegram_specifications.BELGIUM_FLUVIUS).parse(tg)
    return parsed, tg


def readout(rig):
    wait_idle(rig)
    with IecClient(rig.optical_port) as c:
        r = c.readout()
    wait_idle(rig)
    return r.values


def events_since(rig, n0):
    ev = rig.query("events")
    return [tuple(e) for e in reversed(ev[:len(ev) - n0])]


def run_until(rig, cond, step=10, limit=7200):
    """Advance in `step`-second steps until cond() holds (a credit limit reached, ...)."""
    t = 0
    while not cond():
        assert t < limit, "condition not reached in %d s: supply %r credit %r display %r\n%s" % (
            limit, rig.query("supply"), rig.query("credit"), rig.query("display"), rig.meter_log()[-3000:])
        rig.advance(step)
        t += step
    return t


def test_customer_story():
    with Rig(time_rate=0, config=config()) as rig:
        n0 = len(rig.query("events"))
        # 1. top up 3 kWh over the optical port (CLI): the debt takes half (capped by the debt)
        p = cli(rig, "credit", "--add", "3000")
        assert p.returncode == 0, p.stderr
        assert "available" in p.stdout and "2.700" in p.stdout, p.stdout
        cr = rig.query("credit")
        assert (cr["available"], cr["debt"]) == (2700, 0), cr
        assert rig.query("credit_log", 0)[2] == 3000
        assert rig.wait_display("CREDIT") and rig.relay()["closed"]
        # 2. consume: 2.3 kW on L1
        rig.set_load(1, 230.0, 10.0, 1.0)
        # 3. low-credit warning below 1.5 kWh
        run_until(rig, lambda: rig.query("credit")["low"])
        assert any(e[1] == CREDIT_LOW for e in events_since(rig, n0))
        rig.wait_display("LOW CREDIT")
        # 4. below 0.8 kWh the emergency credit is offered; the button invokes it
        run_until(rig, lambda: rig.query("credit")["ec_state"] == 2)
        rig.press_button()
        rig.wait_display("EMERGENCY")
        assert rig.query("credit")["ec_state"] == 3
        assert any(e[1] == EMERGENCY_CREDIT for e in events_since(rig, n0))
        # 5. disconnect at zero: the relay opens (a local disconnect: ready for reconnection)
        run_until(rig, lambda: not rig.relay()["closed"], step=5)
        rig.advance(2)
        sup = rig.query("supply")
        assert (sup["control_state"], sup["output_state"]) == (2, False), sup
        evs = events_since(rig, n0)
        assert any(e[1] == CREDIT_EXHAUSTED for e in evs) and any(e[1] == SUPPLY_READY for e in evs)
        parsed, tg = p1_values(rig)
        assert "0-0:96.3.10(0)" in tg, tg
        assert readout(rig)["0-0:96.3.10"][0] == "0"
        # 6. the energy registers stop while the supply is off
        e1 = rig.register("1-0:1.8.0")[0]
        rig.advance(600)
        assert rig.register("1-0:1.8.0")[0] == e1
        # the button does not reconnect without credit
        rig.press_button()
        rig.advance(2)
        assert not rig.relay()["closed"]
        rig.wait_display("NO CREDIT")
        # 7. a top-up repays the emergency credit first
        cr = rig.query("credit")
        used = cr["ec_used"]
        assert used >= 1000 - 50, cr  # the emergency credit was consumed (one tick of overshoot)
        assert rig.command("topup", 5000) is True
        cr = rig.query("credit")
        assert cr["ec_state"] == 1 and cr["available"] == 5000 - used + min(0, cr["token"] - (5000 - used)), cr
        # 8. reconnect by the button: the relay closes and energy flows again
        rig.press_button()
        run_until(rig, lambda: rig.relay()["closed"], step=1, limit=10)
        rig.advance(60)
        assert rig.register("1-0:1.8.0")[0] > e1
        assert rig.query("supply")["control_state"] == 1
        parsed, tg = p1_values(rig)
        assert "0-0:96.3.10(1)" in tg
        # the registers stopped exactly while the contact was open: ground truth of the rig
        # (loads times the relay model's closed time) equals the meter's import register
        truth = rig.truth_energy()["1-0:1.8.0"]
        got = rig.query("energy", "1-0:1.8.0")
        assert got[:2] == list(truth[:2]), (got, truth)


def test_friendly_night_does_not_disconnect():
    cfg = config()
    cfg["prepayment"] = {"unit": "energy", "payment_mode": 2, "friendly": {"hours": {"*": [[22, 24], [0, 7]]}}}
    # Monday 2026-01-05 21:00 CET = 20:00Z
    with Rig(time_rate=0, start="2026-01-05T20:00:00Z", config=cfg) as rig:
        assert rig.command("topup", 4000) is True
        rig.set_load(1, 230.0, 10.0, 1.0)  # 2.3 kW: 4 kWh last ~1.7 h, into the friendly night
        rig.advance(3 * 3600)  # to 00:00 local
        cr = rig.query("credit")
        assert cr["friendly"] and cr["available"] < 0, cr
        assert rig.relay()["closed"]  # no disconnection in the friendly period
        rig.advance(6 * 3600 + 1800)  # 06:30
        assert rig.relay()["closed"]
        rig.advance(1800 + 5)  # 07:00: the friendly period ends with the credit in debt
        rig.advance(5)
        assert not rig.relay()["closed"], rig.query("credit")
        assert rig.query("supply")["control_state"] == 2


def test_limiter_trip_and_reconnection():
    cfg = config(prepayment={"payment_mode": 1})
    cfg["supply"] = {"control_mode": 1, "limiter": {"normal_w": 3000, "over_s": 10, "under_s": 30}}
    with Rig(time_rate=0, config=cfg) as rig:
        n0 = len(rig.query("events"))
        rig.set_load(1, 230.0, 20.0, 1.0)  # 4.6 kW > 3 kW
        rig.advance(5)
        assert rig.relay()["closed"]
        rig.advance(10)
        rig.advance(2)
        assert not rig.relay()["closed"]
        evs = events_since(rig, n0)
        assert any(e[1] == LIMITER_OVER and 4550 < e[2] < 4650 and e[3] == 3000 for e in evs), evs
        assert rig.query("supply")["control_state"] == 2
        parsed, tg = p1_values(rig)
        assert "0-0:17.0.0(003.0*kW)" in tg and "0-0:96.3.10(0)" in tg, tg
        # mode 1: no local reconnection; the customer reduces the load and presses the button
        rig.set_load(1, 230.0, 5.0, 1.0)
        rig.advance(60)
        assert not rig.relay()["closed"]
        rig.press_button()
        run_until(rig, lambda: rig.relay()["closed"], step=1, limit=10)
        # mode 5 reconnects locally after the under-threshold time
        assert cli(rig, "relay", "--mode", "5").returncode == 0
        rig.set_load(1, 230.0, 20.0, 1.0)
        run_until(rig, lambda: not rig.relay()["closed"], step=2, limit=60)
        t = run_until(rig, lambda: rig.relay()["closed"], step=2, limit=120)
        assert t >= 30  # the power is zero once the relay is open: under the threshold for 30 s
        assert any(e[1] == LIMITER_UNDER for e in events_since(rig, n0))


def test_welded_relay_reported_and_remote_control():
    with Rig(time_rate=0, config=config(prepayment={"payment_mode": 1})) as rig:
        n0 = len(rig.query("events"))
        rig.set_load(1, 230.0, 5.0, 1.0)
        # remote disconnect over the CLI: the relay opens
        p = cli(rig, "relay", "disconnect")
        assert p.returncode == 0, p.stderr
        run_until(rig, lambda: not rig.relay()["closed"], step=1, limit=10)
        # the meter reports the contact once its feedback settled after the pulse
        run_until(rig, lambda: not rig.query("supply")["output_state"], step=1, limit=10)
        assert "supply          off" in cli(rig, "relay").stdout
        # mode 1: a remote reconnect makes the meter ready; the button connects
        assert cli(rig, "relay", "connect").returncode == 0
        rig.advance(2)
        assert rig.query("supply")["control_state"] == 2 and not rig.relay()["closed"]
        rig.press_button()
        run_until(rig, lambda: rig.relay()["closed"], step=1, limit=10)
        # a bad value and a refused command change nothing
        p = cli(rig, "relay", "--mode", "9")
        assert p.returncode != 0
        with IecClient(rig.optical_port) as c:
            c.program(key=bytes.fromhex(KEY2), level=2)
            try:
                try:
                    c.write("C.91.1", "seven")
                    raise AssertionError("a bad mode was accepted")
                except Exception as e:
                    assert "FORMAT" in str(e), e
                assert c.read("C.91.1")[0] == "1"
            finally:
                c.bye()
        wait_idle(rig)
        # a welded contact: the disconnect does not open it; reported, never hidden
        rig.relay_fault("welded")
        assert cli(rig, "relay", "disconnect").returncode == 0
        run_until(rig, lambda: rig.query("supply")["failures"] > 0, step=1, limit=20)
        sup = rig.query("supply")
        assert (sup["control_state"], sup["output_state"], sup["mismatch"]) == (0, True, True), sup
        evs = events_since(rig, n0)
        assert any(e[1] == RELAY_FAILURE and e[2:] == (0, 1) for e in evs), evs
        parsed, tg = p1_values(rig)
        assert "0-0:96.3.10(1)" in tg  # the real contact state on P1
        assert readout(rig)["0-0:96.3.10"][0] == "1"
        e1 = rig.register("1-0:1.8.0")[0]
        rig.advance(120)
        assert rig.register("1-0:1.8.0")[0] > e1  # energy still flows through the welded contact


def test_96k_frozen_30_days_prepayment():
    """The product proxy (32-bit, firmware frozen in, 96 KB heap) runs 30 days of prepayment:
    daily top-ups, one run-out in the middle (disconnect, top-up, button), the credit always equal
    to the top-ups minus the imported energy, and the heap flat."""
    cfg = config(prepayment={"unit": "energy", "payment_mode": 2, "low_credit": [2000]})
    with Rig(interp="unix32", heap="96K", frozen=True, time_rate=0, config=cfg) as rig:
        rig.set_load(1, 230.0, 2.0, 1.0)  # 460 W: 11.04 kWh a day
        e0 = rig.query("energy", "1-0:1.8.0")[0]  # (small queries: the heap is 96 KB)
        topped = 0
        mem = []
        for day in range(1, 31):
            if day != 15:  # day 15: no top-up, the credit runs out
                assert rig.command("topup", 11500) is True
                topped += 11500
            rig.advance(86400)
            cr = rig.query("credit")
            used = rig.query("energy", "1-0:1.8.0")[0] - e0
            assert cr["available"] == topped - used, (day, cr, topped, used)
            if day == 15:
                assert not rig.relay()["closed"] and cr["available"] <= 0, cr
                assert rig.command("topup", 20000) is True
                topped += 20000
                rig.press_button()
                run_until(rig, lambda: rig.relay()["closed"], step=1, limit=10)
            if day in (2, 10, 20, 30):
                mem.append(rig.query("mem"))
        log = rig.meter_log()
        assert "MemoryError" not in log and "Traceback" not in log, log[-3000:]
        alloc = [m["alloc"] for m in mem]
        print("\nprepayment 96K frozen: alloc %s free %s" % (alloc, [m["free"] for m in mem]))
        assert max(alloc) - min(alloc) <= 512, alloc
        assert min(m["free"] for m in mem) >= 12 * 1024


def test_power_cut_torture_with_credit():
    """Hundreds of random cuts (hard, warned, inside a storage write) while a prepayment meter
    consumes and gets topped up. The account and the energy registers are one journal record, so
    after every restore: available credit + imported Wh == the acknowledged top-ups + a constant
    (exactly). Hence a cut never loses an acknowledged top-up, and gives back at most the
    consumption the registers lost (the save threshold, 50 Wh here, plus one fast-forward step),
    never more."""
    import random
    rnd = random.Random(20261205)
    cfg = config(prepayment={"unit": "energy", "payment_mode": 2})
    thr = 50
    cfg["save_policy"] = [thr, 900, 60]
    cuts = {"hard": 0, "warn": 0, "torn": 0}
    with Rig(time_rate=0, config=cfg) as rig:
        rig.set_load(1, 230.0, 3.0, 1.0)  # 690 W
        acked = 0
        ntx = 0
        const = None
        for i in range(210):
            rig.advance(rnd.choice((1, 7, 60, 300)))
            if rnd.random() < 0.35 or acked == 0:
                amount = rnd.randint(1, 3000) if acked else 50000
                assert rig.command("topup", amount) is True
                acked += amount
                ntx += 1
            kind = ("hard", "warn", "torn")[i % 3]
            before = rig.query("credit")
            e_before = rig.query("energy", "1-0:1.8.0")[0]
            if kind == "hard":
                rig.power_cut()
            elif kind == "warn":
                rig.power_cut(warn=True)
            else:
                rig.power_cut(torn_write=rnd.randint(0, 1100))
            cuts[kind] += 1
            rig.power_restore()
            cr = rig.query("credit")
            e = rig.query("energy", "1-0:1.8.0")[0]
            tag = (i, kind, before, cr, e_before, e)
            assert cr["tx"] == ntx & 0xFFFF, tag  # every acknowledged top-up is there
            log = rig.query("credit_log", 0)
            assert log is not None and log[1] == cr["tx"], (tag, log)  # and in the log
            if const is None:
                const = cr["available"] + e - acked
            assert cr["available"] + e - acked == const, tag
            gain = cr["available"] - before["available"]
            assert gain == e_before - e and 0 <= gain <= thr + 60, tag
    assert min(cuts.values()) >= 70, cuts
