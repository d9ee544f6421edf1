# Bistable (latching) supply relay: two coils driven through an H-bridge, `relay_a` closes the
# contact and `relay_b` opens it, each by a pulse of `pulse_ms`; an auxiliary contact on `relay_fb`
# reads 1 while the main contact is closed. A latching relay keeps its position without power, so
# the contact position at boot is what the feedback says, not what was last commanded.
#
#   r = LatchingRelay(pin_close, pin_open, pin_fb, pulse_ms=80, settle_ms=40, retries=2)
#   r.closed()                 the contact as the feedback reads it now (True = closed)
#   r.start(close, now_ms)     begin switching (False if a switch is already in progress)
#   r.poll(now_ms)             call every few ms: ends the pulse, checks the feedback after
#                              settle_ms, retries up to `retries` times; returns DONE when the
#                              contact reached the wanted position, FAILED when it did not after
#                              the retries (welded contact, open coil, a broken feedback line),
#                              else None
#   r.abort()                  coils off at once (power failing: an H-bridge pulse must not be left
#                              half-driven on a collapsing supply)
#
# Timing (typical latching meter relays, e.g. 80 A / 120 A parts: operate time < 20 ms, recommended
# pulse 50-100 ms, feedback settled within 10-30 ms after the pulse): pulse_ms 80, settle_ms 40.
# Never both coils at once. Allocation-free; ms ticks wrap at 2**30 (compared with common.ticks.tdiff).
try:
    from micropython import const
except ImportError:  # CPython (host-side tests)
    def const(x):
        return x

from meter.common.ticks import tdiff

DONE = const(1)
FAILED = const(2)

_IDLE = const(0)
_PULSE = const(1)
_SETTLE = const(2)




class LatchingRelay:
    def __init__(self, pin_close, pin_open, pin_fb, pulse_ms=80, settle_ms=40, retries=2):
        if not (10 <= pulse_ms <= 1000 and 0 <= settle_ms <= 1000 and 0 <= retries <= 5):
            raise ValueError("relay: pulse_ms 10..1000, settle_ms 0..1000, retries 0..5")
        self.pin_close = pin_close
        self.pin_open = pin_open
        self.pin_fb = pin_fb
        self.pulse_ms = pulse_ms
        self.settle_ms = settle_ms
        self.retries = retries
        self.pulses = 0  # every coil pulse ever started (diagnostics)
        self._st = _IDLE
        self._want = False
        self._tries = 0
        self._t = 0
        pin_close.value(0)
        pin_open.value(0)

    def closed(self):
        return self.pin_fb.value() == 1

    def busy(self):
        return self._st != _IDLE

    def wanted(self):
        return self._want

    def start(self, close, now):
        if self._st != _IDLE:
            return False
        self._want = bool(close)
        self._tries = 0
        self._pulse(now)
        return True

    def _pulse(self, now):
        self._tries += 1
        self.pulses += 1
        self._t = now
        self._st = _PULSE
        if self._want:
            self.pin_open.value(0)
            self.pin_close.value(1)
        else:
            self.pin_close.value(0)
            self.pin_open.value(1)

    def abort(self):
        self.pin_close.value(0)
        self.pin_open.value(0)
        self._st = _IDLE

    def poll(self, now):
        st = self._st
        if st == _IDLE:
            return None
        if st == _PULSE:
            if tdiff(now, self._t) < self.pulse_ms:
                return None
            self.pin_close.value(0)
            self.pin_open.value(0)
            self._t = now
            self._st = _SETTLE
            return None
        if tdiff(now, self._t) < self.settle_ms:
            return None
        if self.closed() == self._want:
            self._st = _IDLE
            return DONE
        if self._tries <= self.retries:
            self._pulse(now)
            return None
        self._st = _IDLE
        return FAILED
