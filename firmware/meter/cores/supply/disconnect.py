# Disconnect control, DLMS/COSEM interface class 70 (version 0), sans-I/O.
#
# Attributes as the class names them: output_state (the supply contact as it really is: True =
# connected), control_state (0 disconnected, 1 connected, 2 ready_for_reconnection), control_mode
# (0..6). Methods remote_disconnect / remote_reconnect are the REMOTE triggers; the button gives the
# MANUAL ones, the credit service and the load limiter the LOCAL ones.
#
# Transitions (Blue Book, IC 70, control_state diagram):
#   a remote reconnect 0->1   b remote disconnect 1->0   c remote disconnect 2->0
#   d remote reconnect 0->2   e manual reconnect 2->1    f manual disconnect 1->2
#   g local disconnect 1->2   h local reconnect 2->1
# allowed per control_mode:
#   mode  disconnect: remote, manual, local    reconnect: remote, manual, local
#   0     none: always connected               none
#   1     b, c; f; g                           d; e; -
#   2     b, c; f; g                           a; e; -
#   3     b, c; -; g                           d; e; -
#   4     b, c; -; g                           a; e; -
#   5     b, c; f; g                           d; e; h
#   6     b, c; -; g                           d; e; h
# A trigger the mode does not allow from the current state is refused with a reason and changes
# nothing (a remote disconnect of an already disconnected meter is "already disconnected", not a
# transition). Mode 0 keeps the meter connected: setting it from another state connects at once
# (a "mode change" transition) and every trigger is refused.
#
#   dc = DisconnectControl(mode=1)
#   ok, reason = dc.trigger(REMOTE_DISCONNECT, cause)   cause: a small int logged with the event
#   dc.actions      what the owner must do, in order, after each call that returned ok:
#                   (SWITCH, closed) drive the relay to that position; (EVENT, code, a, b)
#   dc.contact(closed)   the relay owner reports the real contact after a switch, at boot and on
#                   any change: output_state follows it (never the wish); a contact that differs
#                   from what the control state wants is reported as a mismatch (RELAY_FAILURE is
#                   the owner's to log: it knows whether its retries were used up)
#   dc.commanded    the position last commanded: a SWITCH goes out when a transition wants
#                   another one (restored as the state's wish; the owner reconciles it with the
#                   contact at boot)
#   dc.set_mode(m)  ValueError for a mode outside 0..6 (nothing changes)
#   dc.record() / dc.load(record)   the 2-byte persisted state (control_state, control_mode)
# Events: SUPPLY_DISCONNECTED / SUPPLY_READY / SUPPLY_CONNECTED with a = trigger, b = cause.
try:
    from micropython import const
except ImportError:  # CPython (host-side tests)
    def const(x):
        return x

from meter.common import events as ev

DISCONNECTED = const(0)
CONNECTED = const(1)
READY = const(2)  # ready_for_reconnection

REMOTE_DISCONNECT = const(1)
REMOTE_RECONNECT = const(2)
MANUAL_DISCONNECT = const(3)
MANUAL_RECONNECT = const(4)
LOCAL_DISCONNECT = const(5)
LOCAL_RECONNECT = const(6)
MODE_CHANGE = const(7)  # not a trigger: the cause of the connection a switch to mode 0 makes

SWITCH = const(1)
EVENT = const(2)

# per trigger: (from_state, to_state, bitmask of the modes that allow it); bit m = mode m
_RULES = {
    REMOTE_DISCONNECT: ((CONNECTED, DISCONNECTED, 0b1111110), (READY, DISCONNECTED, 0b1111110)),  # b, c
    REMOTE_RECONNECT: ((DISCONNECTED, CONNECTED, 0b0010100), (DISCONNECTED, READY, 0b1101010)),  # a, d
    MANUAL_DISCONNECT: ((CONNECTED, READY, 0b0100110),),  # f
    MANUAL_RECONNECT: ((READY, CONNECTED, 0b1111110),),  # e
    LOCAL_DISCONNECT: ((CONNECTED, READY, 0b1111110),),  # g
    LOCAL_RECONNECT: ((READY, CONNECTED, 0b1100000),),  # h
}

_STATE_EVENT = {DISCONNECTED: ev.SUPPLY_DISCONNECTED, CONNECTED: ev.SUPPLY_CONNECTED,
                READY: ev.SUPPLY_READY}


class DisconnectControl:
    def __init__(self, mode=1, state=CONNECTED):
        if not 0 <= mode <= 6 or state not in (0, 1, 2):
            raise ValueError("disconnect control: mode 0..6, state 0..2")
        self.control_mode = mode
        self.control_state = CONNECTED if mode == 0 else state
        self.output_state = self.control_state == CONNECTED  # until the relay reports
        self.commanded = self.output_state  # the position the relay was last told to take
        self.mismatch = False
        self.actions = []

    def wants_closed(self):
        return self.control_state == CONNECTED

    def trigger(self, trig, cause=0):
        """Apply a trigger. Returns (True, None) after a transition, else (False, reason);
        the actions of this call are in self.actions."""
        acts = self.actions
        acts.clear()
        rules = _RULES.get(trig)
        if rules is None:
            return False, "unknown trigger"
        if self.control_mode == 0:
            return False, "control mode 0: always connected"
        st = self.control_state
        seen = False
        for frm, to, modes in rules:
            if frm != st:
                continue
            seen = True
            if (modes >> self.control_mode) & 1:
                self._go(to, trig, cause)
                return True, None
        if not seen:
            return False, ("already disconnected" if st == DISCONNECTED and trig <= REMOTE_DISCONNECT
                           else "not allowed from state %d" % st)
        return False, "not allowed in control mode %d" % self.control_mode

    def _go(self, to, trig, cause):
        self.control_state = to
        self.actions.append((EVENT, _STATE_EVENT[to], trig, cause))
        closed = to == CONNECTED
        if closed != self.commanded:  # not output_state: that lags while a pulse is under way
            self.commanded = closed
            self.actions.append((SWITCH, closed))

    def contact(self, closed):
        """The relay owner's report of the real contact position."""
        self.output_state = bool(closed)
        self.mismatch = self.output_state != (self.control_state == CONNECTED)
        return self.mismatch

    def set_mode(self, mode, cause=0):
        if type(mode) is not int or not 0 <= mode <= 6:
            raise ValueError("control mode must be 0..6")
        self.actions.clear()
        self.control_mode = mode
        if mode == 0 and self.control_state != CONNECTED:
            self._go(CONNECTED, MODE_CHANGE, cause)

    def record(self):
        return bytes((self.control_state, self.control_mode))

    def load(self, rec):
        """Restore a record(); ValueError for a bad one (nothing changes)."""
        if rec is None or len(rec) != 2 or rec[0] > 2 or rec[1] > 6:
            raise ValueError("bad disconnect control record")
        self.control_mode = rec[1]
        self.control_state = CONNECTED if rec[1] == 0 else rec[0]
        self.commanded = self.control_state == CONNECTED
