# P1 telegram builder: formats per field, CRC, body rules, length limit, privacy, allocation.
# mp-heap: 256K
import gc
import time

import metercrypto
from mptest import eq, raises, is32, SkipTest
from meter.common.registers import Registers
from meter.common.events import EventLog
from meter.common import events as ev
from meter.common import timeutil
from meter.cores.dsmr.builder import P1Builder
from meter.cores.dsmr.snapshot import P1Snapshot
from meter.services.submeters import SettableSubmeters


def crc16_arc_ref(data):
    """Bitwise CRC-16/ARC, independent of the C module."""
    crc = 0
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def like(s, pat):
    """'9' = digit, 'X' = S or W, 'H' = uppercase hex digit (any count via '+' after it), else
    literal."""
    i = j = 0
    while j < len(pat):
        p = pat[j]
        if p == "H" and j + 1 < len(pat) and pat[j + 1] == "+":
            while i < len(s) and s[i] in "0123456789ABCDEF":
                i += 1
            j += 2
            continue
        if i >= len(s):
            return False
        c = s[i]
        if p == "9":
            if not ("0" <= c <= "9"):
                return False
        elif p == "X":
            if c not in "SW":
                return False
        elif p == "H":
            if c not in "0123456789ABCDEF":
                return False
        elif c != p:
            return False
        i += 1
        j += 1
    return i == len(s)


def registers(full=True):
    r = Registers()
    vals = {"1-0:1.8.1": 123456789, "1-0:1.8.2": 2399, "1-0:2.8.1": 2444, "1-0:2.8.2": 0,
            "1-0:1.7.0": 244, "1-0:2.7.0": 0, "1-0:21.7.0": 70, "1-0:41.7.0": 32, "1-0:61.7.0": 142,
            "1-0:22.7.0": 0, "1-0:42.7.0": 0, "1-0:62.7.0": 0}
    for o, v in vals.items():
        if o[6] == "8":
            r.define(o, "kWh", -3, v)
        else:
            r.define(o, "kW", -3, v)
    if full:
        for o, v in (("1-0:32.7.0", 2301), ("1-0:52.7.0", 2302), ("1-0:72.7.0", 2290)):
            r.define(o, "V", -1, v)
        for o, v in (("1-0:31.7.0", 480), ("1-0:51.7.0", 12499), ("1-0:71.7.0", 12500)):
            r.define(o, "A", -3, v)
    return r


T0 = timeutil.to_secs(2024, 1, 17, 19, 20, 2)  # 20:20:02 W local


def snapshot(r=None, t=T0):
    e = EventLog()  # note: events.py sizes its "l" arrays for 4-byte longs (64-bit: half the ring)
    e.add(timeutil.to_secs(2023, 12, 8, 14, 10, 4), ev.LONG_POWER_FAIL, 301)
    e.add(timeutil.to_secs(2023, 12, 8, 14, 24, 15), ev.LONG_POWER_FAIL, 240)
    for _ in range(4):
        e.add(T0 - 100, ev.POWER_DOWN)
    e.add(T0 - 50, ev.VOLTAGE_SAG, 1)
    e.add(T0 - 50, ev.VOLTAGE_SAG, 1)
    e.add(T0 - 50, ev.VOLTAGE_SAG, 2)
    e.add(T0 - 50, ev.VOLTAGE_SWELL, 2)
    e.add(T0 - 50, ev.VOLTAGE_SWELL, 9)  # bad phase: ignored
    sm = SettableSubmeters()
    sm.set(1, 3, "2222ABCD123456789", timeutil.to_secs(2024, 1, 17, 19, 15, 0), 12785123, -3, "m3")
    s = P1Snapshot(registers() if r is None else r, e, sm)
    s.t = t
    s.tariff = 2
    s.text = b"0123456789:;<=>?"
    return s


def lines_of(tg):
    eq(tg[:1], b"/")
    eq(tg[-2:], b"\r\n")
    body = tg.decode()
    parts = body.split("\r\n")
    eq(parts[-1], "")
    for p in parts:
        if "\r" in p or "\n" in p:
            raise AssertionError("bare CR or LF in %r" % p)
    return parts[:-1]


