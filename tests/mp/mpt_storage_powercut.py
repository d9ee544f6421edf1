# The storage wiring of STORAGE.md under random power cuts (in a save, in an erase ahead, in a ring
# append, or between saves), with the full stack: metrology, demand, load profile, billing, state
# journal, event store. After every restart the energy state must be exactly the one of the last
# completed save (no rollback, loss <= one save interval), never reported as corrupt or lost, and the
# load profile / billing rings must still read back.
# mp-heap: 2M
from meter.common.registers import Registers
from meter.common.events import EventLog
from meter.common import events as ev
from meter.services.metrology import Metrology
from meter.services import metrology, demand, billing
from meter.services import load_profile as profile
from meter.services.demand import Demand
from meter.services.load_profile import LoadProfile
from meter.services.billing import Billing
from meter.services import storage as S
import flash_fakes as F  # noqa: E402
from meter.common import timeutil
from meter.drivers import afe as A
from mptest import eq
from mpt_metrology_fakes import Rng, ScriptDriver, SwitchTariff

N = 11


class Meter:
    def __init__(self, dev, now):
        self.regs = regs = Registers()
        self.log = log = EventLog(64)
        self.drv = ScriptDriver(3, True, N, 1)
        self.m = m = Metrology(regs, self.drv, SwitchTariff(3600, 4), log, {"rates": 4})
        self.dm = dm = Demand(regs, m, {"demand_subperiods": 3})
        L = S.layout(dev)
        self.lp = lp = LoadProfile(regs, S.RingStore(dev, L["profile"][0], L["profile"][1], profile.RECORD,
                                                     S.REGION_PROFILE))
        self.bl = bl = Billing(regs, dm, S.RingStore(dev, L["billing"][0], L["billing"][1], billing.RECORD,
                                                     S.REGION_BILLING), log)
        m.attach(dm)
        m.attach(lp)
        m.attach(bl)
        self.store = st = S.StateStore(S.Journal(dev, L["state"][0], L["state"][1], S.STATE_RECORD), log)
        st.add(metrology.SECTION, m.state_size, m.dump_into, m.load_from)
        st.add(demand.SECTION, dm.state_size, dm.dump_into, dm.load_from)
        st.add(profile.SECTION, lp.state_size, lp.dump_into, lp.load_from)
        st.add(billing.SECTION, bl.state_size, bl.dump_into, bl.load_from)
        self.evs = S.EventStore(S.RingStore(dev, L["events"][0], L["events"][1], S.EVENT_RECORD,
                                            S.REGION_EVENTS), log)
        self.evs.restore()
        self.status = st.restore(now)
        lp.open(log, now)
        bl.open(log, now)
        log.add(now, ev.POWER_UP)
        m.start(now)
        self.policy = S.SavePolicy(wh_threshold=50, max_seconds=600, min_seconds=30)
        self.policy.saved(now)

    def units(self, code):
        wh, rem, n, d = self.m.energy(code)
        return wh * n + rem

    def snapshot(self):
        return [self.units(c) for c in self.m.acc_obis]

    def save(self, now):
        self.store.save(now)
        self.evs.flush()
        self.m.wh_since_save = 0
        self.policy.saved(now)


def test_random_power_cuts_full_stack():
    dev = F.RamFlash(256 * 1024, 4096)
    rng = Rng(2024)
    now = timeutil.to_secs(2024, 3, 30, 18)
    meter = Meter(dev, now)
    eq(meter.status, S.FRESH)
    saved = meter.snapshot()  # state of the last completed save (all zero at first start)
    cuts = 0
    restores = 0
    while cuts < 120:
        # run for a while: 1-s ticks, sometimes a long (fast-forward) tick
        for _ in range(rng.below(400)):
            dt = 900 if rng.below(50) == 0 else 1
            for ph in range(3):
                meter.drv.next[ph * A.EK + A.E_IMP] = rng.below(200)
                meter.drv.next[ph * A.EK + A.E_QPOS] = rng.below(30)
                if rng.below(10) == 0:
                    meter.drv.next[ph * A.EK + A.E_EXP] = rng.below(300)
            now += dt
            meter.m.tick(now)
            meter.lp.flush()
            meter.bl.flush()
            if meter.policy.due(now, meter.m.wh_since_save):
                meter.save(now)
                saved = meter.snapshot()
        # power cut: with or without the power-fail save, at a random byte of the next flash writes
        inflight = None
        dev.cut_after = rng.below(2000)
        dev.cut_bits = rng.pick((0xFF, 0x00, 0x5A))
        dev.erase_cut = rng.below(8) == 0
        try:
            if rng.below(2):
                meter.log.add(now, ev.POWER_DOWN)
                meter.m.power_fail(now)
                inflight = meter.snapshot()
                meter.save(now)
                saved = meter.snapshot()
                inflight = None
                meter.lp.flush()
                meter.bl.flush()
            # the cut falls somewhere later (or hits nothing)
        except F.PowerCut:
            pass
        dev.cut_after = -1
        dev.erase_cut = False
        cuts += 1
        now += 1 + rng.below(4000)
        meter = Meter(dev, now)
        restores += 1
        got = meter.snapshot()
        if got != saved:
            # the only other acceptable state: the save that was cut had in fact completed
            eq(got, inflight, "restored state after cut %d" % cuts)
            saved = inflight
        assert meter.status in (S.OK, S.RECOVERED), meter.status
        eq(meter.log.count_code(ev.STORAGE_CORRUPT), 0)
        eq(meter.log.count_code(ev.REGISTERS_LOST), 0)
        eq(meter.store.missing, [])
        eq(meter.store.rejected, [])
        # rate registers still sum exactly to the totals
        for tot, fmt in (("1-0:1.8.0", "1-0:1.8.%d"), ("1-0:2.8.0", "1-0:2.8.%d")):
            eq(sum(meter.units(fmt % r) for r in range(1, 5)), meter.units(tot))
        assert meter.lp.get(0) is not None or meter.lp.count() == 0
    eq(restores, 120)
    assert meter.lp.count() > 10
    assert meter.regs.value("1-0:1.8.0") > 1000
