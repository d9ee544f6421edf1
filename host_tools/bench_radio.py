"""Radio timing margins (run by `make bench` through host_tools/bench.py).

In virtual time, with the register-level CC1101 model (boards/unix_sim/cc1101_sim.py), the real
driver and the real link core (tests/mp/radio_harness.py), this finds by bisection the latest the
driver's FIFO service may run after a GDO edge (the interrupt latency the port must stay under)
with zero frames lost, for:
  1. one long T1 frame (400 bytes on air) and one long S1 frame: the RX FIFO margin alone, in ms
     and as a ratio to the time the 64-byte FIFO takes to fill at that chip rate;
  2. back-to-back C1 and T1 frames of about 20, 255 and 400 bytes, each preamble right after the
     previous postamble (the binding deadlines there are the fixed-length switch of short frames
     and the end-of-packet re-arm);
  3. polling without interrupts: the longest service period with zero loss for the long frame.
Figures are virtual time (deterministic, no wall clock); resolution 10 us.
  4. CPU cost per received frame (driver FIFO service + link core), in callgrind instructions
     of the 32-bit interpreter, against a replay chip (tests/mp/mpt_radio_driver.py) so the
     model's own work is not counted: per mode and length.
"""
import os
import subprocess

from host_tools.benchutil import INTERPRETERS, ROOT, callgrind_ir

SCRIPT = r"""
import sys
sys.path.append("tests/mp")
from radio_harness import Rig, on_air, make_frame, sized
from meter.cores.wmbus.link import OK

def trial(spec, family, latency=None, period=None):
    rig = Rig(family=family)
    t = 2000
    want = []
    for i, (mode, target) in enumerate(spec):
        fr = make_frame(sized(target, mode), 50 + i)
        t = rig.sim.inject(on_air(fr, mode), mode, -60, at=t)
        want.append(fr[1:])
    rig.run(t + 3000 + (latency or 0) + (period or 0), latency_us=latency, period_us=period,
            step_us=10)
    got = [x[1][1:] for x in rig.frames if x[0] == OK]
    ok = got == want and not rig.sim.violations
    return ok, rig.radio.overflows

def bisect(fn, lo, hi):
    # largest x in [lo, hi] (10 us steps) with fn(x) true; fn(lo) must hold
    if not fn(lo):
        return None
    while hi - lo > 10:
        mid = (lo + hi) // 20 * 10
        if fn(mid):
            lo = mid
        else:
            hi = mid
    return lo

LONG_T = [("T1", 400)]
LONG_S = [("S1", 400)]
B2B = [("C1", 20), ("T1", 20), ("C1", 255), ("T1", 255), ("C1", 400), ("T1", 400),
       ("T1", 20), ("C1", 20), ("T1", 400), ("C1", 255), ("C1", 20), ("T1", 255)]
r1 = bisect(lambda x: trial(LONG_T, 0, latency=x)[0], 10, 8000)
r2 = bisect(lambda x: trial(LONG_S, 1, latency=x)[0], 10, 24000)
r3 = bisect(lambda x: trial(B2B, 0, latency=x)[0], 10, 8000)
r4 = bisect(lambda x: trial(LONG_T, 0, period=x)[0], 10, 8000)
print("RESULT", r1, r2, r3, r4)
"""

FILL_TC_US = 64 * 8 * 1000000 // 100000  # 64 bytes at 100 kchip/s: 5120 us
FILL_S_US = 64 * 8 * 1000000 // 32768  # at 32.768 kchip/s: 15625 us


def measure(interp="unix"):
    env = dict(os.environ)
    env["MICROPYPATH"] = ":".join([".frozen", os.path.join(ROOT, "firmware"),
                                   os.path.join(ROOT, "tests", "mp")])
    p = subprocess.run([INTERPRETERS[interp], "-X", "heapsize=8M", "-c", SCRIPT], cwd=ROOT,
                       env=env, capture_output=True, text=True, timeout=1800)
    line = [x for x in p.stdout.splitlines() if x.startswith("RESULT")]
    if p.returncode or not line:
        raise RuntimeError("radio bench failed: " + p.stderr[-2000:])
    return [None if v == "None" else int(v) for v in line[0].split()[1:]]


COST = r"""
import sys
sys.path.append("tests/mp")
from mpt_radio_driver import ReplayChip
from radio_harness import on_air, make_frame
from meter.cores.wmbus import mode as M
from meter.cores.wmbus.link import Link
from meter.drivers.cc1101.core import CC1101
N, n, md, fm = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
chip = ReplayChip()
link = Link(dup_window=0)
r = CC1101(chip, chip.gdo0, chip.gdo2, M.expected_length, link.rx_buffers(2))
r._st = 0
p = on_air(make_frame(n, n), md, fm)
def one():
    chip.load(p)
    while not r.ready():
        r.service()
    i = r.peek()
    assert link.read(r.bufs[i], r.lens[i], 0, 0, 0, 0) == 0
    r.release()
one()
for _ in range(N):
    one()
"""
CASES = ((20, "C1", "A"), (20, "T1", "A"), (200, "C1", "B"), (256, "C1", "A"), (256, "T1", "A"))


def cost(n, md, fm, frames=40):
    env = dict(os.environ)
    env["MICROPYPATH"] = ":".join([".frozen", os.path.join(ROOT, "firmware"),
                                   os.path.join(ROOT, "tests", "mp")])

    def run(k):
        return lambda wrap: subprocess.run(
            list(wrap) + [INTERPRETERS["unix32"], "-c", COST, str(k), str(n), md, fm], cwd=ROOT,
            env=env, capture_output=True, text=True, timeout=900)
    return (callgrind_ir(run(frames)) - callgrind_ir(run(0))) // frames


def main():
    long_t, long_s, b2b, poll = measure()
    print(__doc__.strip().splitlines()[0])
    print("latest FIFO service after a GDO edge with zero loss (virtual time, 10 us steps):")
    print("  T1 400 bytes on air, 100 kchip/s:  %5.2f ms  = %.2f x the FIFO fill time (%.2f ms)"
          % (long_t / 1000.0, long_t / float(FILL_TC_US), FILL_TC_US / 1000.0))
    print("  S1 400 bytes on air, 32.768 kchip/s: %5.2f ms = %.2f x the FIFO fill time (%.2f ms)"
          % (long_s / 1000.0, long_s / float(FILL_S_US), FILL_S_US / 1000.0))
    print("  back-to-back C1/T1, 12 frames of 20..400 bytes: %.2f ms = %.2f x the fill time"
          % (b2b / 1000.0, b2b / float(FILL_TC_US)))
    print("polling only (no interrupts), longest period with zero loss, T1 400 bytes: %.2f ms = "
          "%.2f x the fill time" % (poll / 1000.0, poll / float(FILL_TC_US)))
    print("instructions per received frame, driver + link core (unix32, callgrind):")
    for n, md, fm in CASES:
        print("  %s format %s, %3d bytes without CRCs: %9d" % (md, fm, n, cost(n, md, fm)))


if __name__ == "__main__":
    main()