def check_frame(tg, max_len=1500):
    assert len(tg) < max_len, len(tg)
    lines = lines_of(tg)
    eq(lines[1], "")
    last = lines[-1]
    assert like(last, "!HHHH"), last
    bang = tg.rindex(b"!")
    eq(int(last[1:], 16), crc16_arc_ref(tg[:bang + 1]))
    body = tg[tg.index(b"\r\n") + 2:bang]
    assert b"/" not in body and b"!" not in body
    for c in tg:
        assert c in (13, 10) or 0x20 <= c <= 0x7E, c
    return lines


DSMR5_FORMATS = {
    "1-3:0.2.8": "(99)", "0-0:1.0.0": "(999999999999X)", "0-0:96.1.1": "(H+)",
    "1-0:1.8.1": "(999999.999*kWh)", "1-0:1.8.2": "(999999.999*kWh)", "1-0:2.8.1": "(999999.999*kWh)",
    "1-0:2.8.2": "(999999.999*kWh)", "0-0:96.14.0": "(9999)", "1-0:1.7.0": "(99.999*kW)",
    "1-0:2.7.0": "(99.999*kW)", "0-0:96.7.21": "(99999)", "0-0:96.7.9": "(99999)",
    "1-0:32.32.0": "(99999)", "1-0:52.32.0": "(99999)", "1-0:72.32.0": "(99999)",
    "1-0:32.36.0": "(99999)", "1-0:52.36.0": "(99999)", "1-0:72.36.0": "(99999)",
    "0-0:96.13.0": "(H+)", "1-0:32.7.0": "(999.9*V)", "1-0:52.7.0": "(999.9*V)", "1-0:72.7.0": "(999.9*V)",
    "1-0:31.7.0": "(999*A)", "1-0:51.7.0": "(999*A)", "1-0:71.7.0": "(999*A)",
    "1-0:21.7.0": "(99.999*kW)", "1-0:41.7.0": "(99.999*kW)", "1-0:61.7.0": "(99.999*kW)",
    "1-0:22.7.0": "(99.999*kW)", "1-0:42.7.0": "(99.999*kW)", "1-0:62.7.0": "(99.999*kW)",
    "0-1:24.1.0": "(999)", "0-1:96.1.0": "(H+)", "0-1:24.2.1": "(999999999999X)(99999.999*m3)",
}


def obj(lines):
    d = {}
    for ln in lines[2:-1]:
        k = ln[:ln.index("(")]
        assert k not in d, "duplicate " + k
        d[k] = ln[len(k):]
    return d


def test_dsmr5_every_object_strict_format():
    b = P1Builder("dsmr5", {"equipment_id": "K8EG004046395507"})
    tg = b.build(snapshot())
    d = obj(check_frame(tg))
    for k, pat in DSMR5_FORMATS.items():
        assert k in d, "missing " + k
        assert like(d[k], pat), (k, d[k], pat)
    assert like(d["1-0:99.97.0"], "(2)(0-0:96.7.19)(999999999999X)(9999999999*s)(999999999999X)(9999999999*s)")
    eq(len(d), len(DSMR5_FORMATS) + 1)


