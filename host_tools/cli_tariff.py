"""`python -m host_tools optical tariff ...`: load a tariff calendar into a meter through the optical
port's programming mode (IEC 62056-21, level 2), as the active calendar now or as the passive one.

    optical tariff PORT FILE.json                      make FILE the active calendar now
    optical tariff PORT FILE.json --passive next-month activate at local midnight on the 1st
    optical tariff PORT FILE.json --passive 2028-03-01T00:00     (local time; or YYMMDDhhmmss)
    optical tariff PORT --status                       show the active / passive calendar ids
    optical tariff PORT --cancel-passive               drop the scheduled calendar

Options: --password (the level-2 secret; else $METER_PASSWORD, else a prompt), --level 2 (default;
the meter only accepts calendars at level 2), --hex (the secret is given in hex), --address, --baud,
--echo, --timeout, -v; --encoding text|hex (text: half the frames), --chunk N (bytes per frame),
--raw (send the file's bytes as they are instead of compact JSON), --no-check (skip the local
validation with the firmware's own parser).

The objects it uses (C.90.x) are documented in firmware/config/TARIFF.md. The calendar id the meter
reports (C.90.0) is the CRC-32 of the JSON text as sent, printed here too; the events carry it as
ident = crc & 0x3FFFFFFF.

Library use (tests): encode_calendar(text) -> bytes, send_calendar(client, data, passive=None).
"""
import argparse
import binascii
import datetime
import json
import os
import sys
import zlib

if __package__ in (None, ""):  # run as a script
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from host_tools.iec_client import IecClient, IecError, write_retrying  # noqa: E402
    from host_tools.cli_optical import _safe, _secret  # noqa: E402
else:
    from .iec_client import IecClient, IecError, write_retrying
    from .cli_optical import _safe, _secret

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FRAME_VALUE_MAX = 243  # RX_MAX 256 - SOH W1 STX 'C.90.1(' ')' ETX
OBJ_ACTIVE, OBJ_CHUNK, OBJ_COMMIT, OBJ_PASSIVE, OBJ_ERROR = "C.90.0", "C.90.1", "C.90.2", "C.90.3", "C.90.9"


def crc32(data):
    return zlib.crc32(data) & 0xFFFFFFFF


def encode_calendar(text, raw=False):
    """The bytes to send: compact ASCII JSON in which '(' ')' '!' '/' (only possible inside JSON
    strings) are \\u escapes, so text chunks need no hex. raw=True: the text's own UTF-8 bytes."""
    if raw:
        return text.encode() if isinstance(text, str) else bytes(text)
    obj = json.loads(text)
    out = json.dumps(obj, separators=(",", ":"), ensure_ascii=True)
    for a, b in (("(", "\\u0028"), (")", "\\u0029"), ("!", "\\u0021"), ("/", "\\u002f")):
        out = out.replace(a, b)
    return out.encode("ascii")


def check_calendar(text):
    """Validate with the firmware's parser (runs under CPython too). Returns the calendar name;
    ValueError with the firmware's reason."""
    fw = os.path.join(ROOT, "firmware")
    if fw not in sys.path:
        sys.path.insert(0, fw)
    from meter.cores.tariff import calendar as tariff  # noqa: E402
    return tariff.load_json(text if isinstance(text, str) else text.decode()).name


def _text_ok(chunk):
    return all(0x20 <= c < 0x7F and c not in b"()!/" for c in chunk)


def when_value(when):
    """'next-month', 'YYMMDDhhmmss' or an ISO local date-time -> the C.90.3 activation text."""
    if when == "next-month" or (len(when) == 12 and when.isdigit()):
        return when
    t = datetime.datetime.fromisoformat(when)
    if t.tzinfo is not None:
        raise ValueError("give the activation as the meter's local time, without a zone")
    return t.strftime("%y%m%d%H%M%S")


