# OpticalPort (firmware/meter/ports/optical.py) with a fake UART and board: line settings,
# reading into the preallocated buffer, executing the session's actions, events, make_optical.
from mptest import eq
from meter.cores.iec62056_21 import session as iec
from meter.ports.optical import make_optical
from meter.services.clock import MeterClock
from meter.common.registers import Registers
from optical_harness import ListLog, make_registers, frame


class FakeUart:
    def __init__(self):
        self.inits = []
        self.rx = bytearray()
        self.tx = bytearray()
        self.flushes = 0
        self.baud = None

    def init(self, baudrate=9600, bits=8, parity=None, stop=1, **kw):
        self.inits.append((baudrate, bits, parity, stop))
        self.baud = baudrate

    def any(self):
        return len(self.rx)

    def readinto(self, buf, nbytes=-1):
        n = min(len(buf), len(self.rx))
        if not n:
            return None
        buf[:n] = self.rx[:n]
        self.rx = self.rx[n:]
        return n

    def write(self, b):
        self.tx.extend(b)
        return len(b)

    def flush(self):
        self.flushes += 1


class FakeClock:
    def __init__(self):
        self.ms = 5000
        self.t = 200000000

    def ticks_ms(self):
        return self.ms

    def time(self):
        return self.t

    def set_time(self, t):
        self.t = t


class FakeKeys:
    def get(self, name):
        return {"optical_pw1": b"pw-one"}.get(name)


class FakeBoard:
    def __init__(self):
        self.clock = FakeClock()
        self.keys = FakeKeys()
        self.u = FakeUart()
        self.config = {"identity": {"manufacturer": "OMT", "model": "OMT-SIM",
                                    "equipment_id": "OMT0000000001", "serial": "00000001",
                                    "optical_address": "00000001"},
                       "optical": {"switch_delay_ms": 800}}

    def uart(self, role):
        assert role == "optical"
        return self.u


def _optical(b, regs, ev, **kw):
    """make_optical with the MeterClock service over the fake board clock (CET/CEST)."""
    return make_optical(b, regs, ev, MeterClock(b.clock, ev), **kw)


def _run(svc, clock, ms):
    end = clock.ms + ms
    while clock.ms < end:
        clock.ms += 10
        svc.poll(clock.ms)


def test_service_line_settings_and_readout():
    b = FakeBoard()
    ev = ListLog()
    svc = _optical(b, make_registers(), ev)
    u = b.u
    eq(u.inits, [(300, 7, 0, 1)])  # 300 baud 7E1 at start (parity 0 = even)
    u.rx.extend(b"/?1!\r\n")
    _run(svc, b.clock, 1000)
    eq(bytes(u.tx), b"/OMT5OMT-SIM\r\n")
    u.tx = bytearray()
    u.rx.extend(b"\x06050\r\n")
    _run(svc, b.clock, 10)
    eq(u.inits[-1], (9600, 7, 0, 1))
    eq(u.flushes, 1)  # the TX FIFO is drained before the line settings change
    _run(svc, b.clock, 700)
    eq(bytes(u.tx), b"")  # switch_delay_ms = 800 from the board config
    _run(svc, b.clock, 2000)
    data = bytes(u.tx)
    eq(data[:1], b"\x02")
    eq(data[-5:-1], b"!\r\n\x03")
    eq(iec.bcc(data, 1, len(data) - 1), data[-1])
    eq(b"0-0:C.1.0(00000001)\r\n" in data, True)
    eq(b"0-0:96.1.1(OMT0000000001)\r\n" in data, True)
    eq(b"1-0:1.8.1(001234.567*kWh)\r\n" in data, True)
    eq(u.inits[-1], (300, 7, 0, 1))
    eq(svc.tx_bytes, len(data) + 14)


