# Test harness for the IEC 62056-21 session (MicroPython): virtual time, a client-side view of
# what the meter sends, and the wire's baud (a byte the meter sends at another baud than the
# client listens at is counted as garbled, like the rig does).
from meter.cores.iec62056_21 import session as iec
from meter.common.registers import Registers
from meter.cores.iec62056_21 import readout as ro
from meter.common.events import EventLog
from meter.services.clock import MeterClock
from meter.ports import optical_objects as objects

PW1 = b"12345678"
KEY2 = b"level-2 secret key 0123456789abc"
SEED_BYTES = b"\x12\x34\x56\x78\x9a\xbc\xde\xf0"  # -> seed "123456789ABCDEF0"


def frame(body):
    """SOH body BCC (body = command .. ETX)."""
    return b"\x01" + body + bytes([iec.bcc(body)])


class FakeClock:
    def __init__(self, t):
        self.t = t

    def time(self):
        return self.t

    def set_time(self, t):
        self.t = t


class Knob:
    """A level-2 parameter with validation, for W1 tests."""

    def __init__(self, v=5):
        self.v = v

    def read(self):
        return str(self.v)

    def write(self, text):
        if not text.isdigit():
            raise ValueError("NOT A NUMBER")
        v = int(text)
        if v > 99:
            raise ValueError("RANGE")
        self.v = v


def ListLog(size=64):
    """The real event ring (kept as a name the tests import)."""
    return EventLog(size)


def make_registers():
    r = Registers()
    r.define("1-0:1.8.1", "kWh", -3, 1234567)
    r.define("1-0:1.8.2", "kWh", -3, 7654321)
    r.define("1-0:2.8.1", "kWh", -3, 0)
    r.define("1-0:2.8.2", "kWh", -3, 5)
    r.define("0-0:96.14.0", "", 0, 2)
    r.define("1-0:1.7.0", "kW", -3, 1840)
    r.define("1-0:2.7.0", "kW", -3, 0)
    r.define("1-0:32.7.0", "V", -1, 2304)
    r.define("1-0:31.7.0", "A", -3, 8000)
    r.define("1-0:21.7.0", "kW", -3, 1840)
    r.define("0-0:96.7.21", "", 0, 4)
    return r


class Harness:
    def __init__(self, echo=False, t0=1000, secrets=True, hmac=None, lockout=None, items=None,
                 **kw):
        self.t = t0
        self.echo = echo
        self.counts = {}  # event code -> number logged
        self.regs = make_registers()
        self.clock = FakeClock(200000000)  # 2026-05-03T19:33:20Z (the board clock)
        self.events = ListLog(64)
        self.meter_clock = MeterClock(self.clock, self.events)  # CET/CEST, EU rule
        self.reg = iec.Registry(ro.register_text_fn(self.regs), lambda: self.regs.codes)
        objects.register_identity(self.reg, "12345678", "OMT0000000001")
        objects.register_clock(self.reg, self.meter_clock)
        self.on_lockout = None  # fn(record) for LOCKOUT actions (a test's persistence)
        self.knob = Knob()
        self.reg.register_object("0-0:96.99.1", self.knob.read, self.knob.write, level=2)
        self.key_written = []
        self.reg.register_object("0-0:96.99.9", None, self.key_written.append, level=2)
        self.ro = ro.Readout(self.reg, items or ro.DEFAULT_ITEMS)
        sec = None
        if secrets:
            sec = lambda level: PW1 if level == 1 else KEY2
        if hmac is not None:
            kw["hmac"] = hmac
        self.s = iec.Session(self.ro.lines, self.reg, sec, manufacturer="OMT", ident="TEST",
                             address="00000001", rand=lambda n: SEED_BYTES[:n],
                             lockout=lockout, **kw)
        self.client_baud = 300
        self.sent = []  # (t, baud, bytes) the meter transmitted
        self.bauds = []  # (t, baud)
        self.rx = bytearray()  # what the client received cleanly
        self.garbled = 0

    def log(self, code, a=0, b=0):
        self.counts[code] = self.counts.get(code, 0) + 1
        self.events.add(self.clock.time(), code, a, b)

    def _acts(self, acts):
        # carried out as ports/optical.py does; write_done() appends to the session's list, so
        # walk it by index before copying what is left for the echo re-entry below
        i = 0
        while i < len(acts):
            if acts[i][0] == iec.WRITE:
                a = acts[i]
                self.s.write_done(self.reg.write(a[1], a[2]), self.t)
            i += 1
        acts = list(acts)  # the session reuses its list; echo feeding below re-enters it
        echo = []
        for a in acts:
            if a[0] == iec.WRITE:
                continue
            if a[0] == iec.EVENT:
                self.log(a[1], a[2], a[3])
            elif a[0] == iec.LOCKOUT:
                if self.on_lockout is not None:
                    self.on_lockout(a[1])
            elif a[0] == iec.SEND:
                data = bytes(a[1])
                self.sent.append((self.t, self.s.baud, data))
                if self.s.baud == self.client_baud:
                    self.rx.extend(data)
                else:
                    self.garbled += len(data)
                if self.echo:
                    echo.append(data)
            elif a[0] == iec.BAUD:
                self.bauds.append((self.t, a[1]))
            else:
                raise AssertionError("unknown action %r" % (a,))
        for data in echo:
            self._acts(self.s.feed(data, self.t))

    def send(self, data, per_char=False):
        """The client sends data (at the meter's current baud unless told otherwise)."""
        if per_char:
            for i in range(len(data)):
                self._acts(self.s.feed(data[i:i + 1], self.t))
                self.run(1)
        else:
            self._acts(self.s.feed(data, self.t))

    def run(self, ms, step=10):
        end = self.t + ms
        while self.t < end:
            self.t += min(step, end - self.t)
            self._acts(self.s.poll(self.t))

    def take(self):
        """Bytes the client received since the last take()."""
        b = bytes(self.rx)
        self.rx = bytearray()
        return b

    def signon(self, addr=b""):
        self.send(b"/?" + addr + b"!\r\n")
        self.run(1000)
        return self.take()

    def readout(self, z=b"5"):
        """Mode C readout: sign on, ACK 0 Z 0, switch like a client 300 ms later."""
        ident = self.signon()
        self.send(b"\x060" + z + b"0\r\n")
        self.run(300)
        self.client_baud = iec.BAUDS[z[0] - 48]
        for i in range(600):
            self.run(100)
            if self.s.state == iec.IDLE:
                break
        data = self.take()
        self.client_baud = 300
        return ident, data

    def program(self, z=b"5", password=PW1):
        """Enter programming mode; returns the P0 frame. With a password, also logs in (P1)."""
        self.signon()
        self.send(b"\x060" + z + b"1\r\n")
        self.run(300)
        self.client_baud = iec.BAUDS[z[0] - 48]
        self.run(1500)
        p0 = self.take()
        if password is not None:
            r = self.cmd(b"P1\x02(" + password + b")\x03")
            if r != b"\x06":
                raise AssertionError("login failed: %r" % r)
        return p0

    def cmd(self, body, ms=600):
        self.send(frame(body))
        self.run(ms)
        return self.take()

    def ev(self, code):
        return self.events.latest(code, 64)
