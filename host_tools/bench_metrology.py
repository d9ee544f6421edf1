"""Benchmark of the metering tick with storage, as wired in the app (firmware/meter/app/__init__.py).

    .venv/bin/python -m host_tools.bench_metrology [--ticks N] [--no-callgrind] [--no-rig]

The MicroPython script below builds the real App on the unix_sim board (its link connected to a
drain socket here; no asyncio tasks run) and calls app.tick() once per virtual second, which is
metrology (AFE read, exact accumulators, tariff split), demand, profile, billing, power quality,
the save policy and, when due, the state journal save + event flush. Two AFEs:
  * "fixed AFE": a stand-in driver that returns constant counts (20 import counts per phase and
    tick, ~6.5 kW, plus reactive) without any simulation: the firmware's own cost;
  * "AFE model": the real ATM90E32 driver over the register-level simulator (the rig's setup;
    includes the simulator's cost, which a real chip does not have; on the 32-bit build the
    simulator's mW*ms integrals are big ints, which dominates).
and two flash devices: "sim" (the unix_sim board's file-backed NOR emulation, a Python loop per
byte written) and "ram" (C slice copies: what remains is the firmware's own save cost).
Printed:
  * instructions per tick on the 32-bit interpreter with callgrind: (Ir of a run with N ticks - Ir
    of the same run with 0 ticks) / N, saves included at the policy's rate (100 Wh / >= 120 s).
    Read it with care: MicroPython puts a call frame bigger than 11 words on the GC heap
    (py/vm.c VM_MAX_STATE_ON_STACK) and frees it on return, so ~17 calls per tick each run
    gc_alloc's first-fit scan. With the whole firmware compiled from source (unix32, ~490 KB
    resident) that scan dominates: between issue 10 and the prepayment work the number of such
    allocations rose 15 % (55k -> 63k per hour) but their cost rose 6x (3.5k -> 22.6k instructions
    each, callgrind by caller) because the first large-enough hole moved up the heap; wall time per
    tick rose 12 %. The prepayment variant adds the credit account, supply control and limiter;
  * instructions per save (app.save(): state record of all sections + event flush);
  * time per tick and its ratio to the 1-s tick period (this host's wall time: a proxy only);
  * boot + restore time (App() on a flash with 61 days of profile records: ring scans);
  * heap: allocated bytes after boot (modules from source; frozen firmware from the rig at 96 KB),
    bytes allocated per tick and per save with the GC disabled.
`make bench` (host_tools/bench.py) calls main() of every bench_*.py.
"""
import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading

from host_tools import benchutil
from host_tools.benchutil import INTERPRETERS, ROOT

SCRIPT = r"""
import sys, gc, time
import board as B
n = int(sys.argv[1])
mode = sys.argv[2]
afe = sys.argv[3]
flash = sys.argv[4]

class FixedAfe:
    name = "fixed"
    phases = 3
    has_reactive = True
    counts_per_wh = 11
    counts_per_wh_den = 1
    max_delta = 0xFFFF
    errors = 0
    def begin(self):
        return True
    def read_energy(self, out):
        for ph in range(3):
            out[ph * 4] = 20
            out[ph * 4 + 1] = 0
            out[ph * 4 + 2] = 4
            out[ph * 4 + 3] = 1
        return True
    def read_instant(self, out):
        for ph in range(3):
            b = ph * 6
            out[b] = 2300
            out[b + 1] = 10000
            out[b + 2] = 2300
            out[b + 3] = 100
            out[b + 4] = 2302
            out[b + 5] = 999
        out[18] = 50000
        out[19] = 0
        return True

class RamFlash:
    # flash stand-in whose writes are C slice copies (no NOR emulation loop): the firmware's own cost
    size = 256 * 1024
    block_size = 4096
    def __init__(self):
        self.mem = bytearray(b"\xff" * self.size)
        self.mv = memoryview(self.mem)
        self.ff = b"\xff" * self.block_size
    def read(self, off, buf):
        buf[:] = self.mv[off:off + len(buf)]
    def write(self, off, data):
        self.mv[off:off + len(data)] = data
    def erase(self, blk):
        self.mv[blk * 4096:blk * 4096 + 4096] = self.ff

b = B.make()
if len(sys.argv) > 5 and sys.argv[5] == "prepay":
    # a prepayment meter: currency account with prices per rate, standing charge, debt recovery,
    # friendly periods and the load limiter all ticking
    b.config["prepayment"] = {"unit": "currency", "payment_mode": 2, "prices": [250, 180, 300],
                              "standing_per_day": 500, "debt": 10000000, "debt_per_day": 1000,
                              "debt_cap": 100000, "low_credit": [5000, 1000],
                              "ec_amount": 5000, "ec_threshold": 2000,
                              "friendly": {"hours": {"*": [[22, 24]]}, "special_days": ["*-12-25"]}}
    b.config["supply"] = {"control_mode": 1, "limiter": {"normal_w": 100000, "over_s": 60}}
if flash == "ram":
    b.storage = RamFlash()
if afe == "fixed":
    b.afe = FixedAfe()
else:
    for ph in (1, 2, 3):
        b.afe_sim.set_load(ph, 230000, 10000, 2300000, 100000, 0)
from meter.app import App
app = App(b)
if app.credit is not None:
    app.credit.add_credit(100000000, 2)
clk = b.clock
gc.collect()
boot_alloc = gc.mem_alloc()
tick = app.tick
if mode == "alloc":
    for i in range(1800):  # warm up: first boundaries compute calendars once
        clk.jump(1000)
        tick()
    gc.collect()
    gc.disable()
    plain = 0
    plain_bytes = 0
    saves = 0
    save_bytes = 0
    for i in range(n):
        a0 = gc.mem_alloc()
        s0 = app.store.saves
        clk.jump(1000)
        tick()
        d = gc.mem_alloc() - a0
        if app.store.saves != s0:
            saves += 1
            save_bytes += d
        else:
            plain += 1
            plain_bytes += d
    gc.enable()
    print("ALLOC %d %d %d %d %d" % (plain, plain_bytes, saves, save_bytes, boot_alloc))
elif mode == "boot":
    for i in range(n):  # fill the rings: n fast-forward ticks of 900 s (one profile record each)
        clk.jump(900000)
        tick()
    app.save()
    recs = app.profile.count()
    b2 = B.make()
    b2.clock.jump(clk.sim_ms())
    if flash == "ram":
        b2.storage = b.storage
    if afe == "fixed":
        b2.afe = FixedAfe()
    gc.collect()
    t0 = time.ticks_us()
    app2 = App(b2)
    dt = time.ticks_diff(time.ticks_us(), t0)
    print("BOOT %d %d %d" % (dt, recs, app2.restore_status))
elif mode == "save":
    t0 = time.ticks_us()
    for i in range(n):
        app.save()
    print("US %d" % time.ticks_diff(time.ticks_us(), t0))
else:
    t0 = time.ticks_us()
    for i in range(n):
        clk.jump(1000)
        tick()
    print("US %d SAVES %d" % (time.ticks_diff(time.ticks_us(), t0), app.store.saves))
"""


