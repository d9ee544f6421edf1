# Radio port: a thin task between the CC1101 driver and the wM-Bus link core (EN 13757-4).
#
#     port = RadioPort(board, cfg)       # cfg = board.config["radio"]: {"family": "TC"|"S",
#                                        #   "ids": [...], "manufacturers": [...], "dup_window": s,
#                                        #   "poll_ms": 2, "keep": 4}
#     port.consumers.append(fn)          # fn(frame, now): every link-checked frame goes upward here
#     await port.run()                   # services the driver every poll_ms (board clock)
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
from meter.drivers.cc1101.core import (CC1101, CC1101Error, EV_OVERFLOW, EV_TRUNCATED, EV_TX_DONE,
                                       EV_TX_FAIL)


class RadioPort:
    def __init__(self, board, cfg):
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
        self._ring = bytearray(MAX_DATA * k)  # frame j at MAX_DATA * j
        self._rinfo = array.array("i", [0] * (5 * k))  # length (CRCs removed), rssi, lqi, mode, time
        self._rnext = 0
        self.received = 0  # frames passed up (OK)
        self.rssi_last = -128
        self.error = None  # a missing or dead chip disables the port, never the meter
        self._txout = None  # on-air bytes of the frame to send (allocated on the first send)
        self._txn = 0  # > 0: waiting to start; -1: on air
        self._txpatch = None
        self.tx_stats = array.array("i", [0, 0, 0])  # sent, failed, dropped (one already queued)
        try:
            self.radio.reset()
            self.radio.start_rx(self.family)
        except CC1101Error as e:
            self.error = str(e)
            board.log("radio: disabled: %s" % e)

    def poll(self):
        """Service the driver once and pass every completed packet through the link core."""
        r = self.radio
        if self._txn > 0:
            r.transmit(self._txout, self._txn, self._txpatch)
            self._txn = -1
        ev = r.service()
        if ev & (EV_TX_DONE | EV_TX_FAIL):
            self.tx_stats[0 if ev & EV_TX_DONE else 1] += 1
            self._txn = 0
            r.start_rx(self.family)  # TXOFF_MODE is IDLE: back to listening
            return
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

    def send(self, data, n, mode="T1", fmt="A"):
        """Queue data[0:n] (L C M A CI ..., no CRCs) for transmission in mode "T1" or "C1"
        (format "A" or "B"): link-encoded now, on air from the next poll(). False when a frame is
        still queued or on air (counted as dropped) or the length is not a frame's."""
        if self._txn != 0 or self.error is not None:
            self.tx_stats[2] += 1
            return False
        if self._txout is None:
            self._txout = bytearray(700)
        from meter.drivers.cc1101 import regs as R
        c1 = mode == "C1"
        md = (M.MODE_C1B if fmt == "B" else M.MODE_C1A) if c1 else M.MODE_T1
        try:
            k = self.link.encode(md, M.FMT_B if fmt == "B" else M.FMT_A, data, n, self._txout)
        except ValueError:
            self.tx_stats[2] += 1
            return False
        self._txpatch = R.TX_C1 if c1 else R.TX_T1
        self._txn = k
        return True

    def _accept(self, f, now):
        self.received += 1
        self.rssi_last = f.rssi
        j = self._rnext
        self._rnext = (j + 1) % self.keep
        dst, src, n = self._ring, f.buf, f.n  # (3 names at most: 4 would build a tuple)
        o = MAX_DATA * j
        for x in range(n):  # a byte loop: a slice assignment would allocate views
            dst[o + x] = src[x]
        q = self._rinfo
        o = 5 * j
        q[o] = n
        q[o + 1] = f.rssi
        q[o + 2] = f.lqi
        q[o + 3] = f.mode
        q[o + 4] = now
        for fn in self.consumers:
            fn(f, now)

    async def run(self):
        """Service the driver every poll_ms of the board clock. Polling only, no GDO interrupts:
        no ThreadSafeFlag (asyncio/event.py) and no ticker task on the small heap; at the default
        2 ms the RX FIFO margins of `make bench` (host_tools/bench_radio.py, "polling without
        interrupts") hold for every mode and frame length."""
        if self.error is not None:
            return
        sleep_ms = self.clock.sleep_ms
        while True:
            self.poll()
            await sleep_ms(self.poll_ms)

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
            q = self._rinfo
            o = 5 * j
            n = q[o]
            ring = memoryview(self._ring)[MAX_DATA * j:MAX_DATA * (j + 1)]
            f = Frame(ring)
            f.n = n
            out.append({"l": f.l_field, "c": f.c, "m": f.manufacturer(), "id": f.id_str(),
                        "version": f.version, "type": f.dev_type, "ci": f.ci,
                        "mode": ("?", "T1", "C1A", "C1B", "C1B", "S1")[q[o + 3]],
                        "rssi": q[o + 1], "lqi": q[o + 2], "t": q[o + 4],
                        "hex": hexlify(ring[:n]).decode()})
        return out
