"""DLMS/COSEM over HDLC on the meter's OPTICAL port, entered through IEC 62056-21 protocol mode E
(Annex E), on the rig's pty with pyserial, the UNMODIFIED gurux-dlms client building and parsing the
HDLC frames and APDUs (its GXDLMSClient is sans-I/O; the mode E handshake - which gurux leaves to
its sample reader - is done here from the standard):
  300 Bd 7E1: client "/?!" CR LF -> meter "/XXXZ\\2<ident>" CR LF (\\2: binary mode HDLC available)
  client "ACK 2 Z 2" CR LF (V = 2 HDLC procedure, Y = 2 binary mode) -> both ends switch to the
  baud of Z, 8N1, no answer; then SNRM/UA, AARQ/AARE ... DISC/UA, and the meter is back in mode C.
Stories: the public client reads the clock, a register with its scaler and a load-profile range;
the management client (HLS-GMAC, authenticated and encrypted) sets the clock and remotely
disconnects and reconnects with the rig's relay following; 10^4 random and mutated HDLC frames
through the optical port change nothing and the port keeps answering."""
import datetime
import os
import random
import sys
import termios
import time

import pytest
import serial

from host_tools.rig import Rig

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "dlms"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "mp"))
sys.path.insert(0, os.path.dirname(__file__))
from peer import Gx, SerialIO, free_port, gurux_client  # noqa: E402
import dlms_client as DC  # noqa: E402
from test_rig_dlms import AK, CLIENT_TITLE, EK, until  # noqa: E402

pytestmark = [pytest.mark.rig, pytest.mark.timeout(300)]
BAUDS = {ord(c): b for c, b in zip("0123456", (300, 600, 1200, 2400, 4800, 9600, 19200))}


@pytest.fixture(scope="module")
def rig():
    cfg = {"dlms": {"tcp_port": free_port(), "hdlc": {"inactivity_s": 5}},
           "optical": {"baud_char": "6"},
           "supply": {"control_mode": 2},
           "keys": {"dlms_ek": EK.hex(), "dlms_ak": AK.hex(), "dlms_lls": b"12345678".hex()}}
    r = Rig(start="2026-01-05T12:00:00Z", config=cfg)
    r.start()
    try:
        yield r
    finally:
        r.close()


def switch_line(s, baud):
    """8N1 at `baud` in ONE tcsetattr, once the option select is out (tcdrain). pyserial changes
    speed and framing one attribute at a time, and this kernel's pty refuses (EINVAL) a framing
    change that keeps the speed; a real serial port takes either. pyserial's own settings are not
    touched afterwards (a setter would write its stale 7E1 view back)."""
    a = termios.tcgetattr(s.fd)
    a[2] = (a[2] & ~(termios.CSIZE | termios.PARENB | termios.PARODD | termios.CSTOPB)) | termios.CS8
    a[4] = a[5] = getattr(termios, "B%d" % baud)
    termios.tcsetattr(s.fd, termios.TCSADRAIN, a)


class ModeE(SerialIO):
    """The client side of the optical port: mode E handshake, then raw 8N1 bytes (gurux's io:
    SerialIO's send/recv/close)."""

    def __init__(self, rig):
        self.rig = rig
        assert until(lambda: rig.wire.line_reset, 5)  # the previous client's port is closed
        self.s = serial.Serial(rig.optical_port, 300, bytesize=7, parity="E", timeout=5)
        self.s.write(b"/?!\r\n")
        ident = self.s.read_until(b"\n")
        assert ident[:4] == b"/OMT" and ident[5:7] == b"\\2" and ident.endswith(b"\r\n"), ident
        self.baud = BAUDS[ident[4]]
        self.s.write(b"\x062" + ident[4:5] + b"2\r\n")
        self.s.flush()
        time.sleep(0.25)  # the ACK's 6 characters at 300 Bd: a UART switched earlier cuts them off
        switch_line(self.s, self.baud)
        # the meter switches once it has the LF
        assert until(lambda: rig.uart_cfg.get("optical") == (str(self.baud), "8", "N", "1"), 3)
        assert rig.wire.meter_cfg == (self.baud, 8, "N", 1)
        self.s.reset_input_buffer()


def session(rig, sap, ic=None, **kw):
    c = gurux_client("hdlc", sap, **kw)
    if ic is not None:
        c.settings.cipher.invocationCounter = ic
    g = Gx(ModeE(rig), c)
    g.connect()
    return g


def back_in_mode_c(rig):
    return until(lambda: rig.uart_cfg.get("optical") == ("300", "7", "E", "1"), 10)


def mgmt(rig, ic):
    from gurux_dlms.enums import Authentication, Security
    return session(rig, 1, ic=ic, auth=Authentication.HIGH_GMAC,
                   security=Security.AUTHENTICATION_ENCRYPTION, ek=EK, ak=AK, title=CLIENT_TITLE)


