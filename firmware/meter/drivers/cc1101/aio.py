# asyncio wrapper around the CC1101 core: the GDO0 (FIFO threshold) and GDO2 (sync / end of
# packet) pin interrupts set a ThreadSafeFlag; the task runs service() on every edge and on a
# fallback timer, so a missed edge costs at most `poll_ms`. The port decides what to do with the
# packets (link.read). Pin edges: the port passes the board's trigger value (both edges).
import asyncio

from meter.drivers.cc1101.core import EV_TX_DONE, EV_TX_FAIL


class AsyncRadio:
    def __init__(self, core, poll_ms=2):
        self.core = core
        self.poll_ms = poll_ms
        self.flag = asyncio.ThreadSafeFlag()

    def attach(self, trigger):
        """Route both GDO pins' edges to the flag (a hard-IRQ-safe handler: it only sets it)."""
        h = self._irq
        self.core.gdo0.irq(handler=h, trigger=trigger)
        self.core.gdo2.irq(handler=h, trigger=trigger)

    def _irq(self, _pin):
        self.flag.set()

    async def _edge(self):
        try:
            await asyncio.wait_for_ms(self.flag.wait(), self.poll_ms)
        except asyncio.TimeoutError:
            pass

    async def packets(self, on_packet):
        """Forever: service the radio, call on_packet(index) for each completed packet (the
        callee reads core.bufs[index] and friends; the buffer is released after it returns)."""
        c = self.core
        while True:
            c.service()
            while c.ready():
                on_packet(c.peek())
                c.release()
            await self._edge()

    async def transmit(self, src, n, patch, s1=False):
        c = self.core
        c.transmit(src, n, patch, s1)
        while True:
            ev = c.service()
            if ev & EV_TX_DONE:
                return True
            if ev & EV_TX_FAIL:
                return False
            await self._edge()
