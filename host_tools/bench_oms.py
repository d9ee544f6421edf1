"""OMS receive cost (run by `make bench` through host_tools/bench.py).

Callgrind instructions of the 32-bit interpreter per received frame through services/collector.py
(ELL/AFL/TPL parse, mode 7 KDF + CMAC verify + CBC decrypt, or mode 5 CBC decrypt + 2F2F, replay
check, EN 13757-3 record decode, P1 reading update), from the wmbus.json vectors: V1 (mode 7
accepted), V7 (mode 5 accepted), V1-badmac (rejected at the MAC). Measured as (N frames - 0 frames)
/ N so start-up is not counted. Transmit: services/radio_tx.py building one mode 7 frame (KDF,
CBC, CMAC, records) and one mode 5 frame, into its preallocated buffer.
"""
import os
import subprocess

from host_tools.benchutil import INTERPRETERS, ROOT, callgrind_ir

COST = r"""
import sys
sys.path.append("tests/mp")
import mpt_oms_collector as T
n, vid = int(sys.argv[1]), sys.argv[2]
if vid == "svc7":
    # services/oms.py send(): registers -> RadioTx mode 7 + ELL -> link encode T1 (the radio
    # port's send() without the chip)
    from meter.common.registers import Registers
    from meter.cores.wmbus.link import Link
    from meter.cores.wmbus import mode as M
    from meter.services.oms import OmsService
    regs = Registers()
    for o in ("1-0:1.8.0", "1-0:2.8.0"):
        regs.define(o, "kWh", -3, 1234567)
    regs.define("1-0:1.7.0", "kW", -3, 2300)

    class Port:
        error = None
        link = Link()
        out = bytearray(700)

        def send(self, d, k, mode, fmt):
            return self.link.encode(M.MODE_T1, M.FMT_A, d, k, self.out)
    svc = OmsService({"tx": {"key": "k", "ell": True, "records": ["import_wh", "export_wh",
                                                                   "power_w", "time_f"]}},
                     {"k": bytes(16)}, regs, lambda t: None)
    svc.attach_radio(Port())
    svc._reserved = 1 << 29
    for k in range(n):
        svc.tx._used_ms = 0
        svc.send(100000 + k)
    sys.exit()
if vid.startswith("tx"):
    from meter.services.radio_tx import RadioTx
    tx = RadioTx("87654321", "ABC", bytes(16), {"security": int(vid[2:])})
    vals = {"import_wh": 1234567, "export_wh": 89012}
    for k in range(n):
        tx._used_ms = 0
        tx.build(vals, 100)
    sys.exit()
c = T._col()
f = T._frame(vid)
src = bytes(f.buf)
for k in range(n):
    f.buf[:] = src
    if vid == "V1":
        c.counters.last[0] = -1  # accept the same counter again: the full path every time
    c.receive(f, 100 + k)
"""


def cost(vid, frames=40):
    env = dict(os.environ)
    env["MICROPYPATH"] = ":".join([".frozen", os.path.join(ROOT, "firmware"),
                                   os.path.join(ROOT, "tests", "mp")])

    def run(k):
        return lambda wrap: subprocess.run(
            list(wrap) + [INTERPRETERS["unix32"], "-c", COST, str(k), vid], cwd=ROOT, env=env,
            capture_output=True, text=True, timeout=600)
    return (callgrind_ir(run(frames)) - callgrind_ir(run(0))) // frames


def main():
    for vid, what in (("V1", "mode 7 accepted (KDF, CMAC, CBC, records)"),
                      ("V7", "mode 5 accepted (CBC, records)"),
                      ("V1-badmac", "mode 7 bad MAC (KDF, CMAC, rejected)")):
        print("receive %-10s %-45s %9d instructions/frame (unix32)" % (vid, what, cost(vid)))
    for vid, what in (("tx7", "mode 7, totals (KDF, CBC, CMAC, records)"),
                      ("tx5", "mode 5, totals (CBC, records)"),
                      ("svc7", "meter frame: registers, mode 7+ELL, T1 encode")):
        print("transmit %-9s %-45s %9d instructions/frame (unix32)" % (vid, what, cost(vid)))


if __name__ == "__main__":
    main()