def send_calendar(client, data, passive=None, chunk=200, encoding="text", retries=3, log=None):
    """Stage `data` (bytes) in chunks, check what the meter holds, commit it (active now, or passive
    from `passive`: 'next-month' / 'YYMMDDhhmmss'). `client` is an IecClient already logged in at
    level 2. Returns the CRC-32. Raises IecError (reason from the meter; the full text of a
    rejection is in .detail)."""
    crc = crc32(data)
    text_mode = encoding == "text" and _text_ok(data)
    step = chunk if text_mode else chunk // 2
    step = max(1, min(step, (FRAME_VALUE_MAX - 8) // (1 if text_mode else 2)))
    client.write(OBJ_CHUNK, "")
    off = 0
    while off < len(data):
        part = data[off:off + step]
        value = "%d:%s" % (off, ("'" + part.decode("ascii")) if text_mode else
                           binascii.hexlify(part).decode().upper())
        write_retrying(client, OBJ_CHUNK, value, retries)
        off += len(part)
        if log:
            log("staged %d/%d bytes" % (off, len(data)))
    have, _ = client.read(OBJ_CHUNK)
    if have != "%d,%08X" % (len(data), crc):
        raise IecError("the meter staged %r, expected %d bytes with CRC %08X" % (have, len(data), crc))
    try:
        if passive:
            client.write(OBJ_PASSIVE, "%s,%08X" % (when_value(passive), crc))
        else:
            client.write(OBJ_COMMIT, "%08X" % crc)
    except IecError as e:
        try:
            e.detail, _ = client.read(OBJ_ERROR)
        except IecError:
            e.detail = None
        raise
    return crc


def status(client):
    """(active crc text, passive text 'crc,YYMMDDhhmmss' or 'NONE')."""
    return client.read(OBJ_ACTIVE)[0], client.read(OBJ_PASSIVE)[0]


# ------------------------------------------------------------------ command line

def cmd_tariff(args):
    data = None
    name = None
    if args.file:
        with open(args.file, "rb") as f:
            raw = f.read()
        text = raw.decode("utf-8")
        if not args.no_check:
            try:
                name = check_calendar(text)
            except ValueError as e:
                print("error: %s: %s (not sent)" % (args.file, e), file=sys.stderr)
                return 1
        data = encode_calendar(text, raw=args.raw)
        if args.passive:
            when_value(args.passive)  # fail before touching the port
    elif not (args.status or args.cancel_passive):
        print("error: give FILE.json, --status or --cancel-passive", file=sys.stderr)
        return 2
    log = (lambda s: print(s, file=sys.stderr)) if args.verbose else None
    pw = _secret(args)
    with IecClient(args.port, address=args.address, timeout=args.timeout, max_baud=args.baud,
                   echo=args.echo, log=log) as c:
        if args.level == 2:
            c.program(key=binascii.unhexlify(pw) if args.hex else pw.encode(), level=2)
        else:
            c.program(password=pw)
        try:
            if args.cancel_passive:
                c.write(OBJ_PASSIVE, "NONE")
                print("passive calendar cancelled")
            if data is not None:
                try:
                    crc = send_calendar(c, data, args.passive, args.chunk, args.encoding, log=log)
                except IecError as e:
                    detail = getattr(e, "detail", None)
                    print("error: calendar rejected: %s" % (detail or e.reason or e), file=sys.stderr)
                    return 1
                label = ("passive from %s" % args.passive) if args.passive else "active now"
                print("calendar %08X (%s, %d bytes) %s" % (crc, name or args.file, len(data), label))
            act, pas = status(c)
            print("active %s, passive %s" % (act, pas))
        finally:
            c.bye()
    return 0


def _add(p):
    p.add_argument("port", help="serial device of the optical head, or the rig's pty")
    p.add_argument("file", nargs="?", default=None, help="calendar JSON (firmware/config/TARIFF.md)")
    p.add_argument("--passive", default=None, metavar="WHEN",
                   help="load as the passive calendar: next-month, YYMMDDhhmmss or YYYY-MM-DDThh:mm "
                        "(meter local time)")
    p.add_argument("--status", action="store_true", help="only show the active/passive calendar ids")
    p.add_argument("--cancel-passive", action="store_true", help="drop the passive calendar")
    p.add_argument("--encoding", choices=("text", "hex"), default="text", help="chunk encoding")
    p.add_argument("--chunk", type=int, default=200, help="calendar bytes per frame (text)")
    p.add_argument("--raw", action="store_true", help="send the file as is (not compact JSON)")
    p.add_argument("--no-check", action="store_true", help="skip the local validation")
    p.add_argument("--address", default="", help="device address (default: general sign-on)")
    p.add_argument("--baud", default=None, choices=list("0123456"),
                   help="highest baud character to accept (default: what the meter offers)")
    p.add_argument("--echo", action="store_true", help="the optical head echoes what it sends")
    p.add_argument("--timeout", type=float, default=3.0, help="answer timeout in s")
    p.add_argument("-v", "--verbose", action="store_true", help="log the frames to stderr")
    p.add_argument("--password", default=None, help="the secret (else $METER_PASSWORD, else a prompt)")
    p.add_argument("--level", type=int, choices=(1, 2), default=2,
                   help="access level (calendars need 2: P2 with the level-2 secret)")
    p.add_argument("--hex", action="store_true", help="the level-2 secret is given in hex")
    p.set_defaults(func=_safe(cmd_tariff))


def register(subparsers):
    """Add `tariff` under the `optical` command (cli_optical registers `optical` first: modules are
    loaded in name order); a top-level `tariff` command if there is no `optical` command."""
    opt = subparsers.choices.get("optical") if hasattr(subparsers, "choices") else None
    sub = None
    if opt is not None:
        for a in opt._actions:
            if isinstance(a, argparse._SubParsersAction):
                sub = a
                break
    help_text = "load a tariff calendar (programming mode, level 2)"
    if sub is not None:
        p = sub.add_parser("tariff", help=help_text)
        if isinstance(sub.metavar, str) and "tariff" not in sub.metavar:
            sub.metavar += "|tariff"
    else:
        p = subparsers.add_parser("tariff", help=help_text)
    _add(p)
    return p


def run(argv=None):
    ap = argparse.ArgumentParser(prog="optical tariff")
    _add(ap)
    args = ap.parse_args(sys.argv[1:] if argv is None else argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(run())
