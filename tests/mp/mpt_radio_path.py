# The whole receive/transmit path in virtual time: frames encoded by the TEST's own encoder
# (radio_harness: CRC, 3-of-6 and Manchester written from EN 13757-4) are put on the air of the
# CC1101 model (boards/unix_sim/cc1101_sim.py), received by the real driver with its FIFO service
# run on GDO edges after a latency, and decoded by the real link core.
# mp-heap: 8M
from mptest import eq
from radio_harness import Rig, on_air, make_frame, sized
from wmbus_ref import load_vectors, vector_nocrc
from meter.cores.wmbus import mode as M
from meter.cores.wmbus import link as L
from meter.drivers.cc1101 import regs as R
from meter.drivers.cc1101.core import EV_OVERFLOW



VECTORS = load_vectors()
_nocrc = vector_nocrc


def _expect_l(frame, fmt):
    """L-field the link reports: format A counts bytes without CRCs, B with them."""
    n = len(frame)
    return n - 1 if fmt == "A" else n - 1 + (2 if n <= 126 else 4)


def _fields(frame):
    m = frame[2] | (frame[3] << 8)
    letters = "".join(chr(((m >> s) & 31) + 64) for s in (10, 5, 0))
    return (frame[1], letters, "%02x%02x%02x%02x" % (frame[7], frame[6], frame[5], frame[4]),
            frame[8], frame[9], frame[10])


def _check(rig, want):
    got = rig.frames
    eq(len(got), len(want), "frames received")
    for (res, data, mode, rssi, lqi), (frame, fmt, md, rs) in zip(got, want):
        eq(res, L.OK)
        eq(mode, md)
        eq(data[0], _expect_l(frame, fmt))
        eq(data[1:], frame[1:])
        eq(rssi, rs)
    eq(rig.sim.violations, [])


def test_vectors_c1_and_t1():
    rig = Rig()
    t = 3000
    want = []
    for v in VECTORS:
        frame, fmt = _nocrc(v)
        for mode in ("C1", "T1"):
            fm = fmt if mode == "C1" else "A"
            md = M.MODE_T1 if mode == "T1" else (M.MODE_C1A if fm == "A" else M.MODE_C1B)
            t = rig.sim.inject(on_air(frame, mode, fm), mode, -55 - len(want), at=t) + 300
            want.append((frame, fm, md, -55 - len(want)))
    rig.run(t + 2000, latency_us=150, period_us=3000)
    _check(rig, want)
    # fields against an independent parse of the vector bytes
    seen = {}
    k = 0
    for v in VECTORS:
        frame, fmt = _nocrc(v)
        for _ in range(2):
            data = rig.frames[k][1]
            k += 1
            eq(_fields(data), _fields(frame))
        seen[v["id"]] = _fields(frame)
        if "id" in v.get("expect", {}):
            eq(seen[v["id"]][2], v["expect"]["id"])
    eq(seen["V1"][1:5], ("ELS", "12345678", 0x33, 0x03))  # Elster gas meter, V1's description
    eq(seen["V11"][4], 0x07)  # water (expect: medium water)
    eq(rig.link.stats[L.ST_OK], 2 * len(VECTORS))


def test_badmac_vector_passes_link_layer():
    """V1-badmac differs from V1 in one MAC byte (AFL MAC 2F -> 3F). Its CRCs are recomputed by
    the encoder, so the link layer accepts it unchanged: the MAC is the security layer's check.
    V1's own frame with that byte flipped and its CRCs kept is a CRC error in block 3."""
    v1 = [v for v in VECTORS if v["id"] == "V1"][0]
    bad = [v for v in VECTORS if v["id"] == "V1-badmac"][0]
    good, _ = _nocrc(v1)
    badf, _ = _nocrc(bad)
    diff = [i for i in range(len(good)) if good[i] != badf[i]]
    eq(diff, [26])
    eq((good[26], badf[26]), (0x2F, 0x3F))
    rig = Rig()
    t = rig.sim.inject(on_air(badf, "C1"), "C1", -60, at=2000)
    raw = bytearray(bytes.fromhex(v1["frame"]))
    raw[26 + 4] ^= 0x10  # the same byte in the frame with CRCs (after the CRCs of blocks 1, 2)
    t = rig.sim.inject(b"\x54\xcd" + bytes(raw), "C1", -60, at=t + 1000)
    rig.run(t + 2000)
    eq(rig.frames[0][0], L.OK)
    eq(rig.frames[0][1][1:], badf[1:])
    eq(rig.frames[1][0], L.ERR_CRC)
    eq(rig.link.last_bad_mask, 1 << 2)  # block 3 of format A (bytes 26..41 without CRCs)
    eq(rig.link.stats[L.ST_CRC], 1)