class _Drain:
    """The link's other end: accepts the board's connection and discards what it sends."""

    def __init__(self):
        self.srv = socket.socket()
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(4)
        self.port = self.srv.getsockname()[1]
        self._stop = False
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self):
        while not self._stop:
            try:
                c, _ = self.srv.accept()
            except OSError:
                return
            threading.Thread(target=self._read, args=(c,), daemon=True).start()

    @staticmethod
    def _read(c):
        try:
            while c.recv(65536):
                pass
        except OSError:
            pass
        c.close()

    def close(self):
        self._stop = True
        self.srv.close()


def run(interp, n, mode, afe, drain, wrap=(), heap=None, flash="sim", prepay=False):
    with tempfile.TemporaryDirectory() as d:
        env = dict(os.environ)
        env["MICROPYPATH"] = ":".join([".frozen", os.path.join(ROOT, "boards", "unix_sim"),
                                       os.path.join(ROOT, "firmware")])
        env["METER_SIM_LINK"] = "127.0.0.1:%d" % drain.port
        env["METER_SIM_STORAGE"] = os.path.join(d, "flash.bin")
        env["METER_SIM_EPOCH"] = str(194745600)  # 2026-03-02 00:00 UTC, a Monday
        env["METER_SIM_RATE"] = "0"
        cmd = list(wrap) + [INTERPRETERS[interp]]
        if heap:
            cmd += ["-X", "heapsize=" + heap]
        cmd += ["-c", SCRIPT, str(n), mode, afe, flash] + (["prepay"] if prepay else [])
        p = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env, timeout=1800)
        if p.returncode != 0:
            raise RuntimeError("%s %s failed: %s" % (interp, mode, (p.stderr or p.stdout)[-2000:]))
        return p


def us_per(interp, n, mode, afe, drain, flash="sim"):
    return benchutil.best_us_per(lambda: run(interp, n, mode, afe, drain, flash=flash), n)


def callgrind_ir(interp, n, mode, afe, drain, flash="sim", prepay=False):
    return benchutil.callgrind_ir(lambda wrap: run(interp, n, mode, afe, drain, flash=flash, wrap=wrap,
                                                   prepay=prepay))