def gx_public_reads(rig, g, exact_wh=False):
    """Public client (gurux session g): the clock, the A+ register with its scaler_unit and the
    last hour of the load profile by range, checked against the rig (tests/test_rig_dlms_memory.py
    reuses it over TCP with exact_wh: the rig's exact Wh accumulator, a smaller answer than
    rig.registers() for a small heap with a session open)."""
    from gurux_dlms.objects import GXDLMSClock, GXDLMSRegister, GXDLMSProfileGeneric
    clk = GXDLMSClock("0.0.1.0.0.255")
    g.read(clk, 2)
    t = clk.time.value
    assert abs(t.timestamp() - rig.now_unix()) < 30 and t.utcoffset() == datetime.timedelta(hours=1)
    reg = GXDLMSRegister("1.0.1.8.0.255")
    g.read(reg, 3)
    g.read(reg, 2)
    if exact_wh:
        wh = rig.query("energies")["1-0:1.8.0"][0]
        assert int(reg.unit) == 30 and wh > 0 and abs(reg.value - wh) <= 50  # Wh, scaler applied
    else:
        v, sc, unit = rig.registers()["1-0:1.8.0"]
        assert unit == "kWh" and reg.scaler == 10.0 ** (sc + 3) and int(reg.unit) == 30  # Wh
        assert abs(reg.value - v * 10.0 ** (sc + 3)) <= 50
    pg = GXDLMSProfileGeneric("1.0.99.1.0.255")
    g.read(pg, 3)
    g.read(pg, 7)
    assert pg.entriesInUse >= 12
    now = rig.now_unix()
    end = datetime.datetime.fromtimestamp(now - now % 900, datetime.timezone(datetime.timedelta(hours=1)))
    g.rows_by_range(pg, end - datetime.timedelta(hours=1), end)
    rows = pg.buffer
    assert len(rows) == 5  # the quarter hours end-1h .. end, both ends included
    stamps = [r[0].value.timestamp() for r in rows]
    assert stamps == [end.timestamp() - 900 * k for k in (4, 3, 2, 1, 0)]
    a = [r[2] for r in rows]
    assert a == sorted(a) and a[-1] - a[0] >= 2000  # 2.3 kW for an hour: ~2300 Wh


def test_mode_e_public_reads_clock_register_and_profile_range(rig):
    rig.set_load(1, 230.0, 10.0, 1.0)
    rig.advance(3 * 3600)
    g = session(rig, 16)
    try:
        gx_public_reads(rig, g)
    finally:
        g.close()
    assert back_in_mode_c(rig)  # DISC: the port is in mode C again
    st = rig.query("optical")
    assert st["faults"] == 0 and st["mode_e"] is False


def test_mode_e_management_gmac_sets_clock_and_switches_relay(rig):
    from test_rig_dlms import gx_set_clock_and_switch
    g = mgmt(rig, 40000)
    try:
        gx_set_clock_and_switch(rig, g)
    finally:
        g.close()
    assert back_in_mode_c(rig)


def test_mode_e_management_activates_a_passive_calendar_by_method(rig):
    """Activity calendar (IC 20) method 1 activate_passive_calendar: gurux (HLS-GMAC, over mode E)
    writes the passive attributes 6-9 and calls the method; the tariff service promotes the
    calendar on its next tick (no activation time written). A second call with nothing passive
    is a temporary failure."""
    from gurux_dlms import GXDLMSException
    from gurux_dlms.enums import ErrorCode
    from test_rig_dlms import gx_passive_calendar
    cal = gx_passive_calendar("gx method")
    g = mgmt(rig, 41000)
    try:
        for attr in (6, 7, 8, 9):
            g.write(cal, attr)
        assert rig.query("tariff")["name"] != "gx method"
        g.method(cal, 1, 0, 15)  # integer 0
        assert until(lambda: rig.query("tariff")["name"] == "gx method")
        assert rig.query("tariff")["activation"] is None  # promoted: nothing scheduled
        with pytest.raises(GXDLMSException) as e:
            g.method(cal, 1, 0, 15)
        assert e.value.errorCode == ErrorCode.TEMPORARY_FAILURE
    finally:
        g.close()
    assert back_in_mode_c(rig)
    g = session(rig, 16)  # the public client may not call it
    try:
        from gurux_dlms import GXDLMSException
        with pytest.raises(GXDLMSException) as e:
            g.method(cal, 1, 0, 15)
        assert e.value.errorCode == ErrorCode.READ_WRITE_DENIED
    finally:
        g.close()


def test_mode_c_readout_still_works_after_mode_e(rig):
    """The same meter, after the HDLC sessions: the iec62056-21 client reads in mode C (it reads
    the identification's \\2 as the enhanced capability pair it expects after Z)."""
    from test_rig_optical import peer_readout, wait_line_free
    wait_line_free(rig)
    data, _, _ = peer_readout(rig.optical_port)
    got = {a: v for a, v, _ in data}
    v, sc, _ = rig.registers()["1-0:1.8.0"]
    assert abs(float(got["1-0:1.8.0"]) - v * 10.0 ** sc) < 0.1


