# services/radio_tx.py: frames built for mode 7 (with/without ELL) and mode 5 are accepted by the
# collector with the meter's values; the counter increases; the duty cycle budget stops frames;
# jitter stays within interval +- 1/16. (An independent CPython decoder checks the same frames in
# tests/test_oms_peer.py.)
from mptest import eq
from meter.cores.wmbus.frame import Frame
from meter.services import radio_tx as X
from meter.services import collector as C

KEY = bytes(range(16))
VALS = {"import_wh": 1234567, "export_wh": 89012, "power_w": -250, "status": 0}


def _rx(tx, sec):
    c = C.Collector([{"id": "87654321", "mfct": "ABC", "channel": 1, "key": "k"}], {"k": KEY})
    out = []
    for k in range(3):
        n = tx.build(VALS, 1000 + k)
        eq(n > 0, True)
        f = Frame(bytearray(tx.buf))
        f.n = f.end = n
        out.append(c.receive(f, 1000 + k))
    return c, out


def test_mode7_and_mode5_accepted():
    for cfg in ({"security": 7}, {"security": 7, "ell": True}, {"security": 5, "mode": "C1"},
                {"security": 7, "records": ("import_wh", "import_wh_1", "power_w", "status")}):
        tx = X.RadioTx("87654321", "ABC", KEY, cfg)
        c, out = _rx(tx, cfg)
        eq(out, [C.OK] * 3)
        ch = c.channels()[0]
        eq((ch[4], ch[5], ch[6]), (1234567, -3, "kWh"))
    eq(tx.counter, 3)


def test_duty_cycle_and_jitter():
    tx = X.RadioTx("87654321", "ABC", KEY, {"interval": 900})
    sent = 0
    for k in range(5000):
        if tx.build(VALS, 10):
            sent += X.airtime_ms(tx.buf[0] + 1, "T1")
    eq(sent <= X.HOUR_BUDGET_MS, True)
    eq(tx.denied > 0, True)
    eq(tx.build(VALS, 3600 + 10) > 0, True)  # a new hour, a new budget
    ds = [tx.next_delay() for _ in range(200)]
    eq(min(ds) >= 900 - 56 and max(ds) <= 900 + 57, True)
    eq(len(set(ds)) > 20, True)
