"""`p1`: P1 (HAN) port tools.

    python -m host_tools p1 monitor <url-or-port> [--profile auto|dsmr5|dsmr4|emucs|smarty]
                                                  [--key K] [--auth-key A] [--count N] [--raw]
                                                  [--json]

Shows the decoded telegrams of this meter or any DSMR / e-MUCS / Smarty meter, live. The port is
a serial device (opened at 115200 8N1, as DSMR 4/5 use) or any pyserial URL: socket://host:port
for a P1 network dongle or the simulator, rfc2217://..., loop://. Telegrams are decoded with
dsmr-parser; a telegram whose CRC does not match is shown as one plain "CRC error" line and not
decoded. Smarty frames (DLMS general-glo-ciphering) are decrypted with --key (the P1 encryption
key from the DSO, 32 hex digits); --auth-key defaults to the public Luxmetering key. Keys are never
printed. Ctrl-C stops cleanly; --count N stops after N telegrams (good or bad).

--json prints one JSON object per telegram, one per line: {"n", "profile", "header", "crc",
"via" (smarty: system title and frame counter), "objects": {dsmr-parser name: {"value", "unit"}
(+ "time" for timestamped values; a list for multi-value objects and M-Bus channels)}, "raw"
with --raw}, or {"n", "error"} for a telegram that is not decoded (CRC, decryption, parse).
"""
import argparse
import json
import sys
import time

LU_AUTH_KEY = "00112233445566778899AABBCCDDEEFF"
PROFILES = ("auto", "dsmr5", "dsmr4", "emucs", "smarty")
MAX_TELEGRAM = 16384
DEVICE_TYPES = {2: "electricity", 3: "gas", 4: "heat", 6: "warm water", 7: "water", 10: "cooling",
                11: "cooling", 12: "heat", 13: "heat/cooling", 21: "hot water", 22: "cold water"}