def test_dsmr5_values_and_rounding():
    d = obj(check_frame(P1Builder("dsmr5", {"equipment_id": "K8EG004046395507"}).build(snapshot())))
    eq(d["1-3:0.2.8"], "(50)")
    eq(d["0-0:1.0.0"], "(240117202002W)")
    eq(d["0-0:96.1.1"], "(4B384547303034303436333935353037)")
    eq(d["1-0:1.8.1"], "(123456.789*kWh)")
    eq(d["1-0:1.8.2"], "(000002.399*kWh)")
    eq(d["0-0:96.14.0"], "(0002)")
    eq(d["1-0:1.7.0"], "(00.244*kW)")
    eq(d["0-0:96.7.21"], "(00004)")
    eq(d["0-0:96.7.9"], "(00002)")
    eq(d["1-0:99.97.0"], "(2)(0-0:96.7.19)(231208152415W)(0000000240*s)(231208151004W)(0000000301*s)")
    eq(d["1-0:32.32.0"], "(00002)")
    eq(d["1-0:52.32.0"], "(00001)")
    eq(d["1-0:72.32.0"], "(00000)")
    eq(d["1-0:52.36.0"], "(00001)")
    eq(d["1-0:72.36.0"], "(00000)")
    eq(d["0-0:96.13.0"], "(303132333435363738393A3B3C3D3E3F)")
    eq(d["1-0:32.7.0"], "(230.1*V)")
    # current F3(0,0): mA rounded half up to whole amperes
    eq(d["1-0:31.7.0"], "(000*A)")
    eq(d["1-0:51.7.0"], "(012*A)")
    eq(d["1-0:71.7.0"], "(013*A)")
    eq(d["0-1:24.1.0"], "(003)")
    eq(d["0-1:96.1.0"], "(3232323241424344313233343536373839)")
    eq(d["0-1:24.2.1"], "(240117201500W)(12785.123*m3)")


def test_dst_flag_and_local_time_at_transitions():
    b = P1Builder("dsmr5")
    cases = (
        (timeutil.to_secs(2024, 3, 31, 0, 59, 59), "240331015959W"),
        (timeutil.to_secs(2024, 3, 31, 1, 0, 0), "240331030000S"),
        (timeutil.to_secs(2024, 10, 27, 0, 59, 59), "241027025959S"),
        (timeutil.to_secs(2024, 10, 27, 1, 0, 0), "241027020000W"),
        (timeutil.to_secs(2024, 12, 31, 23, 0, 0), "250101000000W"),
        (timeutil.to_secs(2028, 2, 28, 23, 30, 0), "280229003000W"),
    )
    s = snapshot()
    for t, want in cases:
        s.t = t
        d = obj(check_frame(b.build(s)))
        eq(d["0-0:1.0.0"], "(" + want + ")")


def test_crc_matches_reference_and_module():
    tg = P1Builder("dsmr5").build(snapshot())
    bang = tg.rindex(b"!")
    eq(int(tg[bang + 1:bang + 5], 16), metercrypto.crc16_arc(tg[:bang + 1]))
    eq(tg[bang + 1:bang + 5], tg[bang + 1:bang + 5].upper())


def test_missing_registers_give_zero_in_format():
    s = snapshot(Registers())
    s.tariff = None
    s.events = None
    s.submeters = None
    for prof in ("dsmr5", "dsmr4", "emucs", "smarty_plain"):
        b = P1Builder("smarty", {"security": 0}) if prof == "smarty_plain" else P1Builder(prof)
        d = obj(check_frame(b.build(s)))
        if "1-0:1.8.1" in d:
            eq(d["1-0:1.8.1"], "(000000.000*kWh)")
        if "1-0:1.8.0" in d:
            eq(d["1-0:1.8.0"], "(000000.000*kWh)")
        eq(d["1-0:1.7.0"], "(00.000*kW)")
        if "0-0:96.14.0" in d:
            eq(d["0-0:96.14.0"], "(0000)")
        if "1-0:99.97.0" in d:
            eq(d["1-0:99.97.0"], "(0)(0-0:96.7.19)")
    s.regs = None
    check_frame(P1Builder("dsmr5").build(s))


def test_unit_prefix_saturation_negative_and_rollover():
    r = Registers()
    r.define("1-0:1.7.0", "W", 0, 1234)  # W register -> kW object
    r.define("1-0:2.7.0", "kW", -3, -5)  # negative into an unsigned object
    r.define("1-0:21.7.0", "kW", -3, 123456)  # beyond F5(3,3): saturates
    r.define("1-0:1.8.1", "kWh", -3, 1000000123)  # beyond F9(3,3): rolls over like a register
    r.define("1-0:1.8.2", "Wh", 0, 5)
    r.define("1-0:32.7.0", "V", -2, 23015)  # 230.15 V -> rounded half up
    r.define("0-0:96.7.21", "", 0, 7)  # a count register wins over the event log
    d = obj(check_frame(P1Builder("dsmr5").build(snapshot(r))))
    eq(d["1-0:1.7.0"], "(01.234*kW)")
    eq(d["1-0:2.7.0"], "(00.000*kW)")
    eq(d["1-0:21.7.0"], "(99.999*kW)")
    eq(d["1-0:1.8.1"], "(000000.123*kWh)")
    eq(d["1-0:1.8.2"], "(000000.005*kWh)")
    eq(d["1-0:32.7.0"], "(230.2*V)")
    eq(d["0-0:96.7.21"], "(00007)")


