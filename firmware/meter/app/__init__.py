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

from meter.common import events as ev
from meter.services import metrology, demand, billing
from meter.services import load_profile as profile
from meter.services import storage as S
from meter.common.registers import Registers
from meter.services.clock import MeterClock
from meter.cores.tariff.engine import Tariff, load_json, default_calendar
from meter.cores.dsmr.builder import P1Builder, P1Snapshot
from meter.ports.p1 import P1Service, load_text, save_text, TEXT_MAX
from meter.services.submeters import SettableSubmeters
from meter.ports.optical import make_optical
from meter.services import tariff_config as tariff_service
from meter.services import quality

SID_CLOCK = 0x434C  # "CL"
SID_P1 = 0x5031  # "P1"
SID_OPTICAL = 0x4F4C  # "OL"
FF_STEP_MS = 900 * 1000


def _read_text(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
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
        tariff_service.recover(cdir)  # finish/undo a calendar write a power cut interrupted
        # The first calendar that parses wins: the device's written copy, then the firmware's
        # default file; a broken file is logged (CALENDAR_REJECTED) and skipped, never half-used.
        text = cal = None
        rejected = 0
        for path in (cdir + "/tariff.json", "config/tariff.json", "firmware/config/tariff.json"):
            t = _read_text(path)
            if t is None:
                continue
            try:
                cal = load_json(t)
                text = t
                break
            except (ValueError, MemoryError) as e:
                rejected += 1  # logged once the event log is restored
                board.log("tariff: %s: %s" % (path, e))
        tcfg = None
        if text:
            try:
                tcfg = json.loads(text)
            except ValueError:
                tcfg = None
        self.clock = MeterClock(self.bclock, events, (tcfg or {}).get("clock"))
        self.tariff = Tariff(cal or default_calendar(), self.clock.tz, events, self.clock)
        # calendar files (active, passive + activation time) and their programming-mode objects
        self.tariff_svc = tariff_service.TariffService(
            self.tariff, self.clock, events, cdir, text, board.log,
            cfg.get("tariff", {}).get("staging_max", tariff_service.LIMIT))

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
        # power quality: sag/swell and power failure counts (after the metrology's voltage registers)
        self.quality = quality.Quality(regs, events, m.nph, cfg.get("quality"))

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
        store.add(quality.SECTION, self.quality.state_size, self.quality.dump_into, self.quality.load_from)
        self.evstore = S.EventStore(
            S.RingStore(dev, L["events"][0], L["events"][1], S.EVENT_RECORD, S.REGION_EVENTS), events)
        self.policy = S.SavePolicy(*cfg.get("save_policy", (100, 900, 120)))

        # restore
        self.evstore.restore()
        for _ in range(rejected):
            events.add(now, ev.CALENDAR_REJECTED)
        status = store.restore(now)
        self.restore_status = status
        if status == S.LOST:
            lp.mark_data_not_valid()
        saved_t = self.clock.saved if self.clock.saved >= 0 else None
        self.clock.start()
        now = self.clock.now()
        if status != S.FRESH:
            events.add(now, ev.POWER_UP)
            # counts the failure; a long one (>= 3 min) is logged as LONG_POWER_FAIL with t = end of the
            # failure (now) and a = duration (from the last save: exact after a power-fail signal)
            self.quality.power_up(now, saved_t)
        lp.open(events, now)
        bl.open(events, now)
        m.start(now)
        self.tariff.resync(now)
        self.tariff_svc.boot(now)
        self.clock.hooks.append(self._clock_adjusted)

        # P1
        pcfg = cfg.get("p1", {})
        self.submeters = SettableSubmeters()
        self.p1_text = load_text(cdir)  # the stored text message (DSMR: kept until replaced)
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
        if hasattr(self.optical, "session"):
            self.tariff_svc.register(self.optical.session.registry, self.optical.session, self.tick)

        # power-fail signal
        self.pfail = board.pin("pfail")
        self.pfail.irq(self._on_pfail)
        self._last_tick = now
        self.policy.saved(now)
        if status != S.FRESH:
            self.save(now)  # the power-up's failure counts and events are durable at once
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
        self._emucs = profile_name == "emucs"  # e-MUCS: monthly maximum demand and its history
        self._dm = [0, 0]
        self._dh = []
        self._dh_n = -1
        store = _CounterStore(self.p1_cell) if builder.needs_counter else None
        return P1Service(board.uart("p1"), board.pin("p1_req"), builder, self._p1_snapshot, board.clock,
                         counter_store=store, config=pcfg.get("service"))

    def _p1_snapshot(self, t):
        if t > self._last_tick:
            self.tick(t)  # the registers of second t, whichever task woke first at the boundary
        s = self._snap
        s.t = t
        s.text = self.p1_text
        s.tariff = self.tariff.rate_at(t)
        if self._emucs:
            self._p1_demand(s)
        return s

    def _p1_demand(self, s):
        """e-MUCS 1-0:1.6.0 (this month's maximum demand, from the demand service) and 0-0:98.1.0
        (the 13 last months' maxima, from the billing snapshots; re-read only when the billing
        counter changes)."""
        w, tm = self.demand.max_demand(0)
        dm = self._dm
        dm[0] = tm
        dm[1] = w
        s.demand_month = dm if tm > 0 else None
        bl = self.billing
        n = self.registers.values[bl.s_counter]
        if n != self._dh_n:
            self._dh_n = n
            dh = self._dh
            dh.clear()
            for k in range(13):
                r = bl.get(k)
                if r is None:
                    break
                mi, ti = r[3]
                dh.append((r[0], ti if ti > 0 else r[0], mi))
        s.demand_hist = self._dh

    def _lockout_changed(self):
        rec = getattr(self.optical, "lockout_record", None)  # dumped at the port's own ticks
        self.opt_cell.data[:] = rec() if rec else self._lockout.dump(self.bclock.ticks_ms())
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
        self.quality.tick(now)
        self._last_tick = now
        lp = self.profile
        bl = self.billing
        # A profile or billing boundary passed in this tick: save the state first, then write the
        # records. A cut in between loses the record (the next interval difference covers it); the
        # other order would let a restore from an older state close the interval a second time.
        if lp.npend or bl.npend or self.policy.due(now, m.wh_since_save):
            self.save(now)
        lp.flush()
        bl.flush()

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
        self.metrology.power_fail(now)  # ticks to `now` and flags the profile interval
        self.save(now)  # state first, then the records (see tick())
        self.profile.flush()
        self.billing.flush()

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

    def run_ticks(self, ms, tick_ms=1000):
        """Simulation: move virtual time `ms` forward with a metering tick at every virtual-ms
        multiple of `tick_ms` on the way (ticks stay on the tick grid even when `ms` is not a
        multiple of it). The unix_sim `sched` command calls this once per load segment."""
        bc = self.bclock
        v = bc.sim_ms()
        end = v + ms
        nxt = (v // tick_ms + 1) * tick_ms
        tick = self.tick
        while nxt <= end:
            bc.jump(nxt - v)
            v = nxt
            nxt += tick_ms
            tick()
        if end > v:
            bc.jump(end - v)

    # ------------------------------------------------------------------ tasks
    async def _metering_task(self):
        bc = self.bclock
        last = None
        while True:
            t, ms = bc.time_ms() if hasattr(bc, "time_ms") else (bc.time(), 0)
            if t != last:
                last = t
                if t != self._last_tick:  # not ticked at t yet (fast-forward and clock set tick themselves)
                    self.tick()
            await bc.sleep_ms(max(10, 1000 - ms))

    async def _poll_task(self):
        opt = self.optical
        while True:
            opt.poll()  # the port's own ticks: real time on the sim (board.line_clock)
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
        if what == "tariff":
            return self.tariff_svc.info()
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
        if what == "optical":
            st = getattr(self.optical, "status", None)
            return st() if st else None
        if what == "energies":
            # every energy accumulator, exact: {obis: [wh, rem]} (value = wh + rem / N Wh)
            m = self.metrology
            return {o: list(m.energy(o)[:2]) for o in m.acc_obis}
        if what == "mem":
            # heap after a full collection (memory tests): free / allocated bytes, metering ticks
            import gc
            gc.collect()
            return {"free": gc.mem_free(), "alloc": gc.mem_alloc(), "ticks": self.metrology.ticks,
                    "saves": self.store.saves, "profile": self.profile.records}
        if what == "p1":
            p = self.p1
            return None if p is None else {"sent": p.sent, "late": p.late, "fc": getattr(p, "fc", None)}
        if what == "p1_info":
            return self._p1_info()
        if what == "quality":
            q = self.quality
            return {"limits": [q.sag_v, q.swell_v, q.hyst, q.min_s, q.fail_v, q.long_s],
                    "state": [list(q.state(ph)) for ph in range(1, q.nph + 1)]}
        return None

    def _p1_info(self):
        """Rig hook: what the P1 telegram is built from besides the registers, and diagnostics."""
        import binascii
        p = self.p1
        if p is None:
            return None
        b = p.builder
        subs = [[c[0], c[1], c[2] if isinstance(c[2], str) else c[2].decode(), c[3], c[4], c[5], c[6]]
                for c in self.submeters.channels()]
        return {"profile": b.profile, "period": p.period, "sent": p.sent, "late": p.late, "fc": p.fc,
                "len": p.last_len, "build_ms": p.last_build_ms, "stopped": p.stopped,
                "errors": [p.build_errors, p.reserve_errors, p.write_errors],
                "text": binascii.hexlify(self.p1_text).decode(), "submeters": subs,
                "rate": self.tariff.rate_at(self.clock.now()),
                "dropped": [b.dropped_mbus, b.dropped_log, b.truncated_text, b.bad_mbus],
                "demand_month": list(self._dm) if self._emucs else None,
                "demand_hist": [list(e) for e in self._dh] if self._emucs else None}

    def command(self, what, args):
        if what == "save":
            self.save()
            return True
        if what == "settime":
            self.clock.set(int(args[0]), "sync")
            return self.clock.now()
        if what == "text":
            import binascii
            try:
                text = binascii.unhexlify(args[0]) if args else b""
            except ValueError:
                return {"error": "text: not a hex string"}
            if len(text) > TEXT_MAX:
                return {"error": "text: longer than %d characters" % TEXT_MAX}
            try:
                save_text(getattr(self.board, "config_dir", "config"), text)
            except OSError as e:
                self.board.log("p1: text message not stored: %s" % e)
            self.p1_text = text
            return len(self.p1_text)
        if what == "submeter":
            # channel device_type equipment_id capture_time value scaler unit
            # ("-" for an empty equipment id); a bad reading is refused and changes nothing
            try:
                ch, dt, eid, t, v, sc, unit = args[:7]
                self.submeters.set(int(ch), int(dt), "" if eid == "-" else eid, int(t), int(v), int(sc), unit)
            except ValueError as e:
                return {"error": "submeter: %s" % e}
            return True
        return None
