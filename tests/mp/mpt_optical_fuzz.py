# Fuzz of the IEC 62056-21 session: 10^5 random and mutated frames, split across the two
# interpreters (each: 30 000 without a password, 20 000 logged in at level 1, different seeds),
# with the invariants of optical_fuzz.Fuzz checked after every frame, then a normal sign-on +
# readout + login. Deterministic seeds (reproducible).
# mp-heap: 512K
import time
import gc

from mptest import eq, is32
from optical_fuzz import Fuzz


def _run(authed, n, seed):
    gc.collect()
    t0 = time.ticks_ms()
    f = Fuzz(authed=authed, seed=seed)
    f.run(n)
    dt = time.ticks_diff(time.ticks_ms(), t0)
    f.final_check()
    eq(f.frames, n)
    # figures for the report (not asserted: tests never assert wall-clock times)
    print("fuzz authed=%d frames=%d bytes=%d ms=%d us/frame=%d us/byte=%.2f cmd_frames=%d naks=%d"
          " errors=%d signons=%d clock_writes=%d" % (
              authed, f.frames, f.bytes, dt, dt * 1000 // n, dt * 1000 / f.bytes, f.h.s.stats[0],
              f.h.s.stats[1], f.h.s.stats[2], f.h.s.stats[3], f.writes))
    return f


def test_fuzz_without_password():
    f = _run(False, 30000, 11 if is32() else 12)
    eq(f.max_level, 0)
    eq(f.h.s.stats[0] > 2500, True, "the command parser got too few frames")


def test_fuzz_logged_in():
    f = _run(True, 20000, 23 if is32() else 24)
    eq(f.max_level, 1)
    eq(f.writes > 0, True, "no legitimate clock write happened: the fuzz lost its reach")
