"""Fuzz of the optical port on the rig, over the pty, through the whole stack (pyserial -> pty ->
the rig's wire -> link -> SimUart -> OpticalService -> Session, and the answers back).

The 10^5-frame fuzz of the protocol core runs in the interpreter (tests/mp/mpt_optical_fuzz.py,
per-frame invariants) and the hypothesis property test in tests/test_optical_fuzz.py; this one is
the integration check with a few thousand frames, within the rig-test budget:
- garbage at 300 baud in IDLE (random bytes, mutated and foreign-address sign-ons, stray option
  selects and command frames; never a valid sign-on for this meter): the meter stays silent;
- random and mutated command frames at 9600 in programming mode (after a sign-on, no password):
  the meter answers what it answers (NOACCESS, PASSWORD/LOCKED, SYNTAX, NAK, ...), never crashes.
The rig paces only meter -> client bytes at the baud; the client's bytes cross the pty as fast as
they are written (the line settings still decide clean or garbled). So the client waits until the
meter has read each batch (its rx counter): every byte reaches the parser (no UART overrun), and
the frames/s figure is the meter's own rate, well above what a 9600 baud wire could carry.
Then: the interpreter is alive and answers rig.query('status'); with zero load and frozen time every
register, the clock and the event log (apart from password failures) are exactly unchanged; the
port accepts a normal sign-on + readout whose values equal the registers.
"""
import random
import re
import sys
import time

from conftest import ROOT

sys.path.insert(0, ROOT)
from host_tools.iec_client import IecClient  # noqa: E402
from host_tools.rig import Rig  # noqa: E402

SOH, STX, ETX, ACK, NAK = 1, 2, 3, 6, 0x15
KEYS = {"optical_pw1": b"Fuzz-Pw-0123456789".hex(), "optical_key2": bytes(range(32)).hex()}
OWN_SIGNON = re.compile(rb"/\?(0*1)?!\r\n")  # the sign-ons this meter (address 00000001) answers
PASSWORD_FAIL, PASSWORD_LOCKOUT = 11, 12

OBIS = [b"0-0:1.0.0", b"0.9.1", b"0.9.2", b"1-0:1.8.0", b"1.8.1", b"0-0:C.1.0", b"C.1.0", b"F.F",
        b"1-0:32.7.0", b"0-0:96.1.1", b"", b"1-0:99.99.99", b"x" * 40]
VALUES = [b"", b"12:00:00", b"25:61:61", b"26-02-29", b"2026-01-05T00:00:00Z", b"260105120000W",
          b"42", b"-1", b"99999999999", b"000123.456*kWh", b"(", b")", b"\x7f", b"A" * 200]


def bcc(data):
    x = 0
    for b in data:
        x ^= b
    return x & 0x7F


def frame(cmd, data=None):
    body = cmd + (b"\x02" + data if data is not None else b"") + b"\x03"
    return b"\x01" + body + bytes([bcc(body)])


