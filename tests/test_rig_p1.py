"""Issue 5 on the rig, end to end: the firmware's P1 output read from the rig's TCP endpoint.

- dsmr-parser with checksum validation (V5 for dsmr5, V4 for dsmr4, BELGIUM_FLUVIUS for emucs, MSN
  with the encryption and authentication keys for smarty, the frame as a hex string): every value
  it returns equals the meter's registers at that second. Time is frozen between advances
  (Rig(time_rate=0)), so the telegram and `rig.registers()` / `rig.query(...)` describe the same
  second. The expectations come from tests/test_p1_parser.py's Checker (Decimal arithmetic from
  the register values, independent of the firmware), fed with what the rig reports: registers,
  event log, text message, M-Bus channels, current rate, demand and billing.
- The scenario on every profile: loads on three phases (one exporting), a text message, M-Bus
  channels 1..4, real power cuts (warned and hard) with outages of 1 to 7 minutes, a voltage sag
  and a voltage swell (meter/quality.py detects them from the metrology's voltages).
- tests/p1_strict.py validates every telegram and frame the reader sees.
- smarty: a wrong key or authentication key raises DecryptionError in dsmr-parser; the frame
  counter strictly increases across power cuts (hard and warned).
- The request line: inactive, no bytes; dropped in the middle of a (long) telegram, that telegram
  completes and no other starts (time_rate=1).
- `p1 monitor` on the rig endpoint; the privacy options (omit_phases, omit_equipment_id).
The 60-s cadence measurement is in test_rig_p1_cadence.py.
"""
import bisect
import re
import socket
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
from dsmr_parser import telegram_specifications as specs
from dsmr_parser.exceptions import DecryptionError
from dsmr_parser.parsers import TelegramParser

import p1_strict
import test_p1_parser as tp
from conftest import ROOT
from host_tools.rig import Rig

EPOCH = datetime(2020, 1, 1, tzinfo=timezone.utc)
KEY = bytes.fromhex("000102030405060708090A0B0C0D0E0F")
AUTH = bytes.fromhex("D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF")
SYSTITLE = b"OMT\x00\x00\x12\x34\x56"
EID = "OMT0000000001"  # the unix_sim board's identity
POWER_DOWN, POWER_UP, LONG_POWER_FAIL, VOLTAGE_SAG, VOLTAGE_SWELL = 1, 2, 18, 16, 17
SPECS = {"dsmr5": specs.V5, "dsmr4": specs.V4, "emucs": specs.BELGIUM_FLUVIUS, "smarty": specs.MSN}
COUNTS = {"SHORT_POWER_FAILURE_COUNT": "0-0:96.7.21", "LONG_POWER_FAILURE_COUNT": "0-0:96.7.9",
          "VOLTAGE_SAG_L1_COUNT": "1-0:32.32.0", "VOLTAGE_SAG_L2_COUNT": "1-0:52.32.0",
          "VOLTAGE_SAG_L3_COUNT": "1-0:72.32.0", "VOLTAGE_SWELL_L1_COUNT": "1-0:32.36.0",
          "VOLTAGE_SWELL_L2_COUNT": "1-0:52.36.0", "VOLTAGE_SWELL_L3_COUNT": "1-0:72.36.0"}


def utc(t):
    return EPOCH + timedelta(seconds=t)