def register(sub):
    p = sub.add_parser("p1", help="P1 port tools (monitor)", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    s = p.add_subparsers(dest="p1_command", metavar="p1-command")
    m = s.add_parser("monitor", help="show live decoded telegrams from a P1 port")
    m.add_argument("port", help="serial device (115200 8N1) or pyserial URL, e.g. socket://127.0.0.1:8088")
    m.add_argument("--profile", choices=PROFILES, default="auto",
                   help="telegram flavour (default: detect from each telegram)")
    m.add_argument("--key", help="smarty: P1 encryption key, 32 hex digits")
    m.add_argument("--auth-key", help="smarty: authentication key, 32 hex digits (default: Luxmetering's)")
    m.add_argument("--count", type=int, default=0, help="stop after N telegrams (0: run until Ctrl-C)")
    m.add_argument("--timeout", type=float, default=0,
                   help="stop with exit status 3 after this many seconds without a telegram (0: never)")
    m.add_argument("--raw", action="store_true", help="also print each raw telegram")
    m.add_argument("--json", action="store_true", help="one JSON object per telegram, one per line")
    m.set_defaults(func=monitor)
    p.set_defaults(func=lambda a: (p.print_help(), 2)[1])


# ---------------------------------------------------------------- framing


def crc16_arc(data):
    crc = 0
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


class Framer:
    """Cuts a byte stream into plaintext telegrams ('/' .. '!CRC' CRLF) and DLMS
    general-glo-ciphering frames (DB 08 ...). feed() returns a list of (kind, bytes)."""

    def __init__(self, plain=True, cipher=True):
        self.buf = bytearray()
        self.plain = plain
        self.cipher = cipher
        self.noise = 0  # bytes skipped between telegrams

    def feed(self, data):
        self.buf += data
        out = []
        while self.buf:
            b0 = self.buf[0]
            if self.plain and b0 == 0x2F:
                end = self._plain_end()
                if end is None:
                    break
                if end < 0:  # no end in sight: resynchronise on the next start
                    self._skip(1)
                    continue
                out.append(("plain", bytes(self.buf[:end])))
                del self.buf[:end]
            elif self.cipher and b0 == 0xDB:
                n = self._frame_len()
                if n is None:
                    break
                if n < 0:
                    self._skip(1)
                    continue
                out.append(("frame", bytes(self.buf[:n])))
                del self.buf[:n]
            else:
                self._skip(1)
        return out

    def _skip(self, n):
        # drop up to the next possible start byte
        i = n
        while i < len(self.buf) and not ((self.plain and self.buf[i] == 0x2F) or
                                         (self.cipher and self.buf[i] == 0xDB)):
            i += 1
        self.noise += i
        del self.buf[:i]

    def _plain_end(self):
        bang = self.buf.find(b"!")
        if bang < 0:
            return -1 if len(self.buf) > MAX_TELEGRAM else None
        nxt = self.buf.find(b"/", 1, bang)
        if nxt > 0:  # a new telegram started before this one ended: this one is cut
            return -1
        crlf = self.buf.find(b"\r\n", bang)
        if crlf < 0:
            return -1 if len(self.buf) - bang > 8 else None
        return crlf + 2

    def _frame_len(self):
        if len(self.buf) < 13:
            return None
        if self.buf[1] != 8:
            return -1
        l0 = self.buf[10]
        if l0 < 0x80:
            hdr, ln = 11, l0
        elif l0 == 0x81:
            hdr, ln = 12, self.buf[11]
        elif l0 == 0x82:
            hdr, ln = 13, (self.buf[11] << 8) | self.buf[12]
        else:
            return -1
        if ln < 17 or ln > MAX_TELEGRAM:
            return -1
        if len(self.buf) < hdr + ln:
            return None
        return hdr + ln


def decrypt_frame(frame, key, auth_key):
    """(system title, frame counter, plaintext) of a general-glo-ciphering frame; ValueError when
    it does not authenticate."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    l0 = frame[10]
    hdr = 11 if l0 < 0x80 else (12 if l0 == 0x81 else 13)
    st = bytes(frame[2:10])
    sc = frame[hdr]
    fc = int.from_bytes(frame[hdr + 1:hdr + 5], "big")
    ct, tag = bytes(frame[hdr + 5:-12]), bytes(frame[-12:])
    if sc != 0x30:
        raise ValueError("security control 0x%02X is not 0x30 (encrypted + authenticated)" % sc)
    dec = Cipher(algorithms.AES(key), modes.GCM(st + fc.to_bytes(4, "big"), tag, min_tag_length=12)).decryptor()
    dec.authenticate_additional_data(b"\x30" + auth_key)
    try:
        return st, fc, dec.update(ct) + dec.finalize()
    except InvalidTag:
        raise ValueError("authentication failed (wrong --key or --auth-key?)")


# ---------------------------------------------------------------- decoding and display


def _specs():
    import copy
    from dsmr_parser import telegram_specifications as ts
    msn = copy.deepcopy(ts.MSN)
    msn["general_global_cipher"] = False  # the monitor decrypts itself
    return {"dsmr5": ts.V5, "dsmr4": ts.V4, "emucs": ts.BELGIUM_FLUVIUS, "smarty": msn}


def detect(text):
    if "0-0:96.1.4(" in text:
        return "emucs"
    if "0-0:42.0.0(" in text or "1-0:9.7.0(" in text:
        return "smarty"
    if "1-3:0.2.8(4" in text:
        return "dsmr4"
    return "dsmr5"


def _ascii(hexstr):
    try:
        s = bytes.fromhex(hexstr).decode("ascii")
    except (ValueError, UnicodeDecodeError):
        return None
    return s if s.isprintable() else None


def _fmt_value(v):
    from datetime import datetime
    from zoneinfo import ZoneInfo
    if isinstance(v, datetime):
        loc = v.astimezone(ZoneInfo("Europe/Amsterdam"))
        return "%s (%s)" % (loc.strftime("%Y-%m-%d %H:%M:%S"), "S" if loc.dst() else "W")
    return "-" if v is None else str(v)


def describe(parsed):
    """Display lines for a dsmr-parser Telegram."""
    lines = []
    for name, obj in parsed:
        if name == "MBUS_DEVICES":
            for dev in obj:
                parts = []
                for n2, o2 in dev:
                    if hasattr(o2, "datetime") and hasattr(o2, "unit") and not hasattr(o2, "buffer"):
                        parts.append("%s %s at %s" % (o2.value, o2.unit or "", _fmt_value(o2.datetime)))
                    elif "DEVICE_TYPE" in n2:
                        parts.append("type %s (%s)" % (o2.value, DEVICE_TYPES.get(o2.value, "?")))
                    elif "IDENTIFIER" in n2:
                        a = _ascii(o2.value or "")
                        parts.append("id %s%s" % (o2.value or "-", " (%s)" % a if a else ""))
                    else:
                        parts.append("%s %s" % (n2.lower(), _fmt_value(o2.value)))
                lines.append("  %-40s %s" % ("M-Bus channel %d" % dev.channel_id, ", ".join(parts)))
            continue
        if isinstance(obj, list):  # e-MUCS 13-month maximum demand
            for k, pk in enumerate(obj):
                lines.append("  %-40s %s %s in month of %s (at %s)" % (
                    "%s[%d]" % (name, k), pk.value, pk.unit, _fmt_value(pk.datetime), _fmt_value(pk.occurred)))
            if not obj:
                lines.append("  %-40s -" % name)
            continue
        if hasattr(obj, "buffer"):  # power failure log
            ev = ["%s for %s %s" % (_fmt_value(b.datetime), b.value, b.unit) for b in obj.buffer]
            lines.append("  %-40s %d: %s" % (name, obj.buffer_length, "; ".join(ev) if ev else "none"))
            continue
        if hasattr(obj, "datetime"):  # (TST)(value) objects
            lines.append("  %-40s %s %s at %s" % (name, obj.value, obj.unit or "", _fmt_value(obj.datetime)))
            continue
        vals = getattr(obj, "values", None)
        if vals and len(vals) > 1:
            lines.append("  %-40s %s" % (name, " ".join("%s %s" % (v["value"], v["unit"] or "") for v in vals)))
            continue
        v = obj.value
        extra = ""
        if isinstance(v, str) and ("IDENTIFIER" in name or "TEXT" in name):
            a = _ascii(v)
            extra = ' ("%s")' % a if a else ""
        lines.append("  %-40s %s%s%s" % (name, _fmt_value(v), " " + obj.unit if obj.unit else "", extra))
    return lines


def _jv(v):
    """A dsmr-parser value as JSON: Decimal -> number, datetime -> ISO 8601 with offset."""
    from datetime import datetime
    from decimal import Decimal
    if isinstance(v, Decimal):
        return float(v)
    if isinstance(v, datetime):
        return v.isoformat()
    return v


def _jobj(obj):
    if isinstance(obj, list):  # e-MUCS 13-month maximum demand
        return [{"value": _jv(pk.value), "unit": pk.unit, "month": _jv(pk.datetime),
                 "time": _jv(pk.occurred)} for pk in obj]
    if hasattr(obj, "buffer"):  # power failure log
        return {"count": obj.buffer_length, "events": [
            {"end": _jv(b.datetime), "value": _jv(b.value), "unit": b.unit} for b in obj.buffer]}
    out = {"value": _jv(obj.value), "unit": obj.unit or None}
    if hasattr(obj, "datetime"):
        out["time"] = _jv(obj.datetime)
    vals = getattr(obj, "values", None)
    if vals and len(vals) > 1:
        return [{"value": _jv(v["value"]), "unit": v["unit"] or None} for v in vals]
    return out


def to_json(parsed):
    """{name: value object} of a dsmr-parser Telegram (M-Bus channels as a list of dicts)."""
    objs = {}
    for name, obj in parsed:
        if name == "MBUS_DEVICES":
            objs[name] = [dict([("channel", dev.channel_id)] + [(n2, _jobj(o2)) for n2, o2 in dev])
                          for dev in obj]
        else:
            objs[name] = _jobj(obj)
    return objs


class Monitor:
    def __init__(self, profile="auto", key=None, auth_key=None, out=None, raw=False, as_json=False):
        self.profile = profile
        self.key = key
        self.auth_key = auth_key or bytes.fromhex(LU_AUTH_KEY)
        self.out = out or sys.stdout
        self.raw = raw
        self.as_json = as_json
        self.n = 0
        self.good = 0
        self.crc_errors = 0
        self.other_errors = 0
        self.framer = Framer(plain=profile != "smarty" or key is None, cipher=profile in ("auto", "smarty"))
        self._specs = None
        self._parsers = {}
        self._warned_key = False

    def p(self, s=""):
        self.out.write(s + "\n")
        self.out.flush()

    def err(self, msg, raw=None):
        """A telegram not decoded: '#n msg' (and the raw text with --raw), or {"n", "error"}."""
        if self.as_json:
            self.p(json.dumps(dict({"n": self.n, "error": msg}, **({"raw": raw} if raw and self.raw else {}))))
            return
        self.p("#%d %s" % (self.n, msg))
        if raw is not None and self.raw:
            self.p(raw)

    def feed(self, data, limit=0):
        """Decode the telegrams in data; with limit, stop after the limit-th telegram overall
        (one read can hold several, and --count N must print exactly N)."""
        for kind, blob in self.framer.feed(data):
            if limit and self.n >= limit:
                break
            self.n += 1
            if kind == "frame":
                self.frame(blob)
            else:
                self.plain(blob, None)

    def frame(self, blob):
        if self.key is None:
            self.other_errors += 1
            self.err("encrypted frame (%d bytes, DLMS general-glo-ciphering): give --key to decrypt"
                     % len(blob))
            return
        try:
            st, fc, pt = decrypt_frame(blob, self.key, self.auth_key)
        except (ValueError, IndexError) as e:
            self.other_errors += 1
            self.err("decryption failed: %s" % e)
            return
        self.plain(pt, "system title %s, frame counter %d" % (st.hex().upper(), fc))

    def plain(self, tg, via):
        from dsmr_parser.exceptions import ParseError
        from dsmr_parser.parsers import TelegramParser
        try:
            text = tg.decode("ascii")
        except UnicodeDecodeError:
            self.other_errors += 1
            self.err("not a telegram: non-ASCII bytes (%d bytes; wrong baud rate or line inversion?)"
                     % len(tg))
            return
        bang = tg.rfind(b"!")
        sent = tg[bang + 1:].strip()
        if sent:  # DSMR 4+ carries a CRC; DSMR 2/3 do not
            calc = crc16_arc(tg[:bang + 1])
            try:
                ok = int(sent, 16) == calc and len(sent) == 4
            except ValueError:
                ok = False
            if not ok:
                self.crc_errors += 1
                self.err("CRC error: telegram says %s, computed %04X (%d bytes, not decoded)"
                         % (sent.decode("ascii", "replace"), calc, len(tg)), text.rstrip("\r\n"))
                return
        prof = self.profile if self.profile not in ("auto",) else detect(text)
        if self._specs is None:
            self._specs = _specs()
        parser = self._parsers.get(prof)
        if parser is None:
            parser = self._parsers[prof] = TelegramParser(self._specs[prof], apply_checksum_validation=bool(sent))
        try:
            parsed = parser.parse(text, throw_ex=True)
        except ParseError as e:
            self.other_errors += 1
            self.err("parse error (%s): %s" % (prof, e))
            return
        self.good += 1
        head = text.split("\r\n", 1)[0]
        if self.as_json:
            obj = {"n": self.n, "profile": prof, "header": head, "crc": sent.decode() if sent else None,
                   "via": via, "objects": to_json(parsed)}
            if self.raw:
                obj["raw"] = text
            self.p(json.dumps(obj))
            return
        self.p("#%d %s %s, %d bytes, CRC %s ok%s" % (self.n, prof, head, len(tg), sent.decode() if sent else "-",
                                                     ", " + via if via else ""))
        for ln in describe(parsed):
            self.p(ln)
        if self.raw:
            self.p(text.rstrip("\r\n"))


def _key_arg(v, what):
    if v is None:
        return None
    try:
        k = bytes.fromhex(v)
    except ValueError:
        k = b""
    if len(k) != 16:
        raise SystemExit("p1 monitor: %s must be 32 hex digits" % what)
    return k


SILENT_NOTE_S = 5


def monitor(args):
    import serial
    key = _key_arg(args.key, "--key")
    auth = _key_arg(args.auth_key, "--auth-key")
    if args.profile == "smarty" and key is None:
        print("p1 monitor: note: smarty frames need --key to be decrypted", file=sys.stderr)
    try:
        port = serial.serial_for_url(args.port, baudrate=115200, bytesize=serial.EIGHTBITS,
                                     parity=serial.PARITY_NONE, stopbits=serial.STOPBITS_ONE, timeout=0.2)
    except (serial.SerialException, ValueError, OSError) as e:
        print("p1 monitor: cannot open %s: %s" % (args.port, e), file=sys.stderr)
        if "://" not in args.port and ":" in args.port and not args.port.startswith("/"):
            print("p1 monitor: hint: a network dongle needs a URL: socket://%s" % args.port, file=sys.stderr)
        return 1
    mon = Monitor(args.profile, key, auth, raw=args.raw, as_json=args.json)
    last = time.monotonic()
    warned = False
    status = 0
    try:
        while not (args.count and mon.n >= args.count):
            try:
                data = port.read(4096)
            except serial.SerialException as e:
                print("p1 monitor: %s: %s" % (args.port, e), file=sys.stderr)
                status = 1
                break
            if data:
                n0 = mon.n
                mon.feed(data, args.count)
                if mon.n != n0:
                    last = time.monotonic()
            elif not warned and time.monotonic() - last > SILENT_NOTE_S:
                # say so instead of waiting silently forever (a wrong port or a dongle not sending)
                print("p1 monitor: nothing received on %s for %d s, still waiting (Ctrl-C stops)"
                      % (args.port, SILENT_NOTE_S), file=sys.stderr)
                warned = True
            if not data and args.timeout and time.monotonic() - last > args.timeout:
                print("p1 monitor: no telegram for %.0f s" % args.timeout, file=sys.stderr)
                status = 3
                break
    except KeyboardInterrupt:
        pass
    finally:
        port.close()
    print("p1 monitor: %d telegrams, %d decoded, %d CRC errors, %d other errors"
          % (mon.n, mon.good, mon.crc_errors, mon.other_errors), file=sys.stderr)
    return status


def main(argv=None):
    parser = argparse.ArgumentParser(prog="cli_p1")
    register(parser.add_subparsers(dest="command", metavar="command"))
    args = parser.parse_args(["p1"] + list(sys.argv[1:] if argv is None else argv))
    return args.func(args) or 0


if __name__ == "__main__":
    sys.exit(main())
