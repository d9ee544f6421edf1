"""`radio`: wireless M-Bus radio tools.

    python -m host_tools radio monitor <url-or-port> [--json] [--count N] [--timeout S]

Prints the frames the meter's radio receives, live: mode, C field, manufacturer, meter id,
version, device type, CI, RSSI (dBm), LQI, then the link counters (frames ok, CRC errors,
overflows, ...). The feed is one JSON object per line ({"frame": {...}, "stats": {...}}); the
simulator serves it (rig.air.serve(), socket://127.0.0.1:<port>), and any pyserial URL or serial
device carrying the same lines works. --json prints each object unchanged, one per line.
--count N stops after N frames; Ctrl-C stops cleanly.
"""
import argparse
import json
import sys
import time

DEVICE_TYPES = {2: "electricity", 3: "gas", 4: "heat", 6: "warm water", 7: "water", 8: "HCA",
                22: "cold water", 55: "radio converter"}


def register(sub):
    p = sub.add_parser("radio", help="wireless M-Bus radio tools (monitor)", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    s = p.add_subparsers(dest="radio_command", metavar="radio-command")
    m = s.add_parser("monitor", help="show the frames the meter receives, live")
    m.add_argument("port", help="pyserial URL (socket://127.0.0.1:PORT) or serial device")
    m.add_argument("--json", action="store_true", help="one JSON object per line")
    m.add_argument("--count", type=int, default=0, help="stop after N frames (0: until Ctrl-C)")
    m.add_argument("--timeout", type=float, default=0,
                   help="stop with exit status 3 after this many seconds without a frame (0: never)")
    m.set_defaults(func=monitor)
    p.set_defaults(func=lambda a: (p.print_help(), 2)[1])


def format_line(obj):
    f, s = obj["frame"], obj["stats"]
    kind = DEVICE_TYPES.get(f["type"], "type 0x%02x" % f["type"])
    return ("%-3s C=%02X %s %s v%d %s CI=%02X RSSI=%d dBm LQI=%d | ok=%d crc=%d overflow=%d "
            "filtered=%d dup=%d" % (f["mode"], f["c"], f["m"], f["id"], f["version"], kind,
                                    f["ci"] & 0xFF, f["rssi"], f["lqi"], s["ok"], s["crc"],
                                    s["overflow"], s["filtered"], s["dup"]))


def monitor(args, out=None):
    import serial
    out = out or sys.stdout
    port = serial.serial_for_url(args.port, timeout=0.2) if "://" in args.port else \
        serial.Serial(args.port, 115200, timeout=0.2)
    n = 0
    last = time.monotonic()
    buf = b""
    try:
        while not args.count or n < args.count:
            chunk = port.read(4096)
            if not chunk:
                if args.timeout and time.monotonic() - last > args.timeout:
                    return 3
                continue
            buf += chunk
            while b"\n" in buf and (not args.count or n < args.count):
                line, buf = buf.split(b"\n", 1)
                try:
                    obj = json.loads(line)
                    text = json.dumps(obj) if args.json else format_line(obj)
                except (ValueError, KeyError, TypeError):
                    print("bad line: %r" % line[:80], file=sys.stderr)
                    continue
                print(text, file=out, flush=True)
                n += 1
                last = time.monotonic()
    except KeyboardInterrupt:
        pass
    finally:
        port.close()
    return 0
