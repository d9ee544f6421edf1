"""A household load profile for the simulation: per-phase loads over a local day.

Deterministic (seeded) so a run is reproducible. Values are (volts, amps, pf) per phase; negative
amps is export (a PV inverter on phase 1 around noon)."""
import math
import random


def household(local_hour, day=0, seed=1):
    """Loads for the hour of day (float, local time) of day number `day`."""
    rnd = random.Random(seed * 100003 + day * 97 + int(local_hour * 12))
    base = 0.6  # fridge, standby: ~140 W
    morning = 4.0 * math.exp(-((local_hour - 7.5) ** 2) / 0.5)  # kettle, shower pump
    evening = 6.0 * math.exp(-((local_hour - 18.5) ** 2) / 1.5)  # cooking
    night = 2.0 if 20 <= local_hour < 23 else 0.0  # TV, lights
    noise = rnd.uniform(-0.2, 0.4)
    pv = 10.0 * max(0.0, math.sin(math.pi * (local_hour - 7.0) / 12.0)) if 7 <= local_hour <= 19 else 0.0
    l1 = base + morning + noise - pv
    l2 = 0.4 + evening * 0.6 + rnd.uniform(0.0, 0.3)
    l3 = 0.3 + night + evening * 0.4 + rnd.uniform(0.0, 0.2)
    volts = [230.0 + rnd.uniform(-2, 2), 231.0 + rnd.uniform(-2, 2), 229.0 + rnd.uniform(-2, 2)]
    return [(volts[0], l1, 0.98), (volts[1], l2, 0.95), (volts[2], l3, 0.97)]
