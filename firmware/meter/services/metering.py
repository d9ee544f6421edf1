# Metering: the one-second metering tick and its persistence, composed from the metering services
# (metrology with its boundary consumers demand, load profile and billing; power quality), the
# state journal and the tariff configuration.
#
#   m = Metering(clock, events, metrology, quality, profile, billing, store, evstore, policy,
#                tariff_cfg)
#   m.tick(now=None)        one metering tick at meter second now (default: the clock)
#   m.save(now=None)        journal every state section, flush the event ring
#   m.power_fail()          the power-fail signal: tick to now, flag the profile, save at once
#   m.clock_adjusted(old, new)   MeterClock hook: energy until `old` in the old time, then new
#   m.last_tick             meter second of the latest tick (ports read the registers of it)
#   m.consumers             services ticked after the metrology, before persistence (credit,
#                           supply control): fn(now), in order
#
# Order inside a tick: energy (metrology: tariff split, demand, profile, billing boundaries),
# power quality, the consumers of the registers (credit, supply control), then persistence, so the
# state journal always holds registers and credit of the same instant. A profile or billing boundary passed in this tick: the state is
# saved first, then the records are written. A cut in between loses the record (the next interval
# difference covers it); the other order would let a restore from an older state close the
# interval a second time. Afterwards the tariff configuration persists a calendar promotion that
# happened inside the tick (the rate engine itself never touches storage).
from meter.common import events as ev


class Metering:
    def __init__(self, clock, events, metrology, quality, profile, billing, store, evstore, policy,
                 tariff_cfg=None):
        self.clock = clock
        self.events = events
        self.metrology = metrology
        self.quality = quality
        self.profile = profile
        self.billing = billing
        self.store = store
        self.evstore = evstore
        self.policy = policy
        self.tariff_cfg = tariff_cfg
        self.consumers = []
        self.last_tick = clock.now()

    def tick(self, now=None):
        m = self.metrology
        if now is None:
            now = self.clock.now()
        m.tick(now)
        self.quality.tick(now)
        for c in self.consumers:
            c(now)
        self.last_tick = now
        lp = self.profile
        bl = self.billing
        if lp.npend or bl.npend or self.policy.due(now, m.wh_since_save):
            self.save(now)
        lp.flush()
        bl.flush()
        if self.tariff_cfg is not None:
            self.tariff_cfg.after_tick()

    def save(self, now=None):
        if now is None:
            now = self.clock.now()
        self.store.save(now)
        self.evstore.flush()
        self.metrology.wh_since_save = 0
        self.policy.saved(now)

    def power_fail(self):
        now = self.clock.now()
        self.events.add(now, ev.POWER_DOWN)
        self.metrology.power_fail(now)  # ticks to `now` and flags the profile interval
        self.save(now)  # state first, then the records (see the module comment)
        self.profile.flush()
        self.billing.flush()

    def clock_adjusted(self, old, new):
        self.metrology.tick(old)
        self.metrology.clock_adjusted(old, new)
        self.last_tick = new
