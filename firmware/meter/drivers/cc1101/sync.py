# Blocking wrapper around the CC1101 core: polls service() with a sleep in between. For scripts
# and bring-up on a board; the meter's radio port polls from its own task. `sleep_ms` is the
# board clock's (HAL): the driver never reads a clock itself.
from meter.drivers.cc1101.core import EV_TX_DONE, EV_TX_FAIL


class SyncRadio:
    def __init__(self, core, sleep_ms, poll_ms=1):
        self.core = core
        self.sleep_ms = sleep_ms
        self.poll_ms = poll_ms

    def receive(self, polls):
        """Service the FIFO up to `polls` times until a packet is complete. Returns the buffer
        index (core.bufs[i], core.lens[i], core.rssi[i], core.lqi[i]; release() after use), or -1."""
        c = self.core
        for _ in range(polls):
            c.service()
            if c.ready():
                return c.peek()
            self.sleep_ms(self.poll_ms)
        return -1

    def transmit(self, src, n, patch, s1=False, polls=1000):
        """Send and wait; True when sent, False on underflow or when `polls` ran out."""
        c = self.core
        c.transmit(src, n, patch, s1)
        for _ in range(polls):
            ev = c.service()
            if ev & EV_TX_DONE:
                return True
            if ev & EV_TX_FAIL:
                return False
            self.sleep_ms(self.poll_ms)
        c.idle()
        return False