class P1Tap:
    """A P1 dongle client on the rig's TCP endpoint: one thread receives, time-stamps every chunk
    (time.monotonic) and cuts the stream into telegrams ('/' .. '!CRC' CRLF) and DLMS
    general-glo-ciphering frames (DB 08 ..., cut by their length). Each item is a dict: data,
    first (arrival of its first byte), done (arrival of its last byte)."""

    def __init__(self, url):
        assert url.startswith("socket://")
        host, port = url[len("socket://"):].rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=5)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.offs = []  # stream offset at which each received chunk starts
        self.times = []  # its arrival time
        self.items = []
        self.noise = 0
        self.cut = []  # telegrams cut short
        self.pos = 0
        self.read = 0  # items handed out by next()
        self.cv = threading.Condition()
        self.stop = False
        self.th = threading.Thread(target=self._run, daemon=True)
        self.th.start()

    def _run(self):
        self.sock.settimeout(0.2)
        while not self.stop:
            try:
                d = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                break
            t = time.monotonic()
            if not d:
                break
            with self.cv:
                self.offs.append(len(self.buf))
                self.times.append(t)
                self.buf += d
                self._cut()
                self.cv.notify_all()

    def _at(self, off):
        return self.times[bisect.bisect_right(self.offs, off) - 1]

    def _cut(self):
        b = self.buf
        while self.pos < len(b):
            p = self.pos
            if b[p] == 0x2F:
                bang = b.find(b"!", p)
                nxt = b.find(b"/", p + 1, bang if bang >= 0 else len(b))
                if nxt > 0:  # cut short (a power cut in the middle): resynchronise on the next one
                    self.cut.append(bytes(b[p:nxt]))
                    self.pos = nxt
                    continue
                if bang < 0 or len(b) < bang + 7:
                    return
                end = bang + 7
            elif b[p] == 0xDB:
                if len(b) < p + 13:
                    return
                end = p + 13 + ((b[p + 11] << 8) | b[p + 12])
                if len(b) < end:
                    return
            else:
                self.noise += 1
                self.pos += 1
                continue
            self.items.append({"data": bytes(b[p:end]), "first": self._at(p), "done": self._at(end - 1), "off": p})
            self.pos = end

    def mark(self):
        with self.cv:
            return len(self.buf)

    def skip(self):
        """Forget the items received so far."""
        with self.cv:
            self.read = len(self.items)

    def next(self, timeout=5.0):
        deadline = time.monotonic() + timeout
        with self.cv:
            while self.read >= len(self.items):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("no P1 telegram within %.1f s" % timeout)
                self.cv.wait(left)
            it = self.items[self.read]
            self.read += 1
            return it

    def quiet(self, seconds):
        """Bytes received during the next `seconds`."""
        m = self.mark()
        time.sleep(seconds)
        with self.cv:
            return bytes(self.buf[m:])

    def validate_all(self, profile, **opts):
        """The strict validator on every telegram / frame received; returns how many."""
        with self.cv:
            items = list(self.items)
        for it in items:
            strict(it["data"], profile, opts)
        assert not self.cut and not self.noise, (self.cut, self.noise)
        return len(items)

    def close(self):
        self.stop = True
        self.th.join(2)
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()


def tst(item, profile):
    """Meter seconds of a telegram's 0-0:1.0.0 (smarty: decrypted with this meter's keys)."""
    data = item["data"]
    if profile == "smarty":
        data = p1_strict.decrypt_frame(data, KEY, AUTH)
    m = re.search(rb"0-0:1\.0\.0\((\d{12}[SW])\)", data)
    return int((p1_strict.tst_to_utc(m.group(1).decode()) - EPOCH).total_seconds())


def advance(rig, tap, profile, seconds):
    """Advance the frozen time by at least one P1 period and return the telegram of the new second
    (skipping any still arriving from before); the line is then idle until the next advance."""
    rig.advance(seconds)
    t = rig.now()
    while True:
        it = tap.next()
        got = tst(it, profile)
        if got == t:
            it["t"] = t
            return it
        assert got < t, (got, t)


def strict(data, profile, opts, key=KEY, auth=AUTH):
    """Strict validation of one telegram (plaintext) or smarty frame; returns the plaintext."""
    if profile == "smarty":
        p1_strict.validate_smarty(data, key, auth, **opts)
        return p1_strict.decrypt_frame(data, key, auth)
    p1_strict.validate(data, profile, **opts)
    return data


def rig_case(rig, profile, pcfg, t):
    """The Checker's case, from what the rig reports for meter second t."""
    info = rig.query("p1_info")
    assert info["profile"] == profile
    regs = rig.registers()
    evs = rig.query("events")  # newest first
    assert rig.query("rate") == info["rate"]
    cfg = {"equipment_id": EID, "current_thresholds": [0, 0]}
    cfg.update({k: v for k, v in pcfg.items() if k not in ("profile", "service")})
    snap = {"t": t, "regs": [[o, u, sc, v] for o, (v, sc, u) in regs.items()],
            "events": [list(e) for e in reversed(evs)], "text": info["text"], "tariff": info["rate"],
            "sub": [list(s) for s in info["submeters"]]}
    if profile == "emucs":
        w, tm = rig.query("demand")[0]  # the demand service's monthly maximum (W, end of its window)
        assert info["demand_month"] == [tm, w]
        snap["dm"] = [tm, w] if tm > 0 else None
        hist = []
        for k in range(13):
            b = rig.query("billing", k)
            if b is None:
                break
            mi, ti = b[3]
            hist.append([b[0], ti if ti > 0 else b[0], mi])
        assert info["demand_hist"] == hist
        snap["dh"] = hist
    return {"profile": profile, "config": cfg, "snap": snap, "fc": info["fc"]}, regs, evs, info


