# P1 telegram builder (sans-I/O): DSMR 5.0.2 (NL), DSMR 4.2.2, e-MUCS (BE, Fluvius) and the
# Luxembourg Smarty encrypted frame.
#
#   b = P1Builder(profile, config)            profile: "dsmr5" | "dsmr4" | "emucs" | "smarty"
#   snap = P1Snapshot(regs, events, submeters) one instance, the app refreshes it in place
#   buf = bytearray(b.max_frame)
#   n = b.build_into(buf, snap, fc=None)      fc: smarty frame counter (the P1 service owns it)
#   buf[:n] is the telegram (smarty: the DLMS general-glo-ciphering frame)
#   b.period                                  seconds between telegrams for the profile
#   b.set_firmware(legal_v, legal_c, fw_v, fw_id)  e-MUCS firmware lines from then on (prepared
#                                             once; other profiles ignore it)
#
# Profiles (object lists follow the public specs; order as in their tables and examples):
#   dsmr5   DSMR 5.0.2 table 6-3, every object: 1-3:0.2.8(50), 0-0:1.0.0, 0-0:96.1.1, 1-0:1.8.1/2,
#           2.8.1/2, 0-0:96.14.0, 1-0:1.7.0, 2.7.0, 0-0:96.7.21, 96.7.9, 1-0:99.97.0, sags and
#           swells L1..L3, 0-0:96.13.0, V/I/+P/-P per phase, M-Bus 0-n:24.1.0/96.1.0/24.2.1. 1 s.
#   dsmr4   DSMR 4.2.2: version 42, adds 0-0:96.13.1 (empty), no voltages. 10 s.
#   emucs   e-MUCS H 1.7 (Fluvius): 0-0:96.1.4(50217), 0-0:96.1.1, [firmware identification:
#           1-0:0.2.0 / 1-0:0.2.8 the legally relevant part's version / checksum, 1-1:0.2.0 /
#           1-1:0.2.8 the firmware's version / manifest id, once set_firmware() gave them],
#           1-0:1.4.0, 1-0:1.6.0,
#           0-0:98.1.0, currents F5(2,2), 0-0:96.3.10 breaker, 0-0:17.0.0 limiter (kW),
#           1-0:31.4.0 fuse threshold, M-Bus ids 0-n:96.1.1, gas 0-n:24.2.3. 1 s.
#   smarty  LU P1 1.1.3 table 3.1 (as dsmr-parser's MSN expects): 1-3:0.2.8(42), 0-0:42.0.0,
#           1-0:1.8.0/2.8.0/3.8.0/4.8.0, 1.7.0/2.7.0/3.7.0/4.7.0, 0-0:17.0.0 (kVA), 9.7.0,
#           10.7.0, 1-1:31.4.0 (import)(export) A, 0-0:96.3.10, 0-0:96.7.21, sags/swells,
#           0-0:96.13.0 and 96.13.2..5, V/I/P/Q per phase, M-Bus. Encrypted (security 3): frame
#           DB 08 <system title> 82 <len> 30 <fc> <ciphertext> <12-byte tag>, AES-128-GCM,
#           IV = system title || fc, AAD = 30 || authentication key. 10 s.
#
# Config (all optional unless noted; unknown keys raise ValueError):
#   max_len 1500      telegram stays shorter than this (see below)
#   flag "OMT", ident header line "/" + flag + "5" + ident (ident printable, no '/' or '!')
#   version           "50" / "42" / "50217" by profile
#   equipment_id      ASCII string, sent hex-encoded (0-0:96.1.1; smarty 0-0:42.0.0, max 16)
#   phases 3|1, omit_phases, omit_equipment_id   (privacy / single-phase meters, see below)
#   tz                the MeterClock's TimeZone (clock.tz); default TimeZone.from_config(clock)
#   clock             clock config dict, used when tz is not given (default CET/CEST, EU rule)
#   log_max 10, demand_max 13, mbus_channels 4, period (seconds, default by profile)
#   smarty: key (16 bytes, required when encrypted), system_title (8 bytes, required),
#           auth_key (16 bytes, default the public LU key 00112233..EEFF), security 3|0,
#           current_thresholds (import A, export A) for 1-1:31.4.0, aux_relays (send relay 1/2
#           states 0-1/0-2:96.3.10; off by default: dsmr-parser would show relay 2 as the breaker)
#   bytes config values may also be given as hex strings. Keys are kept only in the builder
#   object and never written anywhere but into GCM.
#
# What goes in
# ------------
# P1Snapshot fields (all read once per telegram, none kept):
#   regs        meter.registers.Registers: every numeric object is read from the register with
#               the same OBIS code (energy 1-0:1.8.1 ..., power 1-0:1.7.0, 1-0:21.7.0 ..., voltage
#               1-0:32.7.0 ..., current 1-0:31.7.0 ..., breaker 0-0:96.3.10, limiter 0-0:17.0.0,
#               fuse 1-0:31.4.0, average demand 1-0:1.4.0). The register's scaler is honoured,
#               and a unit differing only by a k/m/M prefix is converted ('W' register -> 'kW').
#               Slots are resolved once and cached (a register defined later is picked up).
#   t           meter seconds of the telegram (0-0:1.0.0); local time and the S/W flag come from
#               config["tz"], so P1 and the clock agree. M-Bus and log time stamps likewise.
#   events      meter.events.EventLog (or None). Counts, when no register of that OBIS exists:
#               0-0:96.7.21 = POWER_DOWN events, 0-0:96.7.9 = LONG_POWER_FAIL events,
#               1-0:32.32.0 / 52.32.0 / 72.32.0 = VOLTAGE_SAG with a = 1 / 2 / 3, swells likewise
#               (counted in the ring; the app should define count registers for lifetime counts).
#               Power failure log 1-0:99.97.0: the newest LONG_POWER_FAIL events (t = end of the
#               failure, a = duration s), newest first, at most config["log_max"] (10).
#   text        bytes (or str): the text message 0-0:96.13.0 (sent hex-encoded).
#   tariff      int or None: current rate 0-0:96.14.0 (None: register 0-0:96.14.0).
#   submeters   meter.submeter source (or None): M-Bus channels 0-1..0-4, sent in the order
#               channels() returns them; malformed entries are skipped (bad_mbus counts them).
#   demand_month (emucs) (t, W) of this month's maximum demand 1-0:1.6.0, or None (then the
#               telegram time and 0 kW are sent).
#   demand_hist  (emucs) list of (t_month, t_peak, W), newest first, for 0-0:98.1.0, or None.
#
# Missing registers do not fail the telegram: the object is sent with value zero in its strict
# format (a smarty 1-0:1.8.0 / 2.8.0 total with no register of its own is the sum of the tariff
# registers 1..4 that exist; 1-0:3.8.0 / 4.8.0 likewise of the quadrant registers 5.8.0 + 6.8.0 /
# 7.8.0 + 8.8.0). Formats (DSMR 5.0.2 table 6-3):
#   energy F9(3,3) kWh, truncated to Wh, rolling over at 1 000 000 kWh like a register;
#   power F5(3,3) kW, voltage F4(1,1) V, current F3(0,0) A (emucs: F5(2,2) A), apparent/reactive
#   power F5(3,3): instantaneous values are rounded half up to the last printed digit (current
#   F3(0,0): 12.499 A -> 012, 12.500 A -> 013) and saturate at the largest printable value;
#   negative values of these unsigned objects print as zero. Counts F5(0,0) saturate at 99999.
#   Log durations F10(0,0) s. M-Bus readings F8(3,3) m3/kWh, F8(2,2) GJ, truncated, rolling over.
#
# Length limit and what gets left out
# -----------------------------------
# A telegram is always shorter than config["max_len"] (default 1500) bytes, counted from '/'
# to the CRLF after the CRC (for smarty: the plaintext; the frame adds 30 bytes). At
# configuration the builder sizes every fixed object (all of them have fixed-width formats) and
# raises ValueError if they alone do not fit. At run time the variable parts get what is left, in
# this order of priority:
#   1. M-Bus channels, whole channels in channel order (a channel that does not fit is left out:
#      dropped_mbus counts it);
#   2. e-MUCS monthly demand history, then the power failure log entries, newest first (older
#      entries that do not fit are left out, the count z says how many were sent: dropped_log);
#   3. the text message, cut to whole octets if it does not fit (truncated_text counts it;
#      text_capacity() tells a configuration writer the size that always fits).
#
# Privacy options: "omit_phases" leaves out every per-phase instantaneous value (V, I, P, Q per
# phase); "omit_equipment_id" leaves out the equipment identifiers (0-0:96.1.1, 0-0:42.0.0 and the
# M-Bus 0-n:96.1.0/96.1.1). "phases": 1 sends L1 only, as a single-phase meter does.
#
# The telegram body never contains '/' or '!': every string object is sent hex-encoded and the
# header identification is checked at configuration.
#
# Cost: the fixed text is prepared once; a telegram is a copy of that template (struct.pack_into,
# no allocation) plus digits written into the buffer. Per telegram it allocates only the
# memoryview slice for the CRC (and, for smarty, the three slices handed to gcm_encrypt_into).
import struct
from array import array

