"""`dlms`: a quick-look DLMS/COSEM client (TCP wrapper, IEC 62056-47) built on dlms-cosem.

    python -m host_tools dlms read   <url>                              clock, identity, energy
    python -m host_tools dlms get    <url> <class> <obis> <attr>
    python -m host_tools dlms set    <url> <class> <obis> <attr> <data-hex>   (A-XDR Data)
    python -m host_tools dlms action <url> <class> <obis> <method> [<data-hex>]
    url: tcp://127.0.0.1:4059 (what `make sim` prints); obis: 1-0:1.8.0 (F = 255)
    --client 16 (public, default) | 1 (management: --password P for LLS, or --ek/--ak hex and
    --title for HLS-GMAC). Keys are never printed. Exit status 1 on a refused request.
"""
import argparse

CLIENTS = (16, 1)


def register(sub):
    p = sub.add_parser("dlms", help="DLMS/COSEM client (read|get|set|action)", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    s = p.add_subparsers(dest="dlms_command", metavar="dlms-command")
    for name, extra in (("read", ()), ("get", ("class", "obis", "attr")),
                        ("set", ("class", "obis", "attr", "data")),
                        ("action", ("class", "obis", "method"))):
        c = s.add_parser(name)
        c.add_argument("url")
        for a in extra:
            c.add_argument(a)
        if name == "action":
            c.add_argument("data", nargs="?", default="0f00", help="A-XDR hex (default integer 0)")
        c.add_argument("--client", type=int, choices=CLIENTS, default=16)
        c.add_argument("--password", help="LLS password (management client)")
        c.add_argument("--ek", help="HLS-GMAC: encryption key, 32 hex digits")
        c.add_argument("--ak", help="HLS-GMAC: authentication key, 32 hex digits")
        c.add_argument("--title", default="4142434445464748", help="client system title, 16 hex digits")
        c.add_argument("--ic", type=int, default=1, help="client initial invocation counter")
        c.set_defaults(func=globals()["cmd_" + name])
    p.set_defaults(func=lambda a: (p.print_help(), 2)[1])


def parse_obis(text):
    from dlms_cosem import cosem
    try:
        a, rest = text.split("-")
        b, rest = rest.split(":")
        c, d, e = rest.split(".")[:3]
        return cosem.Obis(int(a), int(b), int(c), int(d), int(e), 255)
    except ValueError:
        raise SystemExit("dlms: bad OBIS code %r (want A-B:C.D.E)" % text)


def client(args):
    from dlms_cosem import enumerations as E
    from dlms_cosem.clients.dlms_client import DlmsClient
    if not args.url.startswith("tcp://"):
        raise SystemExit("dlms: url must be tcp://host:port")
    host, port = args.url[6:].rsplit(":", 1)
    kw = {}
    if args.client == 1:
        if args.ek and args.ak:
            kw = dict(authentication_method=E.AuthenticationMechanism.HLS_GMAC,
                      encryption_key=bytes.fromhex(args.ek), authentication_key=bytes.fromhex(args.ak),
                      client_system_title=bytes.fromhex(args.title),
                      client_initial_invocation_counter=args.ic)
        elif args.password:
            kw = dict(authentication_method=E.AuthenticationMechanism.LLS, password=args.password.encode())
        else:
            raise SystemExit("dlms: the management client needs --password or --ek/--ak")
    return DlmsClient.with_tcp_transport(host, int(port), args.client, 1, **kw)


def show(raw):
    """The A-XDR answer: hex, and decoded where dlms-cosem can (it cannot decode visible-string)."""
    from dlms_cosem import utils
    try:
        v = utils.parse_as_dlms_data(raw)
    except (NotImplementedError, ValueError, KeyError, IndexError):
        v = raw[2:].decode("ascii", "replace") if raw[:1] == b"\x0a" else None
    return "%s  %r" % (raw.hex(), v)


def _attr(args):
    from dlms_cosem import cosem, enumerations as E
    return cosem.CosemAttribute(E.CosemInterface(int(getattr(args, "class"))), parse_obis(args.obis),
                                int(args.attr))


def cmd_read(args):
    from dlms_cosem import cosem, enumerations as E, utils
    from dlms_cosem.clients.dlms_client import DataResultError
    items = [("clock", E.CosemInterface.CLOCK, "0-0:1.0.0", 2), ("serial", E.CosemInterface.DATA, "0-0:96.1.0", 2),
             ("equipment", E.CosemInterface.DATA, "0-0:96.1.1", 2)]
    with client(args).session() as cl:
        for name, ic, ob, at in items:
            print("%-10s %s" % (name, show(cl.get(cosem.CosemAttribute(ic, parse_obis(ob), at)))))
        for ob in ("1-0:1.8.0", "1-0:1.8.1", "1-0:1.8.2", "1-0:2.8.0", "1-0:1.7.0"):
            o = parse_obis(ob)
            try:
                v = utils.parse_as_dlms_data(cl.get(cosem.CosemAttribute(E.CosemInterface.REGISTER, o, 2)))
                sc, unit = utils.parse_as_dlms_data(cl.get(cosem.CosemAttribute(E.CosemInterface.REGISTER, o, 3)))
            except DataResultError as e:  # refused (object undefined on this meter, ...)
                print("%-10s %s" % (ob, e))
                continue
            print("%-10s %s (x10^%d, unit %d)" % (ob, v, sc, unit))
    return 0


def cmd_get(args):
    with client(args).session() as cl:
        print(show(cl.get(_attr(args))))
    return 0


def cmd_set(args):
    from dlms_cosem import enumerations as E
    with client(args).session() as cl:
        r = cl.set(_attr(args), bytes.fromhex(args.data))
    print(r.result.name)
    return 0 if r.result == E.DataAccessResult.SUCCESS else 1


def cmd_action(args):
    from dlms_cosem import cosem, enumerations as E
    from dlms_cosem.clients.dlms_client import ActionError
    m = cosem.CosemMethod(E.CosemInterface(int(getattr(args, "class"))), parse_obis(args.obis), int(args.method))
    with client(args).session() as cl:
        try:
            cl.action(m, bytes.fromhex(args.data))
        except ActionError as e:
            print(e)
            return 1
    print("SUCCESS")
    return 0

