"""The OMS roles of the running meter on the rig (issue 14): a gas meter (mode 7) and a water meter
(mode 5) transmit on rig.air; their values reach P1 (read by dsmr-parser, DSMR 5 and e-MUCS);
replayed, wrong-key and mutated frames are counted and change nothing; replay counters survive power
cuts; the meter's own OMS frames on the air are decoded here and match its registers.

The OMS side of both directions is written here from the standard (EN 13757-3/-7, OMS Vol. 2
7.2.4: AES-128-CBC, AES-CMAC KDF) with `cryptography`, independently of the firmware; the link
coding (CRCs, 3-of-6) comes from the test-side reference tests/mp/wmbus_ref.py (EN 13757-4)."""
import datetime as dt
import os
import random
import sys

import pytest
from cryptography.hazmat.primitives.cmac import CMAC
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from dsmr_parser import telegram_specifications as specs
from dsmr_parser.parsers import TelegramParser

from conftest import ROOT
from host_tools.rig import Rig

sys.path.insert(0, os.path.join(ROOT, "tests", "mp"))
from wmbus_ref import on_air, load_vectors, strip_crcs  # noqa: E402
from test_oms_peer import _ref_decode  # noqa: E402  (independent mode-7 + ELL receiver)

pytestmark = pytest.mark.rig

GAS_KEY = bytes(range(16))
WATER_KEY = bytes.fromhex("0102030405060708090A0B0C0D0E0F11")
TX_KEY = bytes.fromhex("2B7E151628AED2A6ABF7158809CF4F3C")
GAS = ("12345678", "ELS", 0x03)
WATER = ("87654321", "DME", 0x07)
EPOCH = dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)  # meter seconds count from here


def cfg(profile):
    return {"radio": {"dup_window": 0, "keep": 4},
            "keys": {"gas_key": GAS_KEY.hex(), "water_key": WATER_KEY.hex(), "oms_tx_key": TX_KEY.hex()},
            "p1": {"profile": profile},
            "oms": {"submeters": [{"id": GAS[0], "mfct": GAS[1], "channel": 1, "key": "gas_key"},
                                  {"id": WATER[0], "mfct": WATER[1], "channel": 2, "key": "water_key"}],
                    "tx": {"id": "00112233", "mfct": "OMT", "key": "oms_tx_key", "interval": 900,
                           "mode": "T1", "security": 7, "ell": True,
                           "records": ["import_wh", "export_wh", "import_wh_1", "import_wh_2",
                                       "power_w", "time_f"]}}}


# ---------------------------------------------------------------- OMS, from the standard
def _aes_cbc(key, iv, data, enc=True):
    c = Cipher(algorithms.AES(key), modes.CBC(iv))
    x = c.encryptor() if enc else c.decryptor()
    return x.update(data) + x.finalize()


def _cmac(key, data):
    c = CMAC(algorithms.AES(key))
    c.update(data)
    return c.finalize()


def kdf(key, d, mcr, ident_le):
    """OMS Vol. 2 7.2.4 (KDF selection 1): CMAC(K, D || C || ID || 0x07 * 7); D 0 = Kenc, 1 = Kmac
    (meter to other)."""
    return _cmac(key, bytes([d]) + mcr.to_bytes(4, "little") + ident_le + b"\x07" * 7)


def mfct(code):
    v = sum((ord(c) - 64) << s for c, s in zip(code, (10, 5, 0)))
    return v.to_bytes(2, "little")


def header(meter, c=0x44):
    ident, m, dtype = meter
    return bytes([0, c]) + mfct(m) + bytes.fromhex(ident)[::-1] + bytes([0x01, dtype])


def _pad(plain):
    plain = b"\x2f\x2f" + plain
    return plain + b"\x2f" * (-len(plain) % 16)