import metercrypto

from meter.common import timeutil
from meter.common import events as ev
from meter.common.timezone import TimeZone
from meter.cores.dsmr.objects import (PROFILES, object_table, DEFAULTS, K_STATIC, K_TST, K_REG, K_TARIFF, K_CNT, K_FLAG, K_DMONTH, K_LOG, K_TEXT, K_DHIST, K_MBUS, K_FW, F_DTST, F_DVAL, M_MOD, M_SAT, M_TRUNC_SAT, C_PF_SHORT, C_PF_LONG, C_SAG, C_SWELL)
from meter.cores.dsmr.digits import P10, HEX, PREFIX, piece, put, wdig, wuint, whex, hexstr, printable


# gcm_encrypt_into(key, iv, aad, src, dst, tag) writes the frame in place (no 1.5 KB result)
_GCM_INTO = getattr(metercrypto, "gcm_encrypt_into", None)

DEFAULT_AUTH_KEY = b"\x00\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb\xcc\xdd\xee\xff"
LOG_ENTRY = 29  # "(YYMMDDhhmmssX)(0000000240*s)"
DHIST_ENTRY = 41  # "(TST)(TST)(00.000*kW)"
SMARTY_OVERHEAD = 30  # DB 08 st(8) 82 len(2) 30 fc(4) ... tag(12)


