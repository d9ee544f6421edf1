# unix_sim board: the HAL contract (boards/README.md) implemented against the virtual rig.
#
# The rig (host_tools/rig.py) starts `micropython firmware/main.py` with this directory on the path
# and these environment variables:
#   METER_SIM_LINK     host:port of the rig's link socket (loopback)
#   METER_SIM_STORAGE  path of the storage image file (the flash region)
#   METER_SIM_EPOCH    meter seconds (UTC since 2020) at virtual ms 0
#   METER_SIM_RATE     virtual ms per real ms (integer; 0 = time moves only when the rig advances it)
#   METER_SIM_RTC      "1" if the RTC kept time across the power cut (battery-backed), else "0"
#   METER_SIM_CONFIG   optional JSON file with board config overrides (identity, keys, options)
#
# Link protocol: one line per message, ASCII, space separated, hex for bytes.
#   rig -> meter: load <seq> <phase> <mV> <mA> <p_mW> <q_mvar> | adv <seq> <ms> | rx <uart> <hex>
#                 pin <seq> <name> <0|1> | get <seq> <what> | fault <seq> <kind> <arg> | ping <seq>
#   meter -> rig: hello unix_sim <vms> | ok <seq> <vms> [json] | err <seq> <reason>
#                 tx <uart> <hex> | cfg <uart> <baud> <bits> <parity> <stop> | out <pin> <0|1>
#                 log <text> | hit <fault>
# Everything the meter does on the link is in virtual time; `ok` carries the virtual ms at which a
# command took effect, so the rig can compute ground truth exactly.
import os
import sys
import time
import json
import socket
import binascii
import asyncio

from calibration import CALIBRATION

_PERIOD = 1 << 30


def _env(name, default=None):
    v = os.getenv(name)
    return default if v is None else v


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

    def time(self):
        return self.epoch + self.sim_ms() // 1000

    def time_ms(self):
        """(meter seconds, ms within the second)."""
        v = self.sim_ms()
        return self.epoch + v // 1000, v % 1000

    def ticks_ms(self):
        return self.sim_ms() % _PERIOD

    @staticmethod
    def ticks_diff(a, b):
        d = (a - b) % _PERIOD
        return d - _PERIOD if d >= _PERIOD // 2 else d

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
    def __init__(self, link, name, value=0, output=False):
        self.link, self.name, self._v, self.output, self._irq = link, name, value, output, None

    def value(self, v=None):
        if v is None:
            return self._v
        v = 1 if v else 0
        if v != self._v:
            self._v = v
            if self.output:
                self.link.send("out %s %d\n" % (self.name, v))

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


class KeyStore:
    def __init__(self, keys):
        self._keys = keys

    def get(self, name):
        v = self._keys.get(name)
        return binascii.unhexlify(v) if v else None


class Link:
    """The loopback TCP link to the rig. Writes are immediate (loopback); reads are handled by the
    board task, which dispatches commands to the app."""

    def __init__(self, addr):
        host, port = addr.rsplit(":", 1)
        ai = socket.getaddrinfo(host, int(port), 0, socket.SOCK_STREAM)[0]
        s = socket.socket(ai[0], ai[1], ai[2])
        s.connect(ai[-1])
        s.setblocking(False)
        self.sock = s
        self.stream = asyncio.StreamReader(s)
        self.pending = b""

    def send(self, text):
        self._out(text.encode())

    def send_bytes(self, prefix, data):
        self._out(prefix.encode() + binascii.hexlify(data) + b"\n")

    def _out(self, b):
        if self.pending:
            self.pending += b
            self._try_flush()
            return
        try:
            n = self.sock.write(b)
        except OSError:
            n = 0
        if n is None:
            n = 0
        if n < len(b):
            self.pending = b[n:]

    def _try_flush(self):
        try:
            n = self.sock.write(self.pending)
        except OSError:
            n = 0
        if n:
            self.pending = self.pending[n:]

    def flush_blocking(self):
        while self.pending:
            self._try_flush()
            if self.pending:
                time.sleep_ms(1)


