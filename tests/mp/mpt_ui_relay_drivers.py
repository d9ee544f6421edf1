# The customer-interface and relay drivers against models written here from the parts' datasheets:
# the latching relay (pulse, settle, feedback, retries, failure), the SSD1306 command stream and frame
# buffer, the PCF8574 keypad scan with debounce, and the unix_sim relay model the rig uses.
import sys

sys.path.insert(0, "boards/unix_sim")

from mptest import eq, raises
from meter.drivers.relay import LatchingRelay, DONE, FAILED
from meter.drivers.ssd1306 import SSD1306
from meter.drivers.display import TextDisplay
from meter.drivers.keypad import Pcf8574Keypad


class Pin:
    def __init__(self, v=0):
        self.v = v
        self.log = []

    def value(self, v=None):
        if v is None:
            return self.v
        self.v = 1 if v else 0
        self.log.append(self.v)


class Contact:
    """A bistable relay written from its behaviour: a coil pulse of at least `need` ms moves the
    contact (A closes, B opens); the feedback pin follows the contact."""

    def __init__(self, closed=1, need=20, welded=False, dead=False):
        self.fb = Pin(closed)
        self.need, self.welded, self.dead = need, welded, dead
        self.a = Pin()
        self.b = Pin()
        self.on = None

    def step(self, now):
        coil = "a" if self.a.v else "b" if self.b.v else None
        if coil and self.on is None:
            self.on = (coil, now)
        if self.on and not (self.a.v or self.b.v):
            c, t0 = self.on
            self.on = None
            if now - t0 >= self.need and not self.dead and not (self.welded and c == "b"):
                self.fb.v = 1 if c == "a" else 0


def run(relay, contact, start, until_ms, step=5):
    t = start
    res = None
    while t < start + until_ms:
        r = relay.poll(t)
        contact.step(t)
        if r is not None:
            res = r
            break
        t += step
    return res, t


def test_relay_switches_and_reports_done():
    c = Contact(closed=1)
    r = LatchingRelay(c.a, c.b, c.fb, pulse_ms=80, settle_ms=40, retries=2)
    eq(r.closed(), True)
    eq(r.start(False, 1000), True)
    eq(r.start(True, 1001), False)  # busy
    res, t = run(r, c, 1000, 2000)
    eq(res, DONE)
    eq(r.closed(), False)
    eq(r.pulses, 1)
    eq((c.a.v, c.b.v), (0, 0))  # coils off
    assert t - 1000 >= 120  # pulse + settle before the verdict
    eq(c.a.log.count(1), 0)  # only the opening coil was driven
    r.start(True, 5000)
    eq(run(r, c, 5000, 2000)[0], DONE)
    eq(r.closed(), True)


def test_relay_welded_retries_then_fails():
    c = Contact(closed=1, welded=True)
    r = LatchingRelay(c.a, c.b, c.fb, pulse_ms=80, settle_ms=40, retries=2)
    r.start(False, 0)
    res, t = run(r, c, 0, 5000)
    eq(res, FAILED)
    eq(r.pulses, 3)  # the first pulse and two retries
    eq(r.closed(), True)  # the real contact, reported as it is


def test_relay_short_pulse_config_refused_and_abort():
    c = Contact()
    raises(ValueError, LatchingRelay, c.a, c.b, c.fb, 5)
    r = LatchingRelay(c.a, c.b, c.fb)
    r.start(False, 0)
    eq(c.b.v, 1)
    r.abort()
    eq((c.a.v, c.b.v, r.busy()), (0, 0, False))


def test_relay_tick_wrap():
    c = Contact(closed=0)
    r = LatchingRelay(c.a, c.b, c.fb)
    t0 = (1 << 30) - 30
    r.start(True, t0)
    t = t0
    res = None
    for k in range(100):
        t = (t + 5) & 0x3FFFFFFF
        res = r.poll(t)
        c.step(k * 5)
        if res:
            break
    eq(res, DONE)


class I2C:
    def __init__(self):
        self.log = []

    def writeto(self, addr, buf):
        self.log.append((addr, bytes(buf)))

    def writevto(self, addr, vec):
        self.log.append((addr, b"".join(bytes(v) for v in vec)))


