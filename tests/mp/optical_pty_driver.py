# Test-only driver: runs the IEC 62056-21 session (with the test harness's registers, clock and
# objects) in real time, bridged to CPython over stdin/stdout (tests/test_optical_client.py):
#   stdin:  rx <hex>          bytes the meter's UART received
#           q                 -> prints "state <json>"
#   stdout: tx <hex>          bytes the meter's UART transmits
#           baud <n>          the meter's UART now runs at n baud (7E1)
import sys
import time
import json
import select
import binascii

from meter.cores.iec62056_21 import session as iec
from optical_harness import Harness


def main():
    kw = {}
    for arg in sys.argv[1:]:
        k, v = arg.split("=")
        kw[k] = int(v)
    h = Harness(t0=time.ticks_ms(), **kw)
    s = h.s
    out = sys.stdout

    def do(acts, now):
        # the port's job (ports/optical.py): walk by index, write_done() appends the answer
        i = 0
        while i < len(acts):
            a = acts[i]
            i += 1
            if a[0] == iec.SEND:
                out.write("tx " + binascii.hexlify(bytes(a[1])).decode() + "\n")
            elif a[0] == iec.BAUD:
                out.write("baud %d\n" % a[1])
            elif a[0] == iec.EVENT:
                h.log(a[1], a[2], a[3])
            elif a[0] == iec.WRITE:
                s.write_done(h.reg.write(a[1], a[2]), now)
        if acts and hasattr(out, "flush"):
            out.flush()

    p = select.poll()
    p.register(sys.stdin, select.POLLIN)
    out.write("ready\n")
    while True:
        if p.poll(5):
            line = sys.stdin.readline()
            if not line:
                break
            w = line.split()
            now = time.ticks_ms()
            if w and w[0] == "rx":
                do(s.feed(binascii.unhexlify(w[1]), now), now)
            elif w and w[0] == "q":
                out.write("state " + json.dumps({
                    "clock": h.clock.t, "knob": h.knob.v, "keys": h.key_written,
                    "regs": list(h.regs.values), "level": s.level, "state": s.state,
                    "baud": s.baud, "counts": dict((str(k), v) for k, v in h.counts.items()),
                    "audit": s.audit, "fails": s.lockout.fails}) + "\n")
        now = time.ticks_ms()
        do(s.poll(now), now)


main()
