# asyncio wrapper around the CC1101 core: the GDO0 (FIFO threshold) and GDO2 (sync / end of
# packet) pin interrupts set a ThreadSafeFlag; a ticker on the board clock's sleep_ms (never the
# real-time asyncio timer: the sim's virtual time drives it) sets it every `poll_ms` too, so a
# missed edge costs at most `poll_ms`. The caller runs service() whenever wait() returns.
import asyncio


class AsyncRadio:
    def __init__(self, core, sleep_ms, poll_ms=2):
        self.core = core
        self.sleep_ms = sleep_ms  # the board clock's async sleep_ms (HAL)
        self.poll_ms = poll_ms
        self.flag = asyncio.ThreadSafeFlag()
        self._ticker = None

    def attach(self, trigger):
        """Route both GDO pins' edges to the flag (a hard-IRQ-safe handler: it only sets it)."""
        h = self._irq
        self.core.gdo0.irq(handler=h, trigger=trigger)
        self.core.gdo2.irq(handler=h, trigger=trigger)

    def _irq(self, _pin):
        self.flag.set()

    async def _tick(self):
        while True:
            await self.sleep_ms(self.poll_ms)
            self.flag.set()

    async def wait(self):
        """Until the next GDO edge or fallback tick."""
        if self._ticker is None:
            self._ticker = asyncio.create_task(self._tick())
        await self.flag.wait()
