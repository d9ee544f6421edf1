# P1 service: request line, cadence on meter-clock seconds, whole telegrams, no receive path,
# smarty frame counter reservation across restarts.
# mp-heap: 256K
from mptest import eq, raises
from meter.common.registers import Registers
from meter.common.events import EventLog
from meter.common import timeutil
from meter.cores.dsmr.builder import P1Builder
from meter.cores.dsmr.snapshot import P1Snapshot
from meter.ports.p1 import P1Port, FC_MAX


class FakeUart:
    def __init__(self, max_write=None):
        self.out = bytearray()
        self.writes = 0
        self.cfg = None
        self.max_write = max_write  # accept at most this many bytes per write (partial writes)

    def init(self, baudrate, bits=8, parity=None, stop=1):
        self.cfg = (baudrate, bits, parity, stop)

    def write(self, buf):
        n = len(buf) if self.max_write is None else min(len(buf), self.max_write)
        self.out += bytes(buf[:n])
        self.writes += 1
        return n

    # the P1 service has no receive path: any of these is a failure
    def read(self, *a):
        raise AssertionError("P1 read the UART")

    def readinto(self, *a):
        raise AssertionError("P1 read the UART")

    def any(self):
        raise AssertionError("P1 polled the UART receiver")


class FakePin:
    def __init__(self, v=0):
        self.v = v

    def value(self, v=None):
        if v is not None:
            raise AssertionError("P1 drove the request input")
        return self.v


class FakeClock:
    def __init__(self, t):
        self.t = t
        self.ms = 0

    def time(self):
        return self.t

    def ticks_ms(self):
        return self.ms

    @staticmethod
    def ticks_diff(a, b):
        return a - b


T0 = timeutil.to_secs(2024, 6, 1, 12, 0, 0)


def make(profile="dsmr5", chunk=256, uart=None, req=1):
    r = Registers()
    r.define("1-0:1.8.1", "kWh", -3, 1000)
    snap = P1Snapshot(r, EventLog())
    calls = []

    def snapshot_fn(t):
        calls.append(t)
        snap.t = t
        return snap

    b = P1Builder(profile)
    u = uart or FakeUart()
    pin = FakePin(req)
    clk = FakeClock(T0)
    svc = P1Port(u, pin, b, snapshot_fn, clk, config={"chunk": chunk})
    return svc, u, pin, clk, calls, b, snap


def run_for(svc, clk, seconds, polls_per_second=50):
    for _ in range(seconds):
        for _ in range(polls_per_second):
            svc.poll()
        clk.t += 1


def split(out):
    tgs = []
    s = bytes(out)
    while s:
        i = s.index(b"!")
        tgs.append(s[:i + 7])
        s = s[i + 7:]
    return tgs


def test_uart_is_set_to_115200_8n1():
    svc, u, pin, clk, calls, b, snap = make()
    eq(u.cfg, (115200, 8, None, 1))


def test_request_inactive_sends_nothing():
    svc, u, pin, clk, calls, b, snap = make(req=0)
    run_for(svc, clk, 5)
    eq(len(u.out), 0)
    eq(calls, [])


def test_one_telegram_per_second_aligned_to_meter_clock():
    svc, u, pin, clk, calls, b, snap = make()
    svc.poll()  # activation seen mid-second: wait for the boundary
    eq(len(u.out), 0)
    run_for(svc, clk, 5)
    eq(calls, [T0 + 1, T0 + 2, T0 + 3, T0 + 4])
    tgs = split(u.out)
    eq(len(tgs), 4)
    for t, tg in zip(calls, tgs):
        snap.t = t
        eq(tg, b.build(snap))  # exactly the builder's telegram, whole
    eq(svc.sent, 4)


def test_request_dropped_mid_telegram_completes_it():
    svc, u, pin, clk, calls, b, snap = make(chunk=64)
    svc.poll()
    clk.t += 1
    svc.poll()  # starts the telegram, first chunk
    eq(len(u.out), 64)
    assert svc.busy()
    pin.v = 0
    for _ in range(100):
        svc.poll()
    tgs = split(u.out)
    eq(len(tgs), 1)
    snap.t = T0 + 1
    eq(tgs[0], b.build(snap))
    clk.t += 1
    for _ in range(100):
        svc.poll()
    eq(len(split(u.out)), 1)  # nothing new while inactive
    # re-activated: the next telegram starts at the next second boundary
    pin.v = 1
    svc.poll()
    eq(len(split(u.out)), 1)
    clk.t += 1
    svc.poll()
    while svc.busy():
        svc.poll()
    eq(len(split(u.out)), 2)


