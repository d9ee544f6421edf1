"""Issue 12 on the rig: STS tokens (IEC 62055-41) entered the way a customer does, on the keypad,
and over the optical port with the host CLI. Tokens come from our vending tool (host_tools/sts,
written independently of the firmware's decoder); the expected results follow the standard's TID,
key change and lockout rules, checked on the display, the credit registers, the limiter and the
event log (TOKEN_RESULT = 62, a = result code).

One rig is shared by the cases in file order (module fixture): each case starts from the meter the
previous one left (key revision, base date, TID memory); `S` tracks the vendor in force.
"""
import random
import subprocess
import sys
import time

import pytest

from conftest import ROOT
from host_tools.rig import Rig
from host_tools.sts.tokens import Vendor
from test_rig_optical import wait_idle

KEY2 = "6c6576656c2d32207365637265742030"
KEY1 = bytes.fromhex("0123456789abcdef")  # decoder key of this test meter (key store only)
KEY2_STS = bytes.fromhex("1122334455667788")
KEY3_STS = bytes.fromhex("a1b2c3d4e5f60718")
KEY4_STS = bytes.fromhex("0f1e2d3c4b5a6978")
TOKEN_RESULT, STS_KEY_CHANGED, STS_LOCKOUT, STS_MANAGEMENT = 62, 63, 64, 65
ACCEPT, KCT1, KCT2, FORMAT, OLD, USED, CRC, LOCKOUT = 0, 1, 2, 5, 8, 9, 12, 14
NAMES = ("Accept", "1stKCT", "2ndKCT", "Overflow", "KeyType", "Format", "Range", "Function", "Old",
         "Used", "KeyExpired", "DDTK", "CRC", "MfrCode", "Lockout")
TID_COUNT = 4
LOCK_AFTER = 3

S = {"vendor": Vendor(KEY1, ea=7, base_year=1993), "tid": 1000}


def config():
    return {"keys": {"optical_key2": KEY2, "sts_decoder_key": KEY1.hex()},
            "prepayment": {"unit": "energy", "payment_mode": 2},
            "supply": {"control_mode": 1}, "ui": {"entry_timeout_s": 2},
            "sts": {"pan": "600727000000000009", "ea": 7, "kt": 2, "krn": 1, "ti": 1, "sgc": 123456,
                    "base": 1993, "tid_count": TID_COUNT, "lockout_after": LOCK_AFTER,
                    "lockout_s": 60}}


@pytest.fixture(scope="module")
def rig():
    with Rig(time_rate=0, config=config()) as r:
        yield r


def next_tid():
    S["tid"] += 100
    return S["tid"]


def events(rig, code):
    return [e for e in rig.query("events") if e[1] == code]


def enter(rig, digits, expect):
    """Type a token and #; wait for the result text; the newest TOKEN_RESULT is its code."""
    n0 = rig.query("tokens")["count"]
    rig.keypad(digits + "#")
    end = time.monotonic() + 10
    while rig.query("tokens")["count"] == n0:
        assert time.monotonic() < end, "the token never reached the decoder: %r" % rig.display()
        time.sleep(0.05)
    got = rig.query("tokens")["last"]
    assert got[0] == expect, (got, NAMES[expect])
    assert events(rig, TOKEN_RESULT)[0][2] == expect
    rig.wait_display(NAMES[expect])
    return got


def credit(rig):
    return rig.query("credit")["token"]


def test_customer_story_accept_then_used(rig):
    """Vend 10 kWh, type it: Accept and exactly +10 kWh (10000 Wh); the same again: Used."""
    c0 = credit(rig)
    tok = S["vendor"].credit(100, tid=next_tid())  # 100 x 0.1 kWh
    assert len(tok.digits) == 20
    enter(rig, tok.digits, ACCEPT)
    assert credit(rig) == c0 + 10000
    assert rig.query("credit_log", 0)[2] == 10000 and rig.query("credit_log", 0)[4] == S["tid"]
    enter(rig, tok.digits, USED)
    assert credit(rig) == c0 + 10000
    assert S["tid"] in rig.query("tokens")["tids"]


def test_keypad_grouping_backspace_and_timeout(rig):
    """Digits shown in groups of four as typed; '*' deletes; a pause longer than the entry
    timeout (2 s here) clears a half-typed token, so its second half alone is no token."""
    tok = S["vendor"].credit(10, tid=next_tid())
    n0 = rig.query("tokens")["count"]
    rig.keypad(tok.digits[:9] + "7*")
    lines = rig.wait_display(tok.digits[:4] + " " + tok.digits[4:8] + " " + tok.digits[8])
    assert "ENTER TOKEN:" in lines
    time.sleep(3)
    rig.keypad(tok.digits[9:] + "#")
    rig.wait_display("FORMAT?")
    assert rig.query("tokens")["count"] == n0
    enter(rig, tok.digits, ACCEPT)  # typed in one go it is a good token