def test_service_programming_events_and_clock():
    b = FakeBoard()
    ev = ListLog()
    svc = _optical(b, make_registers(), ev)
    u = b.u
    u.rx.extend(b"/?!\r\n")
    _run(svc, b.clock, 1000)
    u.rx.extend(b"\x06051\r\n")
    _run(svc, b.clock, 1500)
    eq(bytes(u.tx[-24:]), b"\x01P0\x02(" + bytes(u.tx[-19:-3]) + b")\x03" + bytes(u.tx[-1:]))
    eq(bytes(u.tx[-24:-20]), b"\x01P0\x02")
    b.clock.t = 200000100
    u.rx.extend(frame(b"P1\x02(wrong)\x03"))
    _run(svc, b.clock, 500)
    eq(ev.latest(11, 1), [(200000100, 11, 1, 0)])  # PASSWORD_FAIL stamped with clock.time()
    u.rx.extend(frame(b"P1\x02(pw-one)\x03"))
    _run(svc, b.clock, 500)
    eq(bytes(u.tx[-1:]), b"\x06")
    u.rx.extend(frame(b"W1\x020-0:1.0.0(2026-01-05T00:00:00Z)\x03"))
    _run(svc, b.clock, 500)
    eq(bytes(u.tx[-1:]), b"\x06")
    eq(b.clock.t, 2196 * 86400)
    eq(ev.latest(6, 1)[0][2:], (200000100, 2196 * 86400))  # CLOCK_ADJUSTED old -> new
    eq(len(ev.latest(13, 5)), 1)  # PARAM_WRITE
    eq(svc.session.registry.find("0.9.1") >= 0, True)


def test_service_registry_shared_with_other_services():
    b = FakeBoard()
    reg = iec.Registry()
    box = [3]

    def w(text):
        if text not in ("0", "1"):
            raise ValueError("0 OR 1")
        box[0] = int(text)
    reg.register_object("0-0:96.3.10", lambda: str(box[0]), w, level=1)
    svc = _optical(b, Registers(), ListLog(), registry=reg)
    eq(svc.session.registry is reg, True)
    u = b.u
    u.rx.extend(b"/?!\r\n")
    _run(svc, b.clock, 1000)
    u.rx.extend(b"\x06051\r\n")
    _run(svc, b.clock, 1500)
    u.rx.extend(frame(b"P1\x02(pw-one)\x03"))
    _run(svc, b.clock, 500)
    u.tx = bytearray()
    u.rx.extend(frame(b"W1\x020-0:96.3.10(7)\x03"))
    _run(svc, b.clock, 500)
    eq(bytes(u.tx[1:-2]), b"(ERROR:0 OR 1)")
    u.rx.extend(frame(b"W1\x020-0:96.3.10(1)\x03"))
    _run(svc, b.clock, 500)
    eq(box[0], 1)


def test_lockout_roundtrip_via_service():
    b = FakeBoard()
    lk = iec.Lockout()
    saved = []
    svc = _optical(b, make_registers(), ListLog(), lockout=lk, persist_lockout=saved.append)
    eq(svc.lockout is lk, True)
    u = b.u
    u.rx.extend(b"/?!\r\n")
    _run(svc, b.clock, 1000)
    u.rx.extend(b"\x06051\r\n")
    _run(svc, b.clock, 1500)
    for i in range(3):
        u.rx.extend(frame(b"P1\x02(x)\x03"))
        _run(svc, b.clock, 500)
    eq(saved[-1][:3], b"\x01\x00\x01")  # fails reset, streak 1
    eq(saved[-1][4], 60)  # 60 s remaining


def test_clock_objects_through_meter_clock():
    # with the MeterClock service, a W1 goes through MeterClock.set(t, "optical"): its time zone,
    # its CLOCK_ADJUSTED event and its adjust hooks
    from meter.services.clock import MeterClock
    b = FakeBoard()
    ev = ListLog()
    mc = MeterClock(b.clock, ev, {"tz_offset_min": 60, "dst": "eu"})
    adjusted = []
    mc.hooks.append(lambda old, new: adjusted.append((old, new)))
    svc = make_optical(b, make_registers(), ev, mc)
    reg = svc.session.registry
    eq(reg.readers[reg.find("0-0:1.0.0")](), "2026-05-03 21:33:20")
    u = b.u
    u.rx.extend(b"/?!\r\n")
    _run(svc, b.clock, 1000)
    u.rx.extend(b"\x06051\r\n")
    _run(svc, b.clock, 1500)
    u.rx.extend(frame(b"P1\x02(pw-one)\x03"))
    _run(svc, b.clock, 500)
    u.tx = bytearray()
    u.rx.extend(frame(b"W1\x020-0:1.0.0(2026-10-25 02:30:00)\x03"))  # repeated hour: first one
    _run(svc, b.clock, 500)
    eq(bytes(u.tx), b"\x06")
    from meter.common import timeutil
    t = timeutil.to_secs(2026, 10, 25, 0, 30, 0)  # 02:30 CEST = 00:30 UTC
    eq(b.clock.t, t)
    eq(adjusted, [(200000000, t)])
    eq(ev.latest(6, 1)[0][2:], (200000000, t))
    u.rx.extend(frame(b"W1\x020-0:1.0.0(261025023000W)\x03"))  # the second 02:30 (CET)
    _run(svc, b.clock, 500)
    eq(b.clock.t, t + 3600)
    u.rx.extend(frame(b"W1\x020.9.1(12:00:00)\x03"))
    _run(svc, b.clock, 500)
    eq(reg.readers[reg.find("0.9.1")](), "12:00:00")
    eq(reg.readers[reg.find("0.9.2")](), "26-10-25")


