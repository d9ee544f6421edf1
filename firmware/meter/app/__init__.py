# App wiring: the only place that knows which services exist. It builds each service with exactly
# what it needs, connects them with plain method calls, restores the persisted state, and runs the
# asyncio tasks (thin loops that call a service on a schedule or move bytes between a board device
# and a protocol core).
#
# Schedule (meter clock, never the wall clock):
#   every meter second   metering tick (services/metering.py): AFE -> metrology (tariff split,
#                        profile, demand, billing), power quality, save policy, record flushes;
#                        then the P1 port is polled at once (its telegram carries that second)
#   P1 / optical         polled every ~10-20 ms (their own cadence and timeouts inside)
#   power-fail signal    immediate save of everything (pin irq)
#
# Simulation boards get a narrow hook object (app/sim.py: query, command, fast_forward,
# run_ticks) from main.py; the App itself has no simulation code.
import asyncio
import gc

from meter.common import events as ev
from meter.common.registers import Registers
from meter.common.files import file_crc
from meter.common.crc import crc32
from meter.cores.tariff.calendar import default_calendar, CalendarSpans
from meter.cores.tariff.engine import Tariff
from meter.cores.dsmr.builder import P1Builder
from meter.services import metrology, demand, billing, quality
from meter.services import load_profile as profile
from meter.services import storage as S
from meter.services import tariff_config
from meter.services.clock import MeterClock
from meter.services.metering import Metering
from meter.services.submeters import SettableSubmeters
from meter.services.supply import SupplyControl
from meter.services import supply as supply_mod
from meter.drivers.relay import LatchingRelay
from meter.ports.customer import CustomerPort
from meter.ports.p1 import P1Port, load_text
from meter.ports.p1_snapshot import P1SnapshotSource
from meter.ports.optical import make_optical
from meter.ports import optical_objects

SID_CLOCK = 0x434C  # "CL"
SID_P1 = 0x5031  # "P1"
SID_OPTICAL = 0x4F4C  # "OL"
SID_DLMS = 0x444C  # "DL"

# where the active calendar is looked for: the device's written copy first, then the defaults
_CALENDAR_DEFAULTS = ("config/tariff.json", "firmware/config/tariff.json")


