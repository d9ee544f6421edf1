"""Strict P1 telegram validator (CPython, reusable by any test).

It checks what tolerant parsers such as dsmr-parser let through:

- framing: '/XXX5ident' CRLF, an empty line, object lines, '!' + 4 uppercase hex CRC + CRLF, and
  nothing after; every line ends in CRLF (no bare CR or LF anywhere); printable ASCII only;
  no '/' or '!' inside the body; the CRC-16/ARC over '/'..'!' (computed here, bitwise);
- length: shorter than max_len bytes;
- every object: known for the profile, at most once, each value group in its exact format
  (digits before and after the decimal point, unit), time stamps valid calendar dates whose S/W
  flag matches EU summer time for that local time (Europe/Amsterdam == Brussels == Luxembourg);
- mandatory objects present for the profile and its options (phases, privacy), M-Bus channel
  objects led by their device type, M-Bus units and decimals consistent;
- smarty: the general-glo-ciphering frame layout (DB 08 st 82 len 30 fc ct tag) and AES-GCM
  decryption with the cryptography package, then the plaintext as above.

validate(...) returns {obis: [value group strings]} and raises P1Error listing every problem.
"""
import re
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

TZ = ZoneInfo("Europe/Amsterdam")
EPOCH = datetime(2020, 1, 1, tzinfo=timezone.utc)
LU_AUTH_KEY = bytes.fromhex("00112233445566778899AABBCCDDEEFF")


class P1Error(ValueError):
    def __init__(self, problems):
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


def crc16_arc(data):
    crc = 0
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def tst_to_utc(s):
    """UTC datetime of a valid 'YYMMDDhhmmssX' whose flag matches the local DST state, else
    raise ValueError."""
    if not re.fullmatch(r"\d{12}[SW]", s):
        raise ValueError("time stamp %r is not YYMMDDhhmmssX" % s)
    naive = datetime.strptime("20" + s[:12], "%Y%m%d%H%M%S")
    summer = s[12] == "S"
    for fold in (0, 1):
        loc = naive.replace(tzinfo=TZ, fold=fold)
        utc = loc.astimezone(timezone.utc)
        back = utc.astimezone(TZ)
        if back.replace(tzinfo=None) == naive and bool(back.dst()) == summer:
            return utc
    raise ValueError("time stamp %r: no such local time with DST flag %s" % (s, s[12]))


def meter_secs_to_utc(t):
    return EPOCH + timedelta(seconds=t)


# value group grammar: ("F", int_digits, decimals, unit) | ("TST",) | ("HEX", max_chars) |
# ("D", n) n digits | ("I1",) | ("SF3", unit) signed F3 | ("EMPTY",)


def _F(i, d, unit=None):
    return ("F", i, d, unit)


E = _F(6, 3, "kWh")
EQ = _F(6, 3, "kvarh")
P = _F(2, 3, "kW")
Q = _F(2, 3, "kvar")
S = _F(2, 3, "kVA")
V = _F(3, 1, "V")
A = _F(3, 0, "A")
A2 = _F(3, 2, "A")
CNT = ("D", 5)
TST = ("TST",)
EID = ("HEX", 96)
FWTXT = ("TXT", 32)

PHASE = {  # obis -> (phase, per-phase instantaneous value)
    "1-0:32.7.0": (1, 1), "1-0:52.7.0": (2, 1), "1-0:72.7.0": (3, 1),
    "1-0:31.7.0": (1, 1), "1-0:51.7.0": (2, 1), "1-0:71.7.0": (3, 1),
    "1-0:21.7.0": (1, 1), "1-0:41.7.0": (2, 1), "1-0:61.7.0": (3, 1),
    "1-0:22.7.0": (1, 1), "1-0:42.7.0": (2, 1), "1-0:62.7.0": (3, 1),
    "1-0:23.7.0": (1, 1), "1-0:43.7.0": (2, 1), "1-0:63.7.0": (3, 1),
    "1-0:24.7.0": (1, 1), "1-0:44.7.0": (2, 1), "1-0:64.7.0": (3, 1),
    "1-0:32.32.0": (1, 0), "1-0:52.32.0": (2, 0), "1-0:72.32.0": (3, 0),
    "1-0:32.36.0": (1, 0), "1-0:52.36.0": (2, 0), "1-0:72.36.0": (3, 0),
}
EID_OBIS = ("0-0:96.1.1", "0-0:42.0.0")
OPTIONAL = ("0-1:96.3.10", "0-2:96.3.10",  # smarty auxiliary relays: only where the meter has them
            "1-0:0.2.0", "1-0:0.2.8", "1-1:0.2.0", "1-1:0.2.8")  # e-MUCS firmware lines

