# Scenario runner: simulated ATM90E32 (boards/unix_sim/afe_sim.py) -> real driver -> Metrology, the way
# the unix_sim board wires them. Used by mpt_metrology_sim.py and by the CPython property test
# tests/test_metrology_props.py (which feeds a JSON scenario on stdin and checks the printed
# registers against ground truth computed with Fractions from the AfeSim docstring formula).
#
# Scenario: {"mc": meter constant, "t0": meter seconds, "tariff_period": s, "noise": bool,
#            "steps": [["load", t_ms, phase, mv, ma, p_mw, q_mvar] | ["tick", t_s], ...]}
# Virtual ms = meter seconds * 1000 (loads may change at any ms between ticks).
# Output: JSON {"regs": {obis: [wh, rem, N, D]}, "overflows": n, "errors": n, "ticks": n}
import sys
import json

sys.path.append("boards/unix_sim")

from afe_sim import AfeSim, AfeSimSpi  # noqa: E402
from meter.common.registers import Registers  # noqa: E402
from meter.services.metrology import Metrology  # noqa: E402
from meter.drivers.afe.atm90e32 import ATM90E32  # noqa: E402
from mpt_metrology_fakes import SwitchTariff  # noqa: E402


class Clock:
    def __init__(self, ms):
        self.ms = ms

    def __call__(self):
        return self.ms


def run(sc):
    t0 = sc["t0"]
    clk = Clock(t0 * 1000)
    cal = {"meter_constant": sc.get("mc", 110), "phases": 3}
    sim = AfeSim(clk, cal, noise=sc.get("noise", True))
    drv = ATM90E32(AfeSimSpi(sim), cal)
    drv.begin()
    regs = Registers()
    m = Metrology(regs, drv, SwitchTariff(sc.get("tariff_period", 3600), 8), None, {})
    m.start(t0)
    for st in sc["steps"]:
        if st[0] == "load":
            _, at, ph, mv, ma, p, q = st
            sim.set_load(ph + 1, mv, ma, p, q, at)  # scenario phases 0..2, AfeSim L1..L3
        else:
            clk.ms = st[1] * 1000
            m.tick(st[1])
    out = {}
    for code in m.acc_obis:
        out[code] = list(m.energy(code))
    return {"regs": out, "overflows": sim.overflows, "errors": drv.errors, "ticks": m.ticks}


def main():
    data = sys.stdin.read()
    print("@@RESULT " + json.dumps(run(json.loads(data))))
