"""The console's controls: each checks its fields and then drives the rig through its public API.
A bad field raises ValueError (the server answers 400) before anything reaches the rig."""
import re

MAX_VOLTS = 480.0  # beyond a 400 V three-phase supply's phase voltage with swell: refused
MAX_AMPS = 200.0
MAX_RATE = 86400  # a virtual day per real second
KEYS = re.compile(r"^[0-9*#]{1,64}$")  # the keypad's keys (boards/unix_sim/ui_sim.py), one token's worth


def number(fields, name, lo, hi, kind=float):
    try:
        v = kind(fields[name])
    except KeyError:
        raise ValueError("%s: missing" % name)
    except (TypeError, ValueError):
        raise ValueError("%s: not a number" % name)
    if not lo <= v <= hi:  # also refuses NaN
        raise ValueError("%s: must be within %s..%s" % (name, lo, hi))
    return v


class Controls:
    """What a POST may do. `manual` holds the phases whose load the console set (a driver such as
    `make sim`'s household profile leaves those alone until released)."""

    def __init__(self, rig, sampler, pace_for_rate=None):
        self.rig = rig
        self.sampler = sampler
        self.manual = set()
        # rate -> "real" | "virtual": the P1 cadence to go with a new time rate (`make sim`'s rule,
        # so a raised rate does not flood P1); None: the rate control leaves the pace alone
        self.pace_for_rate = pace_for_rate

    def _run(self, what, fn, *args):
        """Run one rig action with the sampler held off (a cut or restore takes seconds)."""
        with self.sampler.lock:
            self.sampler.busy = what
            try:
                return fn(*args)
            finally:
                self.sampler.busy = ""

    def load(self, f):
        phase = number(f, "phase", 1, 3, int)
        if str(f.get("auto", "")).lower() in ("1", "true", "on"):
            self.manual.discard(phase)
            return {"phase": phase, "manual": False}
        volts = number(f, "volts", 0.0, MAX_VOLTS)
        amps = number(f, "amps", -MAX_AMPS, MAX_AMPS)
        pf = number(f, "pf", -1.0, 1.0)
        self._run("setting load", self.rig.set_load, phase, volts, amps, pf)
        self.manual.add(phase)
        return {"phase": phase, "manual": True, "volts": volts, "amps": amps, "pf": pf}

    def power(self, f):
        action = f.get("action")
        if action == "cut":
            warn = str(f.get("warn", "1")).lower() in ("1", "true", "on")
            self._run("cutting power", self.rig.power_cut, warn)
        elif action == "restore":
            self._run("restoring power", self.rig.power_restore)
            self.sampler.power_on_changed()
        else:
            raise ValueError("action: cut or restore")
        return {"powered": self.rig.powered}

    def rate(self, f):
        r = number(f, "rate", 0, MAX_RATE, int)
        self._run("changing rate", self._rate, r)
        return {"rate": r, "p1_pace": self.rig.p1_pace}

    def _rate(self, r):
        pace = self.pace_for_rate(r) if self.pace_for_rate else self.rig.p1_pace
        if pace != self.rig.p1_pace and pace == "real":  # slow P1 down before time speeds up
            self.rig.set_p1_pace(pace)
        self.rig.set_time_rate(r)
        if pace != self.rig.p1_pace:
            self.rig.set_p1_pace(pace)

    def button(self, f):
        self._run("pressing button", self.rig.press_button)
        return {"pressed": True}

    def keypad(self, f):
        keys = str(f.get("keys", ""))
        if not KEYS.match(keys):
            raise ValueError("keys: 1 to 64 of 0-9 * #")
        self._run("typing", self.rig.keypad, keys)
        return {"typed": keys}

    ROUTES = ("load", "power", "rate", "button", "keypad")