def encode_mode5(meter, key, acc, records):
    h = header(meter)
    plain = _pad(records)
    tpl = bytes([0x7A, acc, 0x00, (len(plain) // 16) << 4, 0x05])
    iv = h[2:10] + bytes([acc]) * 8  # EN 13757-7 9.4.3: M, A, 8 x access number
    f = h + tpl + _aes_cbc(key, iv, plain)
    return bytes([len(f) - 1]) + f[1:]


def encode_mode7(meter, key, acc, mcr, records):
    h = header(meter)
    plain = _pad(records)
    ident = h[4:8]
    tpl = bytes([0x7A, acc, 0x00, (len(plain) // 16) << 4, 0x07, 0x10])  # CFE: KDF selection 1
    tpl += _aes_cbc(kdf(key, 0, mcr, ident), bytes(16), plain)  # IV 0 (mode 7)
    mcl = 0x25  # AT 5: CMAC truncated to 8 bytes; MCR present
    mac = _cmac(kdf(key, 1, mcr, ident), bytes([mcl]) + mcr.to_bytes(4, "little") + tpl)[:8]
    afl = bytes([0x90, 0x0F, 0x00, 0x2C, mcl]) + mcr.to_bytes(4, "little") + mac
    f = h + afl + tpl
    return bytes([len(f) - 1]) + f[1:]


def decode_mode7(frame, key):
    """(mcr, plain application data, C field) of a mode-7 frame without CRCs; AssertionError on a
    bad MAC or check bytes (the MAC is checked before decryption)."""
    ident = frame[4:8]
    p = 10
    if frame[p] == 0x8C:
        p += 3
    assert frame[p] == 0x90 and frame[p + 1] == 0x0F
    mcl = frame[p + 4]
    mcr = int.from_bytes(frame[p + 5:p + 9], "little")
    mac = frame[p + 9:p + 17]
    tpl = frame[p + 17:]
    assert tpl[0] == 0x7A and tpl[4] & 0x1F == 7 and tpl[5] == 0x10, tpl[:6].hex()
    want = _cmac(kdf(key, 1, mcr, ident), bytes([mcl]) + mcr.to_bytes(4, "little") + tpl)[:8]
    assert mac == want, "MAC"
    n = (tpl[3] >> 4) * 16
    plain = _aes_cbc(kdf(key, 0, mcr, ident), bytes(16), tpl[6:6 + n], enc=False)
    assert plain[:2] == b"\x2f\x2f"
    return mcr, plain[2:], frame[1]


def time_f(t):
    """Meter seconds -> EN 13757-3 type F."""
    d = EPOCH + dt.timedelta(seconds=t)
    y = d.year - 2000
    return d.minute | d.hour << 8 | d.day << 16 | (y & 7) << 21 | d.month << 24 | (y >> 3) << 28


def gas_records(volume_l, t):
    bcd = int(str(volume_l), 16).to_bytes(4, "little")
    return b"\x0c\x13" + bcd + b"\x04\x6d" + time_f(t).to_bytes(4, "little")


def water_records(litres):
    return b"\x04\x13" + litres.to_bytes(4, "little")


def test_encoder_against_vector_v1():
    """This file's mode-7 decoder opens the OMS Annex N vector (V1) and rejects its bad-MAC twin."""
    vs = {v["id"]: v for v in load_vectors(ROOT + "/")}
    key = bytes.fromhex(vs["V1"]["key"])
    mcr, plain, _ = decode_mode7(bytes.fromhex(vs["V1"]["frame_without_crc"]), key)
    assert mcr == 0xAB3 and plain[:2] == b"\x0c\x14"  # 0C 14: volume in 10 L (EN 13757-3)
    with pytest.raises(AssertionError, match="MAC"):
        decode_mode7(bytes.fromhex(vs["V1-badmac"]["frame_without_crc"]), key)


# ---------------------------------------------------------------- the rig
def send(rig, frames, mode="T1", rssi=-70, service_ms=1):
    """Frames back to back on the air, then virtual time until the last one is in."""
    end = 0
    for f in frames:
        end = rig.air.send(on_air(f, mode), mode, rssi, 300)[1]
    rig.air.run(max(1, end // 1000 + 3 - rig.air.run(0)), service_ms)


def p1(rig, profile):
    mark = rig.p1_mark()
    rig.advance(1)
    spec = specs.V5 if profile == "dsmr5" else specs.BELGIUM_FLUVIUS
    data = rig.read_p1_newest(after=mark).decode()
    return TelegramParser(spec, apply_checksum_validation=True).parse(data, throw_ex=True)


def _mbus(tg, ch):
    d = tg.get_mbus_device_by_channel(ch)
    assert d is not None, "channel %d" % ch
    return d


@pytest.fixture(scope="module", params=["dsmr5", "emucs"])
def rig(request):
    with Rig(time_rate=0, config=cfg(request.param)) as r:
        r.air.run(5)
        r.profile = request.param
        yield r


def test_submeters_story(rig):
    prof = rig.profile
    stats = lambda: rig.query("oms")  # noqa: E731
    t0 = rig.now()
    gas_l, water_l = 28504270, 123456
    mcr = 100
    gas_f = encode_mode7(GAS, GAS_KEY, 0x11, mcr, gas_records(gas_l, t0 - 120))
    send(rig, [gas_f, encode_mode5(WATER, WATER_KEY, 0x22, water_records(water_l))])
    s = stats()
    assert [m["ok"] for m in s["meters"]] == [1, 1] and s["total"]["ok"] == 2, s
    tg = p1(rig, prof)
    g, w = _mbus(tg, 1), _mbus(tg, 2)
    assert g.MBUS_DEVICE_TYPE.value == 3 and w.MBUS_DEVICE_TYPE.value == 7
    assert bytes.fromhex(g.MBUS_EQUIPMENT_IDENTIFIER.value).decode() == "ELS" + GAS[0]
    assert bytes.fromhex(w.MBUS_EQUIPMENT_IDENTIFIER.value).decode() == "DME" + WATER[0]
    assert g.MBUS_METER_READING.value * 1000 == gas_l and g.MBUS_METER_READING.unit == "m3"
    assert w.MBUS_METER_READING.value * 1000 == water_l
    # timestamps: the gas meter's own (type F, minutes), the water meter's = reception second
    tg_t = lambda o: int((o.MBUS_METER_READING.datetime - EPOCH).total_seconds())  # noqa: E731
    assert tg_t(g) == (t0 - 120) // 60 * 60
    assert tg_t(w) == t0

    # every few minutes of virtual time: new readings
    for k in range(1, 4):
        rig.advance(180)
        mcr += 1
        gas_l += 1000 * k
        water_l += 37 * k
        send(rig, [encode_mode7(GAS, GAS_KEY, 0x11 + k, mcr, gas_records(gas_l, rig.now())),
                   encode_mode5(WATER, WATER_KEY, 0x22 + k, water_records(water_l))])
    tg = p1(rig, prof)
    assert _mbus(tg, 1).MBUS_METER_READING.value * 1000 == gas_l
    assert _mbus(tg, 2).MBUS_METER_READING.value * 1000 == water_l

    # a replayed frame and a wrong-key frame: counted, ignored
    before = stats()
    send(rig, [gas_f, encode_mode5(WATER, GAS_KEY, 0x40, water_records(1)),
               encode_mode7(GAS, WATER_KEY, 0x41, mcr + 1, gas_records(1, rig.now()))])
    s = stats()
    assert s["meters"][0]["replayed"] == before["meters"][0]["replayed"] + 1
    assert s["meters"][1]["wrong_key"] == before["meters"][1]["wrong_key"] + 1
    assert s["meters"][0]["bad_mac"] == before["meters"][0]["bad_mac"] + 1  # mode 7: MAC fails first
    assert s["total"]["ok"] == before["total"]["ok"]
    tg = p1(rig, prof)
    assert _mbus(tg, 1).MBUS_METER_READING.value * 1000 == gas_l
    assert _mbus(tg, 2).MBUS_METER_READING.value * 1000 == water_l

    # an unknown meter (an installation request) is listed for install mode
    stranger = ("55667788", "KAM", 0x06)
    f = bytearray(encode_mode5(stranger, WATER_KEY, 1, water_records(5)))
    f[1] = 0x46
    send(rig, [bytes(f)], rssi=-66)
    inst = stats()["install"]
    assert {"id": "55667788", "mfct": "KAM", "type": 6, "rssi": -66, "snd_ir": True} in inst

    # replay counters survive power cuts (hard cut 5 s after the frame: saved at the next tick)
    rig.advance(5)
    rig.power_cut()
    rig.power_restore(off_s=30)
    rig.air.run(5)
    assert stats()["meters"][0]["counter"] == mcr
    send(rig, [encode_mode7(GAS, GAS_KEY, 0x11, mcr, gas_records(1, rig.now()))])
    s = stats()
    assert s["meters"][0]["replayed"] == 1 and s["meters"][0]["ok"] == 0, s
    # the reading is gone after the cut (it comes again from the device), the counter is not
    send(rig, [encode_mode7(GAS, GAS_KEY, 0x12, mcr + 1, gas_records(gas_l + 5, rig.now()))])
    assert _mbus(p1(rig, prof), 1).MBUS_METER_READING.value * 1000 == gas_l + 5

    # the optical readout (IEC 62056-21 peer client) shows the same readings
    from test_rig_optical import peer_readout
    data = {a: (v, u) for a, v, u in peer_readout(rig.optical_port)[0]}
    assert data["0-1:24.2.1"] == ("%09.3f" % ((gas_l + 5) / 1000), "m3"), data.get("0-1:24.2.1")
    assert "0-2:24.2.1" not in data and "0-3:24.2.1" not in data  # no reading since the cut


def test_fuzz_frames_through_the_air(rig):
    """10^4 random and mutated frames: no crash, every frame the link accepted is counted once,
    and nothing unauthenticated changes a reading or a counter."""
    if rig.profile != "dsmr5":
        pytest.skip("the receive path does not depend on the P1 profile: once is enough")
    rnd = random.Random(14)
    base = [encode_mode7(GAS, GAS_KEY, 0x50, 5000, gas_records(77, rig.now())),
            encode_mode5(WATER, WATER_KEY, 0x51, water_records(77))]
    send(rig, base)  # the originals: accepted (or, after the story, replayed: rejected)
    before = rig.query("oms")
    link0 = rig.air.stats()["ok"]
    tg0 = p1(rig, rig.profile)
    vals0 = [_mbus(tg0, c).MBUS_METER_READING.value for c in (1, 2)]
    n = 10000
    batch = []
    for i in range(n):
        b = bytearray(rnd.choice(base))
        kind = i % 4
        if kind == 0:  # bit flips in the OMS part (the link CRCs are computed after: link accepts)
            for _ in range(rnd.randint(1, 4)):
                j = rnd.randrange(10, len(b))
                b[j] ^= 1 << rnd.randrange(8)
        elif kind == 1:  # truncated or extended
            b = b[:rnd.randrange(11, len(b))] if rnd.random() < 0.5 else b + bytes(rnd.randrange(1, 20))
        elif kind == 2:  # random payload behind a configured meter's header
            b = b[:10] + bytes(rnd.getrandbits(8) for _ in range(rnd.randrange(1, 60)))
        else:  # random CI and header fields
            b[10] = rnd.choice((0x7A, 0x72, 0x8C, 0x8D, 0x8E, 0x8F, 0x90, rnd.randrange(256)))
            for _ in range(3):
                j = rnd.randrange(11, len(b))
                b[j] = rnd.randrange(256)
        b[0] = len(b) - 1
        batch.append(bytes(b))
    for k in range(0, n, 50):  # C1 (shorter on air than T1), the port serviced every 3 ms
        send(rig, batch[k:k + 50], "C1", service_ms=3)
    after = rig.query("oms")
    link = rig.air.stats()["ok"] - link0
    added = sum(after["total"][k] - before["total"][k] for k in after["total"])
    assert added == link, (added, link)
    assert link > n * 0.9  # nearly all reached the collector (dup_window 0)
    # mode 7: nothing but the original passes the MAC, and that is a replay now. Mode 5 has no
    # counter (EN 13757-7): a mutation outside the encrypted blocks may still decode, to the same
    # value (the checks below)
    assert after["meters"][0]["ok"] == before["meters"][0]["ok"]
    assert [m["counter"] for m in after["meters"]] == [m["counter"] for m in before["meters"]]
    tg = p1(rig, rig.profile)
    assert [_mbus(tg, c).MBUS_METER_READING.value for c in (1, 2)] == vals0


def test_own_frames_on_the_air(rig):
    """The meter's OMS electricity frames: CRCs, mode-7 MAC and decryption, counter increasing,
    values equal to its registers at the second the frame was built."""
    rig.set_load(1, 230.0, 8.0, 1.0)
    seen = []
    last = None
    rig.advance(1)  # the schedule starts at the first metering tick with the radio attached
    for _ in range(3):
        due = rig.query("oms")["tx"]["due"]
        rig.advance(max(0, due - rig.now()))
        assert rig.now() == due
        regs = rig.query("registers")
        t = rig.now()
        n0 = len(rig.air.sent())
        rig.air.run(200)
        sent = rig.air.sent()
        assert len(sent) == n0 + 1, "one frame per interval"
        coded, mode, _ = sent[-1]
        assert mode == "T1"
        frame = t1_decode(coded)
        mcr, recs = _ref_decode(frame, TX_KEY)
        assert frame[1] == 0x44 and frame[9] == 0x02  # SND_NR, electricity
        assert last is None or mcr > last
        last = mcr
        rec = {(v, tar): x for v, tar, x in recs}
        assert rec[((0x03,), 0)] == regs["1-0:1.8.0"][0]  # Wh
        assert rec[((0x83, 0x3C), 0)] == regs["1-0:2.8.0"][0]  # Wh, backward flow
        assert rec[((0x03,), 1)] == regs["1-0:1.8.1"][0]  # per rate (DIFE tariff 1, 2)
        assert rec[((0x03,), 2)] == regs["1-0:1.8.2"][0]
        assert rec[((0x2B,), 0)] == regs["1-0:1.7.0"][0]  # W
        assert rec[((0x6D,), 0)] == time_f(t)
        seen.append(rec[((0x03,), 0)])
    assert seen[-1] > seen[0]  # energy moved between frames
    # an installation frame (SND_IR) on demand, with a fresh counter
    assert rig.command("oms", "install") is True
    rig.advance(1)
    rig.air.run(200)
    mcr, _, c = decode_mode7(t1_decode(rig.air.sent()[-1][0]), TX_KEY)
    assert c == 0x46 and mcr > last
    last = mcr
    assert rig.command("submeter", 1, 3, "X", 0, 1, -3, "m3")["error"].startswith("submeter: the OMS")
    # the counter survives a power cut (reserved ahead: never reused)
    rig.power_cut()
    rig.power_restore(off_s=10)
    rig.air.run(5)
    assert rig.query("oms")["tx"]["counter"] >= last
    assert rig.command("oms", "install") is True
    rig.advance(1)
    rig.air.run(200)
    assert decode_mode7(t1_decode(rig.air.sent()[-1][0]), TX_KEY)[0] > last


_3OF6 = {v: i for i, v in enumerate((0x16, 0x0D, 0x0E, 0x0B, 0x1C, 0x19, 0x1A, 0x13,
                                     0x2C, 0x25, 0x26, 0x23, 0x34, 0x31, 0x32, 0x29))}


def t1_decode(coded):
    """EN 13757-4 T1: 3-of-6 chips -> format A frame; CRCs checked and removed (wmbus_ref)."""
    bits = "".join("{:08b}".format(b) for b in coded)
    out = bytearray()
    for k in range(0, len(bits) - 11, 12):
        hi, lo = _3OF6.get(int(bits[k:k + 6], 2)), _3OF6.get(int(bits[k + 6:k + 12], 2))
        if hi is None or lo is None:
            break  # the postamble
        out.append(hi << 4 | lo)
    n = out[0] + 1
    return strip_crcs(out[:n + 2 * (1 + (n - 10 + 15) // 16)], "A")


def test_own_frames_c1_format_b_mode5():
    """C1 format B with mode 5 (AES-CBC, IV = M A + 8 x access number), decoded here."""
    c = cfg("dsmr5")
    c["oms"] = {"tx": {"id": "00445566", "mfct": "OMT", "key": "oms_tx_key", "mode": "C1",
                       "format": "B", "security": 5, "interval": 1800}}
    with Rig(time_rate=0, config=c) as r:
        r.set_load(1, 230.0, 4.0, 1.0)
        r.advance(1)
        r.advance(r.query("oms")["tx"]["due"] - r.now())
        regs = r.query("registers")
        r.air.run(200)
        (coded, mode, _), = r.air.sent()
        assert mode == "C1" and coded[:2] == b"\x54\x3d"  # format B marker
        f = strip_crcs(coded[2:2 + coded[2] + 1], "B")
        assert f[1:10] == header(("00445566", "OMT", 0x02))[1:] and f[10] == 0x7A
        acc, cf = f[11], int.from_bytes(f[13:15], "little")
        assert cf >> 8 & 0x1F == 5
        plain = _aes_cbc(TX_KEY, f[2:10] + bytes([acc]) * 8, f[15:15 + 16 * (cf >> 4 & 15)], enc=False)
        assert plain[:4] == b"\x2f\x2f\x04\x03"  # check bytes, then 04 03: import total, Wh
        assert int.from_bytes(plain[4:8], "little") == regs["1-0:1.8.0"][0] > 0
        assert plain[8:10] == b"\x04\x83" and int.from_bytes(plain[11:15], "little") == regs["1-0:2.8.0"][0]