class Gen:
    def __init__(self, seed):
        self.r = random.Random(seed)

    def valid(self):
        r = self.r
        k = r.randrange(10)
        if k < 3:
            return frame(b"R1", r.choice(OBIS) + b"(" + r.choice(VALUES[:3]) + b")")
        if k < 5:
            return frame(b"W1", r.choice(OBIS) + b"(" + r.choice(VALUES) + b")")
        if k == 5:
            return frame(b"P1", b"(" + bytes(r.randrange(0x21, 0x7F) for _ in range(
                r.randrange(0, 20))).replace(b"(", b"x").replace(b")", b"y") + b")")
        if k == 6:
            return frame(b"P2", b"(%016X)" % r.getrandbits(64))
        if k == 7:
            return frame(r.choice([b"R2", b"W5", b"E2", b"P0", b"X1", b"R", b"Rx", b"P3"]),
                         r.choice([None, b"", b"1.8.1()"]))
        if k == 8:
            return frame(b"R1", bytes(r.randrange(0x20, 0x7F) for _ in range(r.randrange(0, 60))))
        return frame(b"W1", b"0.9.1(" + b"%02d:%02d:%02d" % (r.randrange(30), r.randrange(70),
                                                              r.randrange(70)) + b")")

    def mutate(self, f):
        r = self.r
        b = bytearray(f)
        for _ in range(r.randrange(1, 4)):
            op = r.randrange(7)
            i = r.randrange(len(b)) if b else 0
            if op == 0 and b:
                b[i] ^= 1 << r.randrange(8)
            elif op == 1 and b:
                b[i] = r.choice([SOH, STX, ETX, NAK, ACK, 0x28, 0x29, 0x2F, 0x21, 0xFF, 0x80,
                                 r.randrange(256)])
            elif op == 2:
                b.insert(i, r.randrange(256))
            elif op == 3 and b:
                del b[i]
            elif op == 4 and len(b) > 2:
                del b[r.randrange(1, len(b)):]
            elif op == 5 and b:
                j = r.randrange(i, len(b) + 1)
                b[j:j] = b[i:j]
            elif b:
                b[-1] = r.randrange(256)  # wrong BCC (most of the time): the meter NAKs
        return bytes(b)

    def prog_frame(self):
        r = self.r
        k = r.randrange(20)
        if k < 5:
            f = bytes(r.choice([SOH, STX, ETX, r.randrange(256), r.randrange(0x20, 0x7F)])
                      for _ in range(r.randrange(1, 48)))
        elif k < 15:
            f = self.mutate(self.valid())
        elif k < 19:
            f = self.valid()
        else:
            f = r.choice([bytes([NAK]), b"\x01" + b"R1\x02" + b"9" * 300 + b"\x03\x00", b"\x03",
                          b"\x01\x01\x01", b"/?!\r\n"])
        # a break (SOH B ...) would end the session: leave it out (it is covered in-interpreter)
        if re.search(rb"\x01[\x80-\xff]*B", f):
            return self.prog_frame()
        return f

    def idle_garbage(self):
        r = self.r
        k = r.randrange(8)
        if k == 0:
            return bytes(r.randrange(256) for _ in range(r.randrange(1, 40)))
        if k == 1:  # foreign addresses
            a = r.choice([b"2", b"00000002", b"10", b"0000000100", b"OMT", b"1 ", b"A" * 33])
            return b"/?" + a + b"!\r\n"
        if k == 2:  # broken sign-ons
            return self.mutate(b"/?!\r\n")
        if k == 3:
            return self.mutate(b"/?00000001!\r\n")
        if k == 4:  # option selects and frames outside their state
            return r.choice([b"\x06050\r\n", b"\x06051\r\n", b"\x06000\r\n"]) if r.random() < .5 \
                else self.valid()
        if k == 5:
            return b"/?" + bytes(r.randrange(0x20, 0x7F) for _ in range(r.randrange(0, 50))) + \
                b"!\r\n"
        if k == 6:
            return bytes([NAK, ACK, SOH, STX, ETX]) * r.randrange(1, 4)
        return bytes(r.randrange(0x20, 0x7F) for _ in range(r.randrange(1, 60)))


def send_batches(rig, ser, chunks, limit=240, timeout=10.0):
    """Write chunks in batches of about `limit` bytes; after each batch wait until the meter has
    read everything written so far (status rx), so nothing is lost to a UART overrun."""
    rx0 = rig.query("optical")["rx"]
    total = 0
    batch = bytearray()

    def flush():
        nonlocal total
        if not batch:
            return
        ser.write(bytes(batch))
        ser.flush()
        total += len(batch)
        batch.clear()
        end = time.monotonic() + timeout
        while rig.query("optical")["rx"] - rx0 < total:
            assert time.monotonic() < end, "the meter stopped reading the optical UART"
            time.sleep(0.002)
        ser.reset_input_buffer()  # answers: not checked here, only drained

    for c in chunks:
        if len(batch) + len(c) > limit:
            flush()
        batch += c
    flush()
    return total