def _back_to_back(rig, spec, gap_us=0, rssi=-60):
    t = 2000
    want = []
    for i, (mode, target) in enumerate(spec):
        n = sized(target, mode)
        fr = make_frame(n, 100 + i)
        t = rig.sim.inject(on_air(fr, mode), mode, rssi, at=t) + gap_us
        want.append((fr, "A", M.MODE_T1 if mode == "T1" else M.MODE_C1A, rssi))
    return t, want


SPEC = [("C1", 20), ("T1", 20), ("C1", 255), ("T1", 255), ("C1", 400), ("T1", 400),
        ("T1", 20), ("C1", 20), ("T1", 400), ("C1", 255), ("C1", 20), ("T1", 255)]


def test_back_to_back_zero_loss():
    """C1 and T1 frames of about 20, 255 and 400 bytes on air (C1's longest is 292), each
    frame's preamble starting right after the previous frame's postamble."""
    rig = Rig()
    t, want = _back_to_back(rig, SPEC)
    rig.run(t + 2000, latency_us=300, period_us=None)
    _check(rig, want)
    eq(rig.radio.overflows + rig.radio.truncated + rig.radio.late + rig.radio.noise, 0)


def test_one_corrupt_block_counted_and_dropped():
    rig = Rig()
    fr = make_frame(60, 7)
    air = bytearray(on_air(fr, "C1"))
    air[2 + 12 + 18 + 5] ^= 0x01  # a data byte of format A block 3
    t = rig.sim.inject(bytes(air), "C1", -60, at=2000)
    fr2 = make_frame(30, 8)
    t = rig.sim.inject(on_air(fr2, "T1"), "T1", -60, at=t)
    rig.run(t + 1000)
    eq([x[0] for x in rig.frames], [L.ERR_CRC, L.OK])
    eq(rig.link.last_bad_mask, 0)  # the OK frame after it
    eq(rig.link.stats[L.ST_CRC], 1)
    eq(rig.link.stats[L.ST_BAD_BLOCKS], 1)
    eq(rig.frames[1][1][1:], fr2[1:])


def test_noise_makes_no_frames():
    rig = Rig()
    t = 2000
    for i in range(40):  # random chips
        t = rig.sim.noise(60, rssi_dbm=-85, at=t) + 200
    for i in range(40):  # the sync word then 8 random bytes: the classic false 8-byte packet
        junk = bytes(((i * 37 + k * 11) & 0xFF) for k in range(8))
        t = rig.sim.noise(0, at=t, data=b"\x55\x55\x54\x3d" + junk) + 200
    fr = make_frame(40, 9)  # after the longest false packet (a junk L-field of 255) is over
    t = rig.sim.inject(on_air(fr, "C1"), "C1", -60, at=t + 30000)
    rig.run(t + 2000, latency_us=100, period_us=2000)
    ok = [x for x in rig.frames if x[0] == L.OK]
    eq(len(ok), 1)
    eq(ok[0][1][1:], fr[1:])
    assert rig.radio.noise + rig.link.stats[L.ST_CODING] + rig.link.stats[L.ST_CRC] \
        + rig.link.stats[L.ST_LENGTH] >= 20, "noise packets were seen and dropped"
    eq(rig.sim.violations, [])


def test_late_reader_overflow_then_next_frame():
    rig = Rig()
    fr = make_frame(200, 11)
    t = rig.sim.inject(on_air(fr, "T1"), "T1", -60, at=2000)
    rig.run(t, latency_us=None, period_us=8000)  # 8 ms between services: 100 bytes arrive
    eq(rig.radio.overflows, 1)
    assert rig.events & EV_OVERFLOW
    rig.link.note(L.ST_OVERFLOW, rig.radio.overflows)
    fr2 = make_frame(120, 12)
    t = rig.sim.inject(on_air(fr2, "C1"), "C1", -60, at=t + 2000)
    rig.run(t + 2000, latency_us=200)
    ok = [x for x in rig.frames if x[0] == L.OK]
    eq(len(ok), 1)
    eq(ok[0][1][1:], fr2[1:])
    eq(rig.link.stats[L.ST_OVERFLOW], 1)
    eq(rig.sim.violations, [])