def test_old_token_refused(rig):
    v = S["vendor"]
    old = v.credit(10, tid=500)  # below every TID held once the memory is full
    for _ in range(TID_COUNT):
        enter(rig, v.credit(10, tid=next_tid()).digits, ACCEPT)
    c0 = credit(rig)
    enter(rig, old.digits, OLD)
    assert credit(rig) == c0


def test_max_power_token_sets_limiter(rig):
    tok = S["vendor"].max_power(4200, tid=next_tid())
    enter(rig, tok.digits, ACCEPT)
    assert rig.query("supply")["limiter"]["normal"] == 4200
    assert any(e[2] == 0 and e[3] == 4200 for e in events(rig, STS_MANAGEMENT))


def test_key_change_both_orders_then_old_key_refused(rig):
    v1 = S["vendor"]
    # second half first
    kct = v1.key_change(KEY2_STS, kt=2, krn=2, ti=1)
    enter(rig, kct[1].digits, KCT1)
    assert rig.query("tokens")["krn"] == 1  # one half changes nothing
    enter(rig, kct[0].digits, KCT2)
    assert rig.query("tokens")["krn"] == 2
    assert events(rig, STS_KEY_CHANGED)[0][2] == 2
    c0 = credit(rig)
    enter(rig, v1.credit(50, tid=next_tid()).digits, CRC)  # the old key no longer decrypts
    assert credit(rig) == c0
    v2 = Vendor(KEY2_STS, ea=7, base_year=1993)
    enter(rig, v2.credit(50, tid=next_tid()).digits, ACCEPT)
    assert credit(rig) == c0 + 5000
    # first half first, to key revision 3
    kct = v2.key_change(KEY3_STS, kt=2, krn=3, ti=1)
    enter(rig, kct[0].digits, KCT1)
    enter(rig, kct[1].digits, KCT2)
    assert rig.query("tokens")["krn"] == 3
    enter(rig, v2.credit(50, tid=next_tid()).digits, CRC)
    S["vendor"] = Vendor(KEY3_STS, ea=7, base_year=1993)


def test_rollover_key_change(rig):
    """The 2024-11-24 rollover: a key change set with the rollover bit moves the meter to base
    date 2014 and clears the TID memory; credit is kept; tokens of the new base date work."""
    c0 = credit(rig)
    assert len(rig.query("tokens")["tids"]) == TID_COUNT
    kct = S["vendor"].key_change(KEY4_STS, kt=2, krn=4, ti=1, rollover=True)
    enter(rig, kct[0].digits, KCT1)
    enter(rig, kct[1].digits, KCT2)
    st = rig.query("tokens")
    assert (st["base"], st["krn"], st["tids"]) == (1, 4, []), st
    assert credit(rig) == c0
    v = Vendor(KEY4_STS, ea=7, base_year=2014)
    tok = v.credit(20, tid=10)  # a small TID: minutes after 2014-01-01
    enter(rig, tok.digits, ACCEPT)
    assert credit(rig) == c0 + 2000
    S["vendor"], S["tid"] = v, 10
    # the key and the base date survive a power cycle
    rig.power_cut(warn=True)
    rig.power_restore()
    st = rig.query("tokens")
    assert (st["base"], st["krn"], st["tids"]) == (1, 4, [10]), st
    enter(rig, tok.digits, USED)


def test_lockout_survives_power_cut(rig):
    c0 = credit(rig)
    bad = "99999999999999999999"  # 20 digits, value >= 2**66: Format, a bad token
    enter(rig, bad, FORMAT)
    enter(rig, bad, FORMAT)
    enter(rig, bad, FORMAT)  # the 3rd bad token in a row starts the lock
    lk = events(rig, STS_LOCKOUT)
    assert lk and lk[0][3] == 1, lk
    good = S["vendor"].credit(10, tid=next_tid())
    enter(rig, good.digits, LOCKOUT)
    rig.power_cut()  # no warning: the lock was made durable when it started
    rig.power_restore()
    enter(rig, good.digits, LOCKOUT)
    assert credit(rig) == c0
    rig.advance(61)
    enter(rig, good.digits, ACCEPT)
    assert credit(rig) == c0 + 1000
    assert rig.query("tokens")["lock_level"] == 0  # a good token resets the doubling


def test_power_cut_between_tid_and_credit(rig):
    """The cut tears the one journal record that carries the TID and the credit together: after
    the restore neither is there, and the token gives its credit exactly once when typed again."""
    c0 = credit(rig)
    tok = S["vendor"].credit(30, tid=next_tid())
    rig._cmd("fault", "torn", "40")
    with rig._hit_cv:
        n = len(rig.hits)
    rig.keypad(tok.digits + "#")
    with rig._hit_cv:
        assert rig._hit_cv.wait_for(lambda: len(rig.hits) > n, timeout=15), "no storage write"
    rig.power_cut()
    rig.power_restore()
    assert credit(rig) == c0
    assert S["tid"] not in rig.query("tokens")["tids"]
    enter(rig, tok.digits, ACCEPT)
    assert credit(rig) == c0 + 3000
    rig.power_cut()  # after the record: the TID is durable, the token is Used
    rig.power_restore()
    enter(rig, tok.digits, USED)
    assert credit(rig) == c0 + 3000