def test_mode_e_inactivity_falls_back_to_mode_c(rig):
    """No frame after the switch: after the HDLC inactivity time-out (5 s here) the meter is back
    at 300 Bd 7E1 and answers a mode C sign-on."""
    io = ModeE(rig)
    try:
        t0 = time.monotonic()
        assert back_in_mode_c(rig)
        assert time.monotonic() - t0 >= 4.0
    finally:
        io.close()
    assert until(lambda: rig.wire.line_reset, 5)
    with serial.Serial(rig.optical_port, 300, bytesize=7, parity="E", timeout=3) as s:
        s.write(b"/?!\r\n")
        assert s.read_until(b"\n").startswith(b"/OMT")


def hdlc(ctrl, info=b"", client=0x21, dst=b"\x03"):
    """A frame to server address dst from client (SAP << 1 | 1), built by the test client's own
    IEC 62056-46 encoder (tests/mp/dlms_client.py, independent of the meter's hdlc.py)."""
    return DC.frame(dst + bytes((client,)), ctrl, info)


def raw_frame(body):
    """7E body FCS 7E around any body (random content with a valid FCS)."""
    c = DC.crc_ref(body)
    return b"\x7e" + body + bytes((c & 255, c >> 8)) + b"\x7e"


def mutate(r, f):
    b = bytearray(f)
    for _ in range(r.randrange(1, 4)):
        k = r.randrange(4)
        i = r.randrange(len(b))
        if k == 0:
            b[i] ^= 1 << r.randrange(8)
        elif k == 1:
            b[i] = r.randrange(256)
        elif k == 2 and len(b) > 3:
            del b[i]
        else:
            b.insert(i, r.randrange(256))
    return bytes(b)


def test_fuzz_optical_hdlc_1e4_frames(rig):
    """10^4 HDLC frames at the optical port in mode E: random bodies with a valid FCS, valid frames
    (SNRM, I-frames with mutated APDUs, RR, UI, unknown controls) for other and our addresses,
    and mutations of them (bad FCS: dropped silently). Never DISC, so the link stays in mode E;
    sent in batches while the meter listens at the client's baud. Afterwards: no fault, the relay
    and the clock unchanged, and a public association over mode E still reads the clock."""
    r = random.Random(62056)
    relay0 = rig.relay()
    t0 = rig.now_unix()
    aarq = bytes.fromhex("E6E600601DA109060760857405080101BE10040E01000000065F1F0400007E1F04B0")
    get_clock = bytes.fromhex("E6E600C001C100080000010000FF0200")
    set_clock = bytes.fromhex("E6E600C101C100080000010000FF0200090C07E6010101000000FF800000")
    act_dc = bytes.fromhex("E6E600C301C100460000600310FF010F00")
    seeds = [hdlc(0x93), hdlc(0x10, aarq), hdlc(0x32, get_clock), hdlc(0x54, set_clock),
             hdlc(0x76, act_dc), hdlc(0x11), hdlc(0x31), hdlc(0x13, b"\x01\x02"), hdlc(0x97),
             hdlc(0x93, client=0x03), hdlc(0x10, aarq, dst=b"\x02\x23")]
    io = ModeE(rig)
    bad = bytearray(hdlc(0x93))
    bad[-2] ^= 0x40  # an SNRM with a bad FCS: dropped silently
    io.send(bad)
    time.sleep(0.5)  # (no pyserial setter here, see switch_line)
    assert io.s.in_waiting == 0
    io.send(hdlc(0x93))
    time.sleep(0.5)
    ua = io.s.read(io.s.in_waiting)
    assert ua[:1] == b"\x7e" and ua[5] == 0x73, ua  # the same SNRM, good FCS: UA
    sent = 0
    rx = rig.query("optical")["rx"]
    try:
        while sent < 10000:
            batch = bytearray()
            while len(batch) < 900 and sent < 10000:
                x = r.random()
                if x < 0.15:
                    inner = os.urandom(r.randrange(3, 40))
                    f = raw_frame(bytes([0xA0, len(inner) + 4]) + inner)
                elif x < 0.25:
                    f = r.choice(seeds)
                elif x < 0.35:
                    f = os.urandom(r.randrange(1, 30))
                else:
                    f = mutate(r, r.choice(seeds))
                if b"\x53" in f[3:9] or b"\x43" in f[3:9]:
                    continue  # no DISC (0x43 / 0x53): it would end mode E
                batch += f
                sent += 1
            io.send(batch)
            rx += len(batch)
            # every byte reaches the HDLC parser: the next batch once the meter has read this one
            assert until(lambda: rig.query("optical")["rx"] >= rx, 10), sent
            io.s.reset_input_buffer()
        st = rig.query("optical")
        assert st["mode_e"] is True and st["faults"] == 0
        assert st["tx"] > 0  # SNRMs and I-frames among the seeds got answers
    finally:
        io.close()
    st = rig.query("optical")
    assert st["faults"] == 0
    assert rig.relay() == relay0
    assert abs(rig.now_unix() - t0) < 120  # the clock was not set
    assert back_in_mode_c(rig)  # the inactivity time-out ends the fuzzed link
    from gurux_dlms.objects import GXDLMSClock
    g = session(rig, 16)
    try:
        clk = GXDLMSClock("0.0.1.0.0.255")
        g.read(clk, 2)
        assert abs(clk.time.value.timestamp() - rig.now_unix()) < 30
    finally:
        g.close()
