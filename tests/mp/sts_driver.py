# Driver for the CPython STS tests (not a test file): plays the owner of one or more STS decoders
# inside MicroPython, fed JSON lines on stdin, one JSON line out per command. It carries out the
# actions as the credit service would (credit registers, key record, persisted records) and checks
# on every token the decoder's contract: DISPLAY last, RECORD_TID before the credit, nothing but
# the lockout changed by a refused token. Keys never leave: a new key is reported as its SHA-256.
#   {"op": "meter", "id": I, "key": {ea, key (hex), kt, krn, ti, ken, sgc, base}, "config": {...}}
#   {"op": "enter", "id": I, "digits": D, "now": N, "room": R}  -> code, actions, fields, checks
#   {"op": "batch", "id": I, "tokens": [D, ...]}                -> counts per code, violations
import sys
import json
import metercrypto
from meter.cores.sts import result as R
from meter.cores.sts.decoder import Decoder, Config
from meter.cores.sts.keyrec import KeyRecord

METERS = {}
ACCEPTS = (R.ACCEPT, R.KCT1, R.KCT2)


def hx(b):
    return "".join("%02x" % x for x in b)


class Meter:
    def __init__(self, cmd):
        k = cmd["key"]
        self.key = KeyRecord(k["ea"], bytes.fromhex(k["key"]), k.get("kt", 2), k.get("krn", 1), k.get("ti", 1),
                             k.get("ken", 255), k.get("sgc", 0), k.get("base", 0))
        cfg = cmd.get("config") or {}
        self.dec = Decoder(Config(**cfg))
        self.credit = [0] * 8
        self.saved_tids = bytes(self.dec.tid_record())

    def state(self):
        d = self.dec
        return bytes(d.tid_record()), d.kc.parts, bytes(d.kc._raw), self.key.to_bytes(), tuple(self.credit)

    def enter(self, digits, now=0, room=None):
        before = self.state()
        code, acts = self.dec.enter(digits, now, self.key, room)
        problems = []
        if not acts or acts[-1] != ("DISPLAY", R.NAMES[code]):
            problems.append("DISPLAY not last")
        if code not in ACCEPTS and self.state() != before:
            problems.append("state changed by " + R.NAMES[code])
        out = []
        recorded = None
        for a in acts:
            name = a[0]
            if name == "RECORD_TID":
                self.saved_tids = bytes(self.dec.tid_record())
                recorded = a[1]
                out.append(list(a))
            elif name == "ADD_CREDIT":
                if recorded != a[3]:
                    problems.append("credit before its TID was recorded")
                self.credit[a[1]] += a[2]
                out.append(list(a))
            elif name == "SET_KEY":
                k = a[1]
                self.key = k
                out.append([name, {"ea": k.ea, "kt": k.kt, "krn": k.krn, "ti": k.ti, "ken": k.ken, "sgc": k.sgc,
                                   "base": k.base, "key_sha256": hx(metercrypto.sha256(k.key()))}])
            else:
                out.append(list(a))
        t = self.dec.tok
        fields = {"cls": t.cls, "sub": t.sub, "rnd": t.rnd, "tid": t.tid, "value": t.value}
        return {"code": R.NAMES[code], "actions": out, "fields": fields, "problems": problems}


def run(cmd):
    op = cmd["op"]
    if op == "meter":
        METERS[cmd["id"]] = Meter(cmd)
        return {"ok": True}
    m = METERS[cmd["id"]]
    if op == "enter":
        return m.enter(cmd["digits"], cmd.get("now", 0), cmd.get("room"))
    if op == "batch":
        counts = {}
        problems = []
        credits = 0
        codes = []
        for d in cmd["tokens"]:
            r = m.enter(d, cmd.get("now", 0))
            counts[r["code"]] = counts.get(r["code"], 0) + 1
            codes.append(r["code"])
            credits += sum(1 for a in r["actions"] if a[0] == "ADD_CREDIT")
            problems += r["problems"]
        return {"counts": counts, "codes": codes, "credit_actions": credits, "problems": problems[:10]}
    return {"error": "unknown op"}


while True:
    line = sys.stdin.readline()
    if not line:
        break
    try:
        res = run(json.loads(line))
    except Exception as e:  # report, do not die: the CPython side fails the test with it
        res = {"error": "%s: %s" % (type(e).__name__, e)}
    print(json.dumps(res))
print("@@END")
