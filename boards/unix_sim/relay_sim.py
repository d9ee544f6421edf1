# The supply relay of the unix_sim board: a bistable relay model behind the relay_a (close) and
# relay_b (open) coil outputs and the relay_fb feedback input, in virtual time.
#
#   sim = RelaySim(now_ms_fn, fb_pin, afe_sim, link, closed=True, fault="ok")
#   the coil pins call sim.coil(name, value) on every change
#
# Physics kept: a coil pulse shorter than MIN_PULSE_MS moves nothing (the armature needs that long
# to cross over); driving both coils at once moves nothing; a coil held on for MIN_PULSE_MS moves
# the contact at that instant (exactly: the AFE model integrates up to it, see
# AfeSim.switch_at), however late the driver switches the coil off. The feedback input reads the contact (1 = closed). While the contact is
# open the AFE model's loads draw no current, so energy stops on the registers exactly then.
# Faults the rig injects: "welded" (the contact stays closed whatever the coils do), "open_coil"
# (no coil moves anything), "ok". Every contact change is reported to the rig as
# `relay <0|1> <vms>`, so the rig's ground truth of energy and the relay position across power cuts
# (a latching relay keeps its position) are exact.
MIN_PULSE_MS = 20


class RelaySim:
    def __init__(self, now_ms_fn, fb_pin, afe_sim, link, closed=True, fault="ok"):
        self.now_ms_fn = now_ms_fn
        self.fb = fb_pin
        self.afe = afe_sim
        self.link = link
        self.fault = fault
        self.closed = bool(closed)
        self.on = {"relay_a": None, "relay_b": None}  # virtual ms at which a coil was switched on
        self.target = None  # the position a coil that is on will move the contact to
        self.pulses = 0
        self.moves = 0
        afe_sim.on_switch = self._move
        fb_pin._set_input(1 if self.closed else 0)
        afe_sim.set_supply(self.closed, now_ms_fn())

    def set_fault(self, kind):
        if kind not in ("ok", "welded", "open_coil"):
            raise ValueError("relay fault: ok, welded or open_coil")
        self.fault = kind

    def coil(self, name, v):
        now = self.now_ms_fn()
        afe = self.afe
        afe.advance_to(now)  # a move due before now happens first
        if v:
            self.on[name] = now
            other = self.on["relay_b" if name == "relay_a" else "relay_a"]
            closed = name == "relay_a"
            if other is not None:
                afe.switch_at = None  # both coils: the armature is held, nothing moves
            elif (self.fault == "ok" or (self.fault == "welded" and closed)) and closed != self.closed:
                # the armature crosses over once the coil has been on MIN_PULSE_MS
                self.target = closed
                afe.switch_at = now + MIN_PULSE_MS
            return
        if self.on[name] is not None:
            self.pulses += 1
        self.on[name] = None
        afe.switch_at = None  # released before the crossing: nothing moved

    def _move(self, at):
        closed = self.target
        if closed is None or closed == self.closed:
            return
        self.closed = closed
        self.moves += 1
        self.afe.set_supply(closed, at)
        self.fb._set_input(1 if closed else 0)
        self.link.send("relay %d %d\n" % (1 if closed else 0, at))