def check(rig, profile, pcfg, item, t, opts):
    """Strict validator + dsmr-parser on one telegram read at frozen meter second t; every value
    equals the meter's registers / state. Returns (parsed telegram, registers, events)."""
    data = item["data"]
    pt = strict(data, profile, opts)
    case, regs, evs, info = rig_case(rig, profile, pcfg, t)
    parser = TelegramParser(SPECS[profile], apply_checksum_validation=True)
    max_len = opts.get("max_len", 1500)
    if profile == "smarty":
        tg = parser.parse(data.hex(), encryption_key=KEY.hex(), authentication_key=AUTH.hex())
        tp.check_smarty(tg, case, len(pt), max_len)
    elif profile == "emucs":
        tg = parser.parse(data.decode("ascii"), throw_ex=True)
        tp.check_emucs(tg, case, len(pt), max_len)
    else:
        tg = parser.parse(data.decode("ascii"), throw_ex=True)
        tp.check_dsmr(tg, case, len(pt), max_len, "50" if profile == "dsmr5" else "42")
    # the counts come from the meter's lifetime count registers (meter/quality.py)
    for name, obis in COUNTS.items():
        if hasattr(tg, name):
            assert getattr(tg, name).value == regs[obis][0], name
    assert info["len"] == len(data)
    return tg, regs, evs


def mbus_setup(rig, t):
    subs = [(1, 3, "G4711000000000001", t - 300, 1234567, -3, "m3"),  # gas
            (2, 7, "W2000000000000002", t - 600, 98765432, -3, "m3"),  # water
            (3, 4, "H300000000000003", t - 900, 4567, -2, "GJ"),  # heat
            (4, 2, "-", t - 60, 7654321, -3, "kWh")]  # slave E meter, no equipment id
    for s in subs:
        assert rig.command("submeter", *s) is True
    assert "channel must be 1..4" in rig.command("submeter", 5, 3, "X", t, 1, -3, "m3")["error"]
    assert "error" in rig.command("submeter", 1, 3, "X", t, 1, -3)  # too few fields


