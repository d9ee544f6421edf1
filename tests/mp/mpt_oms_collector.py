# services/collector.py: configured sub-meters from wmbus.json (V1 gas, mode 7; V7 water, mode
# 5, long TPL); replay, bad MAC, wrong key, unknown meter (install list) are counted and change
# no reading; the counter state survives dump/load; mutated frames never raise, never change a
# reading unless accepted, and the statistics add up.
# mp-heap: 4M
from mptest import eq
from meter.cores.wmbus.frame import Frame
from meter.cores.oms.replay import Counters
from meter.services import collector as C
import mpt_oms_mode7 as H7

V = H7.V
KEYS = {"gas": bytes.fromhex(V["V1"]["key"]), "water": bytes.fromhex(V["V7"]["key"]),
        "bad": bytes(16)}
CFG = [{"id": "12345678", "mfct": "ELS", "channel": 1, "key": "gas"},
       {"id": "61070071", "mfct": "AAA", "channel": 2, "key": "water"}]


def _mf(b):
    m = b[2] | (b[3] << 8)
    return "".join(chr(((m >> s) & 31) + 64) for s in (10, 5, 0))


def _frame(vid, buf=None):
    b = H7._frame(V[vid])
    f = Frame(bytearray(b) + bytearray(300 - len(b)))
    f.n = f.end = len(b)
    f.rssi = -70
    return f


def _col(cfg=CFG, keys=KEYS):
    eq(_mf(H7._frame(V["V1"])), "ELS")
    eq(_mf(H7._frame(V["V7"])), "AAA")
    return C.Collector(cfg, keys)


def test_accept_replay_badmac():
    c = _col()
    eq(c.receive(_frame("V1"), 1000), C.OK)
    eq(c.receive(_frame("V7"), 1001), C.OK)
    ch = {x[0]: x for x in c.channels()}
    eq(ch[1][4:], (2850427, -2, "m3"))
    eq(ch[1][3], 1000)  # 2008 meter time is before the epoch: the meter's own time
    eq(ch[2][4] * 10 ** (ch[2][5] + 3), 466472)  # 466.472 m3
    eq(c.receive(_frame("V1"), 1002), C.REPLAYED)
    eq(c.receive(_frame("V1-badmac"), 1003), C.BAD_MAC)
    eq(c.channels()[0][3], 1000)
    eq(list(c.meter_stats(0)), [1, 1, 1, 0, 0, 0])
    eq(list(c.total), [2, 1, 1, 0, 0, 0])
    s = c.counters.dump()
    k = Counters(2)
    k.load(s)
    eq(list(k.last), [2739, -1])
    try:
        k.load(s[:-1])
        raise AssertionError("corrupt state accepted")
    except ValueError:
        pass


def test_wrong_key_unknown_plain():
    c = _col(keys={"gas": KEYS["bad"], "water": KEYS["bad"]})
    eq(c.receive(_frame("V1"), 5), C.BAD_MAC)  # mode 7: a wrong key fails the MAC
    eq(c.receive(_frame("V7"), 5), C.WRONG_KEY)
    eq(c.channels(), [])
    c = C.Collector(CFG[:1], KEYS)
    f = _frame("V7")
    f.buf[1] = C.C_SND_IR
    eq(c.receive(f, 6), C.UNKNOWN)
    eq(c.install, [("61070071", "AAA", f.buf[9], -70, True)])
    c = C.Collector([{"id": "12345678", "mfct": "ELS", "channel": 1}], {})
    eq(c.receive(_frame("V1"), 7), C.WRONG_KEY)


def fuzz(n, seed=1):
    import random
    random.seed(seed)
    base = [bytes(H7._frame(V[v])) for v in ("V1", "V7", "V1-badmac")]
    c = _col()
    f = Frame(bytearray(300))
    seen = [0] * C.N_STATS
    for i in range(n):
        src = base[i % 3]
        k = len(src)
        b = f.buf
        b[:k] = src
        for _ in range(1 + random.getrandbits(2)):
            b[random.getrandbits(16) % k] = random.getrandbits(8)
        if random.getrandbits(3) == 0:
            k = 11 + random.getrandbits(8) % (k - 11)
        f.n = f.end = k
        before = list(c.channels())
        r = c.receive(f, i)
        seen[r] += 1
        if r != C.OK:
            eq(c.channels(), before)
    eq(list(c.total), seen)
    for r in range(C.N_STATS):  # per-meter counts never exceed the totals
        eq(c.stats[r] + c.stats[C.N_STATS + r] <= c.total[r], True)
    eq(c.stats[C.UNKNOWN] + c.stats[C.N_STATS + C.UNKNOWN], 0)
    return c


def test_fuzz_small():
    c = fuzz(3000)
    eq(c.total[C.UNKNOWN] > 0 and c.total[C.BAD_MAC] > 0, True)