def test_optical_cli_token_enter(rig):
    c0 = credit(rig)
    tok = S["vendor"].credit(15, tid=next_tid())

    def cli(digits):
        wait_idle(rig)
        p = subprocess.run([sys.executable, "-m", "host_tools", "token", "enter", rig.optical_port,
                            digits, "--level", "2", "--hex", "--password", KEY2],
                           capture_output=True, text=True, timeout=60, cwd=ROOT, stdin=subprocess.DEVNULL)
        wait_idle(rig)
        return p

    p = cli(tok.digits)
    assert p.returncode == 0 and "Accept" in p.stdout, (p.stdout, p.stderr)
    assert credit(rig) == c0 + 1500
    p = cli(tok.digits)
    assert p.returncode != 0 and "USED" in (p.stdout + p.stderr).upper(), (p.stdout, p.stderr)
    assert credit(rig) == c0 + 1500
    assert KEY4_STS.hex() not in rig.meter_log()


def test_tariff_rate_and_clear_credit_tokens(rig):
    v = S["vendor"]
    enter(rig, v.tariff_rate(1234, tid=next_tid()).digits, ACCEPT)
    assert rig.query("tokens")["tariff_rate"] == 1234
    enter(rig, v.clear_credit(3, tid=next_tid()).digits, ACCEPT)  # water: not this meter's register
    assert credit(rig) > 0
    enter(rig, v.clear_credit(0xFFFF, tid=next_tid()).digits, ACCEPT)
    assert credit(rig) == 0
    assert [e[2] for e in events(rig, STS_MANAGEMENT)[:3]] == [1, 1, 2]
    rig.power_cut()
    rig.power_restore()
    assert credit(rig) == 0 and rig.query("tokens")["tariff_rate"] == 1234


def tokens_typed(keys):
    """Entries of 20 digits a keypad sequence hands to the decoder, by the keypad's rules written
    out here (up to 20 digits kept, '*' deletes the last, '#' enters and clears)."""
    n = out = 0
    for k in keys:
        if k == "*":
            n = max(0, n - 1)
        elif k == "#":
            out += n == 20
            n = 0
        elif n < 20:
            n += 1
    return out


def test_keypad_fuzz(rig):
    """Random keypad sequences: no crash (the UI counts no fault), no credit change, and every
    entry's result is CRC or Format, or Lockout once the bad tokens lock entry."""
    rng = random.Random(12)
    c0 = credit(rig)
    n0 = rig.query("tokens")["count"]
    want = 0
    for _ in range(25):
        seq = "".join(rng.choice("0123456789*#") for _ in range(rng.randint(1, 30)))
        if rng.random() < 0.5:
            seq += "#" + "".join(rng.choice("0123456789") for _ in range(20))
        seq += "#"
        want += tokens_typed(seq)
        rig.keypad(seq)  # <= 52 keys: the keypad holds 64; the meter scans one per 20 ms
        time.sleep(0.03 * len(seq))
        end = time.monotonic() + 10
        while rig.query("tokens")["count"] < n0 + want:
            assert time.monotonic() < end, (rig.query("tokens")["count"] - n0, want)
            time.sleep(0.05)
    assert want >= 10
    assert rig.query("tokens")["count"] == n0 + want
    st = rig.query("display")
    assert st["faults"] == 0, st
    evs = events(rig, TOKEN_RESULT)[:want]
    assert all(e[2] in (CRC, FORMAT, LOCKOUT) for e in evs), evs
    assert {e[2] for e in evs} & {CRC, FORMAT}
    assert credit(rig) == c0


def test_frozen_small_heap_prepayment_and_sts():
    """The product proxy (32-bit, firmware frozen in) with prepayment and STS configured takes a
    token on the keypad and refuses its replay, without a MemoryError. The STA folded tables are
    frozen bytes constants (flash, not heap), which took STS's resident cost from ~11.3 KB to
    ~7.9 KB (104 KB heap: 87.5 KB allocated, 16.5 KB free after tokens), but a prepayment + STS
    meter still does not boot in 96 KB (MemoryError at boot): it is tested at 104 KB. The MCU
    boards have 140-250 KB; the rest of STS's cost is module globals and function objects."""
    with Rig(interp="unix32", heap="104K", frozen=True, time_rate=0, config=config()) as r:
        v = Vendor(KEY1, ea=7, base_year=1993)
        tok = v.credit(100, tid=77)
        c0 = credit(r)
        enter(r, tok.digits, ACCEPT)
        assert credit(r) == c0 + 10000
        enter(r, tok.digits, USED)
        r.advance(600)
        m = r.query("mem")
        log = r.meter_log()
        assert "MemoryError" not in log and "Traceback" not in log, log[-3000:]
        print("\nprepayment+STS 104K frozen: alloc %d free %d" % (m["alloc"], m["free"]))
        assert m["free"] >= 8 * 1024, m
