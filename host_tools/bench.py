"""`make bench`: run the main() of every host_tools/bench_*.py module, in name order.

    .venv/bin/python -m host_tools.bench            # all benches
    .venv/bin/python -m host_tools.bench crypto     # only bench_crypto.py

Each bench prints its own figures; this driver only discovers, runs and separates them, and
exits non-zero if any bench raised.
"""
import glob
import importlib
import os
import sys
import time
import traceback


def discover():
    here = os.path.dirname(os.path.abspath(__file__))
    return sorted(os.path.basename(p)[:-3] for p in glob.glob(os.path.join(here, "bench_*.py")))


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    names = discover()
    if argv:
        names = [n for n in names if n[len("bench_"):] in argv or n in argv]
    if not names:
        print("bench: nothing to run (no matching host_tools/bench_*.py)")
        return 1
    failed = []
    for name in names:
        print("=" * 78)
        print("%s" % name)
        print("=" * 78, flush=True)
        t0 = time.time()
        try:
            importlib.import_module("host_tools." + name).main()
        except Exception:
            traceback.print_exc()
            failed.append(name)
        print("(%s: %.1f s)\n" % (name, time.time() - t0), flush=True)
    if failed:
        print("bench: failed: " + ", ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
