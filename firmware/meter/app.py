# App wiring: the only place that knows which services exist. (Foundation slice version.)
import asyncio
import struct
import binascii

import metercrypto
from meter.registers import Registers, fmt_fixed
from meter.events import EventLog
from meter import events as ev
from meter import timeutil

UJ_PER_WH = 3600 * 1000 * 1000


class App:
    def __init__(self, board):
        self.board = board
        self.clock = board.clock
        self.registers = Registers()
        self.events = EventLog()
        r = self.registers
        self.s_total = r.define("1-0:1.8.0", "kWh", -3)
        self.s_t1 = r.define("1-0:1.8.1", "kWh", -3)
        self.s_t2 = r.define("1-0:1.8.2", "kWh", -3)
        self.s_p = r.define("1-0:1.7.0", "kW", -3)
        self.rem = 0
        self.last_tick = self.clock.time()
        self.seq = 0
        self.ready = False
        self._restore()
        board.app = self
        board.pin("pfail").irq(self._on_pfail)

    # -- temporary slice storage: two slots, seq + crc32
    def _restore(self):
        st = self.board.storage
        best = None
        buf = bytearray(16)
        for slot in (0, 1):
            st.read(slot * st.block_size, buf)
            seq, wh, rem, crc = struct.unpack("<IiiI", buf)
            if binascii.crc32(buf[:12]) == crc and (best is None or seq > best[0]):
                best = (seq, wh, rem)
        if best:
            self.seq, wh, self.rem = best
            self.registers.set(self.s_total, wh)
            self.registers.set(self.s_t1, wh)
            self.events.add(self.clock.time(), ev.REGISTERS_RESTORED)

    def save(self):
        st = self.board.storage
        self.seq += 1
        slot = self.seq & 1
        b = struct.pack("<Iii", self.seq, self.registers.values[self.s_total], self.rem)
        b += struct.pack("<I", binascii.crc32(b))
        st.erase(slot)
        st.write(slot * st.block_size, b)

    def _on_pfail(self, pin):
        if pin.value():
            self.tick()
            self.save()

    def tick(self):
        now = self.clock.time()
        afe = self.board.afe
        uj = afe.take_uj(0) + afe.take_uj(1) + afe.take_uj(2) + self.rem
        wh, self.rem = divmod(uj, UJ_PER_WH)
        self.registers.add(self.s_total, wh)
        self.registers.add(self.s_t1, wh)
        self.last_tick = now

    def fast_forward(self, ms):
        step = 900 * 1000
        while ms > 0:
            d = min(step, ms)
            self.clock.jump(d)
            ms -= d
            self.tick()
        self.save()

    def query(self, what, args):
        if what == "status":
            return {"ready": self.ready, "time": self.clock.time()}
        if what == "registers":
            self.tick()
            r = self.registers
            return {r.codes[i]: [r.values[i], r.scalers[i], r.units[i]] for i in range(len(r))}
        return None

    def command(self, what, args):
        return None

    def telegram(self):
        r = self.registers
        t = self.clock.time()
        y, mo, d, h, mi, s, _ = timeutil.from_secs(t + (7200 if timeutil.eu_dst(t) else 3600))
        ts = "%02d%02d%02d%02d%02d%02d%s" % (y % 100, mo, d, h, mi, s, "S" if timeutil.eu_dst(t) else "W")
        lines = ["/OMT5SIM-SLICE", "", "1-3:0.2.8(50)", "0-0:1.0.0(%s)" % ts,
                 "1-0:1.8.1(%s*kWh)" % fmt_fixed(r.values[self.s_t1], -3, 6, 3),
                 "1-0:1.8.2(%s*kWh)" % fmt_fixed(r.values[self.s_t2], -3, 6, 3),
                 "0-0:96.14.0(0001)", "!"]
        body = "\r\n".join(lines)
        crc = metercrypto.crc16_arc(body.encode())
        return (body + "%04X\r\n" % crc).encode()

    async def _metering(self):
        while True:
            await self.clock.sleep_ms(1000)
            self.tick()

    async def _p1(self):
        uart = self.board.uart("p1")
        req = self.board.pin("p1_req")
        last = self.clock.time()
        while True:
            await self.clock.sleep_ms(20)
            now = self.clock.time()
            if now != last:
                last = now
                if req.value():
                    self.tick()
                    uart.write(self.telegram())

    async def _saver(self):
        while True:
            await self.clock.sleep_ms(60000)
            self.save()

    async def run(self):
        for t in self.board.tasks():
            asyncio.create_task(t)
        asyncio.create_task(self._metering())
        asyncio.create_task(self._saver())
        asyncio.create_task(self._p1())
        self.ready = True
        while True:
            await asyncio.sleep_ms(1000)