_SAGS = {o: [CNT] for o in ("1-0:32.32.0", "1-0:52.32.0", "1-0:72.32.0", "1-0:32.36.0", "1-0:52.36.0",
                            "1-0:72.36.0")}
_VIP = {"1-0:32.7.0": [V], "1-0:52.7.0": [V], "1-0:72.7.0": [V],
        "1-0:31.7.0": [A], "1-0:51.7.0": [A], "1-0:71.7.0": [A],
        "1-0:21.7.0": [P], "1-0:41.7.0": [P], "1-0:61.7.0": [P],
        "1-0:22.7.0": [P], "1-0:42.7.0": [P], "1-0:62.7.0": [P]}

PROFILES = {
    "dsmr5": dict({
        "1-3:0.2.8": [("D", 2)], "0-0:1.0.0": [TST], "0-0:96.1.1": [EID],
        "1-0:1.8.1": [E], "1-0:1.8.2": [E], "1-0:2.8.1": [E], "1-0:2.8.2": [E],
        "0-0:96.14.0": [("D", 4)], "1-0:1.7.0": [P], "1-0:2.7.0": [P],
        "0-0:96.7.21": [CNT], "0-0:96.7.9": [CNT], "1-0:99.97.0": "LOG",
        "0-0:96.13.0": [("HEX", 2048)]}, **_SAGS, **_VIP),
    "dsmr4": dict({
        "1-3:0.2.8": [("D", 2)], "0-0:1.0.0": [TST], "0-0:96.1.1": [EID],
        "1-0:1.8.1": [E], "1-0:1.8.2": [E], "1-0:2.8.1": [E], "1-0:2.8.2": [E],
        "0-0:96.14.0": [("D", 4)], "1-0:1.7.0": [P], "1-0:2.7.0": [P],
        "0-0:96.7.21": [CNT], "0-0:96.7.9": [CNT], "1-0:99.97.0": "LOG",
        "0-0:96.13.1": [("HEX", 16)], "0-0:96.13.0": [("HEX", 2048)]}, **_SAGS,
        **{k: v for k, v in _VIP.items() if k not in ("1-0:32.7.0", "1-0:52.7.0", "1-0:72.7.0")}),
    "emucs": {
        "0-0:96.1.4": [("D", 5)], "0-0:96.1.1": [EID], "0-0:1.0.0": [TST],
        "1-0:1.8.1": [E], "1-0:1.8.2": [E], "1-0:2.8.1": [E], "1-0:2.8.2": [E],
        "0-0:96.14.0": [("D", 4)], "1-0:1.4.0": [P], "1-0:1.6.0": [TST, P], "0-0:98.1.0": "DHIST",
        "1-0:1.7.0": [P], "1-0:2.7.0": [P],
        "1-0:21.7.0": [P], "1-0:41.7.0": [P], "1-0:61.7.0": [P],
        "1-0:22.7.0": [P], "1-0:42.7.0": [P], "1-0:62.7.0": [P],
        "1-0:32.7.0": [V], "1-0:52.7.0": [V], "1-0:72.7.0": [V],
        "1-0:31.7.0": [A2], "1-0:51.7.0": [A2], "1-0:71.7.0": [A2],
        "0-0:96.3.10": [("I1",)], "0-0:17.0.0": [_F(3, 1, "kW")], "1-0:31.4.0": [A],
        "0-0:96.13.0": [("HEX", 2048)],
        # firmware identification (a meter with the update service): core = legally relevant part
        "1-0:0.2.0": [FWTXT], "1-0:0.2.8": [FWTXT], "1-1:0.2.0": [FWTXT], "1-1:0.2.8": [FWTXT]},
    "smarty": dict({
        "1-3:0.2.8": [("D", 2)], "0-0:1.0.0": [TST], "0-0:42.0.0": [("HEX", 32)],
        "1-0:1.8.0": [E], "1-0:2.8.0": [E], "1-0:3.8.0": [EQ], "1-0:4.8.0": [EQ],
        "1-0:1.7.0": [P], "1-0:2.7.0": [P], "1-0:3.7.0": [Q], "1-0:4.7.0": [Q],
        "0-0:17.0.0": [_F(3, 1, "kVA")], "1-0:9.7.0": [S], "1-0:10.7.0": [S],
        "1-1:31.4.0": [_F(3, 0, "A"), ("SF3", "A")],
        "0-0:96.3.10": [("I1",)], "0-1:96.3.10": [("I1",)], "0-2:96.3.10": [("I1",)],
        "0-0:96.7.21": [CNT], "0-0:96.13.0": [("HEX", 2048)],
        "0-0:96.13.2": [("HEX", 2048)], "0-0:96.13.3": [("HEX", 2048)], "0-0:96.13.4": [("HEX", 2048)],
        "0-0:96.13.5": [("HEX", 2048)],
        "1-0:23.7.0": [Q], "1-0:43.7.0": [Q], "1-0:63.7.0": [Q],
        "1-0:24.7.0": [Q], "1-0:44.7.0": [Q], "1-0:64.7.0": [Q]}, **_SAGS, **_VIP),
}
MBUS_ID = {"dsmr5": "96.1.0", "dsmr4": "96.1.0", "emucs": "96.1.1", "smarty": "96.1.0"}
MBUS_UNIT_DEC = {"m3": 3, "GJ": 2, "kWh": 3}

