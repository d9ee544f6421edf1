"""Command-line interface: `python -m host_tools <command> ...` (in the repo's .venv).

Commands come from the modules host_tools/cli_<command>.py; each has `register(subparsers)`.
    sim       run the simulated meter (same as `make sim`)
    deploy    put the firmware on a board with mpremote
    p1        P1 tools (`p1 monitor <url-or-port>`)
    radio     wM-Bus radio tools (`radio monitor <url-or-port> [--json] [--count N]`)
    optical   IEC 62056-21 optical head client (`optical read|get|set|clock`)
    credit    prepayment account over the optical port (cli_supply.py)
    relay     supply relay and load limiter over the optical port (cli_supply.py)
    update    signed firmware updates: keygen, build, sign, show, push (cli_update.py)
    token     enter an STS token over the optical port (`token enter PORT TOKEN`, cli_token.py)
    dlms      DLMS/COSEM client over the TCP wrapper (`dlms read|get|set|action`)
"""
import argparse
import importlib
import os
import pkgutil
import sys


def build_parser():
    parser = argparse.ArgumentParser(prog="python -m host_tools", description="Meter firmware host tools")
    sub = parser.add_subparsers(dest="command", metavar="command")
    here = os.path.dirname(os.path.abspath(__file__))
    for m in sorted(pkgutil.iter_modules([here]), key=lambda m: m.name):
        if m.name.startswith("cli_"):
            mod = importlib.import_module("host_tools." + m.name)
            mod.register(sub)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return args.func(args) or 0


if __name__ == "__main__":
    sys.exit(main())
