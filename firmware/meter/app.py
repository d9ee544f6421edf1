# App wiring: the only place that knows which services exist. It builds each service with exactly
# what it needs, connects them with plain method calls, and runs the asyncio tasks (thin loops that
# call a service on a schedule or move bytes between a board device and a protocol core).
#
# Schedule (meter clock, never the wall clock):
#   every meter second   metering tick: AFE -> metrology (tariff split, profile, demand, billing),
#                        save policy (journal), event and ring flushes
#   P1 / optical         polled every ~20 ms (their own cadence and timeouts inside)
#   power-fail signal    immediate save of everything (pin irq)
#
# Fast-forward (simulation): the unix_sim board's link asks `fast_forward(ms)`; time jumps in steps
# no longer than the AFE's wrap-safe read interval and the metering tick runs once per step. The
# services split long ticks exactly at their boundaries, so a simulated year is ~35k steps.
#
# Rig hooks: query(what, args) and command(what, args) answer the unix_sim link's `get`/`set`.
import asyncio
import json
import struct

from meter import events as ev
from meter import metrology, demand, profile, billing
from meter import storage as S
from meter.registers import Registers
from meter.clock import MeterClock
from meter.tariff import Tariff, load_json, default_calendar
from meter.p1 import P1Builder, P1Snapshot
from meter.p1_service import P1Service
from meter.submeter import SettableSubmeters
from meter.optical_service import make_optical

SID_CLOCK = 0x434C  # "CL"
SID_P1 = 0x5031  # "P1"
SID_OPTICAL = 0x4F4C  # "OL"
LONG_OUTAGE_S = 180  # DSMR: a power failure longer than 3 minutes is a long one

FF_STEP_MS = 900 * 1000


def _read_text(paths):
    for p in paths:
        try:
            with open(p) as f:
                return f.read()
        except OSError:
            pass
    return None


class _Persisted:
    """A small fixed-size value kept in the state journal (P1 frame counter reservation, optical
    lockout). `save_fn` makes it durable synchronously."""

    def __init__(self, size, save_fn):
        self.data = bytearray(size)
        self.save_fn = save_fn

    def dump_into(self, buf):
        buf[:] = self.data

    def load_from(self, buf):
        self.data[:] = buf
        return True


class _CounterStore:
    def __init__(self, cell):
        self.cell = cell

    def load(self):
        return struct.unpack("<I", self.cell.data)[0]

    def reserve(self, upto):
        struct.pack_into("<I", self.cell.data, 0, upto)
        self.cell.save_fn()