def test_privacy_options():
    s = snapshot()
    tg = P1Builder("dsmr5", {"equipment_id": "X1", "omit_phases": True, "omit_equipment_id": True}).build(s)
    d = obj(check_frame(tg))
    for k in ("1-0:32.7.0", "1-0:31.7.0", "1-0:21.7.0", "1-0:62.7.0", "0-0:96.1.1", "0-1:96.1.0"):
        assert k not in d, k
    for k in ("1-0:1.7.0", "1-0:1.8.1", "0-1:24.2.1", "1-0:32.32.0"):
        assert k in d, k
    d = obj(check_frame(P1Builder("dsmr5", {"phases": 1}).build(s)))
    for k in ("1-0:52.7.0", "1-0:71.7.0", "1-0:41.7.0", "1-0:62.7.0", "1-0:52.32.0", "1-0:72.36.0"):
        assert k not in d, k
    for k in ("1-0:32.7.0", "1-0:31.7.0", "1-0:21.7.0", "1-0:22.7.0", "1-0:32.32.0"):
        assert k in d, k
    d = obj(check_frame(P1Builder("smarty", {"security": 0, "omit_phases": True,
                                             "omit_equipment_id": True}).build(s)))
    for k in ("0-0:42.0.0", "1-0:23.7.0", "1-0:64.7.0", "0-1:96.1.0"):
        assert k not in d, k


def test_length_limit_policy():
    s = snapshot()
    for i in range(10):
        s.events.add(T0 - 1000 + i, ev.LONG_POWER_FAIL, 1000 + i)
    sm = s.submeters
    for ch in (2, 3, 4):
        sm.set(ch, 7, "W" * 8, T0 - 300, 1234567, -3, "m3")
    s.text = bytes(range(256)) * 4
    b = P1Builder("dsmr5", {"equipment_id": "K8EG004046395507"})
    tg = b.build(s)
    d = obj(check_frame(tg))
    assert len(tg) >= 1500 - 3, len(tg)  # filled up to the limit
    for ch in "1234":
        assert "0-%s:24.2.1" % ch in d
    z = int(d["1-0:99.97.0"][1:d["1-0:99.97.0"].index(")")])
    eq(z, 10)  # the log fits in full before the text
    assert b.truncated_text > 0
    eq(b.dropped_mbus, 0)
    # long M-Bus ids push out log entries first
    for ch in (2, 3, 4):
        sm.set(ch, 7, "W" * 40, T0 - 300, 1234567, -3, "m3")
    b = P1Builder("dsmr5", {"equipment_id": "K8EG004046395507"})
    tg = b.build(s)
    d = obj(check_frame(tg))
    assert len(tg) >= 1500 - 2, len(tg)
    log = d["1-0:99.97.0"]
    eq(log[:3], "(6)")
    eq(b.dropped_log, 1)
    assert "000102030405060708"[:len(d["0-0:96.13.0"]) - 2] == d["0-0:96.13.0"][1:-1]
    # a smaller limit: the channels that do not fit go (whole), then log entries; the rest of
    # the room goes to the text
    b = P1Builder("dsmr5", {"max_len": 1024})
    tg = b.build(s)
    d = obj(check_frame(tg, 1024))
    assert len(tg) >= 1024 - 2, len(tg)
    eq(b.dropped_mbus, 2)
    assert "0-1:24.2.1" in d and "0-2:24.2.1" in d and "0-3:24.1.0" not in d and "0-4:24.1.0" not in d
    eq(d["1-0:99.97.0"][:3], "(1)")
    assert "(0000001009*s)" in d["1-0:99.97.0"]  # the newest entry is the one kept
    assert d["0-0:96.13.0"].startswith("(000102")
    raises(ValueError, P1Builder, "dsmr5", {"max_len": 400})