def event_codes_since(rig, n0):
    ev = rig.query("events")
    return [e[1] for e in ev[:len(ev) - n0]]


def test_fuzz_over_the_pty():
    with Rig(time_rate=0, config={"keys": KEYS}) as rig:
        for p in (1, 2, 3):
            rig.set_load(p, 0.0, 0.0)
        rig.advance(2)
        regs = rig.registers()
        t = rig.query("time")["t"]
        n_ev = len(rig.query("events"))
        g = Gen(20260105)

        # 1. Garbage at 300 baud in IDLE: silence.
        garbage, tail = [], b""
        while len(garbage) < 400:
            x = g.idle_garbage()
            if not OWN_SIGNON.search(tail + x):  # also across chunk boundaries
                garbage.append(x)
                tail = (tail + x)[-48:]
        st0 = rig.query("optical")
        sent0 = dict(rig.wire.clean)
        with IecClient(rig.optical_port) as c:
            n300 = send_batches(rig, c.ser, garbage)
            time.sleep(0.5)
        st = rig.query("optical")
        assert st["signons"] == st0["signons"] and st["state"] == 0 and st["baud"] == 300
        assert rig.wire.clean["to_client"] == sent0["to_client"]  # not one byte back
        assert rig.wire.garbled["to_client"] == 0

        # 2. Random and mutated frames at 9600 in programming mode (no password).
        frames = [g.prog_frame() for _ in range(5000)]
        reentries = 0
        t0 = time.monotonic()
        with IecClient(rig.optical_port) as c:
            c.program()
            assert rig.query("optical")["state"] == 4
            n9600 = 0
            for k in range(0, len(frames), 500):
                n9600 += send_batches(rig, c.ser, frames[k:k + 500])
                if rig.query("optical")["state"] != 4:  # something ended the session: go back
                    reentries += 1
                    time.sleep(0.6)
                    c.program()
            dt = time.monotonic() - t0
            st = rig.query("optical")
            c.bye()
        print("rig fuzz: %d frames (%d bytes) at 9600 in %.1f s = %.0f frames/s, %d bytes of "
              "garbage at 300; meter: %d frames with a good BCC, %d NAKs, %d error answers, "
              "lockout streak %d, %d re-entries" % (
                  len(frames), n9600, dt, len(frames) / dt, n300, st["frames"], st["naks"],
                  st["errors"], st["streak"], reentries))
        assert st["frames"] > 1000 and st["naks"] > 1000 and st["errors"] > 1000
        assert st["level"] == 0  # never logged in
        assert st["faults"] == 0  # no exception escaped the session (the service would catch it)
        assert reentries <= 2

        # 3. Alive, nothing changed, and the port still works.
        assert rig.proc.poll() is None
        assert rig.query("status")["ready"]
        assert rig.registers() == regs
        assert rig.query("time")["t"] == t
        assert set(event_codes_since(rig, n_ev)) <= {PASSWORD_FAIL, PASSWORD_LOCKOUT}
        end = time.monotonic() + 10
        while True:
            st = rig.query("optical")
            if st["state"] == 0 and rig.wire.idle():
                break
            assert time.monotonic() < end, st
            time.sleep(0.05)
        with IecClient(rig.optical_port) as c:
            r = c.readout()
        for obis, (v, sc, u) in regs.items():
            if obis in r.values:
                assert r.values[obis][1] == (u or None)
                assert int(r.values[obis][0].replace(".", "")) == v
        assert "1-0:1.8.0" in r.values and "0-0:1.0.0" in r.values
        log = rig.meter_log()
        assert "Traceback" not in log and "Error" not in log, log
        assert not [ln for ln in rig.logs if "error" in ln.lower()], rig.logs