class Board:
    name = "unix_sim"

    def __init__(self, config=None):
        cfg = {
            "identity": {"manufacturer": "OMT", "model": "OMT-SIM", "equipment_id": "OMT0000000001",
                         "serial": "00000001", "optical_address": "00000001"},
            "keys": {},
            "afe": "atm90e32",
            "calibration": CALIBRATION,
            "rtc_backup": _env("METER_SIM_RTC", "1") == "1",
        }
        path = _env("METER_SIM_CONFIG")
        if path:
            with open(path) as f:
                over = json.load(f)
            for k in over:
                if isinstance(over[k], dict) and isinstance(cfg.get(k), dict):
                    cfg[k].update(over[k])
                else:
                    cfg[k] = over[k]
        if config:
            cfg.update(config)
        self.config = cfg
        self.link = Link(_env("METER_SIM_LINK", "127.0.0.1:0"))
        epoch = int(_env("METER_SIM_EPOCH", "0"))
        self.clock = SimClock(epoch, int(_env("METER_SIM_RATE", "1")), valid=cfg["rtc_backup"])
        self.clock.on_set = lambda e: self.link.send("rtc %d\n" % e)
        self.line_clock = LineClock()  # real-time ticks for the optical port's protocol timing
        self._uarts = {}
        self._pins = {}
        for name, v, out in (("p1_req", 1, False), ("relay_a", 0, True), ("relay_b", 0, True),
                             ("relay_fb", 1, False), ("button", 0, False), ("led_pulse", 0, True),
                             ("cover", 0, False), ("pfail", 0, False)):
            self._pins[name] = SimPin(self.link, name, v, out)
        spath = _env("METER_SIM_STORAGE", "/tmp/meter_sim_storage.bin")
        self.storage = SimStorage(self.link, spath)
        # writable configuration (the device's /config): beside the storage image
        self.config_dir = spath.rsplit("/", 1)[0] if "/" in spath else "."
        self.keys = KeyStore(cfg["keys"])
        self.afe = self._make_afe()
        self.app = None  # set by the app: receives adv/get commands

    def _make_afe(self):
        from afe_sim import AfeSim, AfeSimSpi
        from meter.drivers.afe.atm90e32 import ATM90E32
        cal = self.config["calibration"]
        self.afe_sim = AfeSim(self.clock.sim_ms, cal)
        return ATM90E32(AfeSimSpi(self.afe_sim), cal)

    def uart(self, role):
        u = self._uarts.get(role)
        if u is None:
            if role == "optical":
                # client->meter bytes arrive unpaced from the rig (a real wire paces them at the
                # baud rate, so 512 bytes of FIFO are plenty on the MCUs); a larger FIFO here
                # keeps a burst from overrunning it
                u = SimUart(self.link, role, 300, 7, 0, 1, rxbuf=1024)
            elif role == "p1":
                u = SimUart(self.link, role, 115200, 8, None, 1, rxbuf=16)
            else:
                u = SimUart(self.link, role, 4800, 8, None, 1)
            self._uarts[role] = u
        return u

    def pin(self, name):
        return self._pins[name]

    def spi(self, name):
        raise OSError("unix_sim: no raw SPI bus %s (the AFE is simulated at register level)" % name)

    def tasks(self):
        return [self._link_task()]

    def log(self, text):
        self.link.send("log " + text.replace("\n", " ") + "\n")

    async def _link_task(self):
        link = self.link
        link.send("hello unix_sim %d\n" % self.clock.sim_ms())
        while True:
            if link.pending:
                link._try_flush()
            line = await link.stream.readline()
            if not line:
                sys.exit(0)  # the rig went away: power is off
            w = None
            try:
                w = line.decode().split()
                self._command(w)
            except Exception as e:  # a bad command (or MemoryError) must not stop the meter
                sys.print_exception(e)
                msg = ("%s: %s" % (type(e).__name__, e)).replace("\n", " ")
                if w and len(w) > 1 and w[0] != "rx":
                    link.send("err %s %s\n" % (w[1], msg))  # the rig's waiter gets an answer
                else:
                    link.send("log link error: %s\n" % msg)

    def _reply(self, seq, extra=None):
        if extra is None:
            self.link.send("ok %s %d\n" % (seq, self.clock.sim_ms()))
        else:
            self.link.send("ok %s %d %s\n" % (seq, self.clock.sim_ms(), json.dumps(extra)))

    def _command(self, w):
        if not w:
            return
        cmd = w[0]
        if cmd == "rx":
            u = self._uarts.get(w[1])
            if u:
                u._feed(binascii.unhexlify(w[2]))
        elif cmd == "load":
            seq = w[1]
            self.afe_sim.set_load(int(w[2]), int(w[3]), int(w[4]), int(w[5]), int(w[6]), self.clock.sim_ms())
            self._reply(seq)
        elif cmd == "adv":
            seq, ms = w[1], int(w[2])
            if self.app:
                self.app.fast_forward(ms)
            else:
                self.clock.jump(ms)
            self._reply(seq)
        elif cmd == "pin":
            seq, name, v = w[1], w[2], int(w[3])
            self._pins[name]._set_input(v)
            self._reply(seq)
        elif cmd == "get":
            seq = w[1]
            self._reply(seq, self.app.query(w[2], w[3:]) if self.app else None)
        elif cmd == "set":
            seq = w[1]
            self._reply(seq, self.app.command(w[2], w[3:]) if self.app else None)
        elif cmd == "fault":
            seq, kind = w[1], w[2]
            if kind == "torn":
                self.storage.torn_at = int(w[3])
            self._reply(seq)
        elif cmd == "sched":
            self._sched(w[1], int(w[2]), w[3] if len(w) > 3 else "")
        elif cmd == "ping":
            self._reply(w[1])
        else:
            self.link.send("err %s unknown command\n" % (w[1] if len(w) > 1 else "-"))

    SCHED_SEG = 52  # u32 duration_ms, then per phase L1..L3: u32 mV, u32 mA, i32 p_mW, i32 q_mvar

    def _sched(self, seq, tick_ms, hexdata):
        """`sched <seq> <tick_ms> <hex>`: a load schedule run in-firmware, no round trip per tick.
        For each segment (little endian, SCHED_SEG bytes): set the three phase loads at the current
        virtual ms, then let `duration_ms` pass with a metering tick at every multiple of tick_ms
        (app.run_ticks). Time is frozen meanwhile (real time does not add to it). The reply carries
        the virtual ms at which each segment's loads took effect: [vms, ...]."""
        import struct
        data = binascii.unhexlify(hexdata)
        if len(data) % self.SCHED_SEG or tick_ms <= 0:
            self.link.send("err %s bad schedule\n" % seq)
            return
        clk = self.clock
        sim = self.afe_sim
        app = self.app
        marks = []
        frozen = clk.frozen
        clk.frozen = True
        try:
            for off in range(0, len(data), self.SCHED_SEG):
                dur = struct.unpack_from("<I", data, off)[0]
                v = clk.sim_ms()
                for ph in range(3):
                    mv, ma, p, q = struct.unpack_from("<IIii", data, off + 4 + 16 * ph)
                    sim.set_load(ph + 1, mv, ma, p, q, v)
                marks.append(v)
                if app is not None:
                    app.run_ticks(dur, tick_ms)
                else:
                    clk.jump(dur)
        finally:
            clk.frozen = frozen
        self._reply(seq, marks)


def make(config=None):
    return Board(config)
