# What a P1 telegram is built from: a P1Snapshot (cores/dsmr) refreshed in place from the meter's
# services, never by running the meter. The registers are those of the latest metering tick; the
# P1 port waits until that tick covers the telegram's second (snapshot() returns None before).
#
#   src = P1SnapshotSource(registers, events, submeters, metering, tariff, demand, billing,
#                          emucs=False)
#   src.snapshot(t)   the snapshot for meter second t, or None while metering.last_tick < t
#   src.text          the stored text message (0-0:96.13.0), set by the owner
#   src.demand_month / src.demand_hist   e-MUCS 1-0:1.6.0 and 0-0:98.1.0 (for diagnostics)
from meter.cores.dsmr.snapshot import P1Snapshot


class P1SnapshotSource:
    def __init__(self, registers, events, submeters, metering, tariff, demand, billing,
                 emucs=False, text=b""):
        self.snap = P1Snapshot(registers, events, submeters)
        self.regs = registers
        self.metering = metering
        self.tariff = tariff
        self.demand = demand
        self.billing = billing
        self.emucs = emucs  # e-MUCS: monthly maximum demand and its history
        self.text = text
        self.demand_month = [0, 0]
        self.demand_hist = []
        self._hist_n = -1

    def snapshot(self, t):
        if self.metering.last_tick < t:
            return None  # the registers of second t are not there yet
        s = self.snap
        s.t = t
        s.text = self.text
        s.tariff = self.tariff.rate_at(t)
        if self.emucs:
            self._demand(s)
        return s

    def _demand(self, s):
        """e-MUCS 1-0:1.6.0 (this month's maximum demand, from the demand service) and 0-0:98.1.0
        (the 13 last months' maxima, from the billing snapshots; re-read only when the billing
        counter changes)."""
        w, tm = self.demand.max_demand(0)
        dm = self.demand_month
        dm[0] = tm
        dm[1] = w
        s.demand_month = dm if tm > 0 else None
        bl = self.billing
        n = self.regs.values[bl.s_counter]
        if n != self._hist_n:
            self._hist_n = n
            dh = self.demand_hist
            dh.clear()
            for k in range(13):
                r = bl.get(k)
                if r is None:
                    break
                mi, ti = r[3]
                dh.append((r[0], ti if ti > 0 else r[0], mi))
        s.demand_hist = self.demand_hist