def scenario(rig, tap, profile, pcfg, opts):
    """The shared scenario; returns the list of telegram items with their checks done."""
    period = 10 if profile in ("dsmr4", "smarty") else 1
    seen = []

    def telegram(adv=None):
        """Advance (default: one P1 period), read the one telegram of that second, check it."""
        it = advance(rig, tap, profile, period if adv is None else adv)
        tg, regs, evs = check(rig, profile, pcfg, it, it["t"], opts)
        seen.append(it)
        with pytest.raises(TimeoutError):  # one telegram per due second, nothing else
            tap.next(timeout=0.15)
        return tg, regs, evs

    rig.set_load(1, 230.0, 10.0, 1.0)
    rig.set_load(2, 231.4, 5.55, 0.9)
    rig.set_load(3, 228.6, -3.2, 0.95)  # exporting
    telegram(1)
    t0 = rig.now()
    text = b"Storing: 5 min. Meter test \x01\xfe"
    assert rig.command("text", text.hex()) == len(text)
    mbus_setup(rig, t0)
    assert rig.command("text", "4X") == {"error": "text: not a hex string"}
    assert rig.command("text", "41" * 1025) == {"error": "text: longer than 1024 characters"}
    tg, regs, _ = telegram()
    assert abs(regs["1-0:21.7.0"][0] - 2300) <= 2 and regs["1-0:62.7.0"][0] > 0  # W, AFE noise
    assert tg.TEXT_MESSAGE.value == text.hex().upper()
    assert len(tg.MBUS_DEVICES) == 4

    # power cuts: warned (4 min outage: long), hard after 20 s (1 min: short), hard after 10 s (7 min)
    # (each cut waits for the telegram in progress: a cut in the middle of one is not a test here)
    seen.append(advance(rig, tap, profile, 300))
    t_cut = rig.now()
    rig.power_cut(warn=True)
    rig.power_restore(off_s=240)
    t_up1 = rig.now()
    assert t_up1 == t_cut + 240
    seen.append(advance(rig, tap, profile, 20))
    rig.power_cut()
    rig.power_restore(off_s=60)
    t_up2 = rig.now()
    seen.append(advance(rig, tap, profile, 10))
    rig.power_cut()
    rig.power_restore(off_s=400)
    t_up3 = rig.now()
    # the text message is stored (DSMR: until replaced); M-Bus readings come again from the devices
    assert rig.query("p1_info")["text"] == text.hex()
    mbus_setup(rig, t0)
    tg, regs, evs = telegram()
    assert regs["0-0:96.7.21"][0] == 3 and regs["0-0:96.7.9"][0] == 2
    longs = [(e[0], e[2]) for e in evs if e[1] == LONG_POWER_FAIL]
    # DSMR: time stamp = end of the failure, value = its duration. Warned cut: saved at the cut, so
    # exact. Hard cut: the start is the last save: the power-up save at t_up2, so the duration
    # includes the 10 s of running before the cut; smarty saved again at the cut's second (the frame
    # counter reservation of the first frame after power-up), so it is exact there.
    d3 = 400 if profile == "smarty" else 410
    assert t_up3 - t_up2 == 410
    assert longs == [(t_up3, d3), (t_up1, 240)]
    if hasattr(tg, "POWER_EVENT_FAILURE_LOG"):
        log = tg.POWER_EVENT_FAILURE_LOG
        assert [(b.datetime, b.value) for b in log.buffer] == [(utc(t_up3), d3), (utc(t_up1), 240)]
    if profile != "emucs":  # e-MUCS has no counts
        assert tg.SHORT_POWER_FAILURE_COUNT.value == 3

    # a 80 s sag on L2 and a swell on L3 (the time threshold is 30 s)
    rig.set_load(2, 198.0, 5.55, 0.9)
    rig.set_load(3, 262.0, -3.2, 0.95)
    advance(rig, tap, profile, 40)
    advance(rig, tap, profile, 40)
    rig.set_load(2, 231.4, 5.55, 0.9)
    rig.set_load(3, 228.6, -3.2, 0.95)
    tg, regs, evs = telegram()
    assert (regs["1-0:52.32.0"][0], regs["1-0:72.36.0"][0]) == (1, 1)
    assert sum(regs[o][0] for o in COUNTS.values() if o[7:] in ("32.0", "36.0")) == 2
    if profile != "emucs":
        assert tg.VOLTAGE_SAG_L2_COUNT.value == 1 and tg.VOLTAGE_SWELL_L3_COUNT.value == 1
    sag = [e for e in evs if e[1] in (VOLTAGE_SAG, VOLTAGE_SWELL)]
    assert [(e[1], e[2]) for e in sag] == [(VOLTAGE_SWELL, 3), (VOLTAGE_SAG, 2)]
    assert sag[1][3] < 1990 and sag[0][3] > 2610  # the extreme voltage (0.1 V)
    return seen


