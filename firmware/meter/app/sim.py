# Simulation hooks: the narrow interface a simulation board (unix_sim) drives the app through. Not
# part of a product image: main.py attaches it only to a board that has `attach()`.
#
#   hooks = SimHooks(app); board.attach(hooks)
#   hooks.query(what, args)    -> JSON-able answer of the rig's `get <what>` (diagnostics, registers)
#   hooks.command(what, args)  -> JSON-able answer of the rig's `set <what>` (save, settime, text,
#                                 submeter, p1_pace)
#   hooks.fast_forward(ms)     jump virtual time, ticking the metering in steps
#   hooks.run_ticks(ms, tick_ms)  move virtual time with a tick at every multiple of tick_ms
#
# Fast-forward: time jumps in steps no longer than the AFE's wrap-safe read interval and the
# metering tick runs once per step. The services split long ticks exactly at their boundaries, so
# a simulated year is ~35k steps.
import binascii
import gc

from meter.ports.p1 import save_text, TEXT_MAX

FF_STEP_MS = 900 * 1000


class SimHooks:
    def __init__(self, app):
        self.app = app

    # ------------------------------------------------------------------ virtual time
    def fast_forward(self, ms):
        """Jump virtual time `ms` forward, ticking the metering in steps."""
        app = self.app
        step = FF_STEP_MS
        sim = getattr(app.board, "afe_sim", None)
        if sim is not None and hasattr(sim, "max_step_ms"):
            step = max(1000, min(step, sim.max_step_ms()))
        bc = app.board.clock
        tick = app.metering.tick
        while ms > 0:
            d = min(step, ms)
            bc.jump(d)
            ms -= d
            tick()

    def run_ticks(self, ms, tick_ms=1000):
        """Move virtual time `ms` forward with a metering tick at every virtual-ms multiple of
        `tick_ms` on the way (ticks stay on the tick grid even when `ms` is not a multiple of it).
        The unix_sim `sched` command calls this once per load segment."""
        bc = self.app.board.clock
        v = bc.sim_ms()
        end = v + ms
        nxt = (v // tick_ms + 1) * tick_ms
        tick = self.app.metering.tick
        while nxt <= end:
            bc.jump(nxt - v)
            v = nxt
            nxt += tick_ms
            tick()
        if end > v:
            bc.jump(end - v)

    # ------------------------------------------------------------------ queries
    def query(self, what, args):
        f = getattr(self, "_q_" + what, None)
        return f(args) if f is not None else None

    def _q_status(self, args):
        a = self.app
        return {"ready": a.ready, "time": a.clock.now(), "valid": a.clock.valid,
                "restore": a.restore_status, "saves": a.store.saves}

    def _q_registers(self, args):
        r = self.app.registers
        return {r.codes[i]: [r.values[i], r.scalers[i], r.units[i]] for i in range(len(r))}

    def _q_energy(self, args):
        wh, rem, n, d = self.app.metrology.energy(args[0])
        return [wh, rem, n, d]

    def _q_tariff(self, args):
        return self.app.tariff_cfg.info()

    def _q_rate(self, args):
        a = self.app
        return a.tariff.rate_at(a.clock.now())

    def _q_time(self, args):
        c = self.app.clock
        t = c.now()
        return {"t": t, "valid": c.valid, "dst": c.dst(t), "iso": c.iso(t)}

    def _q_events(self, args):
        e = self.app.events
        return [list(e.get(k)) for k in range(len(e))]

    def _q_profile(self, args):
        lp = self.app.profile
        n = lp.count()
        k0 = int(args[0]) if args else 0
        k1 = min(n, int(args[1]) if len(args) > 1 else k0 + 1)
        return [list(lp.get(k)) for k in range(k0, k1)]

    def _q_demand(self, args):
        return [list(self.app.demand.max_demand(ch)) for ch in (0, 1)]

    def _q_billing(self, args):
        k = int(args[0]) if args else 0
        r = self.app.billing.get(k)
        return None if r is None else list(r) if not isinstance(r, dict) else r

    def _q_optical(self, args):
        return self.app.optical.status()

    def _q_energies(self, args):
        # every energy accumulator, exact: {obis: [wh, rem]} (value = wh + rem / N Wh)
        m = self.app.metrology
        return {o: list(m.energy(o)[:2]) for o in m.acc_obis}

    def _q_mem(self, args):
        # heap after a full collection (memory tests): free / allocated bytes, metering ticks
        a = self.app
        gc.collect()
        return {"free": gc.mem_free(), "alloc": gc.mem_alloc(), "ticks": a.metrology.ticks,
                "saves": a.store.saves, "profile": a.profile.records}

    def _q_modules(self, args):
        # which of the named modules are loaded (lazy-import checks: an unconfigured service is
        # not imported)
        import sys
        return [k for k in args if k in sys.modules]

    def _q_p1(self, args):
        p = self.app.p1
        return None if p is None else {"sent": p.sent, "late": p.late, "fc": p.fc}

    def _q_p1_info(self, args):
        """What the P1 telegram is built from besides the registers, and diagnostics."""
        a = self.app
        p = a.p1
        if p is None:
            return None
        b = p.builder
        src = a.p1_source
        subs = [[c[0], c[1], c[2] if isinstance(c[2], str) else c[2].decode(), c[3], c[4], c[5], c[6]]
                for c in a.submeters.channels()]
        return {"profile": b.profile, "period": p.period, "sent": p.sent, "late": p.late, "fc": p.fc,
                "len": p.last_len, "build_ms": p.last_build_ms, "stopped": p.stopped,
                "errors": [p.build_errors, p.reserve_errors, p.write_errors],
                "text": binascii.hexlify(src.text).decode(), "submeters": subs,
                "rate": a.tariff.rate_at(a.clock.now()),
                "dropped": [b.dropped_mbus, b.dropped_log, b.truncated_text, b.bad_mbus],
                "demand_month": list(src.demand_month) if src.emucs else None,
                "demand_hist": [list(e) for e in src.demand_hist] if src.emucs else None}

    def _q_quality(self, args):
        q = self.app.quality
        return {"limits": [q.sag_v, q.swell_v, q.hyst, q.min_s, q.fail_v, q.long_s],
                "state": [list(q.state(ph)) for ph in range(1, q.nph + 1)]}

    def _q_supply(self, args):
        sup = self.app.supply
        d = sup.dc
        lim = sup.limiter
        now = self.app.clock.now()
        return {"control_state": d.control_state, "control_mode": d.control_mode,
                "output_state": d.output_state, "mismatch": d.mismatch, "failures": sup.failures,
                "local": sup.local, "pulses": sup.relay.pulses, "busy": sup.relay.busy(),
                "limiter": {"normal": lim.threshold_normal, "emergency": lim.threshold_emergency,
                            "active": lim.threshold_active(now), "tripped": lim.tripped,
                            "over_s": lim.min_over_threshold_duration,
                            "under_s": lim.min_under_threshold_duration}}

    def _q_credit(self, args):
        cr = self.app.credit
        if cr is None:
            return None
        a = cr.acc
        now = self.app.clock.now()
        return {"available": a.available(), "token": a.token, "ec_state": a.ec_state,
                "ec_left": a.ec_left, "ec_used": a.ec_used(), "debt": a.debt, "paid": a.paid,
                "payment_mode": a.payment_mode, "tx": a.tx, "low": a.low_warning(),
                "friendly": cr.friendly.active(now) if cr.friendly is not None else False,
                "unit": "energy" if a.unit == 1 else "currency"}

    def _q_credit_log(self, args):
        if self.app.credit is None:
            return None
        e = self.app.credit.log(int(args[0]) if args else 0)
        return None if e is None else list(e)

    def _q_tokens(self, args):
        # STS token state for tests: identity of the key in force (never the key), TIDs, lockout
        ts = self.app.tokens
        if ts is None:
            return None
        k, d = ts.key, ts.dec
        return {"last": list(ts.last) if ts.last else None, "count": ts.count, "kt": k.kt, "krn": k.krn, "ti": k.ti,
                "sgc": k.sgc, "ken": k.ken, "base": k.base, "tids": d.tids.tids(),
                "lock_level": d.lock.level(), "locked": d.lock.locked(self.app.clock.now()),
                "tariff_rate": ts.tariff_rate}

    def _q_display(self, args):
        ui = self.app.customer
        return {"lines": list(ui.lines()), "faults": ui.faults, "last_fault": ui.last_fault,
                "presses": ui.presses}

    # ------------------------------------------------------------------ commands
    def command(self, what, args):
        f = getattr(self, "_c_" + what, None)
        return f(args) if f is not None else None

    def _c_p1_pace(self, args):
        # real | virtual: the P1 cadence live (a rig whose time rate changes: host_tools/console)
        p = self.app.p1
        if p is None or not args or args[0] not in ("real", "virtual"):
            return {"error": "p1_pace: real or virtual, on a meter with P1"}
        p.set_pace(self.app.board.line_clock if args[0] == "real" else None)
        return True

    def _c_topup(self, args):
        # amount [source]: a top-up through the one credit API (source 3 = test by default)
        from meter.services.credit import SOURCE_TEST
        if self.app.credit is None:
            return {"error": "topup: no prepayment account on this meter"}
        r = self.app.credit.add_credit(int(args[0]), int(args[1]) if len(args) > 1 else SOURCE_TEST)
        return True if r is None else {"error": r}

    def _c_save(self, args):
        self.app.save()
        return True

    def _c_settime(self, args):
        c = self.app.clock
        c.set(int(args[0]), "sync")
        return c.now()

    def _c_text(self, args):
        a = self.app
        try:
            text = binascii.unhexlify(args[0]) if args else b""
        except ValueError:
            return {"error": "text: not a hex string"}
        if len(text) > TEXT_MAX:
            return {"error": "text: longer than %d characters" % TEXT_MAX}
        try:
            save_text(a.config_dir, text)
        except OSError as e:
            a.board.log("p1: text message not stored: %s" % e)
        if a.p1 is not None:
            a.p1_source.text = text
        return len(text)

    def _c_submeter(self, args):
        # channel device_type equipment_id capture_time value scaler unit
        # ("-" for an empty equipment id); a bad reading is refused and changes nothing
        if not hasattr(self.app.submeters, "set"):
            return {"error": "submeter: the OMS collector is the source (config oms)"}
        try:
            ch, dt, eid, t, v, sc, unit = args[:7]
            self.app.submeters.set(int(ch), int(dt), "" if eid == "-" else eid, int(t), int(v), int(sc), unit)
        except ValueError as e:
            return {"error": "submeter: %s" % e}
        return True

    # ------------------------------------------------------------------ radio (rig.air)
    def _q_radio(self, args):
        """Link statistics and the last frames' fields (`get radio`), or what the chip model
        transmitted (`get radio sent`: [[hex, mode, start us]])."""
        r = self.app.radio
        if r is None:
            return None
        if args and args[0] == "sent":
            sim = self.app.board.radio_sim
            return [[binascii.hexlify(d).decode(), m, t] for d, m, t in sim.sent()]
        return {"stats": r.stats(), "frames": r.frames()}

    def _c_radio(self, args):
        """The rig's air (host_tools/rig_air.py) on the board's CC1101 model, in virtual us:
          air <mode> <rssi> <gap_us> <hex> [rate]  a coded frame, its preamble starting gap_us
                                                   after the end of the last thing sent on the air
                                                   (or now, if that is past); <hex> "-": the bytes
                                                   staged by `part`
          part <offset> <total> <hex>              stage a long frame's bytes piecewise (offset 0
                                                   starts a new one of total bytes; pieces of equal
                                                   length but the last): short command lines, no
                                                   big strings or buffers on a small heap
          noise <nbytes> <rssi> <gap_us> [mode]    random chips, likewise
          run <ms> <service_ms>                    let ms of virtual time pass with the clock frozen,
                                                   the radio port serviced every service_ms
        """
        app = self.app
        sim = getattr(app.board, "radio_sim", None)
        if sim is None or app.radio is None:
            return {"error": "radio not enabled"}
        op = args[0]
        bc = app.board.clock
        now = bc.sim_ms() * 1000
        at = max(now, getattr(self, "_air_end", 0)) + (int(args[3]) if op in ("air", "noise") else 0)
        if op == "part":  # kept as pieces (the chip model reads them so): no frame-sized buffer
            off, total, b = int(args[1]), int(args[2]), binascii.unhexlify(args[3])
            buf = [] if off == 0 else getattr(self, "_air_buf", None)
            self._air_buf = None
            if (buf is None or sum(len(x) for x in buf) != off or off + len(b) > total
                    or (buf and (len(buf[-1]) != len(buf[0]) or len(b) > len(buf[0])))):
                return {"error": "radio: part %d of %d" % (off, total)}  # only the last is short
            buf.append(b)
            self._air_buf, self._air_total = buf, total
            return off + len(b)
        if op == "air":
            rate = int(args[5]) if len(args) > 5 else None
            if args[4] == "-":
                data = getattr(self, "_air_buf", None)
                self._air_buf = None
                if data is None or sum(len(x) for x in data) != self._air_total:
                    return {"error": "radio: nothing staged"}
            else:
                data = binascii.unhexlify(args[4])
            self._air_end = sim.inject(data, args[1], int(args[2]), at, rate)
            return [at, self._air_end]
        if op == "noise":
            self._air_end = sim.noise(int(args[1]), int(args[2]), at, args[4] if len(args) > 4 else "C1")
            return [at, self._air_end]
        if op == "run":
            ms, step = int(args[1]), max(1, int(args[2]))
            frozen = bc.frozen
            bc.frozen = True
            try:
                while ms > 0:
                    d = min(step, ms)
                    bc.jump(d)
                    ms -= d
                    app.radio.poll()
            finally:
                bc.frozen = frozen
            return bc.sim_ms()
        return {"error": "radio: unknown %s" % op}

    # ------------------------------------------------------------------ OMS (services/oms.py)
    def _q_oms(self, args):
        """Collector statistics (total and per sub-meter), the install list and the transmitter."""
        o = self.app.oms
        return None if o is None else o.info()

    def _c_oms(self, args):
        """`set oms install`: send an SND_IR installation frame at the next metering tick."""
        o = self.app.oms
        if o is None or o.tx is None:
            return {"error": "oms: no transmitter configured"}
        if args and args[0] == "install":
            o.install_req = True
            return True
        return {"error": "oms: unknown %s" % (args[0] if args else "")}
