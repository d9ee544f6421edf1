# The OMS roles of the running meter (issue 14), built only when the board config has "oms":
#   collector (receive): services/collector.py behind the radio port's consumers; its replay
#       counters are a StateStore section (SECTION_RX), saved at the next metering tick after a
#       counter moved (never from inside the radio receive path: a journal write there would
#       overflow the CC1101's 64-byte FIFO) and by the power-fail save;
#   transmitter: services/radio_tx.py on a schedule (interval with jitter, duty cycle inside
#       RadioTx), values from the register table, frames handed to the radio port's send(). The
#       AFL message counter is reserved ahead in SECTION_TX (like the P1 frame counter), so a power
#       cut can never make the meter reuse a counter (EN 13757-7 9.5.2; a reused mode-7 counter
#       would also reuse its session keys).
#
#   svc = OmsService(cfg["oms"], board.keys, registers, save_fn)    (OmsTx of oms_tx.py with "tx":
#       a receive-only meter never loads the transmit half)
#   store.add(*svc.rx_section()) / store.add(*svc.tx_section())    when not None
#   metering.consumers.append(svc.tick); radio_port.consumers.append(svc.collector.receive)
#   svc.attach_radio(port)                                          the TX path
import array

SECTION_RX = 0x4F52  # "OR": sub-meter replay counters
SECTION_TX = 0x4F54  # "OT": own AFL counter reservation (services/oms_tx.py)


def OmsService(cfg, keys, registers, save_fn):
    """The OMS roles of cfg: an Oms (collector only) or, with "tx", an OmsTx."""
    if cfg.get("tx"):
        from meter.services.oms_tx import OmsTx
        return OmsTx(cfg, keys, registers, save_fn)
    return Oms(cfg, keys, registers, save_fn)


class Oms:
    """The collector role (or none); OmsTx adds the transmitter."""
    tx = None

    def __init__(self, cfg, keys, registers, save_fn):
        self.save_fn = save_fn
        self.collector = None
        self._seen = None
        subs = cfg.get("submeters")
        if subs:
            from meter.services.collector import Collector
            self.collector = Collector(subs, keys)
            self._seen = array.array("i", self.collector.counters.last)

    # --- persistence ------------------------------------------------------------------------
    def rx_section(self):
        c = self.collector
        if c is None:
            return None
        return SECTION_RX, 4 + 4 * len(c.counters.last), self._rx_dump, self._rx_load

    def _rx_dump(self, buf):
        buf[:] = self.collector.counters.dump()

    def _rx_load(self, buf):
        try:
            self.collector.counters.load(bytes(buf))
        except ValueError:
            return False
        return True

    def tx_section(self):
        return None

    def attach_radio(self, port):
        pass

    # --- schedule ----------------------------------------------------------------------------
    def tick(self, now):
        """Metering consumer (every meter second): save moved replay counters."""
        c = self.collector
        if c is not None:
            d = c.counters.last
            s = self._seen
            moved = False
            for i in range(len(d)):
                if s[i] != d[i]:
                    s[i] = d[i]
                    moved = True
            if moved:
                self.save_fn(now)

    # --- diagnostics (allocate; on request) ---------------------------------------------------
    def info(self):
        out = {}
        c = self.collector
        if c is not None:
            names = ("ok", "bad_mac", "replayed", "wrong_key", "unknown", "malformed")
            out["total"] = dict(zip(names, c.total))
            out["meters"] = []
            for i in range(len(c.eids)):
                m = dict(zip(names, c.meter_stats(i)))
                m["id"] = c.eids[i][3:]
                m["counter"] = c.counters.last[i]
                out["meters"].append(m)
            out["install"] = [{"id": e[0], "mfct": e[1], "type": e[2], "rssi": e[3],
                               "snd_ir": e[4]} for e in c.install]
        return out
