"""OMS cores checked against peers: the mode 7 KDF and MAC (firmware, run in the 32-bit
interpreter) against `cryptography`'s AES-CMAC for random keys, counters and payloads; records
written by the firmware encoder decoded by pyMeterBus inside an EN 13757-2 long frame."""
import os
import random

import meterbus
from cryptography.hazmat.primitives.ciphers import algorithms
from cryptography.hazmat.primitives.cmac import CMAC

from tests.conftest import run_mp

SCRIPT = r"""
import sys
from meter.cores.oms.mode7 import Mode7
from meter.cores.wmbus.afl import Afl
for line in sys.stdin:
    key, mcr, ident, body = [bytes.fromhex(x) for x in line.split()]
    m = Mode7()
    m.derive(key, mcr, 0, ident, 0)
    # AFL with MCL 0x25 (CMAC, 8 bytes), MCR and a zero MAC, then the body
    b = bytearray(b"\x90\x0f\x00\x2c\x25" + mcr + bytes(8) + body)
    a = Afl()
    assert a.read(b, 0, len(b)) == 0
    m.verify(b, a, len(b))
    print(bytes(m.kenc).hex(), bytes(m.kmac).hex(), bytes(m.mac[:8]).hex())
"""


def _cmac(k, d):
    c = CMAC(algorithms.AES(k))
    c.update(d)
    return c.finalize()


def test_kdf_and_mac_match_cryptography():
    rnd = random.Random(14)
    cases = []
    for _ in range(40):
        cases.append((rnd.randbytes(16), rnd.randbytes(3) + bytes([rnd.randrange(64)]),
                      rnd.randbytes(4), rnd.randbytes(rnd.randrange(1, 200))))
    inp = "".join(" ".join(x.hex() for x in c) + "\n" for c in cases)
    p = run_mp("unix32", ["-c", SCRIPT], input_data=inp)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.split()
    assert len(lines) == 3 * len(cases)
    for i, (k, mcr, ident, body) in enumerate(cases):
        kenc = _cmac(k, b"\x00" + mcr + ident + b"\x07" * 7)
        kmac = _cmac(k, b"\x01" + mcr + ident + b"\x07" * 7)
        mac = _cmac(kmac, b"\x25" + mcr + body)[:8]
        assert lines[3 * i:3 * i + 3] == [kenc.hex(), kmac.hex(), mac.hex()]


ENC = r"""
from meter.cores.wmbus import records as R
out = bytearray(80)
p = R.encode(out, 0, 0x04, 0x03, 123456789)             # energy 123456789 Wh, int32
p = R.encode(out, p, 0x04, 0x03, 2345678, 0, 1)         # tariff 1
p = R.encode(out, p, 0x0C, 0x13, 87654321, 1)           # volume BCD8, storage 1, 0.001 m3
p = R.encode(out, p, 0x02, 0x2B, -300)                  # power -300 W, int16
print(bytes(out[:p]).hex())
"""


def test_pymeterbus_decodes_our_records():
    p = run_mp("unix32", ["-c", ENC])
    assert p.returncode == 0, p.stderr
    recs = bytes.fromhex(p.stdout.strip())
    # EN 13757-2 long frame: C=08 (RSP_UD), A=1, CI=72, fixed header, records
    hdr = bytes.fromhex("78563412") + bytes.fromhex("9315") + b"\x01\x02" + b"\x01\x00\x00\x00"
    body = b"\x08\x01\x72" + hdr + recs
    frame = bytes([0x68, len(body), len(body), 0x68]) + body + bytes([sum(body) & 0xFF, 0x16])
    t = meterbus.load(frame)
    got = [(r.interpreted["value"], r.interpreted["unit"]) for r in t.records]
    assert [float(v) for v, _ in got] == [123456789.0, 2345678.0, 87654.321, -300.0]
    assert "WH" in got[0][1].upper() and "M" in got[2][1].upper() and "W" in got[3][1].upper()
    assert [r.dib.tariff or 0 for r in t.records][:2] == [0, 1]
    assert t.records[2].dib.storage_number == 1


TX = r"""
import sys
from meter.services.radio_tx import RadioTx
tx = RadioTx("87654321", "ABC", bytes(range(16)), {"security": 7, "ell": True,
             "records": ("import_wh", "export_wh", "import_wh_1", "power_w")})
vals = {"import_wh": 1234567, "export_wh": 89012, "import_wh_1": 1000000, "power_w": -250}
for k in range(3):
    n = tx.build(vals, 100 + k)
    print(bytes(tx.buf[:n]).hex())
"""


def _ref_decode(frame, key):
    """Independent OMS mode 7 receiver written from EN 13757-4/-7 and OMS Vol. 2 (no firmware)."""
    assert frame[0] == len(frame) - 1
    ident = frame[4:8]
    p = 10
    assert frame[p] == 0x8C
    p += 3
    assert frame[p] == 0x90 and frame[p + 1] == 0x0F
    fcl = int.from_bytes(frame[p + 2:p + 4], "little")
    assert fcl == 0x2C00
    mcl, mcr = frame[p + 4], frame[p + 5:p + 9]
    mac = frame[p + 9:p + 17]
    tpl = p + 17
    kenc = _cmac(key, b"\x00" + mcr + ident + b"\x07" * 7)
    kmac = _cmac(key, b"\x01" + mcr + ident + b"\x07" * 7)
    assert _cmac(kmac, bytes([mcl]) + mcr + frame[tpl:])[:8] == mac
    assert frame[tpl] == 0x7A
    cf = int.from_bytes(frame[tpl + 3:tpl + 5], "little")
    assert (cf >> 8) & 0x1F == 7 and frame[tpl + 5] == 0x10
    nb = (cf >> 4) & 0xF
    from cryptography.hazmat.primitives.ciphers import Cipher, modes
    enc = frame[tpl + 6:tpl + 6 + 16 * nb]
    plain = Cipher(algorithms.AES(kenc), modes.CBC(bytes(16))).decryptor().update(enc)
    assert plain[:2] == b"\x2f\x2f"
    recs, q = [], 2
    while q < len(plain) and plain[q] != 0x2F:
        dif = plain[q]
        q += 1
        tariff = 0
        if dif & 0x80:
            tariff = (plain[q] >> 4) & 3
            q += 1
        vif = plain[q]
        q += 1
        vifs = [vif]
        while vifs[-1] & 0x80:
            vifs.append(plain[q])
            q += 1
        n = {2: 2, 4: 4}[dif & 0x0F]
        recs.append((tuple(vifs), tariff, int.from_bytes(plain[q:q + n], "little", signed=True)))
        q += n
    return int.from_bytes(mcr, "little"), recs


def test_own_frames_independent_decoder():
    p = run_mp("unix32", ["-c", TX])
    assert p.returncode == 0, p.stderr
    last = 0
    for line in p.stdout.split():
        mcr, recs = _ref_decode(bytes.fromhex(line), bytes(range(16)))
        assert mcr == last + 1
        last = mcr
        assert recs == [((0x03,), 0, 1234567), ((0x83, 0x3C), 0, 89012), ((0x03,), 1, 1000000),
                        ((0x2B,), 0, -250)]
    assert last == 3
