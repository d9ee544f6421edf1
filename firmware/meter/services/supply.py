# Supply control: the disconnect control state machine (cores/supply/disconnect.py, DLMS IC 70), the
# load limiter (cores/supply/limiter.py, IC 71) and the latching relay (drivers/relay.py), with the
# state persisted in the journal.
#
#   sup = SupplyControl(relay, pfail_pin, registers, events, clock, ticks, config)
#                                 clock: the MeterClock (event stamps); ticks: the board clock
#                                 (relay pulse timing: virtual time on the sim, like the AFE)
#   sup.boot(now)                 the contact from the relay feedback (a latching relay keeps its
#                                 position through a power cut), reconciled with the persisted
#                                 control state: a contact that differs is switched (logged)
#   sup.remote(connect, cause)    management (optical programming mode, later DLMS): -> None or the
#   sup.manual_reconnect(cause)   refusal reason; the button; local_disconnect/local_reconnect for
#   sup.local_disconnect(why)     the credit service and the limiter (why = CAUSE_CREDIT,
#   sup.local_reconnect(why)      CAUSE_LIMITER): the supply reconnects locally only when no local
#                                 cause is left
#   sup.tick(now)                 after every metering tick: limiter on 1-0:1.7.0, relay progress
#                                 (so a switch also completes while time is fast-forwarded),
#                                 registers
#   sup.poll(ms)                  every ~10 ms (relay pulses; ms = board clock ticks)
#   sup.dump_into / load_from     state section (control state and mode, limiter, local causes)
#
# The relay never pulses while the power-fail signal is active: a switch then waits (and a pulse
# in progress is cut). After a switch, output_state is what the feedback reads; a contact that does
# not follow after the retries raises RELAY_FAILURE and stays reported as it really is.
# Registers: 0-0:96.3.10 (output_state: 1 connected, 0 disconnected; P1's breaker state) and
# 0-0:17.0.0 (the active limiter threshold, kW with 3 decimals: P1 e-MUCS / Smarty).
import struct

from meter.common import events as ev
from meter.common import obis_energy as O
from meter.cores.supply import disconnect as dc
from meter.cores.supply.limiter import Limiter, OVER, UNDER, RECORD as LIMITER_RECORD
from meter.drivers.relay import DONE, FAILED

SECTION = 0x5355  # "SU"
CAUSE_CREDIT = 1
CAUSE_LIMITER = 2
CAUSE_BUTTON = 3
CAUSE_MANAGEMENT = 4
CAUSE_BOOT = 5  # a contact found at boot that the control state did not want


