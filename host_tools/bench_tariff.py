"""Benchmark of the per-tick tariff cost (rate evaluation + exact split + billing-time guard).

    .venv/bin/python -m host_tools.bench_tariff [--ticks N] [--no-callgrind]

Runs the firmware's tariff engine in the Unix MicroPython builds (64- and 32-bit) over N one-second
metering ticks with the default NL calendar (starting Monday 06:00 local, so the run crosses
switch points), and prints:
  * time per tick and its ratio to the 1-s tick period (wall time of this host: a proxy only);
  * the instruction count per tick on the 32-bit interpreter with callgrind, if valgrind is
    installed: (Ir of a run with N ticks - Ir of the same run with 0 ticks) / N;
  * the same for 900-s ticks (fast-forward) and for the slow path alone (a 1-day seek per tick).
`make bench` (host_tools/bench.py) calls main() of every bench_*.py.
"""
import argparse
import os
import shutil
import subprocess
import sys

from host_tools import benchutil
from host_tools.benchutil import INTERPRETERS, ROOT

SCRIPT = r"""
import sys, time
from meter.cores.tariff import engine as tf
from meter.cores.tariff import calendar as tcal
from meter.common.timezone import TimeZone
n = int(sys.argv[1])
step = int(sys.argv[2])
mode = sys.argv[3]
tz = TimeZone()
with open("firmware/config/tariff.json") as f:
    cal = tcal.load_json(f.read())
class Clk:
    valid = True
t = tf.Tariff(cal, tz, None, Clk())
class Empty:
    def split(self, t0, t1, amount, out):
        pass
out = [0] * 8
start = tz.to_utc(2026, 3, 2, 6, 0, 0)
def ticks(n):
    now = start
    if mode == "seek":
        for k in range(n):
            t._hi = 0            # force the slow path: segment and day-plan recompute
            t._dn = -1
            now += 86400
            t.rate_at(now)
        return
    if mode == "empty":   # the same loop calling a no-op method: loop + call overhead
        e = Empty()
        for k in range(n):
            now += step
            e.split(now - step, now, 3, out)
        return
    for k in range(n):
        now += step
        t.split(now - step, now, 3, out)  # as the metrology tick calls it
t0 = time.ticks_us()
ticks(n)
dt = time.ticks_diff(time.ticks_us(), t0)
print("US", dt)
"""


def run(interp, n, step, mode, wrap=()):
    env = dict(os.environ)
    env["MICROPYPATH"] = os.path.join(ROOT, "firmware")
    cmd = list(wrap) + [INTERPRETERS[interp], "-c", SCRIPT, str(n), str(step), mode]
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env, timeout=900)
    if p.returncode != 0:
        raise RuntimeError("%s failed: %s" % (interp, p.stderr[-2000:]))
    return p


def us_per_tick(interp, n, step, mode):
    return benchutil.best_us_per(lambda: run(interp, n, step, mode), n)


def callgrind_ir(interp, n, step, mode):
    return benchutil.callgrind_ir(lambda wrap: run(interp, n, step, mode, wrap=wrap))


def main(argv=None):
    ap = argparse.ArgumentParser(description="tariff per-tick cost")
    ap.add_argument("--ticks", type=int, default=100000)
    ap.add_argument("--no-callgrind", action="store_true")
    a = ap.parse_args([] if argv is None else argv)
    print("tariff: per-tick cost (NL calendar, split(t0, t1, amount, out) per tick, as the metrology calls it)")
    cases = (("1-s ticks", 1, "tick", a.ticks), ("900-s ticks", 900, "tick", a.ticks // 4),
             ("slow path (seek + day plan)", 0, "seek", a.ticks // 20))
    for interp in ("unix", "unix32"):
        if not os.path.exists(INTERPRETERS[interp]):
            print("  %s: interpreter not built (make interpreters)" % interp)
            continue
        for name, step, mode, n in cases:
            us = us_per_tick(interp, n, step, mode)
            print("  %-7s %-28s %8.3f us/tick   ratio to 1 s tick %.2e" % (interp, name, us, us / 1e6))
    if a.no_callgrind:
        return 0
    if not shutil.which("valgrind"):
        print("  callgrind: valgrind not installed, skipped")
        return 0
    if not os.path.exists(INTERPRETERS["unix32"]):
        return 0
    n = max(1, a.ticks // 10)
    base = callgrind_ir("unix32", 0, 1, "empty")
    loop = (callgrind_ir("unix32", n, 1, "empty") - base) / n
    print("  unix32  %-28s %8.0f instructions/tick (bench loop + one method call, subtracted below)"
          % ("empty tick", loop))
    for name, step, mode, n in cases:
        n = max(1, n // 10)
        base = callgrind_ir("unix32", 0, step, mode)
        full = callgrind_ir("unix32", n, step, mode)
        per = (full - base) / n
        print("  unix32  %-28s %8.0f instructions/tick (callgrind, %d ticks minus 0-tick run; net of loop %.0f)"
              % (name, per, n, per - loop))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
