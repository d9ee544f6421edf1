# services/oms.py: the OMS roles' schedule and persistence (the rig story is tests/test_rig_oms.py):
# the transmit counter is reserved ahead durably and never reused after a restore; frames go out
# once per interval (+- jitter) with the registers of that second; replay counters are saved at the
# tick after they move, and their section restores them (a corrupt one is refused).
import gc

from mptest import eq
from meter.common.registers import Registers
from meter.cores.wmbus import records as R
from meter.cores.wmbus.frame import Frame
from meter.services import oms as O
from meter.services import oms_tx as OT
from meter.services import collector as C
from meter.services.radio_tx import RadioTx

KEY = bytes(range(16))
KEYS = {"gk": KEY, "tk": bytes(range(1, 17))}
CFG = {"submeters": [{"id": "12345678", "mfct": "ELS", "channel": 1, "key": "gk"}],
       "tx": {"id": "00112233", "mfct": "OMT", "key": "tk", "interval": 900,
              "records": ["import_wh", "export_wh", "power_w", "time_f"]}}


class Port:
    error = None

    def __init__(self):
        self.frames = []
        self.tx_stats = [0, 0, 0]

    def send(self, data, n, mode, fmt):
        self.frames.append(bytes(data[:n]))
        return True


def _svc():
    regs = Registers()
    for o in ("1-0:1.8.0", "1-0:2.8.0"):
        regs.define(o, "kWh", -3)
    regs.define("1-0:1.7.0", "kW", -3)
    saves = []
    s = O.OmsService(CFG, KEYS, regs, saves.append)
    port = Port()
    s.attach_radio(port)
    return s, regs, saves, port


def _open(frame, t):
    """The frame through a collector configured for our own meter (mode 7, the TX key)."""
    c = C.Collector([{"id": "00112233", "mfct": "OMT", "channel": 1, "key": "tk"}], KEYS)
    f = Frame(bytearray(frame))
    f.n = f.end = len(frame)
    return c, c.receive(f, t)


def test_schedule_values_and_counter_reservation():
    s, regs, saves, port = _svc()
    t = 100000
    s.tick(t)
    due = s.due
    eq(900 - 900 // 16 <= due - t <= 900 + 900 // 16, True)
    regs.set(regs.slot("1-0:1.8.0"), 123456)
    regs.set(regs.slot("1-0:1.7.0"), 2300)
    for k in range(t + 1, due):
        s.tick(k)
    eq(port.frames, [])
    s.tick(due)
    eq(len(port.frames), 1)
    eq(saves, [due])  # the counter reservation is durable before the first frame
    eq((s.tx.counter, s._reserved), (1, OT.RES))
    c, r = _open(port.frames[0], due)
    eq(r, C.OK)
    eq(c.channels()[0][4], 123456)
    # the next frames within the reservation: no save; the 17th reserves again
    for k in range(OT.RES):
        s.send(due + 1 + k)
    eq(len(saves), 2)
    eq(s.tx.counter, OT.RES + 1)


def test_counter_never_reused_after_restore():
    s, _, _, port = _svc()
    s.send(5000)
    buf = bytearray(4)
    sec = s.tx_section()
    eq((sec[0], sec[1]), (O.SECTION_TX, 4))
    sec[2](buf)
    s2, _, _, port2 = _svc()
    eq(s2.tx_section()[3](buf), True)
    s2.send(5001)
    eq(s2.tx.counter > s.tx.counter, True)
    eq(s2.tx.counter, OT.RES + 1)


def test_replay_counters_saved_and_restored():
    s, _, saves, _ = _svc()
    tx = RadioTx("12345678", "ELS", KEY, {})
    n = tx.build({"import_wh": 5}, 10)
    raw = bytes(tx.buf[:n])
    f = Frame(bytearray(raw))
    f.n = f.end = n
    eq(s.collector.receive(f, 10), C.OK)
    s.tick(10)
    s.tick(11)
    eq(len(saves), 1)  # once, at the tick after the counter moved
    sid, size, dump, load = s.rx_section()
    eq(sid, O.SECTION_RX)
    buf = bytearray(size)
    dump(buf)
    s2, _, _, _ = _svc()
    eq(s2.rx_section()[3](buf), True)
    f = Frame(bytearray(raw))  # the collector decrypted the first copy in place
    f.n = f.end = n
    eq(s2.collector.receive(f, 12), C.REPLAYED)
    bad = bytearray(buf)
    bad[0] ^= 1
    s3, _, _, _ = _svc()
    eq(s3.rx_section()[3](bad), False)


def test_time_f_round_trip():
    from meter.common.timeutil import to_secs
    for t in (to_secs(2026, 1, 5, 0, 0), to_secs(2031, 12, 31, 23, 59), to_secs(2063, 7, 1, 12, 30)):
        # a small int on 32-bit builds until 2031 (the year's high bits are the top nibble; later
        # it is a short-lived long int once per frame)
        eq(OT.time_f(t) < 1 << 30, t < to_secs(2032, 1, 1))
        eq(to_secs(*R.datetime_f(OT.time_f(t))), t)


def test_tick_allocates_nothing_between_frames():
    s, _, _, _ = _svc()
    s.tick(1000)
    gc.collect()
    a = gc.mem_alloc()
    for k in range(1001, 1100):
        s.tick(k)
    eq(gc.mem_alloc() - a, 0)
