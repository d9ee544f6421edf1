"""`python -m host_tools credit ...` and `python -m host_tools relay ...`: prepayment and supply
control over the optical port's programming mode (IEC 62056-21; writes need level 2).

    credit PORT                        available credit, token and emergency credit, debt, mode
    credit PORT --add N                a management top-up of N units (Wh, or 1/1000 currency)
    credit PORT --mode prepay|credit   switch the payment mode
    credit PORT --debt N               add N units of debt (recovered by the debt charges)
    relay PORT                         the supply: output state, control state and mode, limiter
    relay PORT connect|disconnect      remote reconnect / disconnect (what the control mode allows)
    relay PORT --mode 0..6             the disconnect control mode (DLMS IC 70 control_mode)
    relay PORT --limit W [--emergency W] [--over S] [--under S]   the load limiter

Options as `optical get/set` (--password, --level 2 --hex, --address, --timeout, -v). The objects
are documented in firmware/meter/ports/optical_objects.py (0-0:96.3.10, 0-0:17.0.0, C.91.x) and
the credit registers 0-0:19.x.
"""
from .cli_optical import _client, _common, _login, _safe

STATES = {"0": "disconnected", "1": "connected", "2": "ready for reconnection"}


def _session(args, writes):
    """Log in, apply the (obis, value) writes, then read the status objects back."""
    with _client(args) as c:
        _login(c, args)
        try:
            for obis, value in writes:
                c.write(obis, value)
            out = {}
            for obis in args.show:
                out[obis] = c.read(obis)
        finally:
            c.bye()
    return out


def cmd_credit(args):
    writes = []
    if args.mode:
        writes.append(("C.91.0", "2" if args.mode == "prepay" else "1"))
    if args.debt:
        writes.append(("C.91.6", str(args.debt)))
    if args.add:
        writes.append(("C.91.5", str(args.add)))
    args.show = ("0-0:19.0.0", "0-0:19.10.0", "0-0:19.10.1", "0-0:19.20.2", "C.91.0")
    r = _session(args, writes)
    names = ("available", "token credit", "emergency credit", "debt")
    for obis, name in zip(args.show, names):
        v, u = r[obis]
        print("%-17s %s %s" % (name, v, u))
    print("%-17s %s" % ("payment mode", "prepayment" if r["C.91.0"][0] == "2" else "credit (post-paid)"))
    return 0


def cmd_relay(args):
    writes = []
    if args.mode is not None:
        writes.append(("C.91.1", str(args.mode)))
    if args.limit is not None or args.emergency is not None or args.over is not None or args.under is not None:
        writes.append(("C.91.3", "%s,%s,%s,%s" % tuple(
            "" if v is None else str(v) for v in (args.limit, args.emergency, args.over, args.under))))
    if args.action:
        writes.append(("0-0:96.3.10", "1" if args.action == "connect" else "0"))
    args.show = ("0-0:96.3.10", "C.91.2", "C.91.1", "C.91.3")
    lim = [w for w in writes if w[0] == "C.91.3"]
    if lim:  # unspecified limiter fields keep their values: read them first
        show, args.show = args.show, ("C.91.3",)
        cur = _session(args, [])["C.91.3"][0].split(",")
        args.show = show
        new = [n or o for n, o in zip(lim[0][1].split(","), cur)]
        writes[writes.index(lim[0])] = ("C.91.3", ",".join(new))
    r = _session(args, writes)
    print("%-15s %s" % ("supply", "on" if r["0-0:96.3.10"][0] == "1" else "off"))
    print("%-15s %s" % ("control state", STATES.get(r["C.91.2"][0], r["C.91.2"][0])))
    print("%-15s %s" % ("control mode", r["C.91.1"][0]))
    n, e, o, u = r["C.91.3"][0].split(",")
    print("%-15s normal %s W, emergency %s W, over %s s, under %s s" % ("limiter", n, e, o, u))
    return 0


def register(subparsers):
    p = subparsers.add_parser("credit", help="prepayment credit over the optical port")
    _common(p, True)
    p.add_argument("--add", type=int, default=None, help="management top-up (units)")
    p.add_argument("--mode", choices=("prepay", "credit"), default=None, help="payment mode")
    p.add_argument("--debt", type=int, default=None, help="add debt (units)")
    p.set_defaults(func=_safe(cmd_credit))
    r = subparsers.add_parser("relay", help="supply relay and load limiter over the optical port")
    _common(r, True)
    r.add_argument("action", nargs="?", choices=("connect", "disconnect"), default=None)
    r.add_argument("--mode", type=int, choices=range(7), default=None, help="control mode 0..6")
    r.add_argument("--limit", type=int, default=None, help="normal limiter threshold in W (0 = off)")
    r.add_argument("--emergency", type=int, default=None, help="emergency threshold in W")
    r.add_argument("--over", type=int, default=None, help="min over-threshold duration, s")
    r.add_argument("--under", type=int, default=None, help="min under-threshold duration, s")
    r.set_defaults(func=_safe(cmd_relay))
    return p