class App:
    def __init__(self, board):
        self.board = board
        cfg = board.config
        self.bclock = board.clock
        self.ready = False
        self.registers = regs = Registers()
        self.events = events = ev.EventLog(cfg.get("event_log_size", 64))
        now = self.bclock.time()

        # clock and tariff (configuration: writable copy first, then the firmware default)
        cdir = getattr(board, "config_dir", "config")
        text = _read_text((cdir + "/tariff.json", "config/tariff.json", "firmware/config/tariff.json"))
        tcfg = None
        if text:
            try:
                tcfg = json.loads(text)
            except ValueError:
                tcfg = None
        self.clock = MeterClock(self.bclock, events, (tcfg or {}).get("clock"))
        cal = None
        if text:
            try:
                cal = load_json(text)
            except ValueError as e:
                board.log("tariff: %s; using the built-in default" % e)
        self.tariff = Tariff(cal or default_calendar(), self.clock.tz, events, self.clock)

        # metrology and its boundary consumers
        afe = board.afe
        if hasattr(afe, "begin"):
            afe.begin()
        self.metrology = m = metrology.Metrology(regs, afe, self.tariff, events, cfg.get("metrology"))
        self.demand = dm = demand.Demand(regs, m, cfg.get("demand", {"demand_period": 900,
                                                                   "demand_subperiods": 1}))
        dev = board.storage
        L = S.layout(dev)
        self.profile = lp = profile.LoadProfile(
            regs, S.RingStore(dev, L["profile"][0], L["profile"][1], profile.RECORD, S.REGION_PROFILE),
            cfg.get("profile", {}))
        self.billing = bl = billing.Billing(
            regs, dm, S.RingStore(dev, L["billing"][0], L["billing"][1], billing.RECORD, S.REGION_BILLING),
            events, cfg.get("billing", {}))
        m.attach(dm)
        m.attach(lp)
        m.attach(bl)

        # persistence
        self.store = store = S.StateStore(
            S.Journal(dev, L["state"][0], L["state"][1], record_size=S.STATE_RECORD), events)
        for mod, o in ((metrology, m), (demand, dm), (profile, lp), (billing, bl)):
            store.add(mod.SECTION, o.state_size, o.dump_into, o.load_from)
        store.add(SID_CLOCK, self.clock.state_size, self.clock.dump_into, self.clock.load_from)
        self.p1_cell = _Persisted(4, self.save)
        store.add(SID_P1, 4, self.p1_cell.dump_into, self.p1_cell.load_from)
        self.opt_cell = _Persisted(8, self.save)
        store.add(SID_OPTICAL, 8, self.opt_cell.dump_into, self.opt_cell.load_from)
        self.evstore = S.EventStore(
            S.RingStore(dev, L["events"][0], L["events"][1], S.EVENT_RECORD, S.REGION_EVENTS), events)
        self.policy = S.SavePolicy(*cfg.get("save_policy", (100, 900, 120)))

        # restore
        self.evstore.restore()
        status = store.restore(now)
        self.restore_status = status
        if status == S.LOST:
            lp.mark_data_not_valid()
        saved_t = self.clock.saved if self.clock.saved >= 0 else None
        self.clock.start()
        now = self.clock.now()
        if status != S.FRESH:
            events.add(now, ev.POWER_UP)
            if saved_t is not None and now - saved_t >= LONG_OUTAGE_S:
                events.add(now, ev.LONG_POWER_FAIL, now - saved_t)
        lp.open(events, now)
        bl.open(events, now)
        m.start(now)
        self.tariff.resync(now)
        self.clock.hooks.append(self._clock_adjusted)

        # P1
        pcfg = cfg.get("p1", {})
        self.submeters = SettableSubmeters()
        self.p1_text = b""
        self.p1 = None
        self._snap = P1Snapshot(regs, events, self.submeters)
        try:
            self.p1 = self._make_p1(pcfg)
        except ValueError as e:
            board.log("p1: disabled: %s" % e)

        # optical port
        self.optical = make_optical(board, regs, events, meter_clock=self.clock)
        lock = self.optical.session.lockout if hasattr(self.optical, "session") else None
        lock = getattr(self.optical, "lockout", lock)
        self._lockout = lock
        if lock is not None:
            if any(self.opt_cell.data):
                try:
                    lock.load(bytes(self.opt_cell.data))
                except ValueError:
                    pass
            lock.on_change = self._lockout_changed

        # power-fail signal
        self.pfail = board.pin("pfail")
        self.pfail.irq(self._on_pfail)
        self._last_tick = now
        self.policy.saved(now)
        board.app = self

    # ------------------------------------------------------------------ wiring helpers
    def _make_p1(self, pcfg):
        board = self.board
        ident = board.config.get("identity", {})
        profile_name = pcfg.get("profile", "dsmr5")
        bcfg = {"equipment_id": ident.get("equipment_id", ""), "flag": ident.get("manufacturer", "OMT"),
                "ident": "\\2" + ident.get("model", "OMT"), "tz": self.clock.tz}
        for k in pcfg:
            if k not in ("profile", "service"):
                bcfg[k] = pcfg[k]
        if profile_name == "smarty":
            bcfg["key"] = board.keys.get("p1_key")
            bcfg["auth_key"] = board.keys.get("p1_auth")
            st = board.keys.get("p1_system_title")
            if st:
                bcfg["system_title"] = st
        builder = P1Builder(profile_name, bcfg)
        store = _CounterStore(self.p1_cell) if builder.needs_counter else None
        return P1Service(board.uart("p1"), board.pin("p1_req"), builder, self._p1_snapshot, board.clock,
                         counter_store=store, config=pcfg.get("service"))

    def _p1_snapshot(self, t):
        s = self._snap
        s.t = t
        s.text = self.p1_text
        s.tariff = self.tariff.rate_at(t)
        return s

    def _lockout_changed(self):
        self.opt_cell.data[:] = self._lockout.dump(self.bclock.ticks_ms())
        self.save()

    def _clock_adjusted(self, old, new):
        self.metrology.tick(old)
        self.metrology.clock_adjusted(old, new)
        self._last_tick = new

    # ------------------------------------------------------------------ metering
    def tick(self, now=None):
        """One metering tick at meter second `now` (default: the clock): energy, boundaries, and
        the save policy."""
        m = self.metrology
        if now is None:
            now = self.clock.now()
        m.tick(now)
        self._last_tick = now
        self.profile.flush()
        self.billing.flush()
        if self.policy.due(now, m.wh_since_save):
            self.save(now)

    def save(self, now=None):
        if now is None:
            now = self.clock.now()
        self.store.save(now)
        self.evstore.flush()
        self.metrology.wh_since_save = 0
        self.policy.saved(now)

    def _on_pfail(self, pin):
        if not pin.value():
            return
        now = self.clock.now()
        self.events.add(now, ev.POWER_DOWN)
        self.metrology.tick(now)
        self.metrology.power_fail(now)
        self.profile.flush()
        self.billing.flush()
        self.save(now)

    def fast_forward(self, ms):
        """Simulation: jump virtual time `ms` forward, ticking the metering in steps."""
        step = FF_STEP_MS
        sim = getattr(self.board, "afe_sim", None)
        if sim is not None and hasattr(sim, "max_step_ms"):
            step = max(1000, min(step, sim.max_step_ms()))
        bc = self.bclock
        while ms > 0:
            d = min(step, ms)
            bc.jump(d)
            ms -= d
            self.tick()

    # ------------------------------------------------------------------ tasks
    async def _metering_task(self):
        bc = self.bclock
        last = None
        while True:
            t, ms = bc.time_ms() if hasattr(bc, "time_ms") else (bc.time(), 0)
            if t != last:
                last = t
                self.tick()
            await bc.sleep_ms(max(10, 1000 - ms))

    async def _poll_task(self):
        bc = self.bclock
        opt = self.optical
        while True:
            opt.poll(bc.ticks_ms())
            await asyncio.sleep_ms(10)

    async def run(self):
        for t in self.board.tasks():
            asyncio.create_task(t)
        asyncio.create_task(self._metering_task())
        if self.p1 is not None:
            asyncio.create_task(self.p1.run())
        asyncio.create_task(self._poll_task())
        self.ready = True
        while True:
            await asyncio.sleep_ms(1000)

    # ------------------------------------------------------------------ rig hooks (unix_sim)
    def query(self, what, args):
        if what == "status":
            return {"ready": self.ready, "time": self.clock.now(), "valid": self.clock.valid,
                    "restore": self.restore_status, "saves": self.store.saves}
        if what == "registers":
            r = self.registers
            return {r.codes[i]: [r.values[i], r.scalers[i], r.units[i]] for i in range(len(r))}
        if what == "energy":
            wh, rem, n, d = self.metrology.energy(args[0])
            return [wh, rem, n, d]
        if what == "rate":
            return self.tariff.rate_at(self.clock.now())
        if what == "time":
            t = self.clock.now()
            return {"t": t, "valid": self.clock.valid, "dst": self.clock.dst(t), "iso": self.clock.iso(t)}
        if what == "events":
            e = self.events
            return [list(e.get(k)) for k in range(len(e))]
        if what == "profile":
            lp = self.profile
            n = lp.count()
            k0 = int(args[0]) if args else 0
            k1 = min(n, int(args[1]) if len(args) > 1 else k0 + 1)
            return [list(lp.get(k)) for k in range(k0, k1)]
        if what == "demand":
            return [list(self.demand.max_demand(ch)) for ch in (0, 1)]
        if what == "billing":
            k = int(args[0]) if args else 0
            r = self.billing.get(k)
            return None if r is None else list(r) if not isinstance(r, dict) else r
        if what == "p1":
            p = self.p1
            return None if p is None else {"sent": p.sent, "late": p.late, "fc": getattr(p, "fc", None)}
        return None

    def command(self, what, args):
        if what == "save":
            self.save()
            return True
        if what == "settime":
            self.clock.set(int(args[0]), "sync")
            return self.clock.now()
        if what == "text":
            import binascii
            self.p1_text = binascii.unhexlify(args[0]) if args else b""
            return len(self.p1_text)
        if what == "submeter":
            # channel device_type equipment_id capture_time value scaler unit
            ch, dt, eid, t, v, sc, unit = args[:7]
            self.submeters.set(int(ch), int(dt), eid, int(t), int(v), int(sc), unit)
            return True
        return None
