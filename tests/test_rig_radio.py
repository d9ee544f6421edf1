"""The radio on the rig: frames coded onto the rig's air (host_tools/rig_air.py) by the test-side
encoder (tests/mp/wmbus_ref.py, written from EN 13757-4), received by the CC1101 model behind the
sim board's SPI, the real driver, the link core and the radio port, read back through rig.query.
pyMeterBus gives a second opinion on the link-layer fields. Virtual time only (time_rate 0): the
port is serviced every `service_ms` of virtual time while the air runs."""
import json
import os
import sys

import pytest
from meterbus.wtelegram_snd_nr import WTelegramSndNr

from conftest import ROOT
from host_tools.rig import Rig

sys.path.insert(0, os.path.join(ROOT, "tests", "mp"))
from wmbus_ref import on_air, make_frame, load_vectors, vector_nocrc  # noqa: E402

pytestmark = pytest.mark.rig


VECTORS = load_vectors(ROOT + "/")
_nocrc = vector_nocrc


def _fields(frame):
    """Link-layer fields parsed here from EN 13757-4 (C, M as letters, A = ID/version/type, CI)."""
    m = frame[2] | (frame[3] << 8)
    return {"c": frame[1], "m": "".join(chr(((m >> s) & 31) + 64) for s in (10, 5, 0)),
            "id": "%02x%02x%02x%02x" % (frame[7], frame[6], frame[5], frame[4]),
            "version": frame[8], "type": frame[9], "ci": frame[10]}


@pytest.fixture(scope="module")
def rig():
    with Rig(time_rate=0, config={"radio": {"dup_window": 0, "keep": 8}}) as r:
        r.air.run(5)  # the chip settles into RX (SRX + calibration)
        yield r


def _delta(rig, before):
    s = rig.air.stats()
    return {k: s[k] - before[k] for k in s if isinstance(s[k], int) and k != "rssi"}


def sized(target, mode):
    """Length (without CRCs) of the longest frame whose on-air length in `mode` is <= target."""
    return max([11] + [n for n in range(11, 257) if len(on_air(make_frame(n, 1), mode)) <= target])