def test_partial_uart_writes_are_continued():
    svc, u, pin, clk, calls, b, snap = make(uart=FakeUart(max_write=10))
    run_for(svc, clk, 3, polls_per_second=400)
    tgs = split(u.out)
    eq(len(tgs), 2)
    snap.t = calls[1]
    eq(tgs[1], b.build(snap))


def test_ten_second_cadence_first_within_a_second():
    svc, u, pin, clk, calls, b, snap = make("dsmr4")
    eq(svc.period, 10)
    svc.poll()
    run_for(svc, clk, 25)
    eq(calls, [T0 + 1, T0 + 11, T0 + 21])


def test_late_poll_does_not_catch_up():
    svc, u, pin, clk, calls, b, snap = make()
    svc.poll()
    clk.t += 1
    svc.poll()
    while svc.busy():
        svc.poll()
    clk.t += 3  # the app stalled for 3 s
    svc.poll()
    while svc.busy():
        svc.poll()
    eq(calls, [T0 + 1, T0 + 4])
    eq(svc.late, 1)


def test_build_error_is_counted_and_service_goes_on():
    svc, u, pin, clk, calls, b, snap = make()
    orig = svc.snapshot_fn
    svc.snapshot_fn = lambda t: object()  # a broken snapshot (None would mean 'not ready yet')
    svc.poll()
    run_for(svc, clk, 2)
    assert svc.build_errors >= 1
    eq(len(u.out), 0)
    svc.snapshot_fn = orig
    run_for(svc, clk, 2)
    eq(len(split(u.out)), 2)


# ---------------------------------------------------------------- frame counter


class CounterBuilder:
    """Stands in for the smarty builder: the frame is the 4-byte frame counter."""
    period = 10
    max_frame = 16
    needs_counter = True

    def build_into(self, buf, snap, fc=None):
        if fc is None:
            raise ValueError("no frame counter")
        buf[0] = fc >> 24
        buf[1] = (fc >> 16) & 255
        buf[2] = (fc >> 8) & 255
        buf[3] = fc & 255
        return 4


class Store:
    def __init__(self):
        self.value = None  # the "flash" content
        self.writes = 0
        self.fail = False

    def load(self):
        return 0 if self.value is None else self.value

    def reserve(self, upto):
        if self.fail:
            raise OSError("flash busy")
        self.value = upto
        self.writes += 1


def counters(out):
    return [(out[i] << 24) | (out[i + 1] << 16) | (out[i + 2] << 8) | out[i + 3] for i in range(0, len(out), 4)]


def boot(store, t):
    u = FakeUart()
    clk = FakeClock(t)
    svc = P1Port(u, FakePin(1), CounterBuilder(), lambda t: t, clk, store,
                    {"reserve_block": 100})
    return svc, u, clk


def test_frame_counter_never_repeats_across_power_cuts():
    store = Store()
    seen = []
    t = T0
    # uneven run lengths, each ended by a power cut (the service object is simply dropped)
    for frames in (3, 250, 1, 0, 99, 100, 101, 37):
        svc, u, clk = boot(store, t)
        svc.poll()
        while len(u.out) < 4 * frames:
            clk.t += 1
            svc.poll()
        t = clk.t + 1
        got = counters(u.out)
        eq(len(got), frames)
        for i in range(1, len(got)):
            eq(got[i], got[i - 1] + 1)
        seen += got
    eq(len(set(seen)), len(seen))
    for i in range(1, len(seen)):
        assert seen[i] > seen[i - 1]
    # one storage write per block (plus one per boot), not one per frame
    assert store.writes <= len(seen) // 100 + 9, store.writes


def test_no_frame_without_a_durable_reservation():
    store = Store()
    store.fail = True
    svc, u, clk = boot(store, T0)
    svc.poll()
    for _ in range(5):
        clk.t += 1
        svc.poll()
    eq(len(u.out), 0)
    assert svc.reserve_errors >= 1
    store.fail = False
    clk.t += 1
    svc.poll()
    eq(counters(u.out), [0])
    eq(store.value, 100)