_LINE = re.compile(r"(\d-\d:\d{1,3}\.\d{1,3}\.\d{1,3})((?:\([^()]*\))+)")
_GROUP = re.compile(r"\(([^()]*)\)")


def _check_group(g, spec, where, probs, tst_out=None):
    kind = spec[0]
    if kind == "F":
        _, i, d, unit = spec
        num = r"\d{%d}" % i + (r"\.\d{%d}" % d if d else "")
        pat = num + (r"\*" + re.escape(unit) if unit else "")
        if not re.fullmatch(pat, g):
            probs.append("%s: %r is not F%d(%d,%d)%s" % (where, g, i + d, d, d, (" *" + unit) if unit else ""))
    elif kind == "TST":
        try:
            u = tst_to_utc(g)
            if tst_out is not None:
                tst_out.append(u)
        except ValueError as e:
            probs.append("%s: %s" % (where, e))
    elif kind == "HEX":
        if not re.fullmatch(r"(?:[0-9A-F]{2})*", g) or len(g) > spec[1]:
            probs.append("%s: %r is not an uppercase hex octet string of at most %d chars" % (where, g, spec[1]))
    elif kind == "D":
        if not re.fullmatch(r"\d{%d}" % spec[1], g):
            probs.append("%s: %r is not %d digits" % (where, g, spec[1]))
    elif kind == "TXT":
        if not re.fullmatch(r"[0-9A-Za-z.\-]{1,%d}" % spec[1], g):
            probs.append("%s: %r is not 1..%d letters, digits, '.' or '-'" % (where, g, spec[1]))
    elif kind == "I1":
        if not re.fullmatch(r"\d", g):
            probs.append("%s: %r is not I1" % (where, g))
    elif kind == "SF3":
        if not re.fullmatch(r"(?:\d{3}|-\d{2})\*" + re.escape(spec[1]), g):
            probs.append("%s: %r is not a signed F3(0,0) *%s" % (where, g, spec[1]))


def mandatory(profile, phases=3, omit_phases=False, omit_equipment_id=False):
    out = set()
    for o in PROFILES[profile]:
        ph, inst = PHASE.get(o, (0, 0))
        if ph > phases or (inst and omit_phases) or (o in EID_OBIS and omit_equipment_id) or o in OPTIONAL:
            continue
        out.add(o)
    return out


