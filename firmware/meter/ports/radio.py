# Radio port: a thin task between the CC1101 driver and the wM-Bus link core (EN 13757-4).
#
#     port = RadioPort(board, cfg)       # cfg = board.config["radio"]: {"family": "TC"|"S",
#                                        #   "ids": [...], "manufacturers": [...], "dup_window": s,
#                                        #   "poll_ms": 2, "keep": 4}
#     port.consumers.append(fn)          # fn(frame, now): every link-checked frame goes upward here
#     await port.run()                   # services the driver every poll_ms (board clock) and on
#                                        # GDO edges
#
# Upward hook: `consumers` is a plain list of callables, called in order with the link core's
# Frame object (meter/cores/wmbus/frame.py: fields point into the link's buffer, valid only during
# the call; copy what you keep) and the meter's time. Issue 14's collector (transport, OMS
# security, application layer) plugs in here; the port knows nothing above the link layer.
#
# Per frame nothing is allocated: the driver's and link's buffers are preallocated, and the last
# `keep` frames are copied into a fixed ring (bytes plus RSSI/LQI/mode/time) for diagnostics.
import array

from meter.cores.wmbus import mode as M
from meter.cores.wmbus.frame import MAX_DATA
from meter.cores.wmbus.link import Link, OK, ST_OVERFLOW, ST_TRUNCATED
from meter.drivers.cc1101.core import CC1101, CC1101Error, EV_OVERFLOW, EV_TRUNCATED


class RadioPort:
    def __init__(self, board, cfg):
        self.board = board
        self.clock = board.clock
        self.poll_ms = cfg.get("poll_ms", 2)
        self.link = link = Link(dup_window=cfg.get("dup_window", 60))
        link.set_filter(cfg.get("ids"), cfg.get("manufacturers"))
        self.family = fam = M.FAMILY_S if cfg.get("family") == "S" else M.FAMILY_TC
        self.radio = CC1101(board.spi("radio"), board.pin("radio_gdo0"), board.pin("radio_gdo2"),
                            M.expected_length, link.rx_buffers(cfg.get("buffers", 2), fam))
        self.consumers = []
        k = cfg.get("keep", 4)
        self.keep = k
        self._ring = [bytearray(MAX_DATA) for _ in range(k)]
        self._rn = array.array("i", [0] * k)  # frame length (CRCs removed)
        self._rinfo = array.array("i", [0] * (4 * k))  # rssi, lqi, mode, time
        self._rnext = 0
        self.received = 0  # frames passed up (OK)
        self.rssi_last = -128
        self.error = None  # a missing or dead chip disables the port, never the meter
        try:
            self.radio.reset()
            self.radio.start_rx(self.family)
        except CC1101Error as e:
            self.error = str(e)
            board.log("radio: disabled: %s" % e)

    def poll(self):
        """Service the driver once and pass every completed packet through the link core."""
        r = self.radio
        ev = r.service()
        link = self.link
        if ev & EV_OVERFLOW:
            link.note(ST_OVERFLOW)
        if ev & EV_TRUNCATED:
            link.note(ST_TRUNCATED)
        while r.ready():
            i = r.peek()
            now = self.clock.time()
            res = link.read(r.bufs[i], r.lens[i], r.family, r.rssi[i], r.lqi[i], now)
            r.release()
            if res == OK:
                self._accept(link.frame, now)

    def _accept(self, f, now):
        self.received += 1
        self.rssi_last = f.rssi
        j = self._rnext
        self._rnext = (j + 1) % self.keep
        dst, src, n = self._ring[j], f.buf, f.n
        for x in range(n):  # a byte loop: a slice assignment would allocate views
            dst[x] = src[x]
        self._rn[j] = n
        q = self._rinfo
        q[4 * j] = f.rssi
        q[4 * j + 1] = f.lqi
        q[4 * j + 2] = f.mode
        q[4 * j + 3] = now
        for fn in self.consumers:
            fn(f, now)

    async def run(self):
        """Service on every GDO edge and every poll_ms of the board clock (drivers/cc1101/aio.py)."""
        if self.error is not None:
            return
        from meter.drivers.cc1101.aio import AsyncRadio
        ar = AsyncRadio(self.radio, self.clock.sleep_ms, self.poll_ms)
        try:
            import machine
            trig = machine.Pin.IRQ_RISING | machine.Pin.IRQ_FALLING
        except (ImportError, AttributeError):  # the unix_sim board: its pins take any trigger
            trig = None
        ar.attach(trig)
        while True:
            self.poll()
            await ar.wait()

    # --- diagnostics (allocate; called on request only) --------------------------------------
    def stats(self):
        from meter.cores.wmbus import link as L
        s = self.link.stats
        r = self.radio
        return {"ok": s[L.ST_OK], "crc": s[L.ST_CRC], "bad_blocks": s[L.ST_BAD_BLOCKS],
                "coding": s[L.ST_CODING], "length": s[L.ST_LENGTH], "filtered": s[L.ST_FILTERED],
                "dup": s[L.ST_DUP], "overflow": s[L.ST_OVERFLOW], "truncated": s[L.ST_TRUNCATED],
                "noise": r.noise, "late": r.late, "dropped": r.dropped, "received": self.received,
                "rssi": self.rssi_last, "error": self.error}

    def frames(self):
        """The last `keep` frames, oldest first: dicts of their link-layer fields."""
        from binascii import hexlify  # one string per frame, not one per byte (small heaps)
        from meter.cores.wmbus.frame import Frame
        out = []
        k = self.keep
        for d in range(min(self.received, k)):
            j = (self._rnext - min(self.received, k) + d) % k
            n = self._rn[j]
            f = Frame(self._ring[j])
            f.n = n
            q = self._rinfo
            out.append({"l": f.l_field, "c": f.c, "m": f.manufacturer(), "id": f.id_str(),
                        "version": f.version, "type": f.dev_type, "ci": f.ci,
                        "mode": ("?", "T1", "C1A", "C1B", "C1B", "S1")[q[4 * j + 2]],
                        "rssi": q[4 * j], "lqi": q[4 * j + 1], "t": q[4 * j + 3],
                        "hex": hexlify(memoryview(self._ring[j])[:n]).decode()})
        return out