def test_text_capacity_always_fits():
    b = P1Builder("dsmr5", {"equipment_id": "K8EG004046395507", "mbus_channels": 1})
    cap = b.text_capacity()
    assert cap > 0
    s = snapshot()
    for i in range(12):
        s.events.add(T0 - 1000 + i, ev.LONG_POWER_FAIL, 1000 + i)
    s.submeters.set(1, 3, "G" * 48, T0, 1, -3, "m3")
    s.text = b"x" * cap
    b.build(s)
    eq(b.truncated_text, 0)
    s.text = b"x" * (cap + 400)
    b.build(s)
    eq(b.truncated_text, 1)


def test_bad_config_is_rejected():
    raises(ValueError, P1Builder, "dsmr9")
    raises(ValueError, P1Builder, "dsmr5", {"colour": 1})
    raises(ValueError, P1Builder, "dsmr5", {"ident": "A!B"})
    raises(ValueError, P1Builder, "dsmr5", {"ident": "A/B"})
    raises(ValueError, P1Builder, "dsmr5", {"flag": "AB"})
    raises(ValueError, P1Builder, "dsmr5", {"version": "5"})
    raises(ValueError, P1Builder, "dsmr5", {"phases": 2})
    raises(ValueError, P1Builder, "dsmr5", {"equipment_id": "x\r\n"})
    raises(ValueError, P1Builder, "dsmr5", {"security": 3})
    b = P1Builder("dsmr5")
    raises(ValueError, b.build_into, bytearray(100), snapshot())


def test_bad_submeter_entries_are_skipped():
    class Bad:
        def channels(self):
            return [(1, 3, "A", 0, 5, -3, "m3"), (1, 3, "dup", 0, 5, -3, "m3"), ("x",), None,
                    (5, 3, "B", 0, 5, -3, "m3"), (2, 7, "C", -1, 5, -3, "m3"), (3, 7, "D", 0, 5, -3, "l"),
                    (4, 4, b"HEAT", 0, 123456, -2, "GJ")]

    s = snapshot()
    s.submeters = Bad()
    b = P1Builder("dsmr5")
    d = obj(check_frame(b.build(s)))
    eq(d["0-1:96.1.0"], "(41)")
    eq(d["0-4:24.2.1"][-14:], "(001234.56*GJ)")
    assert "0-2:24.1.0" not in d and "0-3:24.1.0" not in d
    eq(b.bad_mbus, 6)
    sm = SettableSubmeters()
    raises(ValueError, sm.set, 0, 3, "A", 0, 1)
    raises(ValueError, sm.set, 1, 3, "A", -5, 1)
    raises(ValueError, sm.set, 1, 3, "A", 0, 1.5)
    raises(ValueError, sm.set, 1, 3, "A", 0, 1, -3, "litre")
    raises(ValueError, sm.update, 2, 0, 1)
    eq(len(sm.channels()), 0)


