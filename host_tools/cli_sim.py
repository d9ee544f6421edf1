"""`sim`: run the simulated meter in the foreground (what `make sim` runs)."""
import os


def register(sub):
    p = sub.add_parser("sim", help="run the simulated meter on the virtual rig")
    p.add_argument("--p1-port", type=int, default=int(os.environ.get("P1_PORT", "8088")))
    p.add_argument("--rate", type=int, default=int(os.environ.get("SIM_RATE", "1")),
                   help="virtual seconds per real second")
    p.set_defaults(func=run)


def run(args):
    from host_tools import sim
    os.environ["P1_PORT"] = str(args.p1_port)
    os.environ["SIM_RATE"] = str(args.rate)
    return sim.main()