_KEYS = ("max_len", "flag", "ident", "version", "equipment_id", "phases", "omit_phases",
         "omit_equipment_id", "tz", "clock", "log_max", "demand_max", "mbus_channels", "period",
         "key", "auth_key", "system_title", "current_thresholds", "security", "aux_relays")


def _bytes_cfg(v, n, what):
    if v is None:
        return None
    if isinstance(v, str):
        import binascii
        v = binascii.unhexlify(v)
    v = bytes(v)
    if len(v) != n:
        raise ValueError("P1: %s must be %d bytes" % (what, n))
    return v


def _p1_text(t):
    out = []
    for ch in t[:32]:
        out.append(ch if ch.isdigit() or ch.isalpha() and ord(ch) < 0x7F or ch in ".-" else "-")
    return "".join(out) or "NONE"


class P1Builder:
    def __init__(self, profile, config=None):
        cfg = config or {}
        if profile not in PROFILES:
            raise ValueError("P1: unknown profile %r (one of %s)" % (profile, ", ".join(PROFILES)))
        for k in cfg:
            if k not in _KEYS:
                raise ValueError("P1: unknown config key %r" % (k,))
        self.profile = profile
        flag, ident, version, eid = self._options(profile, cfg)
        self._security(profile, cfg)
        self._fw = None
        self._init_state(profile)
        self._layout(profile, flag, ident, version, eid, self._thresholds(cfg))
        self._make_pieces()

    def set_firmware(self, legal_version, legal_checksum, version, manifest_id):
        """The e-MUCS firmware identification lines, prepared once as one piece (their room is
        taken from the variable objects'). Texts: at most 32 characters of letters, digits, '.'
        and '-' (any other becomes '-': P1 parsers such as dsmr-parser take no more in a value);
        empty -> "NONE". ValueError if they do not fit max_len."""
        if not self._has_fw:
            return
        t = [_p1_text(x) for x in (legal_version, legal_checksum, version, manifest_id)]
        pc = piece("1-0:0.2.0(%s)\r\n1-0:0.2.8(%s)\r\n1-1:0.2.0(%s)\r\n1-1:0.2.8(%s)\r\n" % tuple(t))
        room = self._room + (len(self._fw[1]) if self._fw is not None else 0) - len(pc[1])
        if room < 0:
            raise ValueError("P1: the firmware lines do not fit max_len")
        self._room = room
        self._fw = pc

    def _options(self, profile, cfg):
        """Validate the general options; returns the header and identity texts."""
        d = DEFAULTS[profile]
        self.max_len = cfg.get("max_len", 1500)
        if type(self.max_len) is not int or not 200 <= self.max_len <= 16384:
            raise ValueError("P1: max_len must be 200..16384")
        self.period = cfg.get("period", d["period"])
        if type(self.period) is not int or not 1 <= self.period <= 3600:
            raise ValueError("P1: period must be 1..3600 s")
        flag = cfg.get("flag", "OMT")
        if not (isinstance(flag, str) and len(flag) == 3 and flag.isalpha()):
            raise ValueError("P1: flag must be a 3-letter manufacturer id")
        ident = cfg.get("ident", "\\2P1-METER")
        if not isinstance(ident, str) or not 1 <= len(ident) <= 64:
            raise ValueError("P1: ident must be a string of 1..64 characters")
        printable(ident, "ident")
        version = cfg.get("version", d["version"])
        if not (isinstance(version, str) and version.isdigit() and len(version) == len(d["version"])):
            raise ValueError("P1: version must be %d digits" % len(d["version"]))
        eid = cfg.get("equipment_id", "")
        if isinstance(eid, str):
            printable(eid, "equipment_id", "")
            eid = eid.encode()
        eid = bytes(eid)
        if len(eid) > (16 if profile == "smarty" else 48):
            raise ValueError("P1: equipment_id too long")
        self.phases = cfg.get("phases", 3)
        if self.phases not in (1, 3):
            raise ValueError("P1: phases must be 1 or 3")
        self.omit_phases = bool(cfg.get("omit_phases", False))
        self.omit_eid = bool(cfg.get("omit_equipment_id", False))
        self.aux_relays = bool(cfg.get("aux_relays", False))
        self.log_max = cfg.get("log_max", 10)
        if type(self.log_max) is not int or not 0 <= self.log_max <= 10:
            raise ValueError("P1: log_max must be 0..10")
        self.demand_max = cfg.get("demand_max", 13)
        if type(self.demand_max) is not int or not 0 <= self.demand_max <= 13:
            raise ValueError("P1: demand_max must be 0..13")
        self.mbus_max = cfg.get("mbus_channels", 4)
        if type(self.mbus_max) is not int or not 0 <= self.mbus_max <= 4:
            raise ValueError("P1: mbus_channels must be 0..4")
        tz = cfg.get("tz")
        self._tz = tz if tz is not None else TimeZone.from_config(cfg.get("clock"))
        return flag, ident, version, eid


    @staticmethod
    def _thresholds(cfg):
        thr = cfg.get("current_thresholds", (0, 0))
        if (not isinstance(thr, (tuple, list)) or len(thr) != 2 or type(thr[0]) is not int or
                type(thr[1]) is not int or not 0 <= thr[0] <= 999 or not -99 <= thr[1] <= 999):
            raise ValueError("P1: current_thresholds must be (import 0..999, export -99..999) A")
        return thr

    def _security(self, profile, cfg):
        """The smarty security context (LU 3.2.5: security 3 = encrypted and authenticated, 0 = off);
        keys stay in this object only."""
        self.security = cfg.get("security", 3 if profile == "smarty" else 0)
        if self.security not in (0, 3) or (self.security and profile != "smarty"):
            raise ValueError("P1: security must be 0, or 3 for smarty")
        self.needs_counter = self.security == 3
        self._key = None
        if self.needs_counter:
            if not hasattr(metercrypto, "gcm_encrypt"):
                raise RuntimeError("P1: smarty needs metercrypto.gcm_encrypt (not in this build)")
            self._key = _bytes_cfg(cfg.get("key"), 16, "key")
            if self._key is None:
                raise ValueError("P1: smarty needs the P1 encryption key")
            ak = _bytes_cfg(cfg.get("auth_key"), 16, "auth_key") or DEFAULT_AUTH_KEY
            self._aad = b"\x30" + ak
            st = _bytes_cfg(cfg.get("system_title"), 8, "system_title")
            if st is None:
                raise ValueError("P1: smarty needs the 8-byte system title")
            self._st = st
            self._iv = bytearray(12)
            self._iv[0:8] = st

    def _init_state(self, profile):
        """Diagnostics counters and the per-field register caches (filled on the first build)."""
        # stats (diagnostics, never reset by the builder)
        self.dropped_mbus = 0
        self.dropped_log = 0
        self.truncated_text = 0
        self.bad_mbus = 0
        self.unit_mismatch = []  # OBIS codes whose register unit could not be converted

        # per-field register caches
        self._f_obis = []
        self._f_unit = []
        self._f_mode = []
        self._f_max = []
        self._f_alts = []
        self._f_slot = []
        self._f_shift = []
        self._f_dec = []
        self._f_which = []
        self._regs = None

        self._has_cnt = False
        self._cnt = [0] * 8
        self._nlog = 0
        self._segs = []
        self._mb_obis_id = b":96.1.1(" if profile == "emucs" else b":96.1.0("
        self._mbsel = [None] * 4
        self._nmb = 0
        self._mb_src = [None] * 4
        self._mb_bytes = [b""] * 4
        self._txt_src = None
        self._txt_bytes = b""

    def _layout(self, profile, flag, ident, version, eid, thr):
        """The telegram template: fixed text segments with the positions of their fields, and the
        variable segments (log, text, demand history, M-Bus) between them; sizes the fixed part."""
        header = "/" + flag + "5" + ident + "\r\n\r\n"
        cur = [header]
        curlen = len(header)
        fields = []
        fixed = 0  # bytes of the variable segments at their minimum
        self._has_log = self._has_text = self._has_dhist = self._has_mbus = self._has_fw = False

        for ent in object_table(profile):
            obis, kind, idig, dec, unit, mode, ph, inst, extra = ent
            if ph > self.phases:
                continue
            if inst and self.omit_phases:
                continue
            if extra == "aux" and not self.aux_relays:
                continue
            if kind in (K_LOG, K_TEXT, K_DHIST, K_MBUS, K_FW):
                if kind == K_FW:
                    self._has_fw = True  # nothing until set_firmware()
                elif kind == K_LOG:
                    self._has_log = True
                    fixed += 29  # "1-0:99.97.0(0)(0-0:96.7.19)\r\n"
                elif kind == K_TEXT:
                    self._has_text = True
                    fixed += 15
                elif kind == K_DHIST:
                    self._has_dhist = True
                    fixed += 37
                else:
                    self._has_mbus = self.mbus_max > 0
                    if not self._has_mbus:
                        continue
                if cur:
                    self._close(cur, curlen, fields)
                    cur, curlen, fields = [], 0, []
                self._segs.append((1, kind))
                continue
            if kind == K_STATIC:
                if extra == "eid":
                    if self.omit_eid:
                        continue
                    line = obis + "(" + hexstr(eid) + ")\r\n"
                elif extra == "version":
                    line = obis + "(" + version + ")\r\n"
                elif extra == "thresholds":
                    e = thr[1]
                    es = ("-%02d" % -e) if e < 0 else ("%03d" % e)
                    line = obis + "(%03d*A)(%s*A)\r\n" % (thr[0], es)
                else:
                    line = obis + "()\r\n"
                cur.append(line)
                curlen += len(line)
                continue
            pre = obis + "("
            if kind == K_TST:
                fields.append((K_TST, curlen + len(pre) + 13, 13, 0, -1))
                line = pre + "000101000000W)\r\n"
            elif kind == K_DMONTH:
                fields.append((F_DTST, curlen + len(pre) + 13, 13, 0, -1))
                fields.append((F_DVAL, curlen + len(pre) + 15 + 6, 5, 3, -1))
                line = pre + "000101000000W)(00.000*kW)\r\n"
            elif kind == K_TARIFF:
                fields.append((K_TARIFF, curlen + len(pre) + 4, 4, 0, -1))
                line = pre + "0000)\r\n"
            else:  # K_REG, K_CNT, K_FLAG
                fid = len(self._f_obis)
                self._f_obis.append(obis)
                self._f_unit.append(unit)
                self._f_mode.append(mode)
                self._f_max.append(P10[idig + dec] - 1)
                self._f_alts.append(extra if kind == K_REG else None)
                self._f_slot.append(-1)
                self._f_shift.append(0)
                self._f_dec.append(dec)
                self._f_which.append(extra if kind == K_CNT else 0)  # read for K_CNT only
                if kind == K_CNT:
                    self._has_cnt = True
                digits = "0" * idig + ("." + "0" * dec if dec else "")
                end = curlen + len(pre) + len(digits)
                fields.append((kind, end, idig + dec, dec, fid))
                line = pre + digits + ("*" + unit if unit else "") + ")\r\n"
            cur.append(line)
            curlen += len(line)
        if cur:
            self._close(cur, curlen, fields)
        self._seal_fields()
        fixed += 7  # "!XXXX\r\n"
        for seg in self._segs:
            if seg[0] == 0:
                fixed += len(seg[3][1])
        self.fixed_len = fixed
        if fixed >= self.max_len:
            raise ValueError("P1: the fixed objects need %d bytes, not under max_len %d" % (fixed, self.max_len))
        self._room = self.max_len - 1 - fixed
        self.max_frame = self.max_len + (SMARTY_OVERHEAD if self.needs_counter else 0)
        self._pt = bytearray(self.max_len) if self.needs_counter else None
        self._pt_mv = memoryview(self._pt) if self.needs_counter else None
        self._mv_buf = None
        self._mv = None

    def _make_pieces(self):
        """Constant pieces of the variable lines, prepared once (bytes literals: ROM when frozen)."""
        self._pc_log_a = piece(b"1-0:99.97.0(")
        self._pc_log_b = piece(b")(0-0:96.7.19)")
        self._pc_pp = piece(b")(")
        self._pc_s = piece(b"*s)")
        self._pc_text = piece(b"0-0:96.13.0(")
        self._pc_dh_a = piece(b"0-0:98.1.0(")
        self._pc_dh_b = piece(b")(1-0:1.6.0)(1-0:1.6.0)")
        self._pc_kw = piece(b"*kW)")
        self._pc_dt = piece(b":24.1.0(")
        self._pc_id = piece(self._mb_obis_id)
        self._pc_v1 = piece(b":24.2.1(")
        self._pc_v3 = piece(b":24.2.3(")
        self._pc_unit = {"m3": piece(b"*m3)"), "GJ": piece(b"*GJ)"), "kWh": piece(b"*kWh)")}

    def _seal_fields(self):
        """The per-field tables at their final size: tuples, bytes and arrays instead of lists grown
        by doubling (about 600 bytes less on a 32-bit heap); only the slot and shift caches change."""
        self._f_obis = tuple(self._f_obis)
        self._f_unit = tuple(self._f_unit)
        self._f_max = tuple(self._f_max)
        self._f_alts = tuple(self._f_alts)
        self._f_mode = bytes(self._f_mode)
        self._f_dec = bytes(self._f_dec)
        self._f_which = bytes(self._f_which)
        self._f_slot = array("h", self._f_slot)
        self._f_shift = array("h", self._f_shift)

    def _close(self, cur, curlen, fields):
        tmpl = piece("".join(cur))
        # the fields flat, 5 shorts each (kind, end, digits, decimals, fid): 10 bytes a field where
        # a tuple took 32
        self._segs.append((0, array("h", [x for f in fields for x in f]), curlen, tmpl))

    # ------------------------------------------------------------ public helpers
    def text_capacity(self, mbus_id_len=48):
        """Longest text message (octets) that fits even with every other variable part full
        (mbus_channels channels with ids of mbus_id_len characters, full log / demand history)."""
        room = self._room
        if self._has_mbus:
            room -= self.mbus_max * self._mb_size(mbus_id_len, "kWh")
        if self._has_log:
            room -= self.log_max * LOG_ENTRY + 1
        if self._has_dhist:
            room -= self.demand_max * DHIST_ENTRY + 1
        return max(0, room // 2)

    def build(self, snap, fc=None):
        """Convenience (allocates): the telegram or frame as bytes."""
        buf = bytearray(self.max_frame)
        n = self.build_into(buf, snap, fc)
        return bytes(buf[:n])

    def build_into(self, buf, snap, fc=None):
        """Write one telegram (smarty: one encrypted frame with frame counter fc) into buf;
        return its length."""
        if len(buf) < self.max_frame:
            raise ValueError("P1: buffer smaller than max_frame (%d)" % self.max_frame)
        if not self.needs_counter:
            return self._build_plain(buf, snap)
        if type(fc) is not int or fc < 0 or fc > 0xFFFFFFFF:
            raise ValueError("P1: smarty needs a frame counter 0..0xFFFFFFFF")
        n = self._build_plain(self._pt, snap)
        return self._frame(buf, n, fc)

    # ------------------------------------------------------------ smarty frame
    def _frame(self, out, n, fc):
        pt = self._pt_mv
        iv = self._iv
        iv[8] = (fc >> 24) & 255
        iv[9] = (fc >> 16) & 255
        iv[10] = (fc >> 8) & 255
        iv[11] = fc & 255
        ln = 17 + n
        out[0] = 0xDB
        out[1] = 8
        struct.pack_into("8s", out, 2, self._st)
        out[10] = 0x82
        out[11] = ln >> 8
        out[12] = ln & 255
        out[13] = 0x30
        out[14] = iv[8]
        out[15] = iv[9]
        out[16] = iv[10]
        out[17] = iv[11]
        if _GCM_INTO is not None:
            mv = self._mview(out)
            _GCM_INTO(self._key, iv, self._aad, pt[:n], mv[18:18 + n], mv[18 + n:30 + n])
            return 30 + n
        r = metercrypto.gcm_encrypt(self._key, iv, self._aad, pt[:n], 12)
        if isinstance(r, tuple):
            ct, tag = r
        else:  # ciphertext || tag
            ct, tag = r, None
        m = len(ct)
        if tag is None and m != n + 12 or tag is not None and (m != n or len(tag) != 12):
            raise RuntimeError("P1: gcm_encrypt returned an unexpected length")
        out[18:18 + m] = ct
        if tag is not None:
            out[18 + m:30 + m] = tag
        return 30 + n

    def _mview(self, buf):
        if buf is self._pt:
            return self._pt_mv
        if buf is not self._mv_buf:
            self._mv_buf = buf
            self._mv = memoryview(buf)
        return self._mv

    # ------------------------------------------------------------ plaintext telegram
    def _build_plain(self, buf, snap):
        regs = snap.regs
        if regs is not self._regs:
            self._regs = regs
            for i in range(len(self._f_slot)):
                self._f_slot[i] = -1
        if self._has_cnt or self._has_log:
            self._scan(snap.events)
        self._plan(snap)
        pos = 0
        for seg in self._segs:
            if seg[0] == 0:
                struct.pack_into(seg[3][0], buf, pos, seg[3][1])
                fa = seg[1]
                for j in range(0, len(fa), 5):
                    self._fill(buf, pos, fa, j, snap, regs)
                pos += seg[2]
            else:
                k = seg[1]
                if k == K_LOG:
                    pos = self._w_log(buf, pos, snap.events)
                elif k == K_TEXT:
                    pos = self._w_text(buf, pos)
                elif k == K_DHIST:
                    pos = self._w_dhist(buf, pos, snap.demand_hist)
                elif k == K_FW:
                    if self._fw is not None:
                        pos = put(buf, pos, self._fw)
                else:
                    pos = self._w_mbus(buf, pos)
        buf[pos] = 0x21  # '!'
        pos += 1
        crc = metercrypto.crc16_arc(self._mview(buf)[:pos])
        buf[pos] = HEX[(crc >> 12) & 15]
        buf[pos + 1] = HEX[(crc >> 8) & 15]
        buf[pos + 2] = HEX[(crc >> 4) & 15]
        buf[pos + 3] = HEX[crc & 15]
        buf[pos + 4] = 13
        buf[pos + 5] = 10
        return pos + 6

    def _fill(self, buf, base, fa, j, snap, regs):
        kind = fa[j]
        end = base + fa[j + 1]
        nd = fa[j + 2]
        dec = fa[j + 3]
        fid = fa[j + 4]
        if kind == K_TST:
            self._tst(buf, end - 13, snap.t)
        elif kind == K_REG or kind == K_FLAG:
            wdig(buf, end, self._reg(fid, regs), nd, dec)
        elif kind == K_CNT:
            if regs is not None and (self._f_slot[fid] >= 0 or regs.has(self._f_obis[fid])):
                n = self._reg(fid, regs)
            else:
                n = self._cnt[self._f_which[fid]]
                if n > 99999:
                    n = 99999
            wdig(buf, end, n, nd, 0)
        elif kind == K_TARIFF:
            n = snap.tariff
            if n is None:
                n = 0
                if regs is not None and regs.has("0-0:96.14.0"):
                    n = regs.value("0-0:96.14.0")
            if type(n) is not int or n < 0:
                n = 0
            elif n > 9999:
                n = 9999
            wdig(buf, end, n, 4, 0)
        elif kind == F_DTST:
            dm = snap.demand_month
            self._tst(buf, end - 13, dm[0] if dm else snap.t)
        elif kind == F_DVAL:
            dm = snap.demand_month
            n = dm[1] if dm else 0
            wdig(buf, end, 0 if n < 0 else (99999 if n > 99999 else n), 5, 3)

    def _reg(self, fid, regs):
        """P1 integer (already scaled to the printed decimals) of register field fid."""
        s = self._f_slot[fid]
        if s < 0:
            if regs is None:
                return 0
            obis = self._f_obis[fid]
            if not regs.has(obis):
                alts = self._f_alts[fid]
                if alts is None:
                    return 0
                tot = 0
                for a in alts:
                    if regs.has(a):
                        tot += self._conv(fid, regs, regs.slot(a), a)
                return tot % (self._f_max[fid] + 1)
            s = regs.slot(obis)
            self._f_slot[fid] = s
            self._f_shift[fid] = self._shift_of(fid, regs, s)
        return self._scale(fid, regs.values[s], self._f_shift[fid])

    def _conv(self, fid, regs, s, obis):
        return self._scale(fid, regs.values[s], self._shift_of(fid, regs, s))

    def _shift_of(self, fid, regs, s):
        """Power of ten from the raw register value to the printed integer."""
        want = self._f_unit[fid]
        have = regs.units[s]
        adj = 0
        if want is not None and have != want:
            if len(have) > 1 and have[1:] == want and have[0] in PREFIX:
                adj = PREFIX[have[0]]
            elif len(want) > 1 and want[1:] == have and want[0] in PREFIX:
                adj = -PREFIX[want[0]]
            elif self._f_obis[fid] not in self.unit_mismatch:
                self.unit_mismatch.append(self._f_obis[fid])
        return regs.scalers[s] + adj + self._f_dec[fid]

    def _scale(self, fid, v, sh):
        mode = self._f_mode[fid]
        mx = self._f_max[fid]
        if v <= 0:
            return 0
        if sh >= 0:
            n = v * P10[sh] if sh < 10 else v * 10 ** sh
        else:
            if sh <= -10:
                return 0
            d = P10[-sh]
            if mode == M_SAT:
                n = (v + d // 2) // d
            else:
                n = v // d
        if mode == M_MOD:
            return n % (mx + 1)
        return mx if n > mx else n

    # ------------------------------------------------------------ events
    def _scan(self, evs):
        c = self._cnt
        for i in range(8):
            c[i] = 0
        self._nlog = 0
        if evs is None:
            return
        size = evs.size
        cnt = evs.count
        L = cnt if cnt < size else size
        codes = evs.code
        aa = evs.a
        nlog = 0
        for k in range(L):
            i = (cnt - 1 - k) % size
            code = codes[i]
            if code == ev.POWER_DOWN:
                c[0] += 1
            elif code == ev.LONG_POWER_FAIL:
                c[1] += 1
                nlog += 1
            elif code == ev.VOLTAGE_SAG or code == ev.VOLTAGE_SWELL:
                ph = aa[i]
                if 1 <= ph <= 3:
                    c[(C_SAG if code == ev.VOLTAGE_SAG else C_SWELL) + ph - 1] += 1
        self._nlog = nlog

    # ------------------------------------------------------------ planning the variable parts
    def _mb_size(self, idlen, unit):
        n = 17 + 39 + len(unit)  # device type line + value line
        if not self.omit_eid:
            n += 14 + 2 * idlen
        return n

    def _plan(self, snap):
        rem = self._room
        self._nmb = 0
        if self._has_mbus and snap.submeters is not None:
            seen = 0
            for c in snap.submeters.channels():
                if self._nmb >= self.mbus_max:
                    break
                try:
                    ch, dt, eid, ct, val, sc, unit = c
                except (TypeError, ValueError):
                    self.bad_mbus += 1
                    continue
                if (type(ch) is not int or not 1 <= ch <= 4 or (seen >> ch) & 1 or type(dt) is not int or
                        not 0 <= dt <= 255 or type(ct) is not int or ct < 0 or type(val) is not int or
                        type(sc) is not int or unit not in ("m3", "GJ", "kWh")):
                    self.bad_mbus += 1
                    continue
                if self._mb_src[ch - 1] is not eid:
                    b = eid.encode() if isinstance(eid, str) else bytes(eid)
                    self._mb_src[ch - 1] = eid
                    self._mb_bytes[ch - 1] = b[:48]
                size = self._mb_size(len(self._mb_bytes[ch - 1]), unit)
                if size > rem:
                    self.dropped_mbus += 1
                    continue
                rem -= size
                seen |= 1 << ch
                self._mbsel[self._nmb] = c
                self._nmb += 1
        self._ndh = 0
        if self._has_dhist:
            dh = snap.demand_hist
            z = len(dh) if dh else 0
            if z > self.demand_max:
                z = self.demand_max
            while z and z * DHIST_ENTRY + (1 if z >= 10 else 0) > rem:
                z -= 1
            self._ndh = z
            rem -= z * DHIST_ENTRY + (1 if z >= 10 else 0)
        self._z = 0
        if self._has_log:
            z = self._nlog
            if z > self.log_max:
                z = self.log_max
            want = z
            while z and z * LOG_ENTRY + (1 if z >= 10 else 0) > rem:
                z -= 1
            if z < want:
                self.dropped_log += 1
            self._z = z
            rem -= z * LOG_ENTRY + (1 if z >= 10 else 0)
        self._ntext = 0
        if self._has_text:
            t = snap.text
            if t is None:
                t = b""
            if t is not self._txt_src:
                self._txt_src = t
                self._txt_bytes = t.encode() if isinstance(t, str) else bytes(t)
            n = len(self._txt_bytes)
            if 2 * n > rem:
                n = rem // 2
                self.truncated_text += 1
            self._ntext = n

    # ------------------------------------------------------------ variable writers
    def _w_log(self, buf, pos, evs):
        z = self._z
        pos = put(buf, pos, self._pc_log_a)
        pos = wuint(buf, pos, z)
        pos = put(buf, pos, self._pc_log_b)
        if z:
            size = evs.size
            cnt = evs.count
            k = 0
            w = 0
            while w < z:
                i = (cnt - 1 - k) % size
                k += 1
                if evs.code[i] != ev.LONG_POWER_FAIL:
                    continue
                buf[pos] = 0x28
                self._tst(buf, pos + 1, evs.t[i])
                pos = put(buf, pos + 14, self._pc_pp)
                d = evs.a[i]
                wdig(buf, pos + 10, d if d > 0 else 0, 10, 0)
                pos = put(buf, pos + 10, self._pc_s)
                w += 1
        buf[pos] = 13
        buf[pos + 1] = 10
        return pos + 2

    def _w_text(self, buf, pos):
        pos = put(buf, pos, self._pc_text)
        pos = whex(buf, pos, self._txt_bytes, self._ntext)
        buf[pos] = 0x29
        buf[pos + 1] = 13
        buf[pos + 2] = 10
        return pos + 3

    def _w_dhist(self, buf, pos, dh):
        z = self._ndh
        pos = put(buf, pos, self._pc_dh_a)
        pos = wuint(buf, pos, z)
        pos = put(buf, pos, self._pc_dh_b)
        for k in range(z):
            e = dh[k]
            buf[pos] = 0x28
            self._tst(buf, pos + 1, e[0])
            pos = put(buf, pos + 14, self._pc_pp)
            self._tst(buf, pos, e[1])
            pos = put(buf, pos + 13, self._pc_pp)
            w = e[2]
            wdig(buf, pos + 6, 0 if w < 0 else (99999 if w > 99999 else w), 5, 3)
            buf[pos + 2] = 0x2E
            pos = put(buf, pos + 6, self._pc_kw)
        buf[pos] = 13
        buf[pos + 1] = 10
        return pos + 2

    def _w_mbus(self, buf, pos):
        emucs = self.profile == "emucs"
        for j in range(self._nmb):
            ch, dt, eid, ct, val, sc, unit = self._mbsel[j]
            cd = 48 + ch
            # 0-n:24.1.0(DDD)
            buf[pos] = 0x30
            buf[pos + 1] = 0x2D
            buf[pos + 2] = cd
            pos = put(buf, pos + 3, self._pc_dt)
            wdig(buf, pos + 3, dt, 3, 0)
            buf[pos + 3] = 0x29
            buf[pos + 4] = 13
            buf[pos + 5] = 10
            pos += 6
            if not self.omit_eid:
                b = self._mb_bytes[ch - 1]
                buf[pos] = 0x30
                buf[pos + 1] = 0x2D
                buf[pos + 2] = cd
                pos = put(buf, pos + 3, self._pc_id)
                pos = whex(buf, pos, b, len(b))
                buf[pos] = 0x29
                buf[pos + 1] = 13
                buf[pos + 2] = 10
                pos += 3
            buf[pos] = 0x30
            buf[pos + 1] = 0x2D
            buf[pos + 2] = cd
            pos = put(buf, pos + 3, self._pc_v3 if emucs and dt == 3 else self._pc_v1)
            self._tst(buf, pos, ct)
            pos = put(buf, pos + 13, self._pc_pp)
            dec = 2 if unit == "GJ" else 3
            sh = dec + sc
            if val <= 0:
                n = 0
            elif sh >= 0:
                n = val * (10 ** sh)
            else:
                n = val // (10 ** -sh)
            n %= 100000000
            wdig(buf, pos + 9, n, 8, dec)
            buf[pos + 8 - dec] = 0x2E  # '.'
            pos = put(buf, pos + 9, self._pc_unit[unit])
            buf[pos] = 13
            buf[pos + 1] = 10
            pos += 2
        return pos

    # ------------------------------------------------------------ time stamps
    def _tst(self, buf, p, t):
        """YYMMDDhhmmssX of meter seconds t in local time, X = S (summer) / W (winter)."""
        tz = self._tz
        dst = tz.dst(t)
        loc = tz.local_secs(t)
        z = loc // 86400
        sod = loc - z * 86400
        ymd = timeutil.civil_packed(z)
        y = (ymd >> 9) % 100
        m = (ymd >> 5) & 15
        d = ymd & 31
        buf[p] = 48 + y // 10
        buf[p + 1] = 48 + y % 10
        buf[p + 2] = 48 + m // 10
        buf[p + 3] = 48 + m % 10
        buf[p + 4] = 48 + d // 10
        buf[p + 5] = 48 + d % 10
        h = sod // 3600
        mi = (sod // 60) % 60
        s = sod % 60
        buf[p + 6] = 48 + h // 10
        buf[p + 7] = 48 + h % 10
        buf[p + 8] = 48 + mi // 10
        buf[p + 9] = 48 + mi % 10
        buf[p + 10] = 48 + s // 10
        buf[p + 11] = 48 + s % 10
        buf[p + 12] = 83 if dst else 87