def test_frame_counter_exhausted_stops_sending():
    store = Store()
    store.value = FC_MAX - 2
    svc, u, clk = boot(store, T0)
    svc.poll()
    for _ in range(60):
        clk.t += 1
        svc.poll()
    eq(counters(u.out), [FC_MAX - 2, FC_MAX - 1])
    assert svc.stopped


def test_encrypted_profile_requires_counter_store():
    raises(ValueError, P1Port, FakeUart(), FakePin(1), CounterBuilder(), lambda t: None, FakeClock(T0))


def test_smarty_service_end_to_end_frames_every_10_s():
    import metercrypto
    from mptest import SkipTest
    if not hasattr(metercrypto, "gcm_encrypt"):
        raise SkipTest("metercrypto.gcm_encrypt not in this build yet")
    store = Store()
    store.value = 4242
    b = P1Builder("smarty", {"key": b"\x01" * 16, "system_title": b"SAG12345"})
    snap = P1Snapshot(Registers(), EventLog())

    def snapshot_fn(t):
        snap.t = t
        return snap

    u = FakeUart()
    clk = FakeClock(T0)
    svc = P1Port(u, FakePin(1), b, snapshot_fn, clk, store)
    svc.poll()
    run_for(svc, clk, 31, polls_per_second=20)
    out = bytes(u.out)
    frames = []
    while out:
        ln = (out[11] << 8) | out[12]
        frames.append(out[:13 + ln])
        out = out[13 + ln:]
    eq(len(frames), 3)
    eq([(f[14] << 24) | (f[15] << 16) | (f[16] << 8) | f[17] for f in frames], [4242, 4243, 4244])
    eq(store.value, 4242 + 1000)
    # decrypts with the same key (C module as the peer here; dsmr-parser checks it on CPython)
    f = frames[0]
    pt = metercrypto.gcm_decrypt(b"\x01" * 16, f[2:10] + f[14:18], b"\x30" + bytes.fromhex(
        "00112233445566778899AABBCCDDEEFF"), f[18:-12], f[-12:])
    eq(pt[:5], b"/OMT5")


def test_clock_set_back_keeps_sending():
    svc, u, pin, clk, calls, b, snap = make("dsmr4")
    svc.poll()
    run_for(svc, clk, 12)
    eq(calls, [T0 + 1, T0 + 11])
    clk.t -= 3600
    run_for(svc, clk, 12)
    eq(calls[2:], [T0 + 12 - 3600, T0 + 22 - 3600])


def test_uart_errors_are_retried_not_fatal():
    class Flaky(FakeUart):
        def __init__(self):
            FakeUart.__init__(self)
            self.fail = 3

        def write(self, buf):
            if self.fail:
                self.fail -= 1
                raise OSError(5)
            return FakeUart.write(self, buf)

    svc, u, pin, clk, calls, b, snap = make(uart=Flaky())
    run_for(svc, clk, 3)
    eq(svc.write_errors, 3)
    tgs = split(u.out)
    eq(len(tgs), 2)
    snap.t = calls[0]
    eq(tgs[0], b.build(snap))


def test_paced_one_telegram_per_real_second_at_3600x():
    # pace = a real-time ticks clock (the sim's line_clock): the meter clock runs 3600x, the
    # port still sends once per real second, each telegram with the meter second of its start
    svc, u, pin, clk, calls, b, snap = make()
    real = FakeClock(0)
    svc.pace = real  # as P1Port(..., pace=real)
    for _ in range(300):  # 3 real seconds, a poll every 10 ms (36 meter seconds each)
        svc.poll()
        clk.t += 36
        real.ms += 10
    # activation poll, then telegrams at real 10, 1010, 2010 ms (a fixed 1 s grid)
    eq(calls, [T0 + 36, T0 + 36 * 101, T0 + 36 * 201])
    eq(len(split(u.out)), 3)
    eq(svc.late, 0)


def test_paced_grid_restarts_after_a_long_stall():
    svc, u, pin, clk, calls, b, snap = make()
    real = FakeClock(0)
    svc.pace = real
    svc.poll()  # activation
    clk.t += 1
    svc.poll()  # first telegram at real 0
    real.ms = 5500  # the app stalled 5.5 s: one telegram now, the next 1 s later (no burst)
    for _ in range(60):
        clk.t += 1
        svc.poll()
    eq(len(calls), 2)
    real.ms = 6499
    clk.t += 1
    svc.poll()
    eq(len(calls), 2)
    real.ms = 6500
    clk.t += 1
    svc.poll()
    eq(len(calls), 3)
