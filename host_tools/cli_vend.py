"""`python -m host_tools vend ...`: an STS vending tool (IEC 62055-41 tokens for prepayment meters).

    vend key       --pan P (--vending-key HEX | $STS_VENDING_KEY | prompt) [--dkga 02|04]
                   [--show-key]                    derive the decoder key (printed only on request)
    vend credit    --kwh 10 | --units 100 | --amount 1.5 [--subclass 0..7] [--round-down]
    vend mgmt      max-power W | clear-credit [REGISTER] | tariff-rate R | clear-tamper |
                   phase-unbalance W | water-factor F
    vend keychange --new-krn N [--new-kt KT] [--new-ti TI] [--new-sgc SGC] [--ken KEN] [--rollover]
                   [--new-vending-key HEX | --new-decoder-key HEX]
    vend test      [--control N] [--mfr N] [--subclass 0|1]          class 1, not encrypted
    vend decode    TOKEN ...                                          fields as this key sees them

The meter identity (every command but `test`): --pan (18 digits with the Luhn check digit, or
17), --sgc (default 123456), --ti (1), --krn (1), --kt (2 = unique), --ea 07|09|11 (7), --base
1993|2014|2035 (1993), --dkga 02|04 (02 for 64-bit vending keys, 04 for 160-bit ones). The key:
--decoder-key HEX (most significant byte first) or $STS_DECODER_KEY, else derived from
--vending-key HEX / $STS_VENDING_KEY / a prompt. Keys are never printed except by `key
--show-key`. TID-carrying tokens: --time ISO-8601 (UTC if no zone; default now), or --tid N;
--rnd 0..15 (default random). --json prints one JSON object per token instead of text.

Examples (the STS conformance setup CTSA01, shared/vectors/sts.json):
    vend credit --pan 600727000000000009 --vending-key abababababababab --units 1 \\
        --time 2004-03-01T13:55 --rnd 5                      -> 2371-6100-5011-8319-4197
    vend keychange --pan ... --vending-key ... --new-krn 2 --rollover --base 1993

The library behind it: host_tools/sts (README.md there). It is written independently of the
meter firmware's decoder; the tests run every token through both.
"""
import argparse
import datetime
import getpass
import json
import os
import sys
from decimal import Decimal, InvalidOperation

if __package__ in (None, ""):  # run as a script
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from host_tools.sts import codec, keys, tokens  # noqa: E402
else:
    from .sts import codec, keys, tokens

MGMT = {"max-power": 0, "clear-credit": 1, "tariff-rate": 2, "clear-tamper": 5, "phase-unbalance": 6,
        "water-factor": 7}


class VendError(Exception):
    pass


def _hex(text, what):
    try:
        return bytes.fromhex(text.replace(" ", ""))
    except ValueError:
        raise VendError("%s must be hex" % what) from None


def _vending_key(args, new=False):
    text = args.new_vending_key if new else args.vending_key
    if text is None and not new:
        text = os.environ.get("STS_VENDING_KEY")
    if text is None:
        text = getpass.getpass("%svending key (hex): " % ("new " if new else ""))
    return _hex(text, "the vending key")


def _derive(args, vk, kt, sgc, ti, krn, base):
    dkga = args.dkga or ("04" if len(vk) == 20 else "02")
    if dkga == "02":
        if args.ea == 11:
            raise VendError("DKGA02 gives 64-bit keys; EA11 needs DKGA04")
        return keys.dkga02(vk, args.pan, kt, sgc, ti, krn), dkga
    return keys.dkga04(vk, args.pan, kt, sgc, ti, krn, base, args.ea), dkga


def _decoder_key(args):
    text = args.decoder_key or os.environ.get("STS_DECODER_KEY")
    if text:
        return _hex(text, "the decoder key"), "given"
    if not args.pan:
        raise VendError("--pan is needed to derive the decoder key")
    return _derive(args, _vending_key(args), args.kt, args.sgc, args.ti, args.krn, args.base)


def _vendor(args):
    key, _ = _decoder_key(args)
    return tokens.Vendor(key, args.ea, args.base)


def _when(args):
    if args.time in (None, "now"):
        return None
    t = datetime.datetime.fromisoformat(args.time)
    return t if t.tzinfo else t.replace(tzinfo=datetime.timezone.utc)


def _tid_kw(args):
    return dict(when=_when(args), tid=args.tid, rnd=args.rnd)


