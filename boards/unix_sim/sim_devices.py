# Simulated devices of the unix_sim board: the virtual clock, the real-time line clock, pins, UARTs
# and the flash region. Each reports what the firmware does to it over the rig link (rig_link.py).
import os
import time
import asyncio

class SimClock:
    """Virtual clock: vms = virtual ms since start. Real time drives it at `rate` (x real time);
    the rig can jump it forward (fast-forward)."""

    def __init__(self, epoch, rate, valid=True):
        self.epoch = epoch  # meter seconds at vms 0
        self.rate = rate
        self.vms = 0
        self._last = time.ticks_ms()
        self.valid = valid
        self.frozen = False  # set while the app fast-forwards (jumps drive time alone)
        self.on_set = None

    def _update(self):
        now = time.ticks_ms()
        d = time.ticks_diff(now, self._last)
        self._last = now
        if d > 0 and not self.frozen:
            self.vms += d * self.rate

    def sim_ms(self):
        """Non-wrapping virtual ms (simulation only)."""
        self._update()
        return self.vms

    def jump(self, ms):
        self._update()
        self.vms += ms

    def set_rate(self, rate):
        """Change the rate live (the rig's `rate` command): time so far is kept at the old rate."""
        self._update()
        self.rate = rate

    def time(self):
        return self.epoch + self.sim_ms() // 1000

    def time_ms(self):
        """(meter seconds, ms within the second)."""
        v = self.sim_ms()
        return self.epoch + v // 1000, v % 1000

    def ticks_ms(self):
        # wraps at 2**30 like time.ticks_ms; masked with a small-int constant (1 << 30 itself is a
        # long int on 32-bit builds: `% (1 << 30)` would allocate on every call)
        return self.sim_ms() & 0x3FFFFFFF

    @staticmethod
    def ticks_diff(a, b):
        return ((a - b + 0x20000000) & 0x3FFFFFFF) - 0x20000000

    def set_time(self, t):
        self.epoch = t - self.sim_ms() // 1000
        self.valid = True
        if self.on_set:
            self.on_set(self.epoch)  # the rig keeps the RTC running across power cuts

    async def sleep_ms(self, ms):
        if self.rate > 0:
            await asyncio.sleep_ms(max(0, ms // self.rate))
        else:
            await asyncio.sleep_ms(min(ms, 20))


class LineClock:
    """Real-time ms ticks for serial-line protocol timing (board.line_clock; the optical port).
    The rig's wire and the client on the pty run in real time whatever the virtual clock does
    (time_rate 0, accelerated, fast-forward), so reaction times and baud-switch delays must too."""

    def ticks_ms(self):
        return time.ticks_ms() & 0x3FFFFFFF  # wraps at 2**30; a small int on 32-bit builds too

    @staticmethod
    def ticks_diff(a, b):
        return ((a - b + 0x20000000) & 0x3FFFFFFF) - 0x20000000

    async def sleep_ms(self, ms):
        await asyncio.sleep_ms(ms)


class SimPin:
    """A pin: outputs are reported to the rig (`out`) and to `watch(name, v)` (a simulated device
    on the pin, e.g. the relay coils); inputs are set by the rig or a simulated device."""

    def __init__(self, link, name, value=0, output=False):
        self.link, self.name, self._v, self.output, self._irq = link, name, value, output, None
        self.watch = None

    def value(self, v=None):
        if v is None:
            return self._v
        v = 1 if v else 0
        if v != self._v:
            self._v = v
            if self.output:
                self.link.send("out %s %d\n" % (self.name, v))
                if self.watch is not None:
                    self.watch(self.name, v)

    def irq(self, handler=None, trigger=None):
        self._irq = handler

    def _set_input(self, v):
        if v != self._v:
            self._v = v
            if self._irq:
                self._irq(self)


class SimUart:
    """A UART whose wire is the rig: writes go out as `tx`, received bytes arrive as `rx`.
    Line settings are reported to the rig (`cfg`), which garbles bytes when they don't match the
    peer's, as a wire would."""

    def __init__(self, link, role, baudrate, bits=8, parity=None, stop=1, rxbuf=512):
        self.link, self.role = link, role
        self._rx = bytearray(rxbuf)
        self._head = 0  # read position
        self._n = 0  # bytes held
        self.init(baudrate, bits, parity, stop)

    def init(self, baudrate=9600, bits=8, parity=None, stop=1, **kw):
        self.baudrate, self.bits, self.parity, self.stop = baudrate, bits, parity, stop
        p = "N" if parity is None else ("E" if parity == 0 else "O")
        self.link.send("cfg %s %d %d %s %d\n" % (self.role, baudrate, bits, p, stop))

    def write(self, buf):
        if len(buf):
            self.link.send_bytes("tx " + self.role + " ", buf)
        return len(buf)

    def any(self):
        return self._n

    def readinto(self, buf, nbytes=-1):
        n = min(self._n, len(buf) if nbytes < 0 else nbytes)
        if n == 0:
            return None
        size = len(self._rx)
        for i in range(n):
            buf[i] = self._rx[(self._head + i) % size]
        self._head = (self._head + n) % size
        self._n -= n
        return n

    def read(self, n=-1):
        if self._n == 0:
            return None
        b = bytearray(self._n if n < 0 else min(n, self._n))
        self.readinto(b)
        return bytes(b)

    def _feed(self, data):
        size = len(self._rx)
        for c in data:
            if self._n == size:  # RX overrun: the oldest byte is lost, as in a hardware FIFO
                self._head = (self._head + 1) % size
                self._n -= 1
            self._rx[(self._head + self._n) % size] = c
            self._n += 1


class SimStorage:
    """Flash region in a file. NOR semantics: a write can only clear bits (new = old & data);
    erase sets a block to 0xFF. The rig can arm a torn write: the next write stores only its
    first N bytes and the process then stops dead, as at a power cut mid-write."""

    def __init__(self, link, path, size=256 * 1024, block_size=4096):
        self.link, self.path, self.size, self.block_size = link, path, size, block_size
        self.torn_at = -1
        self.writes = 0
        try:
            st = os.stat(path)[6]
        except OSError:
            st = -1
        if st != size:
            with open(path, "wb") as f:
                blk = b"\xff" * block_size
                for _ in range(size // block_size):
                    f.write(blk)
        self.f = open(path, "r+b")
        self._page = bytearray(256)
        self._ff = b"\xff" * 256

    def read(self, offset, buf):
        self._check(offset, len(buf))
        self.f.seek(offset)
        self.f.readinto(buf)

    def write(self, offset, data):
        # page by page through a preallocated buffer (a 96 KB heap has no room for per-write copies)
        n = len(data)
        self._check(offset, n)
        self.writes += 1
        k = n if self.torn_at < 0 else min(self.torn_at, n)
        buf = self._page
        done = 0
        while done < k:
            m = min(len(buf), k - done)
            part = memoryview(buf)[:m]
            self.read(offset + done, part)
            for i in range(m):
                buf[i] &= data[done + i]
            self.f.seek(offset + done)
            self.f.write(part)
            done += m
        self.f.flush()
        if self.torn_at >= 0:
            self.link.send("hit torn %d\n" % k)
            self.link.flush_blocking()
            while True:  # power is gone: nothing more happens until the rig kills us
                time.sleep(1)

    def erase(self, block):
        self._check(block * self.block_size, self.block_size)
        self.f.seek(block * self.block_size)
        ff = self._ff
        for _ in range(self.block_size // len(ff)):
            self.f.write(ff)
        self.f.flush()

    def _check(self, offset, n):
        if offset < 0 or offset + n > self.size:
            raise ValueError("storage access out of range")