def validate(tg, profile, max_len=1500, phases=3, omit_phases=False, omit_equipment_id=False):
    """Validate one plaintext telegram (bytes). Returns {obis: [groups]}; raises P1Error."""
    probs = []
    if isinstance(tg, str):
        tg = tg.encode("latin-1")
    if len(tg) >= max_len:
        probs.append("length %d is not under %d" % (len(tg), max_len))
    for i, c in enumerate(tg):
        if not (0x20 <= c <= 0x7E or c in (13, 10)):
            probs.append("byte %d: non-printable 0x%02X" % (i, c))
            break
    if not tg.startswith(b"/"):
        raise P1Error(probs + ["does not start with '/'"])
    if not tg.endswith(b"\r\n"):
        probs.append("does not end with CRLF")
    if re.search(rb"\r(?!\n)|(?<!\r)\n", tg):
        probs.append("bare CR or LF (every line must end in CRLF)")
    bang = tg.rfind(b"!")
    if bang < 0:
        raise P1Error(probs + ["no '!' end of data"])
    tail = tg[bang:]
    m = re.fullmatch(rb"!([0-9A-F]{4})\r\n", tail)
    if not m:
        probs.append("CRC line %r is not '!' + 4 uppercase hex digits + CRLF" % tail)
    elif int(m.group(1), 16) != crc16_arc(tg[:bang + 1]):
        probs.append("CRC mismatch: sent %s, computed %04X" % (m.group(1).decode(), crc16_arc(tg[:bang + 1])))
    text = tg[:bang].decode("ascii", "replace")
    lines = text.split("\r\n")
    if not re.fullmatch(r"/[A-Za-z]{3}5[\x20-\x7e]{1,}", lines[0]) or "!" in lines[0][1:] or "/" in lines[0][1:]:
        probs.append("header %r is not /XXX5<ident>" % lines[0])
    if len(lines) < 3 or lines[1] != "":
        probs.append("second line is not empty")
    if lines[-1] != "":
        probs.append("the '!' does not start a line")
    body = "\r\n".join(lines[1:])
    if "/" in body or "!" in body:
        probs.append("'/' or '!' inside the body")
    table = PROFILES[profile]
    seen = {}
    mbus = {}  # channel -> list of obis in order
    for ln in lines[2:-1]:
        m = _LINE.fullmatch(ln)
        if not m:
            probs.append("line %r is not OBIS(value)..." % ln)
            continue
        obis, gs = m.group(1), _GROUP.findall(m.group(2))
        if obis in seen:
            probs.append("%s appears twice" % obis)
        seen[obis] = gs
        a, b = obis[0], obis[2]
        rest = obis[4:]
        if a == "0" and b in "1234" and rest in ("24.1.0", "96.1.0", "96.1.1", "24.2.1", "24.2.3"):
            mbus.setdefault(int(b), []).append(rest)
            _check_mbus(profile, obis, rest, gs, mbus[int(b)], probs)
            continue
        spec = table.get(obis)
        if spec is None:
            probs.append("%s is not an object of profile %s" % (obis, profile))
            continue
        if spec == "LOG":
            _check_log(obis, gs, probs)
        elif spec == "DHIST":
            _check_dhist(obis, gs, probs)
        elif len(gs) != len(spec):
            probs.append("%s: %d value groups, expected %d" % (obis, len(gs), len(spec)))
        else:
            for g, sp in zip(gs, spec):
                _check_group(g, sp, obis, probs)
    need = mandatory(profile, phases, omit_phases, omit_equipment_id)
    for o in sorted(need - set(seen)):
        probs.append("mandatory object %s missing" % o)
    for o in seen:
        ph, inst = PHASE.get(o, (0, 0))
        if ph > phases:
            probs.append("%s sent by a %d-phase meter" % (o, phases))
        if inst and omit_phases:
            probs.append("%s sent although per-phase data is left out" % o)
        if o in EID_OBIS and omit_equipment_id:
            probs.append("%s sent although the equipment identifier is left out" % o)
    for ch, objs in mbus.items():
        if objs[0] != "24.1.0":
            probs.append("M-Bus channel %d: device type is not its first object" % ch)
        if omit_equipment_id and any(o.startswith("96.1") for o in objs):
            probs.append("M-Bus channel %d: equipment identifier sent although left out" % ch)
        if not omit_equipment_id and MBUS_ID[profile] not in objs:
            probs.append("M-Bus channel %d: no equipment identifier" % ch)
        if not any(o.startswith("24.2.") for o in objs):
            probs.append("M-Bus channel %d: no reading" % ch)
    if probs:
        raise P1Error(probs)
    return seen


