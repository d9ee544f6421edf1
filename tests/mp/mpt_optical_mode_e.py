# IEC 62056-21 protocol mode E on the optical port (session core + OpticalPort + the DLMS port's
# HdlcLine): the identification offers \2 only with an HDLC line; ACK 2 Z 2 switches the UART to Z
# 8N1 and routes the bytes to HDLC; DISC, the HDLC inactivity time-out and a port fault return to
# mode C 300 Bd 7E1; without mode E the same option select is an unsupported option (readout).
# The HDLC frames come from the test client's encoder (dlms_client.py, not the meter's hdlc.py).
from mptest import eq
from meter.cores.iec62056_21 import session as iec
from meter.cores.iec62056_21 import framing as F
from meter.ports.dlms import DlmsPort
from meter.cores.dlms.association import Client
from meter.cores.dlms.security import Keys
from meter.common.events import EventLog
from mpt_optical_service import FakeBoard, _optical, _run
from optical_harness import ListLog, make_registers
import dlms_meter
from dlms_client import frame, crc_ref


def hdlc(ctrl, client=0x21):
    return frame(bytes((0x03, client)), ctrl)


def fcs16(data):
    c = crc_ref(data)
    return bytes((c & 0xFF, c >> 8))


class Cell:
    def __init__(self):
        self.data = bytearray(16)
        self.size = 16

    def store(self, rec):
        self.data[:] = rec


def dlms_line(clock, inactivity_s=3):
    m = dlms_meter.Meter()
    keys = Keys(b"OMT\x00\x00\x00\x00\x01")
    port = DlmsPort(m.reg, keys, [Client(16)], clock, Cell(), EventLog(8), m.clock)
    return port.hdlc({"inactivity_s": inactivity_s})


def session(mode_e):
    return iec.Session(lambda: iter(("1.8.0(1*kWh)",)), baud_char="5", mode_e=mode_e,
                       rand=lambda n: bytes(n))


def kinds(acts):
    return [a[0] for a in acts]


def test_session_identification_and_option():
    s = session(False)
    eq(s.ident_frame, b"/OMT5OMT\r\n")
    s = session(True)
    eq(s.ident_frame, b"/OMT5\\2OMT\r\n")
    acts = s.feed(b"/?!\r\n", 0)
    now = 0
    while now < 1000:
        now += 20
        s.poll(now)
    acts = s.feed(b"\x06252\r\n", 2000)
    eq([a for a in acts if a[0] == F.BINARY], [(F.BINARY, 9600)])
    eq(F.BAUD in kinds(acts), False)
    eq(s.state, iec.BINARY)
    eq(s.busy(), True)
    eq(kinds(s.feed(b"/?!\r\n\x01B0\x03q", 2100)), [])  # the line is not the session's now
    eq(s.state, iec.BINARY)
    eq(s.binary_done(2200), [(F.BAUD, 300)])
    eq(s.state, iec.IDLE)
    eq(s.binary_done(2300), [])  # only once


def test_session_mode_e_refused():
    # without mode E, and with a baud above the offer: not accepted (mode A/B readout at 300)
    for mode_e, opt in ((False, b"\x06252\r\n"), (True, b"\x06262\r\n"), (True, b"\x06250\r\n")):
        s = session(mode_e)
        s.feed(b"/?!\r\n", 0)
        now = 0
        while now < 1000:
            now += 20
            s.poll(now)
        acts = s.feed(opt, 2000)
        eq(F.BINARY in kinds(acts), False)
        eq(s.state == iec.BINARY, False)


def test_port_mode_e_hdlc_and_back():
    b = FakeBoard()
    line = dlms_line(b.clock)
    svc = _optical(b, make_registers(), ListLog(), hdlc=line)
    u = b.u
    u.rx.extend(b"/?1!\r\n")
    _run(svc, b.clock, 1000)
    eq(bytes(u.tx), b"/OMT5\\2OMT-SIM\r\n")
    u.tx = bytearray()
    u.rx.extend(b"\x06252\r\n")
    _run(svc, b.clock, 20)
    eq(u.inits[-1], (9600, 8, None, 1))
    eq(svc.status()["mode_e"], True)
    eq(bytes(u.tx), b"")  # mode E: no answer to the option select
    u.rx.extend(hdlc(0x93))  # SNRM, P
    _run(svc, b.clock, 20)
    ua = bytes(u.tx)
    eq(ua[0], 0x7E)
    eq(ua[3:6], b"\x21\x03\x73")  # to client 16, from server 1, UA|F
    eq(fcs16(ua[1:-3]), ua[-3:-1])
    bad = bytearray(hdlc(0x53))  # DISC with a bad FCS: dropped silently, still mode E
    bad[-2] ^= 1
    u.tx = bytearray()
    u.rx.extend(bad)
    _run(svc, b.clock, 20)
    eq(bytes(u.tx), b"")
    eq(svc.status()["mode_e"], True)
    u.rx.extend(hdlc(0x53))  # DISC, P -> UA, back to mode C
    _run(svc, b.clock, 20)
    eq(bytes(u.tx)[5], 0x73)
    eq(u.inits[-1], (300, 7, 0, 1))
    eq(svc.status()["mode_e"], False)
    u.tx = bytearray()
    u.rx.extend(b"/?!\r\n")  # mode C sign-on answered again
    _run(svc, b.clock, 1000)
    eq(bytes(u.tx), b"/OMT5\\2OMT-SIM\r\n")
    eq(svc.status()["faults"], 0)


def test_port_mode_e_inactivity():
    b = FakeBoard()
    line = dlms_line(b.clock, inactivity_s=3)
    svc = _optical(b, make_registers(), ListLog(), hdlc=line)
    u = b.u
    for connect in (False, True):
        u.rx.extend(b"/?!\r\n")
        _run(svc, b.clock, 1000)
        u.rx.extend(b"\x06252\r\n")
        _run(svc, b.clock, 20)
        eq(u.inits[-1], (9600, 8, None, 1))
        if connect:
            u.rx.extend(hdlc(0x93))
        _run(svc, b.clock, 2900)
        eq(svc.status()["mode_e"], True)
        _run(svc, b.clock, 300)
        eq(svc.status()["mode_e"], False)
        eq(u.inits[-1], (300, 7, 0, 1))
    eq(line.sessions, 2)