class SupplyControl:
    state_size = 4 + LIMITER_RECORD

    def __init__(self, relay, pfail, registers, events, clock, ticks, config=None):
        cfg = config or {}
        self.relay = relay
        self.pfail = pfail
        self.events = events
        self.clock = clock
        self.ticks = ticks
        self.dc = dc.DisconnectControl(cfg.get("control_mode", 1))
        lim = cfg.get("limiter", {})
        self.limiter = Limiter(lim.get("normal_w", 0), lim.get("emergency_w", 0),
                               lim.get("over_s", 60), lim.get("under_s", 60),
                               lim.get("action_under", True))
        self.local = 0  # bit mask of the local causes of a disconnection (CAUSE_* bits)
        self.failures = 0
        self.regs = registers
        self.s_state = registers.define("0-0:96.3.10", "", 0, 1)
        self.s_thr = registers.define("0-0:17.0.0", "kW", -3, 0)
        self.s_power = registers.slot(O.P_IMP) if registers.has(O.P_IMP) else -1
        self._want = None  # a switch waiting for the power-fail signal to clear
        self.on_change = None  # fn() after every transition (the app saves the state)

    # -- boot ----------------------------------------------------------------------------------------
    def boot(self, now):
        closed = self.relay.closed()
        self.dc.contact(closed)
        want = self.dc.wants_closed()
        self.dc.commanded = want
        if closed != want:
            # the contact is not where the control state says (moved by hand, or a cut during a
            # pulse): the control state wins, the switch is logged with the boot cause
            self._log(ev.SUPPLY_CONNECTED if want else ev.SUPPLY_DISCONNECTED, 0, CAUSE_BOOT)
            self._switch(want)
        self._registers(now)

    # -- triggers ------------------------------------------------------------------------------------
    def _run(self, trig, cause):
        ok, reason = self.dc.trigger(trig, cause)
        if not ok:
            return reason
        self._apply()
        return None

    def _apply(self):
        for a in self.dc.actions:
            if a[0] == dc.EVENT:
                self._log(a[1], a[2], a[3])
            elif a[0] == dc.SWITCH:
                self._switch(a[1])
        self._registers(self.clock.now())
        if self.on_change is not None:
            self.on_change()

    def remote(self, connect, cause=CAUSE_MANAGEMENT):
        return self._run(dc.REMOTE_RECONNECT if connect else dc.REMOTE_DISCONNECT, cause)

    def manual_disconnect(self, cause=CAUSE_BUTTON):
        return self._run(dc.MANUAL_DISCONNECT, cause)

    def manual_reconnect(self, cause=CAUSE_BUTTON):
        if self.local & (1 << CAUSE_LIMITER) and self.limiter.tripped:
            return "load limiter still over its threshold"
        r = self._run(dc.MANUAL_RECONNECT, cause)
        if r is None:
            self.local = 0
        return r

    def local_disconnect(self, why):
        self.local |= 1 << why
        if self.dc.control_state == dc.CONNECTED:
            return self._run(dc.LOCAL_DISCONNECT, why)
        return None

    def local_reconnect(self, why):
        """A local cause cleared; the supply reconnects (h) only if none is left and the mode
        allows it, else it stays ready for the customer's button."""
        self.local &= ~(1 << why)
        if self.local or self.dc.control_state != dc.READY:
            return "waiting"
        return self._run(dc.LOCAL_RECONNECT, why)

    def changed(self):
        """A setting changed (limiter thresholds, durations, emergency profile): registers, and
        the state made durable."""
        self._registers(self.clock.now())
        if self.on_change is not None:
            self.on_change()

    def set_mode(self, mode):
        self.dc.set_mode(mode, CAUSE_MANAGEMENT)
        self._log(ev.CONTROL_MODE, mode, 0)
        self._apply()

    # -- relay ---------------------------------------------------------------------------------------
    def _switch(self, closed):
        if self.pfail.value():
            self._want = closed  # never pulse on a failing supply: done when it is back
            return
        self._want = None
        r = self.relay
        if r.busy():
            r.abort()
        r.start(closed, self.ticks.ticks_ms())

    def poll(self, ms=None):
        r = self.relay
        if self.pfail.value():
            if r.busy():
                self._want = r.wanted()
                r.abort()
            return
        if ms is None:
            ms = self.ticks.ticks_ms()
        if self._want is not None and not r.busy():
            self._switch(self._want)
            return
        res = r.poll(ms)
        if res is None:
            return
        closed = r.closed()
        if res == FAILED:
            self.failures += 1
            self._log(ev.RELAY_FAILURE, 1 if r.wanted() else 0, 1 if closed else 0)
        self.dc.contact(closed)
        self._registers(self.clock.now())

    # -- limiter -------------------------------------------------------------------------------------
    def tick(self, now):
        self.poll()
        p = self.regs.values[self.s_power] if self.s_power >= 0 else 0  # 1-0:1.7.0 in W (kW, -3)
        lim = self.limiter
        r = lim.tick(now, p)
        if r == OVER:
            self._log(ev.LIMITER_OVER, p, lim.threshold_active(now))
            self.local_disconnect(CAUSE_LIMITER)
        elif r == UNDER:
            self._log(ev.LIMITER_UNDER, p, lim.threshold_active(now))
            self.local_reconnect(CAUSE_LIMITER)
        self.regs.values[self.s_thr] = lim.threshold_active(now)

    def _registers(self, now):
        self.regs.values[self.s_state] = 1 if self.dc.output_state else 0
        self.regs.values[self.s_thr] = self.limiter.threshold_active(now)

    def _log(self, code, a, b):
        if self.events is not None:
            self.events.add(self.clock.now(), code, a, b)

    # -- persistence ---------------------------------------------------------------------------------
    def dump_into(self, buf):
        r = self.dc.record()
        struct.pack_into("<BBBB", buf, 0, 1, r[0], r[1], self.local)
        buf[4:4 + LIMITER_RECORD] = self.limiter.record()

    def load_from(self, buf):
        if buf[0] != 1:
            return False
        try:
            self.dc.load(bytes(buf[1:3]))
            self.limiter.load(bytes(buf[4:4 + LIMITER_RECORD]))
        except ValueError:
            return False
        self.local = buf[3]
        return True
