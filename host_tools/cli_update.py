"""`python -m host_tools update ...`: signed firmware update packages (README "Firmware update").

    update keygen NAME                       NAME.key (private, PEM, 0600) and NAME.pub (hex)
    update build OUT.mup --version V --counter N [--board unix_sim] [--legal-changed]
                 [--base OLD.mup] [--next-key NEW.pub]  compile firmware/meter + the board with
                                             mpy-cross; --next-key rotates the firmware key
    update sign PACKAGE --key NAME.key [--metrology]   add the firmware (or metrology) signature
    update show PACKAGE                      print the manifest summary
    update push PORT PACKAGE                 upload over the optical port (level 2) and switch

push options: --password (else $METER_PASSWORD, else a prompt), --hex, --address, --baud, --echo,
--timeout, --chunk N (bytes per frame, at most 112), --no-resume, -v.
"""
import binascii
import json
import sys

from .cli_optical import _safe, _secret
from .iec_client import IecClient, IecError
from .update import keys as K
from .update import package as P
from .update import push as U


def cmd_keygen(args):
    pub = K.keygen(args.name)
    print("wrote %s.key and %s.pub (public key %s)" % (args.name, args.name, pub))
    return 0


def cmd_build(args):
    base = None
    if args.base:
        with open(args.base, "rb") as f:
            base = P.parse(f.read())[1]
    next_key = None
    if args.next_key:
        with open(args.next_key) as f:
            next_key = f.read().strip()
    try:
        tree = P.compile_tree(args.board)
        data = P.build(tree, args.board, args.version, args.counter, args.legal_changed, base,
                       next_key=next_key)
    except P.PackageError as e:
        print("error: %s" % e, file=sys.stderr)
        return 2
    with open(args.out, "wb") as f:
        f.write(data)
    _, man, _, _, body = P.parse(data)
    print("%s: %d files (%d sent), %d bytes, legal part %s %s%s; unsigned" % (
        args.out, len(man["files"]), sum(1 for x in man["files"] if len(x) == 3), len(data),
        man["legal"]["version"], man["legal"]["checksum"], " CHANGED" if args.legal_changed else ""))
    if next_key:
        print("rotates the firmware key to %s once confirmed on the meter" % man["next_key"])
    return 0


def cmd_sign(args):
    with open(args.package, "rb") as f:
        data = f.read()
    kid = P.KEY_METROLOGY if args.metrology else P.KEY_FIRMWARE
    data = P.sign(data, K.load_private(args.key), kid)
    with open(args.package, "wb") as f:
        f.write(data)
    print("%s: signed with the %s key" % (args.package, "metrology" if args.metrology else "firmware"))
    return 0


def cmd_show(args):
    with open(args.package, "rb") as f:
        _, man, _, sigs, body = P.parse(f.read())
    s = dict(man)
    s["files"] = len(man["files"])
    s["signatures"] = [k for k, _ in sigs]
    s["body_bytes"] = len(body)
    print(json.dumps(s, indent=1, sort_keys=True))
    return 0


def cmd_push(args):
    with open(args.package, "rb") as f:
        data = f.read()
    P.parse(data)  # fail before touching the port
    pw = _secret(args)
    log = (lambda s: print(s, file=sys.stderr)) if args.verbose else None

    def progress(done, total, first, elapsed):
        print("\r" + U.bar(done, total, first, elapsed), end="", file=sys.stderr, flush=True)

    with IecClient(args.port, address=args.address, timeout=args.timeout, max_baud=args.baud,
                   echo=args.echo, log=log) as c:
        c.program(key=binascii.unhexlify(pw) if args.hex else pw.encode(), level=2)
        try:
            try:
                crc = U.send_package(c, data, args.chunk, progress, resume=not args.no_resume)
            except IecError as e:
                print("", file=sys.stderr)
                print("error: update refused: %s" % (getattr(e, "detail", None) or e.reason or e),
                      file=sys.stderr)
                return 1
            print("", file=sys.stderr)
            print("package %08X accepted: the meter reboots into the new firmware (trial)" % crc)
        finally:
            try:
                c.bye()
            except IecError:
                pass  # the meter may already be rebooting
    return 0


def register(subparsers):
    p = subparsers.add_parser("update", help="signed firmware update packages")
    sub = p.add_subparsers(dest="update_cmd", metavar="keygen|build|sign|show|push")
    k = sub.add_parser("keygen", help="make a lab key pair")
    k.add_argument("name")
    k.set_defaults(func=_safe(cmd_keygen))
    b = sub.add_parser("build", help="build an unsigned package from the tree")
    b.add_argument("out")
    b.add_argument("--version", required=True)
    b.add_argument("--counter", type=int, required=True, help="security counter (monotonic)")
    b.add_argument("--board", default="unix_sim")
    b.add_argument("--legal-changed", action="store_true",
                   help="the legally relevant part changes (needs the metrology signature too)")
    b.add_argument("--base", default=None, help="package on the meter now: unchanged files are not sent")
    b.add_argument("--next-key", default=None, metavar="PUB",
                   help="a .pub file: the firmware key rotated in when this firmware is confirmed")
    b.set_defaults(func=_safe(cmd_build))
    s = sub.add_parser("sign", help="sign a package")
    s.add_argument("package")
    s.add_argument("--key", required=True)
    s.add_argument("--metrology", action="store_true", help="sign with the metrology key (id 2)")
    s.set_defaults(func=_safe(cmd_sign))
    w = sub.add_parser("show", help="print a package's manifest")
    w.add_argument("package")
    w.set_defaults(func=_safe(cmd_show))
    u = sub.add_parser("push", help="upload over the optical port and switch")
    u.add_argument("port")
    u.add_argument("package")
    u.add_argument("--password", default=None)
    u.add_argument("--hex", action="store_true", help="the level-2 secret is given in hex")
    u.add_argument("--address", default="")
    u.add_argument("--baud", default=None, choices=list("0123456"))
    u.add_argument("--echo", action="store_true")
    u.add_argument("--timeout", type=float, default=3.0)
    u.add_argument("--chunk", type=int, default=U.CHUNK_MAX)
    u.add_argument("--no-resume", action="store_true")
    u.add_argument("-v", "--verbose", action="store_true")
    u.set_defaults(func=_safe(cmd_push), level=2)
    return p