class App:
    def __init__(self, board):
        self.board = board
        # the ports' protocol timing: a real-time clock on the sim (the meter clock may run fast or
        # stand still there), the board clock itself on a real board
        self.line_clock = getattr(board, "line_clock", None) or board.clock
        cfg = board.config
        self.ready = False
        self.registers = Registers()
        self.events = ev.EventLog(cfg.get("event_log_size", 64))
        self.config_dir = getattr(board, "config_dir", "config")
        # Boot in steps with a collection after each: the garbage of a step (the calendar parse
        # above all) is freed before the next step allocates what it keeps, so long-lived objects
        # fill the holes instead of scattering over a heap full of garbage. A 96 KB heap stays
        # unfragmented enough for the P1 frame and the UART buffers (1-1.5 KB blocks).
        rejected = self._build_clock_and_tariff()
        gc.collect()
        self._build_metering()
        self.pfail = board.pin("pfail")
        self._build_supply()
        self._build_storage()
        self._build_dlms()
        self._build_oms()
        gc.collect()
        self._restore(rejected)
        gc.collect()
        self._build_p1()
        self._build_optical()
        self._build_customer()
        gc.collect()
        self._build_update()
        self._build_radio()
        self.registers.trim()  # every register is defined by now
        gc.collect()
        self.pfail.irq(self._on_pfail)

    # ------------------------------------------------------------------ building steps
    def _load_calendar(self, spans):
        """(calendar, clock rules, crc, rejected): the first calendar file that decodes wins (the
        device's written copy, then the firmware default file), decoded part by part from the file
        (tariff_config.load_file: a small, unfragmented boot heap); a broken file is counted
        (CALENDAR_REJECTED once the event log is restored) and skipped, never half-used."""
        rejected = 0
        for path in (self.config_dir + "/" + tariff_config.ACTIVE,) + _CALENDAR_DEFAULTS:
            fc = file_crc(path, crc32)
            if fc is None:
                continue
            try:
                cal, clock_cfg = tariff_config.load_file(path, fc[1], spans)
                return cal, clock_cfg, fc[1], rejected
            except (ValueError, MemoryError, OSError) as e:
                rejected += 1
                self.board.log("tariff: %s: %s" % (path, e))
        return None, None, None, rejected

    def _build_clock_and_tariff(self):
        board = self.board
        tariff_config.recover(self.config_dir)  # finish/undo a calendar write a power cut interrupted
        spans = CalendarSpans()
        cal, clock_cfg, crc, rejected = self._load_calendar(spans)
        self.clock = MeterClock(board.clock, self.events, clock_cfg)
        self.tariff = Tariff(cal or default_calendar(), self.clock.tz, self.events, self.clock)
        # calendar files (active, passive + activation time) and their programming-mode objects
        self.tariff_cfg = tariff_config.TariffService(
            self.tariff, self.clock, self.events, self.config_dir, crc, board.log,
            board.config.get("tariff", {}).get("staging_max", tariff_config.LIMIT), spans)
        return rejected

    def _build_metering(self):
        board = self.board
        cfg = board.config
        regs = self.registers
        tz = self.clock.tz
        afe = board.afe
        if hasattr(afe, "begin"):
            afe.begin()
        self.metrology = m = metrology.Metrology(regs, afe, self.tariff, self.events, cfg.get("metrology"))
        self.demand = dm = demand.Demand(regs, m, cfg.get("demand", {"demand_period": 900,
                                                                   "demand_subperiods": 1}))
        dev = board.storage
        self.layout = L = S.layout(dev)
        self.profile = lp = profile.LoadProfile(
            regs, S.RingStore(dev, L["profile"][0], L["profile"][1], profile.RECORD, S.REGION_PROFILE),
            cfg.get("profile", {}), tz=tz)
        self.billing = bl = billing.Billing(
            regs, dm, S.RingStore(dev, L["billing"][0], L["billing"][1], billing.RECORD, S.REGION_BILLING),
            self.events, cfg.get("billing", {}), tz=tz)
        m.attach(dm)
        m.attach(lp)
        m.attach(bl)
        # power quality: sag/swell and power failure counts (after the metrology's voltage registers)
        self.quality = quality.Quality(regs, self.events, m.nph, cfg.get("quality"))

    def _build_supply(self):
        """Supply control (relay, disconnect control, limiter) and the prepayment credit."""
        board = self.board
        cfg = board.config
        scfg = cfg.get("supply", {})
        rcfg = scfg.get("relay", {})
        relay = LatchingRelay(board.pin("relay_a"), board.pin("relay_b"), board.pin("relay_fb"),
                              rcfg.get("pulse_ms", 80), rcfg.get("settle_ms", 40), rcfg.get("retries", 2))
        self.supply = sup = SupplyControl(relay, self.pfail, self.registers, self.events, self.clock,
                                          board.clock, scfg)
        sup.on_change = self.save  # every transition is durable at once
        self.credit = None
        if "prepayment" in cfg:
            self._build_credit(cfg["prepayment"])
        self.tokens = None
        if "sts" in cfg:
            self._build_tokens(cfg["sts"])

    def _build_credit(self, pcfg):
        """The prepayment account, only on a meter configured for it (its modules are not even
        imported otherwise: RAM on a small heap)."""
        from meter.services import credit as credit_mod
        from meter.cores.prepay.account import Account
        from meter.cores.prepay.friendly import FriendlyPeriods
        pcfg = dict(pcfg)
        friendly = FriendlyPeriods(pcfg.pop("friendly", None), self.clock.tz)
        currency = pcfg.pop("currency", "EUR")
        L = self.layout
        ring = S.RingStore(self.board.storage, L["credit"][0], L["credit"][1], credit_mod.TX_RECORD,
                           S.REGION_CREDIT)
        self.credit = credit_mod.CreditService(Account(pcfg), friendly, self.supply, self.registers,
                                               self.events, self.clock, ring, self.save, currency)
        self.credit_ring = ring
        self._credit_section = credit_mod.SECTION

    def _build_tokens(self, scfg):
        """STS token entry (services/tokens.py), only on a meter configured for it: the identity
        from config "sts", the decoder key from the key store (never logged)."""
        from meter.services import tokens as tokens_mod
        try:
            key = tokens_mod.key_record(scfg, self.board.keys.get(tokens_mod.KEY_NAME))
            self.tokens = tokens_mod.TokenService(scfg, key, self.credit, self.supply, self.events,
                                                  self.clock, self.save)
        except ValueError as e:  # the message names the parameter, never the key
            self.board.log("sts: disabled: %s" % e)
            return
        self._tokens_section = tokens_mod.SECTION

    def _build_storage(self):
        dev = self.board.storage
        L = self.layout
        self.store = store = S.StateStore(
            S.Journal(dev, L["state"][0], L["state"][1], record_size=S.STATE_RECORD), self.events)
        for mod, o in ((metrology, self.metrology), (demand, self.demand), (profile, self.profile),
                       (billing, self.billing)):
            store.add(mod.SECTION, o.state_size, o.dump_into, o.load_from)
        store.add(SID_CLOCK, self.clock.state_size, self.clock.dump_into, self.clock.load_from)
        self.p1_counter = S.CounterCell(self.save)
        store.add(SID_P1, self.p1_counter.size, self.p1_counter.dump_into, self.p1_counter.load_from)
        self.opt_cell = S.StateCell(8, self.save)
        store.add(SID_OPTICAL, self.opt_cell.size, self.opt_cell.dump_into, self.opt_cell.load_from)
        store.add(quality.SECTION, self.quality.state_size, self.quality.dump_into, self.quality.load_from)
        store.add(supply_mod.SECTION, self.supply.state_size, self.supply.dump_into, self.supply.load_from)
        if self.credit is not None:
            store.add(self._credit_section, self.credit.state_size, self.credit.dump_into,
                      self.credit.load_from)
        if self.tokens is not None:
            store.add(self._tokens_section, self.tokens.state_size, self.tokens.dump_into,
                      self.tokens.load_from)
        self.evstore = S.EventStore(
            S.RingStore(dev, L["events"][0], L["events"][1], S.EVENT_RECORD, S.REGION_EVENTS), self.events)
        self.metering = Metering(self.clock, self.events, self.metrology, self.quality, self.profile,
                                 self.billing, store, self.evstore,
                                 S.SavePolicy(*self.board.config.get("save_policy", (100, 900, 120))),
                                 self.tariff_cfg)
        if self.credit is not None:
            self.metering.consumers.append(self.credit.tick)
        self.metering.consumers.append(self.supply.tick)

    def _build_dlms(self):
        """The DLMS/COSEM server (ports/dlms.py, TCP wrapper), only on a meter configured for it
        (config "dlms": {"tcp_port": 4059, ...}); modules imported lazily (small heaps). Keys from
        the key store: dlms_ek, dlms_ak, dlms_kek, dlms_lls (management password),
        dlms_system_title. The invocation counters and lockout live in a state section."""
        self.dlms = None
        dcfg = self.board.config.get("dlms")
        if not dcfg:
            return
        from meter.cores.dlms.security import Keys
        from meter.cores.dlms.association import Client
        from meter.cores.dlms import apdu as A
        from meter.services import cosem_model
        from meter.ports.dlms import DlmsPort, CELL_SIZE
        bk = self.board.keys
        ident = self.board.config.get("identity", {})
        title = bk.get("dlms_system_title") or (ident.get("manufacturer", "OMT")[:3] + "\0\0\0\0\1").encode()
        lls = bk.get("dlms_lls")
        keys = Keys(title, ek=bk.get("dlms_ek"), ak=bk.get("dlms_ak"), kek=bk.get("dlms_kek"),
                    lls={cosem_model.MGMT: lls} if lls else {})
        ldn = (ident.get("manufacturer", "OMT")[:3] + ident.get("equipment_id", ""))[:16].encode()
        reg = cosem_model.build(self.registers, self.clock, self.supply, keys,
                                {"ldn": ldn, "serial": ident.get("serial", ""),
                                 "equipment_id": ident.get("equipment_id", "")}, profile=self.profile,
                                events=self.events, calendar=self.tariff_cfg, credit=self.credit)
        mechs = (A.MECH_LLS, A.MECH_GMAC) if keys.ek and keys.ak else (A.MECH_LLS,)
        clients = [Client(cosem_model.PUBLIC),
                   Client(cosem_model.MGMT, mechs=mechs, contexts=(A.CTX_LN, A.CTX_LN_CIPHERED))]
        cell = S.StateCell(CELL_SIZE, self.save)
        self.store.add(SID_DLMS, cell.size, cell.dump_into, cell.load_from)
        self.dlms = DlmsPort(reg, keys, clients, self.line_clock,
                             cell, self.events, self.clock, dcfg)

    def _restore(self, rejected):
        events = self.events
        now = self.clock.now()
        self.evstore.restore()
        for _ in range(rejected):
            events.add(now, ev.CALENDAR_REJECTED)
        status = self.store.restore(now)
        self.restore_status = status
        if status == S.LOST:
            self.profile.mark_data_not_valid()
        saved_t = self.clock.saved if self.clock.saved >= 0 else None
        self.clock.start()
        now = self.clock.now()
        if status != S.FRESH:
            events.add(now, ev.POWER_UP)
            # counts the failure; a long one (>= 3 min) is logged as LONG_POWER_FAIL with t = end of the
            # failure (now) and a = duration (from the last save: exact after a power-fail signal)
            self.quality.power_up(now, saved_t)
        self.profile.open(events, now)
        self.billing.open(events, now)
        if self.credit is not None:
            self.credit_ring.open_logged(events, now)
            self.credit.start(now)
        if self.tokens is not None:
            self.tokens.start()
        self.supply.boot(now)
        self.metrology.start(now)
        self.tariff_cfg.boot(now)
        self.clock.hooks.append(self.metering.clock_adjusted)
        self.metering.last_tick = now
        self.metering.policy.saved(now)
        if status != S.FRESH:
            self.save(now)  # the power-up's failure counts and events are durable at once

    def _build_p1(self):
        board = self.board
        pcfg = board.config.get("p1", {})
        # the OMS collector is the sub-meter source when configured (else the rig's settable one)
        self.submeters = self.oms.collector if self.oms and self.oms.collector else SettableSubmeters()
        self.p1 = None
        try:
            builder = P1Builder(pcfg.get("profile", "dsmr5"), self._p1_builder_config(pcfg))
        except ValueError as e:
            board.log("p1: disabled: %s" % e)
            return
        self.p1_source = P1SnapshotSource(
            self.registers, self.events, self.submeters, self.metering, self.tariff, self.demand,
            self.billing, emucs=builder.profile == "emucs", text=load_text(self.config_dir))
        self.p1 = P1Port(board.uart("p1"), board.pin("p1_req"), builder, self.p1_source.snapshot,
                         board.clock, counter_store=self.p1_counter if builder.needs_counter else None,
                         config=pcfg.get("service"), pace=getattr(board, "p1_pace", None))

    def _p1_builder_config(self, pcfg):
        board = self.board
        ident = board.config.get("identity", {})
        bcfg = {"equipment_id": ident.get("equipment_id", ""), "flag": ident.get("manufacturer", "OMT"),
                "ident": "\\2" + ident.get("model", "OMT"), "tz": self.clock.tz}
        for k in pcfg:
            if k not in ("profile", "service"):
                bcfg[k] = pcfg[k]
        if pcfg.get("profile") == "smarty":
            bcfg["key"] = board.keys.get("p1_key")
            bcfg["auth_key"] = board.keys.get("p1_auth")
            st = board.keys.get("p1_system_title")
            if st:
                bcfg["system_title"] = st
        return bcfg

    def _build_optical(self):
        # DLMS over HDLC in IEC 62056-21 mode E on the optical port, where DLMS is configured
        # ("dlms": {"mode_e": false} turns it off; "hdlc": {...} its HdlcLine options)
        dcfg = self.board.config.get("dlms") or {}
        hdlc = (self.dlms.hdlc(dcfg.get("hdlc")) if self.dlms is not None and dcfg.get("mode_e", True)
                else None)
        self.optical = opt = make_optical(self.board, self.registers, self.events, self.clock,
                                          persist_lockout=self.opt_cell.store, hdlc=hdlc)
        if any(self.opt_cell.data):
            try:
                opt.lockout.load(bytes(self.opt_cell.data))
            except ValueError:
                self.board.log("optical: lockout record not valid: ignored")
        self.tariff_cfg.register(opt.session.registry, self.metering.tick)
        optical_objects.register_supply(opt.session.registry, self.supply)
        if self.oms is not None and self.oms.collector is not None:
            optical_objects.register_submeters(opt.session.registry, self.oms.collector)
        if self.credit is not None:
            optical_objects.register_credit(opt.session.registry, self.credit)
        if self.tokens is not None:
            optical_objects.register_tokens(opt.session.registry, self.tokens)

    def _build_customer(self):
        board = self.board
        self.customer = CustomerPort(
            getattr(board, "display", None), getattr(board, "keypad", None), board.pin("button"),
            self.line_clock, self.clock, self.credit, self.supply,
            self.tokens, board.config.get("ui"))

    def _build_update(self):
        """Signed firmware update and the trial boot (services/update.py), only on a meter
        configured for it ("update": {"root": "fw", "trial_s": 120}): not imported otherwise."""
        self.update = None
        ucfg = self.board.config.get("update")
        if ucfg is None:
            return
        import sys
        from meter.services.update import UpdateService
        try:
            import bootsel  # the fixed boot selector beside main.py
            state = bootsel.read(ucfg.get("root", "fw"))
        except ImportError:
            state = None
        impl = sys.implementation
        want = {"board": getattr(self.board, "name", ""), "micropython": "%d.%d.%d" % impl.version[:3],
                "mpy": "%d.%d" % (impl._mpy & 0xFF, impl._mpy >> 8 & 3)}
        self.update = u = UpdateService(ucfg.get("root", "fw"), want, self.events, self.clock,
                                        keys=self.board.keys, log=self.board.log,
                                        trial_s=ucfg.get("trial_s", 120))
        u.boot(state, self.clock.now())
        u.register(self.optical.session.registry)
        if self.dlms is not None:  # image transfer (IC 18) over DLMS on the same service
            from meter.services import cosem_model
            cosem_model.add_update(self.dlms.registry, u)
        if self.p1 is not None:  # e-MUCS firmware identification lines
            try:
                self.p1.builder.set_firmware(u.legal_version, u.legal_checksum, u.version, u.manifest_id)
            except ValueError as e:  # no room under the configured max_len: telegram without them
                self.board.log("p1: %s" % e)
        self.customer.ident = (("LEGAL SW " + u.legal_version)[:16], u.legal_checksum or "NONE")
        self._health_t0 = self.metering.last_tick

    def _healthy(self):
        """The trial boot's health check: app running, metering ticking, storage restored, the
        optical port without faults (a board may veto: the rig's hung-health fault)."""
        return (self.ready and self.metering.last_tick - self._health_t0 >= 2
                and self.restore_status != S.LOST and self.optical.faults == 0
                and not getattr(self.board, "health_fault", False))

    async def _update_task(self):
        u = self.update
        bc = self.board.clock
        due = None
        while True:
            await bc.sleep_ms(1000)
            if u.trial:
                u.trial_step(self._healthy(), self.clock.now())
            if u.reset_due:
                # after the commit's ACK has left (the port's reaction time, line ticks)
                lc = self.line_clock
                if due is None:
                    due = lc.ticks_ms()
                if lc.ticks_diff(lc.ticks_ms(), due) < 1500:
                    continue
                self.save()  # registers and events durable before the reboot
                if hasattr(self.board, "reset"):
                    self.board.reset()
                else:
                    import machine
                    machine.reset()

    def _build_radio(self):
        """The wireless M-Bus receiver (ports/radio.py), only when the board config has "radio"
        (lazy import: without it no radio module is loaded). Decoded link frames go upward to
        `self.radio.consumers` (fn(frame, now)); issue 14's collector appends itself there."""
        self.radio = None
        rcfg = self.board.config.get("radio")
        if rcfg not in (None, False):  # {} enables it with the defaults
            from meter.ports.radio import RadioPort
            self.radio = RadioPort(self.board, rcfg if isinstance(rcfg, dict) else {})
            if self.oms is not None:
                if self.oms.collector is not None:
                    self.radio.consumers.append(self.oms.collector.receive)
                self.oms.attach_radio(self.radio)

    def _build_oms(self):
        """The OMS collector and own transmissions (services/oms.py, README "OMS / sub-meters"),
        only when the config has "oms" (lazy import). Replay counters and the reserved transmit
        counter are state sections; the schedule runs as a metering consumer."""
        self.oms = None
        ocfg = self.board.config.get("oms")
        if not ocfg:
            return
        from meter.services.oms import OmsService
        try:
            self.oms = o = OmsService(ocfg, self.board.keys, self.registers, self.save)
        except (ValueError, KeyError) as e:  # the message names the parameter, never a key
            self.board.log("oms: disabled: %s" % e)
            return
        for sec in (o.rx_section(), o.tx_section()):
            if sec is not None:
                self.store.add(*sec)
        self.metering.consumers.append(o.tick)

    # ------------------------------------------------------------------ service entry points
    def tick(self, now=None):
        self.metering.tick(now)

    def save(self, now=None):
        self.metering.save(now)

    def _on_pfail(self, pin):
        if pin.value():
            self.metering.power_fail()

    # ------------------------------------------------------------------ tasks
    async def _metering_task(self):
        bc = self.board.clock
        met = self.metering
        p1 = self.p1
        last = None
        while True:
            t, ms = bc.time_ms() if hasattr(bc, "time_ms") else (bc.time(), 0)
            if t != last:
                last = t
                if t != met.last_tick:  # not ticked at t yet (fast-forward and clock set tick themselves)
                    met.tick()
                if p1 is not None:
                    p1.poll()  # the telegram of second t can start now
            await bc.sleep_ms(max(10, 1000 - ms))

    async def _poll_task(self):
        opt = self.optical
        sup = self.supply
        ui = self.customer
        n = 0
        while True:
            opt.poll()  # the port's own ticks: real time on the sim (board.line_clock)
            sup.poll()  # relay pulses (board clock)
            n += 1
            if n & 1:
                ui.poll()  # keypad scan and button every 20 ms
            await asyncio.sleep_ms(10)

    async def run(self):
        for t in self.board.tasks():
            asyncio.create_task(t)
        asyncio.create_task(self._metering_task())
        if self.p1 is not None:
            asyncio.create_task(self.p1.run())
        asyncio.create_task(self._poll_task())
        if self.update is not None:
            asyncio.create_task(self._update_task())
        if self.radio is not None:
            asyncio.create_task(self.radio.run())
        if self.dlms is not None:
            asyncio.create_task(self.dlms.run())
        self.ready = True
        while True:
            await asyncio.sleep_ms(1000)
