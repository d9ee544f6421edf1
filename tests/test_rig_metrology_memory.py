"""Issue 4, memory: the 32-bit interpreter with a 96 KB heap runs the whole meter (metering,
profile, demand, billing, storage, P1, optical) on the rig for 30 simulated days without a
MemoryError, and the heap does not grow.

The firmware is frozen into the 32-bit interpreter (Rig(frozen=True): bytecode in ROM as in a
product image). Loaded from source or from .mpy files the modules' bytecode alone takes ~150 KB of
heap, so that cannot fit in 96 KB (host_tools/bench_metrology.py prints the figures).

Every day is fast-forwarded (900-s ticks); at days 1, 10, 20 and 30 ten minutes of 1-s ticks run
too (the per-second path, with saves on the energy threshold), then the heap is sampled after
gc.collect() (query 'mem').
"""
from host_tools.rig import Rig

DAYS = 30
SAMPLE_DAYS = (1, 10, 20, 30)
TOLERANCE = 512  # bytes: allocator rounding, a lazily created object or two; no per-day growth
LOADS = ((230000, 16000, 3600000, 600000), (230000, 8000, -1800000, -300000), (230000, 2000, 400000, -90000))


def run_month(rig, on_sample_day=None):
    """DAYS days of metering load (900-s ticks); on each sample day ten minutes of 1-s ticks, then
    on_sample_day(day), then the heap sample (query 'mem', after gc.collect()). Checks the meter
    log is free of MemoryError and tracebacks; returns {day: sample}. Shared by the 96 KB tests."""
    rig.schedule([(1000, LOADS)])
    samples = {}
    for day in range(1, DAYS + 1):
        rig.advance(86400 - (600 if day in SAMPLE_DAYS else 0))
        if day in SAMPLE_DAYS:
            rig.schedule([(300000, LOADS), (300000, LOADS[::-1])], tick_ms=1000)
            if on_sample_day is not None:
                on_sample_day(day)
            samples[day] = rig.query("mem")
    log = rig.meter_log()
    assert "MemoryError" not in log and "Traceback" not in log, log[-3000:]
    return samples


def no_growth(samples):
    """(alloc, free) lists of the sample days, after asserting no growth within TOLERANCE and no
    trend from day 10 on."""
    alloc = [samples[d]["alloc"] for d in SAMPLE_DAYS]
    free = [samples[d]["free"] for d in SAMPLE_DAYS]
    assert max(alloc) - min(alloc) <= TOLERANCE, alloc
    assert alloc[-1] - alloc[1] <= TOLERANCE // 2, alloc  # no trend from day 10 on
    return alloc, free


def test_96k_heap_30_days_no_growth():
    with Rig(interp="unix32", heap="96K", frozen=True, time_rate=0) as rig:
        boot = rig.query("mem")
        samples = run_month(rig)
        st = rig.query("status")
        assert st["ready"]
        # the meter really worked all month: one profile record per 15 min, saves, exact totals
        prof = rig.query("profile", 0, 1)[0]
        assert prof[0] == rig.now() // 900 * 900
        truth = rig.truth_energy()
        got = rig.query("energies")
        for k in ("1-0:1.8.0", "1-0:2.8.0", "1-0:21.8.0", "1-0:42.8.0"):
            assert got[k] == list(truth[k][:2]), k
        alloc, free = no_growth(samples)
        print("\nheap 96K, frozen firmware: after boot alloc %d free %d; days %s: alloc %s free %s; "
              "%d ticks, %d saves" % (boot["alloc"], boot["free"], SAMPLE_DAYS, alloc, free,
                                      samples[30]["ticks"], samples[30]["saves"]))
        assert min(free) >= 16 * 1024, free  # headroom for protocol sessions
        assert samples[30]["ticks"] > 30 * 96 and samples[30]["saves"] > 30 * 96
