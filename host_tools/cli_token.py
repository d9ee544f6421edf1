"""`python -m host_tools token enter PORT TOKEN`: enter an STS token over the optical port, as the
keypad would (IEC 62056-21 programming mode, a level-2 write of object C.91.8; see
firmware/meter/ports/optical_objects.py register_tokens).

    token enter PORT TOKEN     TOKEN: 20 digits, dashes and spaces ignored ('1234-5678-...')
    token last PORT            the meter's newest token result 'code,name'

Options as `optical get/set` (--password, --level 2 --hex, --address, --timeout, -v). Prints the
meter's result (Accept, 1stKCT, 2ndKCT); a refused token (Used, Old, CRC, Lockout, ...) prints the
result and exits 1. Tokens come from `python -m host_tools vend ...`.
"""
from .cli_optical import _client, _common, _login, _safe
from .iec_client import IecError


def _digits(text):
    d = text.replace("-", "").replace(" ", "")
    if len(d) != 20 or not d.isdigit():
        raise SystemExit("token: 20 digits expected")
    return d


def cmd_token(args):
    with _client(args) as c:
        _login(c, args)
        try:
            if args.action == "enter":
                try:
                    c.write("C.91.8", _digits(args.token))
                except IecError as e:
                    print("refused: %s" % (e.reason or e))
                    return 1
            code_name = c.read("C.91.8")[0]
        finally:
            c.bye()
    print(code_name.split(",", 1)[-1])
    return 0


def register(subparsers):
    p = subparsers.add_parser("token", help="enter an STS token over the optical port")
    p.add_argument("action", choices=("enter", "last"))
    _common(p, True)
    p.add_argument("token", nargs="?", default="", help="the 20-digit token (enter)")
    p.set_defaults(func=_safe(cmd_token))
    return p