class FakeLineClock:
    """A board.line_clock: real-time protocol ticks, separate from the (virtual) board clock."""

    def __init__(self):
        self.ms = 70000

    def ticks_ms(self):
        return self.ms


def _run_line(svc, lc, ms):
    end = lc.ms + ms
    while lc.ms < end:
        lc.ms += 10
        svc.poll()  # the service reads its own ticks, as the app calls it


def test_line_clock_lockout_config_record_and_status():
    # protocol timing runs on board.line_clock while the board clock stands still (Rig(time_rate=0))
    b = FakeBoard()
    b.line_clock = lc = FakeLineClock()
    b.config["optical"] = {"max_fails": 2, "lockout_s": 5, "lockout_max_s": 7}
    ev = ListLog()
    records = []
    svc = _optical(b, make_registers(), ev, persist_lockout=records.append)
    eq(svc.ticks is lc, True)
    eq((svc.lockout.max_fails, svc.lockout.base_s, svc.lockout.max_s), (2, 5, 7))
    u = b.u
    u.rx.extend(b"/?!\r\n")
    _run_line(svc, lc, 1000)
    eq(bytes(u.tx), b"/OMT5OMT-SIM\r\n")  # answered although b.clock.ms never moved
    u.rx.extend(b"\x06051\r\n")
    _run_line(svc, lc, 1500)
    st = svc.status()
    eq((st["state"], st["baud"], st["level"], st["signons"]), (4, 9600, 0, 1))
    for pw in (b"x", b"y"):
        u.rx.extend(frame(b"P1\x02(" + pw + b")\x03"))
        _run_line(svc, lc, 500)
    eq(records[-1], b"\x01\x00\x01\x00\x05\x00\x00\x00")  # locked after 2 tries, 5 s left
    st = svc.status()
    eq((st["locked"], st["remaining_s"], st["fails"], st["streak"]), (True, 5, 0, 1))
    _run_line(svc, lc, 2000)
    eq(svc.lockout_record()[4], 3)  # counted down on the line clock
    eq(svc.status()["remaining_s"], 3)
    _run_line(svc, lc, 3100)
    eq(svc.status()["locked"], False)
    eq(ev.latest(12, 1)[0][2], 5)  # PASSWORD_LOCKOUT a = 5 s
    eq(ev.latest(12, 1)[0][0], b.clock.t)  # stamped with the meter clock
    # the second lockout doubles, capped by lockout_max_s
    u.rx.extend(frame(b"P1\x02(x)\x03"))
    _run_line(svc, lc, 500)
    u.rx.extend(frame(b"P1\x02(y)\x03"))
    _run_line(svc, lc, 500)
    eq(ev.latest(12, 1)[0][2], 7)
    eq(svc.status()["faults"], 0)


class BrokenUart(FakeUart):
    def __init__(self):
        FakeUart.__init__(self)
        self.broken = False

    def readinto(self, buf, nbytes=-1):
        if self.broken:
            self.broken = False
            raise OSError(5)
        return FakeUart.readinto(self, buf, nbytes)


def test_poll_survives_an_exception_and_resets_the_session():
    b = FakeBoard()
    b.u = BrokenUart()
    svc = _optical(b, make_registers(), ListLog())
    u = b.u
    u.rx.extend(b"/?!\r\n")
    _run(svc, b.clock, 1000)
    u.rx.extend(b"\x06051\r\n")
    _run(svc, b.clock, 1500)
    eq((svc.session.state, u.baud), (4, 9600))
    u.rx.extend(b"\x01")
    u.broken = True
    _run(svc, b.clock, 20)
    eq(svc.status()["faults"], 1)
    eq((svc.session.state, u.baud), (0, 300))  # abandoned: IDLE at 300 baud
    u.tx = bytearray()
    u.rx.extend(b"/?!\r\n")
    _run(svc, b.clock, 1000)
    eq(bytes(u.tx), b"/OMT5OMT-SIM\r\n")  # and the port works