def test_c1_format_b_synced_on_second_sync_word():
    """RX starts inside the first sync word of a format B frame: the chip syncs on the second
    0x543D and the packet starts with the L-field; the link core still takes it."""
    rig = Rig()
    rig.radio.idle()
    fr = make_frame(50, 13)
    rig.clock.us = 5000
    rig.radio.start_rx(M.FAMILY_TC)  # hunting from 5000 + 809 us (calibration)
    t0 = 5000 + 809 - 320  # then the frame is at chip 32: the first sync word begins
    t = rig.sim.inject(on_air(fr, "C1", "B"), "C1", -60, at=t0)
    rig.run(t + 1000)
    eq(len(rig.frames), 1)
    eq(rig.frames[0][0], L.OK)
    eq(rig.frames[0][2], M.MODE_C1B_LATE)
    eq(rig.frames[0][1][1:], fr[1:])


def test_wrong_rate_and_collision():
    rig = Rig()
    a = make_frame(30, 14)
    t = rig.sim.inject(on_air(a, "C1"), "C2", -60, at=2000)  # 50 kchip/s on 869.525: not heard
    t = rig.sim.inject(on_air(a, "C1"), "C1", -60, at=t + 500, rate=80000)  # 20 % slow: not heard
    b = make_frame(60, 15)
    t1 = rig.sim.inject(on_air(b, "T1"), "T1", -60, at=t + 500)
    rig.sim.inject(on_air(a, "C1"), "C1", -62, at=t + 500 + 2000)  # overlaps b: both garbled
    c = make_frame(25, 16)
    t = rig.sim.inject(on_air(c, "T1"), "T1", -60, at=t1 + 3000)
    rig.run(t + 2000)
    ok = [x for x in rig.frames if x[0] == L.OK]
    eq(len(ok), 1)
    eq(ok[0][1][1:], c[1:])


def test_s1_receive():
    rig = Rig(family=M.FAMILY_S)
    fr = make_frame(80, 17)
    t = rig.sim.inject(on_air(fr, "S1"), "S1", -70, at=2000)
    fr2 = make_frame(150, 18)
    t = rig.sim.inject(on_air(fr2, "S1"), "S1", -70, at=t)
    rig.run(t + 3000, latency_us=500)
    eq([x[0] for x in rig.frames], [L.OK, L.OK])
    eq(rig.frames[0][1][1:], fr[1:])
    eq(rig.frames[1][1][1:], fr2[1:])
    eq(rig.frames[0][2], M.MODE_S1)


def _tx(rig, mode, fr, fmt="A"):
    out = bytearray(700)
    data = bytearray(fr)
    md = {"T1": M.MODE_T1, "S1": M.MODE_S1, "C1": M.MODE_C1A if fmt == "A" else M.MODE_C1B}[mode]
    n = rig.link.encode(md, M.FMT_A if fmt == "A" else M.FMT_B, data, len(data), out)
    patch = {"T1": R.TX_T1, "C1": R.TX_C1, "S1": R.TX_S}[mode]
    rig.radio.transmit(out, n, patch, s1=(mode == "S1"))
    return n


def test_transmit_t1_c1_s1_long_frames():
    rig = Rig()
    cases = [("T1", make_frame(256, 20), "A"), ("C1", make_frame(256, 21), "A"),
             ("C1", make_frame(200, 22), "B"), ("S1", make_frame(100, 23), "A"),
             ("T1", make_frame(15, 24), "A")]
    for mode, fr, fmt in cases:
        _tx(rig, mode, fr, fmt)
        rig.events = 0
        rig.run(rig.clock.us + 80000, latency_us=200, period_us=3000)
        assert rig.events & 32, "TX done"  # EV_TX_DONE
    sent = rig.sim.sent()
    eq([s[1] for s in sent], [c[0] for c in cases])
    for (data, mode, t), (m, fr, fmt) in zip(sent, cases):
        want = on_air(fr, m, fmt)
        eq(bytes(data[:len(want)]), want, m)
        assert len(data) - len(want) <= 1, "at most a postamble byte"
    eq(rig.radio.underflows, 0)
    eq(rig.sim.violations, [])