def _check_mbus(profile, obis, rest, gs, objs, probs):
    if objs.count(rest) > 1:
        probs.append("%s appears twice" % obis)
    if rest == "24.1.0":
        if len(gs) != 1 or not re.fullmatch(r"\d{3}", gs[0]):
            probs.append("%s: device type %r is not F3(0,0)" % (obis, gs))
    elif rest.startswith("96.1."):
        if rest != "96.1." + MBUS_ID[profile][-1]:
            probs.append("%s: M-Bus equipment identifier is %s in profile %s" % (obis, MBUS_ID[profile], profile))
        if len(gs) != 1:
            probs.append("%s: one value group expected" % obis)
        else:
            _check_group(gs[0], ("HEX", 96), obis, probs)
    else:
        if rest == "24.2.3" and profile != "emucs":
            probs.append("%s: 24.2.3 is the e-MUCS gas object" % obis)
        if len(gs) != 2:
            probs.append("%s: (TST)(value*unit) expected" % obis)
            return
        _check_group(gs[0], TST, obis, probs)
        m = re.fullmatch(r"(\d+)\.(\d+)\*(m3|GJ|kWh)", gs[1])
        if not m:
            probs.append("%s: reading %r is not F8(d,d)*unit" % (obis, gs[1]))
        else:
            dec = MBUS_UNIT_DEC[m.group(3)]
            if len(m.group(2)) != dec or len(m.group(1)) + dec != 8:
                probs.append("%s: reading %r is not F8(%d,%d)" % (obis, gs[1], dec, dec))


def _check_log(obis, gs, probs):
    if len(gs) < 2 or not re.fullmatch(r"\d{1,2}", gs[0]) or gs[1] != "0-0:96.7.19":
        probs.append("%s: header is not (z)(0-0:96.7.19)" % obis)
        return
    z = int(gs[0])
    if z > 10:
        probs.append("%s: %d entries, at most 10" % (obis, z))
    if len(gs) != 2 + 2 * z:
        probs.append("%s: z=%d but %d value groups" % (obis, z, len(gs)))
        return
    times = []
    for k in range(z):
        _check_group(gs[2 + 2 * k], TST, obis, probs, times)
        if not re.fullmatch(r"\d{10}\*s", gs[3 + 2 * k]):
            probs.append("%s: duration %r is not F10(0,0)*s" % (obis, gs[3 + 2 * k]))
    if times != sorted(times, reverse=True):
        probs.append("%s: entries are not newest first" % obis)


def _check_dhist(obis, gs, probs):
    if (len(gs) < 3 or not re.fullmatch(r"\d{1,2}", gs[0]) or gs[1] != "1-0:1.6.0" or gs[2] != "1-0:1.6.0"):
        probs.append("%s: header is not (n)(1-0:1.6.0)(1-0:1.6.0)" % obis)
        return
    n = int(gs[0])
    if n > 13 or len(gs) != 3 + 3 * n:
        probs.append("%s: n=%d but %d value groups" % (obis, n, len(gs)))
        return
    for k in range(n):
        _check_group(gs[3 + 3 * k], TST, obis, probs)
        _check_group(gs[4 + 3 * k], TST, obis, probs)
        _check_group(gs[5 + 3 * k], P, obis, probs)


# ---------------------------------------------------------------- smarty frames


def parse_frame(frame):
    """(system_title, frame_counter, ciphertext, tag) of a general-glo-ciphering frame; raises
    P1Error when the layout is not DB 08 st 82 len(2) 30 fc(4) ct tag(12)."""
    probs = []
    if len(frame) < 30:
        raise P1Error(["frame of %d bytes is too short" % len(frame)])
    if frame[0] != 0xDB or frame[1] != 0x08:
        probs.append("frame does not start DB 08")
    if frame[10] != 0x82:
        probs.append("length is not 82 + 2 bytes")
    ln = (frame[11] << 8) | frame[12]
    if ln != len(frame) - 13:
        probs.append("length field %d, frame carries %d" % (ln, len(frame) - 13))
    if frame[13] != 0x30:
        probs.append("security control 0x%02X, expected 0x30" % frame[13])
    if probs:
        raise P1Error(probs)
    return bytes(frame[2:10]), int.from_bytes(frame[14:18], "big"), bytes(frame[18:-12]), bytes(frame[-12:])


def decrypt_frame(frame, key, auth_key=LU_AUTH_KEY):
    """Plaintext of a smarty frame (AES-128-GCM, IV = st || fc, AAD = 0x30 || AK, 12-byte tag)."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    st, fc, ct, tag = parse_frame(frame)
    dec = Cipher(algorithms.AES(key), modes.GCM(st + fc.to_bytes(4, "big"), tag, min_tag_length=12)).decryptor()
    dec.authenticate_additional_data(b"\x30" + auth_key)
    return dec.update(ct) + dec.finalize()


def validate_smarty(frame, key, auth_key=LU_AUTH_KEY, max_len=1500, **opts):
    """Validate an encrypted smarty frame; returns (frame counter, {obis: groups})."""
    pt = decrypt_frame(frame, key, auth_key)
    return parse_frame(frame)[1], validate(pt, "smarty", max_len=max_len, **opts)