def test_emucs_objects():
    s = snapshot()
    r = s.regs
    r.define("0-0:96.3.10", "", 0, 1)
    r.define("0-0:17.0.0", "kW", -3, 999900)
    r.define("1-0:31.4.0", "A", 0, 40)
    r.define("1-0:1.4.0", "kW", -3, 2351)
    s.demand_month = (timeutil.to_secs(2020, 5, 9, 11, 45, 58), 2589)
    s.demand_hist = [(timeutil.to_secs(2020, 4, 30, 22, 0, 0), timeutil.to_secs(2020, 4, 23, 17, 25, 38), 3695),
                     (timeutil.to_secs(2020, 3, 31, 22, 0, 0), timeutil.to_secs(2020, 3, 5, 11, 21, 39), 5980)]
    s.submeters.set(2, 7, "W1", T0 - 60, 872234, -3, "m3")
    d = obj(check_frame(P1Builder("emucs", {"equipment_id": "1SAG3101021605", "flag": "FLU",
                                            "ident": "\\253769484_A"}).build(s)))
    eq(d["0-0:96.1.4"], "(50217)")
    eq(d["0-0:96.1.1"], "(3153414733313031303231363035)")
    eq(d["1-0:1.4.0"], "(02.351*kW)")
    eq(d["1-0:1.6.0"], "(200509134558S)(02.589*kW)")
    eq(d["0-0:98.1.0"], "(2)(1-0:1.6.0)(1-0:1.6.0)(200501000000S)(200423192538S)(03.695*kW)"
                        "(200401000000S)(200305122139W)(05.980*kW)")
    eq(d["1-0:31.7.0"], "(000.48*A)")
    eq(d["1-0:71.7.0"], "(012.50*A)")
    eq(d["0-0:96.3.10"], "(1)")
    eq(d["0-0:17.0.0"], "(999.9*kW)")
    eq(d["1-0:31.4.0"], "(040*A)")
    eq(d["0-1:96.1.1"], "(3232323241424344313233343536373839)")
    eq(d["0-1:24.2.3"], "(240117201500W)(12785.123*m3)")
    eq(d["0-2:24.2.1"], "(240117201902W)(00872.234*m3)")
    for k in ("1-3:0.2.8", "0-0:96.7.21", "1-0:99.97.0", "0-1:96.1.0"):
        assert k not in d, k