def rig_heap():
    """Heap of the whole meter on the rig: frozen firmware at 96 KB (unix32) and, for comparison,
    the .mpy firmware loaded from files (needs a big heap)."""
    from host_tools.rig import Rig
    out = {}
    with Rig(interp="unix32", heap="96K", frozen=True, time_rate=0) as rig:
        rig.set_load(1, 230.0, 10.0, 1.0)
        rig.advance(86400)
        out["frozen96"] = rig.query("mem")
    with Rig(interp="unix32", heap="1M", mpy=True, time_rate=0) as rig:
        out["mpy"] = rig.query("mem")
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description="metering tick + storage cost")
    ap.add_argument("--ticks", type=int, default=20000)
    ap.add_argument("--no-callgrind", action="store_true")
    ap.add_argument("--no-rig", action="store_true", help="skip the rig heap figures")
    a = ap.parse_args([] if argv is None else argv)
    drain = _Drain()
    try:
        print("metrology: app.tick() per 1-s tick (metering + demand + profile + billing + quality + "
              "save policy + journal saves)")
        for interp in ("unix", "unix32"):
            if not os.path.exists(INTERPRETERS[interp]):
                print("  %s: interpreter not built (make interpreters)" % interp)
                continue
            for afe, flash, n in (("fixed", "ram", a.ticks), ("fixed", "sim", a.ticks),
                                  ("model", "sim", a.ticks // 4)):
                us = us_per(interp, n, "tick", afe, drain, flash)
                print("  %-7s %s AFE, %s flash %9.1f us/tick   ratio to the 1-s tick %.2e" % (
                    interp, afe, flash, us, us / 1e6))
            for flash in ("ram", "sim"):
                us = us_per(interp, 500, "save", "fixed", drain, flash)
                print("  %-7s app.save(), %s flash  %9.1f us/save" % (interp, flash, us))
        for interp in ("unix", "unix32"):
            if os.path.exists(INTERPRETERS[interp]):
                for flash in ("ram", "sim"):
                    p = run(interp, 61 * 96, "boot", "fixed", drain, flash=flash)
                    us, recs, st = map(int, re.search(r"BOOT (\d+) (\d+) (\d+)", p.stdout).groups())
                    print("  %-7s boot + restore (App()), %s flash, %d profile records on flash: %.0f ms"
                          % (interp, flash, recs, us / 1000.0))
        if os.path.exists(INTERPRETERS["unix32"]):
            p = run("unix32", 3600, "alloc", "fixed", drain)
            plain, pb, saves, sb, boot = map(int, re.search(r"ALLOC (\d+) (-?\d+) (\d+) (-?\d+) (\d+)",
                                                             p.stdout).groups())
            print("  unix32  heap: %d bytes allocated after boot (modules from source); GC off, 1 h of "
                  "1-s ticks: %d ticks without a save allocated %d bytes in all; %d ticks with a save "
                  "(energy/time policy or profile boundary) %d bytes each" % (
                      boot, plain, pb, saves, sb // max(1, saves)))
            p = run("unix32", 3600, "alloc", "fixed", drain, prepay=True)
            plain, pb, saves, sb, boot = map(int, re.search(r"ALLOC (\d+) (-?\d+) (\d+) (-?\d+) (\d+)",
                                                             p.stdout).groups())
            print("  unix32  prepayment meter (currency account, debt, friendly periods, limiter): %d "
                  "bytes after boot; 1 h of 1-s ticks: %d ticks without a save allocated %d bytes in all"
                  % (boot, plain, pb))
        if not a.no_rig:
            try:
                h = rig_heap()
                f = h["frozen96"]
                print("  unix32  rig, frozen firmware, 96 KB heap, after 1 day: alloc %d free %d bytes"
                      % (f["alloc"], f["free"]))
                print("  unix32  rig, .mpy firmware from files: alloc %d bytes after boot (> 96 KB: "
                      "bytecode on the heap)" % h["mpy"]["alloc"])
            except Exception as e:  # noqa: BLE001 - a bench reports, it does not stop
                print("  rig heap: skipped (%s)" % e)
        if a.no_callgrind:
            return 0
        if not shutil.which("valgrind"):
            print("  callgrind: valgrind not installed, skipped")
            return 0
        if not os.path.exists(INTERPRETERS["unix32"]):
            return 0
        for afe, flash, n in (("fixed", "ram", 3600), ("fixed", "sim", 3600), ("model", "sim", 240)):
            base = callgrind_ir("unix32", 0, "tick", afe, drain, flash)
            full = callgrind_ir("unix32", n, "tick", afe, drain, flash)
            print("  unix32  %s AFE, %s flash %10.0f instructions/tick (callgrind, %d ticks minus "
                  "0-tick run)" % (afe, flash, (full - base) / float(n), n))
        base = callgrind_ir("unix32", 0, "tick", "fixed", drain, "ram", prepay=True)
        full = callgrind_ir("unix32", 3600, "tick", "fixed", drain, "ram", prepay=True)
        print("  unix32  prepayment meter, fixed AFE, ram flash %10.0f instructions/tick (callgrind, "
              "credit + supply control + limiter included)" % ((full - base) / 3600.0))
        for flash in ("ram", "sim"):
            base = callgrind_ir("unix32", 0, "save", "fixed", drain, flash)
            full = callgrind_ir("unix32", 50, "save", "fixed", drain, flash)
            print("  unix32  app.save(), %s flash %10.0f instructions/save (callgrind, 50 saves minus 0)"
                  % (flash, (full - base) / 50.0))
    finally:
        drain.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