def test_ssd1306_init_and_frame():
    bus = I2C()
    d = SSD1306(bus, 0x3C)
    cmds = [b[1:] for a, b in bus.log]
    assert all(b[0] == 0 for a, b in bus.log)  # control byte 0x00: commands
    eq(cmds[0], b"\xAE")  # off first
    eq(cmds[-1], b"\xAF")  # on last
    assert b"\x8D\x14" in cmds  # charge pump enabled (datasheet app note: 0x8D 0x14 before 0xAF)
    assert b"\xA8\x3F" in cmds  # 64 rows
    assert b"\x20\x00" in cmds  # horizontal addressing (show() sends one stream)
    t = TextDisplay(d)
    bus.log.clear()
    t.show(("HELLO", "a line that is far too long for the panel"))
    eq(t.lines[0], "HELLO")
    eq(t.lines[1], "a line that is f")
    eq(len(bus.log), 2)
    eq(bus.log[0][1], b"\x00\x21\x00\x7F\x22\x00\x07")
    data = bus.log[1][1]
    eq((data[0], len(data)), (0x40, 1 + 1024))
    assert any(data[1:1 + 128])  # page 0 has the text's pixels
    assert not any(data[1 + 2 * 128:])  # pages 2..7 are blank
    d.fb.fill(0)

    class Quiet:  # a bus that keeps nothing, so only the driver's own allocations count
        n = 0

        def writeto(self, addr, buf):
            Quiet.n += 1

        def writevto(self, addr, vec):
            Quiet.n += len(vec)
    d.i2c = Quiet()
    import gc
    gc.collect()
    a = gc.mem_alloc()
    for _ in range(20):
        d.show()
    eq(gc.mem_alloc() - a, 0)  # show() allocates nothing
    eq(Quiet.n, 60)


class Pcf8574:
    """The expander with a 3x4 keypad: P0..P3 rows, P4..P6 columns; a pressed key connects its row
    to its column, so a row driven low pulls that column low."""

    def __init__(self):
        self.out = 0xFF
        self.down = None  # (row, col)

    def writeto(self, addr, buf):
        self.out = buf[0]

    def readfrom_into(self, addr, buf):
        v = (self.out & 0x0F) | 0xF0
        if self.down:
            r, c = self.down
            if not (self.out >> r) & 1:
                v &= ~(1 << (4 + c))
        buf[0] = v


def test_keypad_debounce_once_per_press():
    x = Pcf8574()
    k = Pcf8574Keypad(x, 0x20)
    eq(k.read(), None)
    got = []
    for key, rc in (("5", (1, 1)), ("#", (3, 2)), ("0", (3, 1)), ("1", (0, 0))):
        x.down = rc
        for _ in range(5):  # held for 5 scans: reported once, on the second equal scan
            v = k.read()
            if v is not None:
                got.append(v)
        x.down = None
        k.read()
    eq(got, ["5", "#", "0", "1"])
    # a bounce (one scan) is no key
    x.down = (2, 2)
    eq(k.read(), None)
    x.down = None
    eq(k.read(), None)
    eq(k.read(), None)


def test_sim_relay_model():
    # the unix_sim relay on the real AFE model: a coil held MIN_PULSE_MS moves the contact at that
    # virtual instant, however late the coil goes off; shorter pulses and faults move nothing; the
    # loads draw nothing while the contact is open
    from relay_sim import RelaySim, MIN_PULSE_MS
    from sim_devices import SimPin
    from afe_sim import AfeSim

    class Link:
        def __init__(self):
            self.sent = []

        def send(self, t):
            self.sent.append(t)

    now = [1000]
    link = Link()
    fb = SimPin(link, "relay_fb", 1, False)
    afe = AfeSim(lambda: now[0], {"meter_constant": 110}, noise=False)
    afe.set_load(1, 230000, 10000, 2300000, 0, 1000)
    sim = RelaySim(lambda: now[0], fb, afe, link, closed=True)
    sim.coil("relay_b", 1)
    now[0] += MIN_PULSE_MS - 1
    sim.coil("relay_b", 0)
    eq((sim.closed, fb.value()), (True, 1))  # too short: nothing moved
    on = now[0]
    sim.coil("relay_b", 1)
    now[0] += 900000  # the driver releases the coil late (a fast-forward step)
    afe.advance_to(now[0])
    sim.coil("relay_b", 0)
    eq((sim.closed, fb.value(), afe.supply), (False, 0, False))
    eq(link.sent[-1], "relay 0 %d\n" % (on + MIN_PULSE_MS))
    # energy: 2300 W from 1000 to the move, nothing after
    eq(afe.acc[0], 2300000 * (on + MIN_PULSE_MS - 1000))
    sim.set_fault("open_coil")
    sim.coil("relay_a", 1)
    now[0] += 80
    sim.coil("relay_a", 0)
    eq(sim.closed, False)
    sim.set_fault("ok")
    sim.coil("relay_a", 1)
    sim.coil("relay_b", 1)  # both coils: held, nothing moves
    now[0] += 80
    sim.coil("relay_a", 0)
    sim.coil("relay_b", 0)
    eq(sim.closed, False)
    sim.coil("relay_a", 1)
    now[0] += 80
    sim.coil("relay_a", 0)
    eq((sim.closed, fb.value(), afe.supply), (True, 1, True))
    sim.set_fault("welded")
    sim.coil("relay_b", 1)
    now[0] += 80
    sim.coil("relay_b", 0)
    eq(sim.closed, True)  # welded: the contact stays closed
    raises(ValueError, sim.set_fault, "melted")