def _emit(args, toks, what):
    for i, t in enumerate(toks):
        info = dict(token=t.digits, cls=t.cls, subclass=t.subclass, what=what[i] if isinstance(what, list) else what)
        if "tid" in t.fields:
            info["tid"] = t.fields["tid"]
            info["time"] = codec.tid_time(t.fields["tid"], args.base).isoformat()
        if args.json:
            print(json.dumps(info))
        else:
            extra = "  TID %d (%s)" % (info["tid"], info["time"]) if "tid" in info else ""
            print("%s  class %d/%d %s%s" % (codec.group(t.digits), t.cls, t.subclass, info["what"], extra))
    return 0


def cmd_key(args):
    key, how = _decoder_key(args)
    if args.show_key:
        print("decoder key: %s" % key.hex())
    else:
        print("decoder key derived (%s, %d bits) for PAN %s KT%d SGC%06d TI%02d KRN%d; --show-key prints it"
              % ("DKGA" + how if how != "given" else "given", len(key) * 8, keys.meter_pan(args.pan or "0" * 17),
                 args.kt, args.sgc, args.ti, args.krn))
    return 0


def _units(args):
    if args.units is not None:
        return args.units
    text = args.kwh if args.kwh is not None else args.amount
    if text is None:
        raise VendError("give --kwh, --amount or --units")
    try:
        tenths = Decimal(text) * 10
    except InvalidOperation:
        raise VendError("amount must be a number") from None
    if tenths != tenths.to_integral_value():
        raise VendError("amounts are in steps of 0.1")
    return int(tenths)


def cmd_credit(args):
    if args.kwh is not None and args.subclass != 0:
        raise VendError("--kwh is for electricity (subclass 0)")
    units = _units(args)
    t = _vendor(args).credit(units, args.subclass, round_down=args.round_down, **_tid_kw(args))
    got = codec.amount_value(t.fields["value"])
    what = "%s %s" % (tokens.CREDIT_SUBCLASSES[args.subclass], Decimal(got) / 10)
    if got != units:
        print("note: %s rounded down to %s" % (Decimal(units) / 10, Decimal(got) / 10), file=sys.stderr)
    return _emit(args, [t], what)


def cmd_mgmt(args):
    sub = MGMT[args.action]
    value = args.value
    if sub == 1 and value is None:
        value = 0xFFFF
    if sub != 5 and value is None:
        raise VendError("%s needs a value" % args.action)
    t = _vendor(args).management(sub, value or 0, **_tid_kw(args))
    return _emit(args, [t], "%s %s" % (args.action, "" if value is None else value))


def cmd_keychange(args):
    v = _vendor(args)
    kt = args.kt if args.new_kt is None else args.new_kt
    ti = args.ti if args.new_ti is None else args.new_ti
    sgc = args.sgc if args.new_sgc is None else args.new_sgc
    base = args.base + 21 if args.rollover else args.base
    if base > 2035:
        raise VendError("no base date after 2035")
    if args.new_decoder_key:
        new = _hex(args.new_decoder_key, "the new decoder key")
    else:
        vk = _vending_key(args, new=True) if args.new_vending_key else _vending_key(args)
        new, _ = _derive(args, vk, kt, sgc, ti, args.new_krn, base)
    toks = v.key_change(new, kt, args.new_krn, ti, args.ken, args.rollover, sgc if len(new) == 16 else None)
    names = ["key change %d/%d%s" % (i + 1, len(toks), " (rollover to base %d)" % base if args.rollover else "")
             for i in range(len(toks))]
    return _emit(args, toks, names)


def cmd_test(args):
    return _emit(args, [tokens.test_token(args.control, args.mfr, args.subclass)], "meter test/display")


def cmd_decode(args):
    v = None
    for d in args.tokens:
        cls, _ = codec.from_digits(d)
        if cls != 1 and v is None:
            v = _vendor(args)
        info = (v or tokens.Vendor(bytes(8))).decode(d)
        info["token"] = d
        print(json.dumps(info) if args.json else " ".join("%s=%s" % kv for kv in info.items()))
    return 0


def _identity(p, key=True):
    p.add_argument("--pan", help="meter PAN: IIN + DRN + check digit (18 digits)")
    p.add_argument("--sgc", type=int, default=123456, help="supply group code (default 123456)")
    p.add_argument("--ti", type=int, default=1, help="tariff index (default 1)")
    p.add_argument("--krn", type=int, default=1, help="key revision number (default 1)")
    p.add_argument("--kt", type=int, default=2, help="key type: 1 default, 2 unique, 3 common (default 2)")
    p.add_argument("--ea", type=int, default=7, choices=(7, 9, 11), help="encryption algorithm (default 07 STA)")
    p.add_argument("--base", type=int, default=1993, choices=codec.BASE_YEARS, help="base date year (default 1993)")
    p.add_argument("--dkga", choices=("02", "04"), help="decoder key generation (default by vending key size)")
    p.add_argument("--vending-key", help="vending key, hex (else $STS_VENDING_KEY, else a prompt)")
    p.add_argument("--decoder-key", help="decoder key, hex, instead of deriving it ($STS_DECODER_KEY)")
    p.add_argument("--json", action="store_true", help="JSON lines output")


