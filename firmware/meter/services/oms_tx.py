# The OMS transmitter role (services/oms.py builds it when the config has "oms" -> "tx"):
# services/radio_tx.py on a schedule (interval with jitter, duty cycle inside RadioTx), values
# from the register table, frames handed to the radio port's send(). The AFL message counter is
# reserved ahead in SECTION_TX (like the P1 frame counter), so a power cut can never make the
# meter reuse a counter (EN 13757-7 9.5.2; a reused mode-7 counter would also reuse its session
# keys).
import struct

from meter.common.timeutil import from_secs
from meter.services.oms import SECTION_TX, Oms

RES = 16  # AFL counters reserved per durable write (one journal save per 16 frames)

# record name -> (register, tariff) for the transmitted frame (services/radio_tx.py names)
_SRC = (("import_wh", "1-0:1.8.0"), ("export_wh", "1-0:2.8.0"), ("import_wh_1", "1-0:1.8.1"),
        ("import_wh_2", "1-0:1.8.2"), ("export_wh_1", "1-0:2.8.1"), ("export_wh_2", "1-0:2.8.2"),
        ("power_w", "1-0:1.7.0"))


def time_f(t):
    """EN 13757-3 type F (date and time, minutes) of meter seconds t (UTC)."""
    y, mo, d, hh, mm = from_secs(t)[:5]
    y -= 2000
    return (mm | hh << 8 | d << 16 | (y & 7) << 21 | mo << 24 | (y >> 3) << 28)


class OmsTx(Oms):
    def __init__(self, cfg, keys, registers, save_fn):
        super().__init__(cfg, keys, registers, save_fn)
        self.regs = registers
        tcfg = cfg["tx"]
        from meter.services.radio_tx import RadioTx
        key = keys.get(tcfg.get("key", "oms_tx_key"))
        if key is None:
            raise ValueError("oms tx: no key in the key store")
        self.tx = RadioTx(tcfg.get("id", "00000001"), tcfg.get("mfct", "OMT"), key, tcfg)
        self.tx_fmt = tcfg.get("format", "A")
        self.values = {}
        self._slots = [(n, registers.slot(o)) for n, o in _SRC
                       if n in self.tx.records and registers.has(o)]
        self._reserved = 0
        self.due = -1
        self.port = None
        self.sent = 0
        self.install_req = False

    # --- persistence ------------------------------------------------------------------------
    def tx_section(self):
        return SECTION_TX, 4, self._tx_dump, self._tx_load

    def _tx_dump(self, buf):
        struct.pack_into("<I", buf, 0, self._reserved)

    def _tx_load(self, buf):
        # restart above everything that may have been sent before the cut
        self._reserved = struct.unpack_from("<I", buf, 0)[0]
        self.tx.counter = self._reserved
        return True

    # --- schedule ----------------------------------------------------------------------------
    def attach_radio(self, port):
        self.port = port

    def tick(self, now):
        """Metering consumer (every meter second): the collector's saves, then send when due."""
        super().tick(now)
        if self.port is None or self.port.error is not None:
            return
        if self.due < 0:
            self.due = now + self.tx.next_delay()
        if now >= self.due or self.install_req:
            inst = self.install_req
            self.install_req = False
            if not inst:
                self.due = now + self.tx.next_delay()
            self.send(now, inst)

    def send(self, now, install=False):
        """Build one frame from the registers of this second and hand it to the radio port."""
        tx = self.tx
        if tx.counter + 1 > self._reserved:  # durable before the counter goes on air
            self._reserved = tx.counter + RES
            self.save_fn(now)
        v = self.values
        r = self.regs.values
        for name, slot in self._slots:
            v[name] = r[slot]
        if "time_f" in tx.records:
            v["time_f"] = time_f(now)
        n = tx.build(v, now, install)
        if n == 0:
            return 0
        if self.port.send(tx.buf, n, tx.mode, self.tx_fmt):
            self.sent += 1
        return n

    # --- diagnostics (allocate; on request) ---------------------------------------------------
    def info(self):
        out = super().info()
        t = self.tx
        out["tx"] = {"counter": t.counter, "reserved": self._reserved, "due": self.due,
                     "sent": self.sent, "denied": t.denied,
                     "port": None if self.port is None else list(self.port.tx_stats)}
        return out
