"""Helpers shared by the bench_*.py modules: run a MicroPython script N ways and measure it."""
import os
import re
import tempfile

from host_tools.rig import INTERPRETERS, ROOT  # noqa: F401  (re-exported for the benches)


def best_us_per(run_fn, n, repeat=3):
    """Best of `repeat` runs of run_fn() (a CompletedProcess printing 'US <microseconds>'), per unit."""
    best = None
    for _ in range(repeat):
        us = int(re.search(r"US (\d+)", run_fn().stdout).group(1))
        best = us if best is None else min(best, us)
    return best / float(n)


def callgrind_ir(run_fn):
    """Total instructions (callgrind Ir) of run_fn(wrap) where wrap is the valgrind prefix."""
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "cg.out")
        p = run_fn(("valgrind", "--tool=callgrind", "--callgrind-out-file=" + out))
        m = re.search(r"Collected\s*:\s*(\d+)", p.stderr)
        if not m:
            raise RuntimeError("no callgrind total in: " + p.stderr[-500:])
        return int(m.group(1))
