"""`python -m host_tools optical ...`: read a meter through its optical port (IEC 62056-21).

    optical read  PORT [--json]              full data readout (mode C); --json: one JSON object
                                             {"identification", "manufacturer", "baud_char",
                                             "ident", "datasets": [{"address", "value", "unit"}]}
    optical get   PORT OBIS                  R1 in programming mode (needs the password)
    optical set   PORT OBIS VALUE            W1 in programming mode
    optical clock PORT [--set now|ISO]       read (or set) the meter clock (0-0:1.0.0)

Common options: --address (device address, default: general), --baud (highest baud character to
accept, '0'..'6'), --echo (the head echoes), --timeout, -v (log the frames).
Password options (get/set/clock): --password TEXT, else $METER_PASSWORD, else an interactive
prompt. --level 2 logs in with P2: the password is then the level-2 secret (--hex: given in hex).

Runnable alone too: python host_tools/cli_optical.py read /dev/ttyUSB0
"""
import argparse
import binascii
import datetime
import getpass
import json
import os
import re
import sys

if __package__ in (None, ""):  # run as a script
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from host_tools.iec_client import IecClient, IecError  # noqa: E402
else:
    from .iec_client import IecClient, IecError


def _client(args):
    log = (lambda s: print(s, file=sys.stderr)) if args.verbose else None
    return IecClient(args.port, address=args.address, timeout=args.timeout, max_baud=args.baud,
                     echo=args.echo, log=log)


def _secret(args):
    pw = args.password
    if pw is None:
        pw = os.environ.get("METER_PASSWORD")
    if pw is None and not sys.stdin.isatty():
        # getpass without a terminal falls back to a warning and a traceback on EOF
        raise SystemExit("optical: no terminal to ask for the %s: give --password or set METER_PASSWORD"
                         % ("level-2 secret" if args.level == 2 else "password"))
    if pw is None:
        pw = getpass.getpass("meter %s: " % ("level-2 secret" if args.level == 2 else "password"))
    return pw


def _login(c, args):
    pw = _secret(args)
    if args.level == 2:
        key = binascii.unhexlify(pw) if args.hex else pw.encode()
        c.program(key=key, level=2)
    else:
        c.program(password=pw)


def cmd_read(args):
    with _client(args) as c:
        r = c.readout()
    i = r.ident
    if args.json:
        print(json.dumps({"identification": "/%s%s%s" % (i.manufacturer, i.baud_char, i.ident),
                          "manufacturer": i.manufacturer, "baud_char": i.baud_char, "ident": i.ident,
                          "datasets": [{"address": a, "value": v, "unit": u} for a, v, u in r.datasets]}))
        return 0
    print("/%s%s%s" % (i.manufacturer, i.baud_char, i.ident))
    for ln in r.lines:
        print(ln)
    return 0


def cmd_get(args):
    with _client(args) as c:
        _login(c, args)
        try:
            v, u = c.read(args.obis)
        finally:
            c.bye()
    print("%s(%s%s)" % (args.obis, v, "*" + u if u else ""))
    return 0


def cmd_set(args):
    with _client(args) as c:
        _login(c, args)
        try:
            c.write(args.obis, args.value)
        finally:
            c.bye()
    print("ok")
    return 0


def _iso_utc(text):
    if text == "now":
        t = datetime.datetime.now(datetime.timezone.utc)
    else:
        t = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
        if t.tzinfo is None:
            raise ValueError("give the time zone (Z or +hh:mm)")
        t = t.astimezone(datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def cmd_clock(args):
    value = _iso_utc(args.set) if args.set else None
    with _client(args) as c:
        _login(c, args)
        try:
            if value:
                c.write("0-0:1.0.0", value)
            v, _ = c.read("0-0:1.0.0")
        finally:
            c.bye()
    print("0-0:1.0.0(%s)" % v)
    return 0


def _locked_hint(reason):
    """What (ERROR:LOCKED) means and for how long: the remaining seconds when the meter's answer
    carries them (LOCKED <n> / LOCKED:<n>), else the default policy (ports/optical.py)."""
    m = re.match(r"LOCKED\W*(\d+)?", reason or "")
    if not m:
        return ""
    if m.group(1):
        return " (programming access locked for another %s s after repeated wrong passwords)" % m.group(1)
    return (" (programming access is locked after repeated wrong passwords; the meter does not say "
            "for how long: by default 60 s after 3 wrong tries, doubling with each further lockout "
            "up to 24 h; every try while locked is refused and does not extend it)")


def _safe(fn):
    """Exit code 1 with a one-line message on a protocol error, 2 on a port or value error."""
    def run(args):
        try:
            return fn(args)
        except IecError as e:
            print("error: %s%s" % (e, _locked_hint(e.reason)), file=sys.stderr)
            return 1
        except (OSError, ValueError) as e:
            print("error: %s" % e, file=sys.stderr)
            return 2
    return run


def _common(p, login):
    p.add_argument("port", help="serial device of the optical head, or the rig's pty")
    p.add_argument("--address", default="", help="device address (default: general sign-on)")
    p.add_argument("--baud", default=None, choices=list("0123456"),
                   help="highest baud character to accept (default: what the meter offers)")
    p.add_argument("--echo", action="store_true", help="the optical head echoes what it sends")
    p.add_argument("--timeout", type=float, default=3.0, help="answer timeout in s")
    p.add_argument("-v", "--verbose", action="store_true", help="log the frames to stderr")
    if login:
        p.add_argument("--password", default=None,
                       help="password (else $METER_PASSWORD, else a prompt)")
        p.add_argument("--level", type=int, choices=(1, 2), default=1,
                       help="access level: 1 = P1 password, 2 = P2 with the level-2 secret")
        p.add_argument("--hex", action="store_true", help="the level-2 secret is given in hex")


def register(subparsers):
    """Add the `optical` command to an argparse subparsers object. Each leaf sets `func`
    (func(args) -> exit code)."""
    p = subparsers.add_parser("optical", help="IEC 62056-21 optical port client")
    sub = p.add_subparsers(dest="optical_cmd", metavar="read|get|set|clock")
    sub.required = True
    r = sub.add_parser("read", help="full data readout")
    _common(r, False)
    r.add_argument("--json", action="store_true", help="one JSON object of the identification and datasets")
    r.set_defaults(func=_safe(cmd_read))
    g = sub.add_parser("get", help="read one object (R1)")
    _common(g, True)
    g.add_argument("obis")
    g.set_defaults(func=_safe(cmd_get))
    s = sub.add_parser("set", help="write one object (W1)")
    _common(s, True)
    s.add_argument("obis")
    s.add_argument("value")
    s.set_defaults(func=_safe(cmd_set))
    c = sub.add_parser("clock", help="read or set the meter clock")
    _common(c, True)
    c.add_argument("--set", default=None, metavar="now|ISO",
                   help="set the clock: 'now' or an ISO time with zone, e.g. 2026-01-05T12:00:00Z")
    c.set_defaults(func=_safe(cmd_clock))
    return p


def run(argv=None):
    ap = argparse.ArgumentParser(prog="optical")
    sub = ap.add_subparsers(dest="command")
    sub.required = True
    register(sub)
    args = ap.parse_args(["optical"] + list(sys.argv[1:] if argv is None else argv))
    return args.func(args)


if __name__ == "__main__":
    sys.exit(run())