@pytest.mark.parametrize("profile", ["dsmr5", "dsmr4", "emucs", "smarty"])
def test_telegrams_equal_registers(profile):
    pcfg = {"profile": profile}
    cfg = {"p1": pcfg}
    if profile == "smarty":
        cfg["keys"] = {"p1_key": KEY.hex(), "p1_auth": AUTH.hex(), "p1_system_title": SYSTITLE.hex()}
    with Rig(time_rate=0, config=cfg) as rig, P1Tap(rig.p1_url) as tap:
        seen = scenario(rig, tap, profile, pcfg, {})
        if profile == "emucs":
            # into February: January's maximum demand goes to the 13-month history (0-0:98.1.0)
            advance(rig, tap, profile, 27 * 86400)
            it = advance(rig, tap, profile, 1)
            tg, regs, _ = check(rig, profile, pcfg, it, it["t"], {})
            hist = tg.BELGIUM_MAXIMUM_DEMAND_13_MONTHS
            assert len(hist) == 1 and hist[0].value > 0
            assert tg.BELGIUM_MAXIMUM_DEMAND_MONTH.value * 1000 == regs["1-0:1.6.0"][0] > 0
        lens = [len(it["data"]) - (30 if profile == "smarty" else 0) for it in seen]  # plaintext
        assert all(100 < n < 1500 for n in lens)
        print("%s telegram lengths on the rig (plaintext): %s" % (profile, sorted(set(lens))))
        assert tap.validate_all(profile) >= len(seen)
        if profile == "smarty":
            fcs = [p1_strict.parse_frame(it["data"])[1] for it in seen]
            assert all(b > a for a, b in zip(fcs, fcs[1:])), fcs
            assert fcs[0] >= 0 and all(p1_strict.parse_frame(it["data"])[0] == SYSTITLE for it in seen)


@pytest.mark.parametrize("interp", ["unix", "unix32"])
def test_smarty_keys_and_frame_counter_across_cuts(interp):
    cfg = {"p1": {"profile": "smarty"},
           "keys": {"p1_key": KEY.hex(), "p1_auth": AUTH.hex(), "p1_system_title": SYSTITLE.hex()}}
    parser = TelegramParser(specs.MSN, apply_checksum_validation=True)
    with Rig(time_rate=0, config=cfg, interp=interp) as rig, P1Tap(rig.p1_url) as tap:
        rig.set_load(1, 230.0, 4.0, 1.0)
        fcs = []
        frames = []

        def frame():
            f = advance(rig, tap, "smarty", 10)["data"]
            fc, _ = p1_strict.validate_smarty(f, KEY, AUTH)
            fcs.append(fc)
            frames.append(f)
            assert rig.query("p1")["fc"] == fc + 1
            return f

        f = frame()
        for wrong_key, wrong_auth in ((bytes(16), AUTH), (KEY, bytes(16)), (KEY, None)):
            with pytest.raises(DecryptionError):
                kw = {"encryption_key": wrong_key.hex()}
                if wrong_auth is not None:
                    kw["authentication_key"] = wrong_auth.hex()
                parser.parse(f.hex(), **kw)  # None: the public LU default key, not this meter's
        assert parser.parse(f.hex(), encryption_key=KEY.hex(), authentication_key=AUTH.hex())
        frame()
        for warn in (False, True, False, False, True):
            rig.power_cut(warn=warn)
            rig.power_restore()
            frame()
            frame()
        assert all(b > a for a, b in zip(fcs, fcs[1:])), fcs
        assert len(set(fcs)) == len(fcs) == 12
        ivs = {p1_strict.parse_frame(f)[1].to_bytes(4, "big") for f in frames}
        assert len(ivs) == len(frames)  # GCM IVs (system title || fc) never repeat
        assert rig.registers()["0-0:96.7.21"][0] == 5
        assert tap.validate_all("smarty") == 12


