# Driver for tests/test_p1_parser.py (not a test module: no test functions). Reads one JSON case
# per line on stdin, builds each telegram with the firmware's P1Builder and prints one line per case:
# the telegram (or smarty frame) as hex, or "ERR <message>".
#
# case: {"profile": str, "config": {...}, "fc": int|null,
#        "snap": {"regs": [[obis, unit, scaler, value], ...], "t": int,
#                 "events": [[t, code, a, b], ...], "text": hex, "tariff": int|null,
#                 "sub": [[ch, type, id, capture_t, value, scaler, unit], ...],
#                 "dm": [t, W]|null, "dh": [[t_month, t_peak, W], ...]|null},
#        "firmware": [legal version, legal checksum, version, manifest id] (optional: set_firmware)}
import sys
import json
import binascii

from meter.common.registers import Registers
from meter.common.events import EventLog
from meter.cores.dsmr.builder import P1Builder
from meter.cores.dsmr.snapshot import P1Snapshot
from meter.services.submeters import SettableSubmeters


def snapshot(d):
    r = Registers()
    for obis, unit, sc, v in d.get("regs", ()):
        r.define(obis, unit, sc, v)
    e = EventLog()
    for t, code, a, b in d.get("events", ()):
        e.add(t, code, a, b)
    sm = SettableSubmeters()
    for ch, dt, eid, ct, v, sc, unit in d.get("sub", ()):
        sm.set(ch, dt, eid, ct, v, sc, unit)
    s = P1Snapshot(r, e, sm)
    s.t = d["t"]
    s.text = binascii.unhexlify(d.get("text", ""))
    s.tariff = d.get("tariff")
    dm = d.get("dm")
    s.demand_month = tuple(dm) if dm else None
    dh = d.get("dh")
    s.demand_hist = [tuple(x) for x in dh] if dh else None
    return s


def main():
    while True:
        line = sys.stdin.readline()
        if not line:
            break
        if not line.strip():
            continue
        c = json.loads(line)
        try:
            b = P1Builder(c["profile"], c.get("config") or {})
            if c.get("firmware"):
                b.set_firmware(*c["firmware"])
            out = b.build(snapshot(c["snap"]), c.get("fc"))
            print(binascii.hexlify(out).decode())
        except Exception as ex:
            print("ERR %s: %s" % (type(ex).__name__, ex))


if __name__ == "__main__":
    main()