def _send_run(rig, items, service_ms=1):
    """Send (coded, mode, rssi, gap_us[, rate]) back to back; run until 3 ms after the last ends
    (virtual time is frozen between commands: run(0) tells the current virtual ms)."""
    end = 0
    for it in items:
        end = rig.air.send(*it)[1]
    rig.air.run(max(1, end // 1000 + 3 - rig.air.run(0)), service_ms)


def test_vectors_through_the_whole_path(rig):
    peer = 0
    for v in VECTORS:
        frame, fmt = _nocrc(v)
        before = rig.air.stats()
        _send_run(rig, [(on_air(frame, "C1", fmt), "C1", -57, 200), (on_air(frame, "T1"), "T1", -81, 200)])
        d = _delta(rig, before)
        assert (d["ok"], d["crc"], d["overflow"]) == (2, 0, 0), (v["id"], d)
        got = rig.air.frames()[-2:]
        want = _fields(frame)
        ln_b = len(frame) - 1 + (2 if len(frame) <= 126 else 4)  # format B's L counts its CRCs
        for f, mode, rssi, ln in zip(got, (("C1A" if fmt == "A" else "C1B"), "T1"), (-57, -81),
                                     (len(frame) - 1 if fmt == "A" else ln_b, len(frame) - 1)):
            assert {k: f[k] for k in want} == want, v["id"]
            assert (f["mode"], f["l"], f["rssi"]) == (mode, ln, rssi), v["id"]
            assert bytes.fromhex(f["hex"])[1:] == frame[1:], v["id"]  # CRCs stripped, all else equal
            # pyMeterBus, second opinion on the link-layer fields of what the meter received
            # (where its header is the link layer's: for CI 0x8C/0x8E/0x72 it reads further in)
            h = WTelegramSndNr(list(bytes.fromhex(f["hex"]))).dataHeader.interpreted
            if int(h["type"], 16) != f["ci"] or f["ci"] == 0x72:
                continue  # CI 0x72: pyMeterBus shows the long TPL header's address instead
            peer += 1
            assert h["manufacturer"] == f["m"]
            assert "".join("%02x" % int(x, 16) for x in h["identification"].split(", ")) == f["id"]
            assert (int(h["version"], 16), int(h["device_type"], 16), int(h["type"], 16)) == \
                (f["version"], f["type"], f["ci"])
    assert peer >= 10  # pyMeterBus agreed on most frames (not only skipped them)


def test_negative_vector_and_corrupt_block_dropped(rig):
    """V1's frame with one byte flipped and its CRCs kept: block 3 fails, the frame is counted
    and dropped (V1-badmac itself has valid CRCs: its rejection is the MAC's, issue 14)."""
    v1 = [v for v in VECTORS if v["id"] == "V1"][0]
    raw = bytearray(bytes.fromhex(v1["frame"]))
    raw[30] ^= 0x10
    before = rig.air.stats()
    n_before = len(rig.air.frames())
    _send_run(rig, [(b"\x54\xcd" + bytes(raw), "C1", -60, 200)])
    d = _delta(rig, before)
    assert (d["ok"], d["crc"], d["bad_blocks"]) == (0, 1, 1)
    assert len(rig.air.frames()) == n_before


@pytest.mark.parametrize("mode", ["C1", "T1"])
def test_back_to_back_zero_loss(rig, mode):
    items = []
    for target in (20, 255, 400):
        n = sized(target, mode)
        for k in range(3):
            items.append((on_air(make_frame(n, 1000 * target + k), mode), mode, -65, 0))
    before = rig.air.stats()
    _send_run(rig, items)
    d = _delta(rig, before)
    assert (d["ok"], d["crc"], d["overflow"], d["truncated"], d["dropped"]) == (9, 0, 0, 0, 0), d


def test_noise_makes_no_false_frames(rig):
    before = rig.air.stats()
    for rssi in (-60, -80, -100):
        rig.air.noise(1500, rssi=rssi, gap_us=100)
    frame = make_frame(40, 77)
    _send_run(rig, [(on_air(frame, "C1"), "C1", -60, 500)])
    d = _delta(rig, before)
    assert d["ok"] == 1 and d["crc"] == 0, d
    assert rig.air.frames()[-1]["id"] == _fields(frame)["id"]


def test_wrong_rate_and_collision(rig):
    before = rig.air.stats()
    _send_run(rig, [(on_air(make_frame(30, 5), "C1"), "C1", -60, 200, 50000)])
    assert _delta(rig, before)["ok"] == 0  # a 50 kchip/s transmitter is not heard
    a, b = on_air(make_frame(60, 6), "C1"), on_air(make_frame(60, 7), "C1")
    rig.air.send(a, "C1", -60, 200)
    _send_run(rig, [(b, "C1", -62, -3000)])  # starts 3 ms before the first ends: garbled
    d = _delta(rig, before)
    assert d["ok"] == 0, d


def test_late_reader_overflow_then_next_frame(rig):
    before = rig.air.stats()
    _send_run(rig, [(on_air(make_frame(sized(400, "T1"), 31), "T1"), "T1", -60, 200)], service_ms=25)
    d = _delta(rig, before)
    assert d["overflow"] >= 1 and d["ok"] == 0, d
    frame = make_frame(50, 32)
    _send_run(rig, [(on_air(frame, "T1"), "T1", -60, 500)])
    d = _delta(rig, before)
    assert d["ok"] == 1, d
    assert rig.air.frames()[-1]["id"] == _fields(frame)["id"]


def test_monitor_cli(rig):
    """`python -m host_tools radio monitor socket://...` prints the frames the meter receives."""
    import subprocess
    rig.air.clients = 0
    port = rig.air.serve(poll_s=0.05)
    try:
        cmd = [sys.executable, "-m", "host_tools", "radio", "monitor", "socket://127.0.0.1:%d" % port,
               "--count", "2", "--timeout", "20"]
        procs = [subprocess.Popen(cmd + extra, cwd=ROOT, stdout=subprocess.PIPE, text=True)
                 for extra in (["--json"], [])]
        import time
        end = time.monotonic() + 20
        while rig.air.clients < 2 and time.monotonic() < end:  # a client sees frames from then on
            time.sleep(0.05)
        a, b = make_frame(30, 4242), make_frame(90, 4343)
        _send_run(rig, [(on_air(a, "C1"), "C1", -61, 200), (on_air(b, "T1"), "T1", -72, 200)])
        outs = [p.communicate(timeout=30)[0] for p in procs]
        assert [p.returncode for p in procs] == [0, 0]
    finally:
        rig.air.stop_serving()
    lines = [json.loads(x) for x in outs[0].splitlines()]
    assert [(x["frame"]["id"], x["frame"]["mode"], x["frame"]["rssi"]) for x in lines] == \
        [(_fields(a)["id"], "C1A", -61), (_fields(b)["id"], "T1", -72)]
    assert lines[1]["stats"]["ok"] >= 2
    text = outs[1].splitlines()
    assert len(text) == 2 and _fields(b)["id"] in text[1] and "RSSI=-72 dBm" in text[1]