def _tid_args(p):
    p.add_argument("--time", help="token time, ISO 8601 (UTC unless a zone is given; default now)")
    p.add_argument("--tid", type=int, help="the TID directly (minutes since the base date)")
    p.add_argument("--rnd", type=int, choices=range(16), metavar="0..15", help="random nibble (default random)")


def _add(p):
    sub = p.add_subparsers(dest="vend_cmd", metavar="key|credit|mgmt|keychange|test|decode")
    k = sub.add_parser("key", help="derive the decoder key (DKGA02/DKGA04)")
    _identity(k)
    k.add_argument("--show-key", action="store_true", help="print the key (secret!)")
    k.set_defaults(func=cmd_key)
    c = sub.add_parser("credit", help="class 0 credit token")
    _identity(c)
    _tid_args(c)
    c.add_argument("--subclass", type=int, default=0, choices=range(8), metavar="0..7",
                   help="0 electricity, 1 water, 2 gas, 3 time, 4-7 currency")
    c.add_argument("--kwh", help="electricity in kWh (0.1 steps)")
    c.add_argument("--amount", help="amount in the subclass's unit (0.1 steps)")
    c.add_argument("--units", type=int, help="amount in 0.1 units")
    c.add_argument("--round-down", action="store_true", help="round an unrepresentable amount down")
    c.set_defaults(func=cmd_credit)
    m = sub.add_parser("mgmt", help="class 2 management token")
    _identity(m)
    _tid_args(m)
    m.add_argument("action", choices=sorted(MGMT))
    m.add_argument("value", nargs="?", type=lambda s: int(s, 0), help="W, register (0xFFFF all), rate, factor")
    m.set_defaults(func=cmd_mgmt)
    kc = sub.add_parser("keychange", help="key change token set (class 2 subclasses 3, 4 [, 8, 9])")
    _identity(kc)
    kc.add_argument("--new-krn", type=int, required=True)
    kc.add_argument("--new-kt", type=int)
    kc.add_argument("--new-ti", type=int)
    kc.add_argument("--new-sgc", type=int)
    kc.add_argument("--ken", type=int, default=255, help="key expiry number (default 255: none)")
    kc.add_argument("--rollover", action="store_true", help="move the meter to the next base date")
    kc.add_argument("--new-vending-key", help="vending key of the new key (default: the same)")
    kc.add_argument("--new-decoder-key", help="the new decoder key directly, hex")
    kc.set_defaults(func=cmd_keychange)
    t = sub.add_parser("test", help="class 1 meter test/display token")
    t.add_argument("--control", type=lambda s: int(s, 0), default=0)
    t.add_argument("--mfr", type=int, default=0)
    t.add_argument("--subclass", type=int, default=0, choices=(0, 1))
    t.add_argument("--base", type=int, default=1993, choices=codec.BASE_YEARS)
    t.add_argument("--json", action="store_true")
    t.set_defaults(func=cmd_test)
    d = sub.add_parser("decode", help="decode tokens with this meter's key")
    _identity(d)
    d.add_argument("tokens", nargs="+")
    d.set_defaults(func=cmd_decode)
    p.set_defaults(func=lambda a: p.print_help() or 2)


def register(subparsers):
    p = subparsers.add_parser("vend", help="STS token vending (IEC 62055-41)")
    _add(p)
    _wrap(p)
    return p


def _wrap(p):
    """Route every subcommand through one error handler: bad input gives a one-line message and
    exit status 2, never a traceback (and never a key)."""
    for action in p._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sp in action.choices.values():
                inner = sp.get_default("func")
                sp.set_defaults(func=_safe(inner))


def _safe(inner):
    def run(args):
        try:
            return inner(args)
        except (VendError, ValueError) as e:
            print("vend: %s" % e, file=sys.stderr)
            return 2
    return run


def main(argv=None):
    ap = argparse.ArgumentParser(prog="vend")
    _add(ap)
    _wrap(ap)
    args = ap.parse_args(sys.argv[1:] if argv is None else argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