def test_emucs_firmware_lines_room_and_allocation():
    """set_firmware: the four lines after 0-0:96.1.1, their room taken from the variable objects
    (text capacity shrinks by their length), ValueError when they do not fit; no allocation per
    telegram; other profiles ignore it."""
    s = snapshot()
    b = P1Builder("emucs", {"equipment_id": "E1", "mbus_channels": 0, "demand_max": 0})
    cap = b.text_capacity()
    raw = b.build(s)
    check_frame(raw)
    n0 = len(raw)
    b.set_firmware("1.0.0", "7F3A09C2D41B5E68", "1.2.0 (rc)", "")
    raw = b.build(s)
    lines = check_frame(raw)
    d = obj(lines)
    eq([d[k] for k in ("1-0:0.2.0", "1-0:0.2.8", "1-1:0.2.0", "1-1:0.2.8")],
       ["(1.0.0)", "(7F3A09C2D41B5E68)", "(1.2.0--rc-)", "(NONE)"])
    i = lines.index("0-0:96.1.1(4531)")
    assert lines[i + 1].startswith("1-0:0.2.0(") and lines[i + 5].startswith("0-0:1.0.0("), lines[i:i + 6]
    grow = len(raw) - n0
    eq(grow, 4 * 13 + 5 + 16 + 10 + 4)
    assert cap - b.text_capacity() in (grow // 2, grow // 2 + 1), (cap, b.text_capacity(), grow)
    b.set_firmware("1", "2", "3", "4")  # again: the room of the old lines comes back first
    raw = b.build(s)
    check_frame(raw)
    eq(len(raw), n0 + 4 * 13 + 4)
    buf = bytearray(b.max_frame)
    b.build_into(buf, s)
    gc.collect()
    a0 = gc.mem_alloc()
    for i in range(5):
        s.t = T0 + i
        b.build_into(buf, s)
    assert (gc.mem_alloc() - a0) // 5 <= (32 if is32() else 64)
    small = P1Builder("emucs", {"max_len": b.fixed_len + 20})
    raises(ValueError, small.set_firmware, "1.0.0", "7F3A09C2D41B5E68", "1.2.0", "0123456789ABCDEF")
    check_frame(small.build(s))  # still builds, without the lines
    d5 = P1Builder("dsmr5", {})
    d5.set_firmware("1", "2", "3", "4")
    assert b"0.2.0(" not in d5.build(s)


def test_smarty_plaintext_objects():
    s = snapshot()
    r = s.regs
    r.define("1-0:3.8.0", "kvarh", -3, 835)
    r.define("1-0:3.7.0", "kvar", -3, 12)
    b = P1Builder("smarty", {"security": 0, "equipment_id": "SAG1030700025746", "flag": "Lux",
                             "ident": "\\253694471_M", "current_thresholds": (100, -63)})
    d = obj(check_frame(b.build(s)))
    eq(d["1-3:0.2.8"], "(42)")
    eq(d["0-0:42.0.0"], "(53414731303330373030303235373436)")
    eq(d["1-0:1.8.0"], "(123459.188*kWh)")  # no total register: sum of tariffs 1 and 2
    eq(d["1-0:2.8.0"], "(000002.444*kWh)")
    eq(d["1-0:3.8.0"], "(000000.835*kvarh)")
    eq(d["1-0:4.8.0"], "(000000.000*kvarh)")
    eq(d["1-0:3.7.0"], "(00.012*kvar)")
    eq(d["0-0:17.0.0"], "(000.0*kVA)")
    eq(d["1-1:31.4.0"], "(100*A)(-63*A)")
    eq(d["0-0:96.13.2"], "()")
    eq(d["1-0:24.7.0"], "(00.000*kvar)")
    for k in ("1-0:1.8.1", "0-0:96.14.0", "1-0:99.97.0", "0-0:96.7.9"):
        assert k not in d, k


def test_smarty_encrypted_needs_gcm_and_keys():
    if not hasattr(metercrypto, "gcm_encrypt"):
        raises(RuntimeError, P1Builder, "smarty", {"key": b"k" * 16, "system_title": b"SAG12345"})
        raise SkipTest("metercrypto.gcm_encrypt not in this build yet")
    raises(ValueError, P1Builder, "smarty", {"system_title": b"SAG12345"})
    raises(ValueError, P1Builder, "smarty", {"key": b"k" * 16})
    raises(ValueError, P1Builder, "smarty", {"key": b"k" * 15, "system_title": b"SAG12345"})
    b = P1Builder("smarty", {"key": b"k" * 16, "system_title": b"SAG12345"})
    raises(ValueError, b.build_into, bytearray(b.max_frame), snapshot())  # no frame counter
    fr = b.build(snapshot(), 7)
    eq(fr[:2], b"\xdb\x08")
    eq(fr[2:10], b"SAG12345")
    eq(fr[10], 0x82)
    eq((fr[11] << 8) | fr[12], len(fr) - 13)
    eq(fr[13:18], b"\x30\x00\x00\x00\x07")
    assert b"1-0:1.8.0" not in fr


def test_allocation_and_build_cost():
    s = snapshot()
    for i in range(10):
        s.events.add(T0 - 1000 + i, ev.LONG_POWER_FAIL, 1000 + i)
    for ch in (2, 3, 4):
        s.submeters.set(ch, 7, "W0000000000%d" % ch, T0 - 300, 1234567, -3, "m3")
    s.text = b"Hello P1"
    profs = [("dsmr5", {}), ("dsmr4", {}), ("emucs", {}), ("smarty", {"security": 0})]
    if hasattr(metercrypto, "gcm_encrypt"):
        profs.append(("smarty", {"key": b"k" * 16, "system_title": b"SAG12345"}))
    for prof, cfg in profs:
        b = P1Builder(prof, cfg)
        buf = bytearray(b.max_frame)
        fc = 1 if b.needs_counter else None
        n = b.build_into(buf, s, fc)  # warm the caches
        gc.collect()
        a0 = gc.mem_alloc()
        t0 = time.ticks_us()
        for i in range(20):
            s.t = T0 + i
            n = b.build_into(buf, s, fc)
        dt = time.ticks_diff(time.ticks_us(), t0) // 20
        per = (gc.mem_alloc() - a0) // 20
        print("P1 %s%s: %d bytes, %d bytes allocated per telegram, %d us per build (%s)"
              % (prof, " encrypted" if fc else "", n, per, dt, "unix32" if is32() else "unix"))
        # only memoryview slices (CRC input; GCM src, dst, tag); no strings, no tuples
        assert per <= (32 if is32() else 64) * (4 if fc else 1), per