def test_request_line():
    # inactive from power-up: nothing at all, whatever the time does; active again: telegrams
    with Rig(time_rate=0, p1_request=False) as rig, P1Tap(rig.p1_url) as tap:
        for _ in range(3):
            rig.advance(1)
        assert tap.quiet(0.3) == b""
        rig.power_cut()
        rig.power_restore()  # the line stays inactive across the power cut
        rig.advance(5)
        assert tap.quiet(0.3) == b""
        rig.set_pin("p1_req", 1)
        for _ in range(5):  # the first telegram goes out at the first second boundary the P1 task sees
            rig.advance(1)
            try:
                it = tap.next(timeout=0.5)
                break
            except TimeoutError:
                pass
        p1_strict.validate(it["data"], "dsmr5")
        rig.set_pin("p1_req", 0)
        tap.skip()
        rig.advance(1)
        rig.advance(1)
        assert tap.quiet(0.3) == b""
        assert tap.validate_all("dsmr5") == 1

    # dropped right after the first bytes of a long telegram arrive: it completes, no other starts
    with Rig(time_rate=1) as rig, P1Tap(rig.p1_url) as tap:
        now = rig.now()
        mbus_setup(rig, now)
        rig.command("text", (b"x" * 1024).hex())  # cut to what fits: a full-length telegram
        tap.next()
        it = tap.next()
        n = len(it["data"])
        assert 1490 <= n < 1500
        p1_strict.validate(it["data"], "dsmr5")
        for attempt in range(5):
            if attempt:
                rig.set_pin("p1_req", 1)
                tap.skip()
                tap.next(timeout=3)  # a whole telegram: the line is idle until the next second
            # positions in the rig's own copy of the stream: it appends the meter's bytes before it
            # handles the meter's later answers, so after set_pin() returns, p1_mark() is an upper
            # bound of what was sent before the meter saw the line drop
            m0 = rig.p1_mark()
            deadline = time.monotonic() + 3
            while rig.p1_mark() == m0:  # wait for the first bytes of the next telegram
                assert time.monotonic() < deadline
                time.sleep(0.0005)
            rig.set_pin("p1_req", 0)
            before_drop = rig.p1_mark() - m0
            it = tap.next(timeout=3)
            if before_drop < len(it["data"]):
                break  # the meter saw the drop in the middle of this telegram
            time.sleep(1.2)
        else:
            pytest.fail("could not drop the request line inside a telegram in 5 attempts")
        print("request line dropped after %d of %d bytes (attempt %d)" % (before_drop, len(it["data"]), attempt + 1))
        assert len(it["data"]) >= 1490
        p1_strict.validate(it["data"], "dsmr5")
        TelegramParser(specs.V5, apply_checksum_validation=True).parse(it["data"].decode(), throw_ex=True)
        assert tap.quiet(1.5) == b""  # no other telegram while the line is inactive
        info = rig.query("p1_info")
        assert info["errors"] == [0, 0, 0] and info["dropped"][2] > 0
        assert tap.validate_all("dsmr5") >= 3


def test_privacy_options():
    pcfg = {"profile": "dsmr5", "omit_phases": True, "omit_equipment_id": True}
    opts = {"omit_phases": True, "omit_equipment_id": True}
    with Rig(time_rate=0, config={"p1": pcfg}) as rig, P1Tap(rig.p1_url) as tap:
        rig.set_load(1, 230.0, 7.0, 1.0)
        rig.set_load(2, 231.0, 2.0, 1.0)
        advance(rig, tap, "dsmr5", 1)
        mbus_setup(rig, rig.now())
        it = advance(rig, tap, "dsmr5", 1)
        tg, regs, _ = check(rig, "dsmr5", pcfg, it, it["t"], opts)
        text = it["data"].decode()
        for o in ("0-0:96.1.1(", "1-0:32.7.0(", "1-0:31.7.0(", "1-0:21.7.0(", ":96.1.0("):
            assert o not in text, o
        assert tg.CURRENT_ELECTRICITY_USAGE.value * 1000 == regs["1-0:1.7.0"][0] > 0
        assert EID.encode().hex().upper() not in text and "G4711".encode().hex().upper() not in text
        with pytest.raises(p1_strict.P1Error, match="left out"):  # the validator does catch a leak
            p1_strict.validate(_with_line(it["data"], b"1-0:32.7.0(230.0*V)\r\n"), "dsmr5", **opts)
        assert tap.validate_all("dsmr5", **opts) == 2


def _with_line(tg, line):
    bang = tg.rindex(b"!")
    body = tg[:bang] + line + b"!"
    return body + b"%04X\r\n" % p1_strict.crc16_arc(body)


def test_p1_monitor_on_the_rig():
    with Rig(time_rate=1) as rig:
        rig.set_load(1, 230.0, 10.0, 1.0)
        rig.command("text", b"Hi".hex())
        r = subprocess.run([sys.executable, "-m", "host_tools", "p1", "monitor", rig.p1_url, "--count", "2",
                            "--timeout", "10"], cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        assert "Traceback" not in r.stderr and "2 telegrams, 2 decoded, 0 CRC errors" in r.stderr
        out = r.stdout
        assert out.count("dsmr5 /OMT5\\2OMT-SIM") == 2
        assert "INSTANTANEOUS_ACTIVE_POWER_L1_POSITIVE" in out and "2.300 kW" in out
        assert '"%s"' % EID in out and '"Hi"' in out
