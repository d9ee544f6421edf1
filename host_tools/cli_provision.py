"""`provision`: write a meter's keys and identity to a board with mpremote.

    python -m host_tools provision [--port P] [--from FILE] [--generate NAME,...]
                                   [--equipment-id ID] [--serial S] [--dry-run]

FILE is JSON: {"keys": {name: hex, ...}, "identity": {"equipment_id": ..., "serial": ...,
"optical_address": ..., "manufacturer": ..., "model": ...}}. --generate makes new random keys
(the sizes below) for the names given, or for all with --generate all. Keys the firmware reads
(boards/mcu.py KeyStore, /keys.json, hex): p1_key, p1_auth (AES-128 GCM key and authentication
key of the Luxembourg Smarty P1 output), p1_system_title (8 bytes), optical_pw1 (the level-1
password, ASCII digits and letters) and optical_key2 (the level-2 secret).

How it writes: the values go to the board as the content of one temporary file (never on a
command line, never printed), then a script on the board merges them into /keys.json and the
identity into /config/board.json (other entries stay) and deletes the temporary file. The report
names what was written, never a value. Keys stay on the meter: nothing reads them back.
"""
import json
import os
import secrets
import shlex
import string
import sys
import tempfile

KEY_BYTES = {"p1_key": 16, "p1_auth": 16, "p1_system_title": 8, "optical_key2": 32}
PASSWORD_CHARS = 12  # optical_pw1: IEC 62056-21 P1 password, printable
IDENTITY = ("equipment_id", "serial", "optical_address", "manufacturer", "model")
STAGE = "/.provision.json"

# Runs on the board: merge the staged values, remove the staging file; prints names only.
MERGE = """import json, os
def _load(p):
    try:
        with open(p) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}
with open(%(stage)r) as f:
    new = json.load(f)
done = []
if new.get("keys"):
    k = _load("/keys.json")
    k.update(new["keys"])
    with open("/keys.json", "w") as f:
        json.dump(k, f)
    done += ["key " + n for n in sorted(new["keys"])]
if new.get("identity"):
    try:
        os.mkdir("/config")
    except OSError:
        pass
    c = _load("/config/board.json")
    c.setdefault("identity", {}).update(new["identity"])
    with open("/config/board.json", "w") as f:
        json.dump(c, f)
    done += ["identity " + n for n in sorted(new["identity"])]
os.remove(%(stage)r)
print("provisioned: " + ", ".join(done))
""" % {"stage": STAGE}


class ProvisionError(Exception):
    pass


def register(sub):
    p = sub.add_parser("provision", help="write keys and identity to a board (values never printed)")
    p.add_argument("--port", default="auto", help="serial port of the board (default: mpremote auto)")
    p.add_argument("--from", dest="from_file", help="JSON file with keys (hex) and identity")
    p.add_argument("--generate", default="", help="comma-separated key names to generate, or 'all'")
    for f in IDENTITY:
        p.add_argument("--" + f.replace("_", "-"), dest=f)
    p.add_argument("--dry-run", action="store_true", help="say what would be written (names only)")
    p.set_defaults(func=run)


def generate(name):
    if name == "optical_pw1":
        alphabet = string.ascii_letters + string.digits
        return "".join(secrets.choice(alphabet) for _ in range(PASSWORD_CHARS)).encode().hex()
    if name not in KEY_BYTES:
        raise ProvisionError("unknown key %r (known: %s)" % (name, ", ".join(sorted(KEY_BYTES) + ["optical_pw1"])))
    return secrets.token_bytes(KEY_BYTES[name]).hex()


def collect(args):
    """{"keys": {name: hex}, "identity": {...}} from the file, the generated keys and the options."""
    keys, ident = {}, {}
    if args.from_file:
        with open(args.from_file) as f:
            data = json.load(f)
        for name, v in (data.get("keys") or {}).items():
            try:
                bytes.fromhex(v)
            except (TypeError, ValueError):
                raise ProvisionError("key %s in %s is not hex" % (name, args.from_file))
            keys[name] = v.lower()
        ident.update({k: str(v) for k, v in (data.get("identity") or {}).items() if k in IDENTITY})
        unknown = set(data.get("identity") or {}) - set(IDENTITY)
        if unknown:
            raise ProvisionError("unknown identity fields: " + ", ".join(sorted(unknown)))
    names = [n.strip() for n in args.generate.split(",") if n.strip()]
    if names == ["all"]:
        names = sorted(KEY_BYTES) + ["optical_pw1"]
    for n in names:
        keys[n] = generate(n)
    for f in IDENTITY:
        v = getattr(args, f, None)
        if v is not None:
            ident[f] = v
    if "p1_key" in keys and len(bytes.fromhex(keys["p1_key"])) != 16:
        raise ProvisionError("p1_key must be 16 bytes (AES-128)")
    if "p1_system_title" in keys and len(bytes.fromhex(keys["p1_system_title"])) != 8:
        raise ProvisionError("p1_system_title must be 8 bytes")
    if not keys and not ident:
        raise ProvisionError("nothing to write: give --from, --generate or identity options")
    return {"keys": keys, "identity": ident}


def steps(port, stage_file):
    conn = ([] if port == "auto" else ["connect", port]) + ["resume"]
    return [conn + ["fs", "cp", stage_file, ":" + STAGE, "+", "exec", MERGE]]


def run(args, runner=None):
    """runner(argv) -> (exit status, output) runs mpremote (tests pass a recorder/emulated board)."""
    try:
        values = collect(args)
    except (ProvisionError, OSError, ValueError) as e:
        print("provision: " + str(e), file=sys.stderr)
        return 2
    names = ["key " + n for n in sorted(values["keys"])] + ["identity " + n for n in sorted(values["identity"])]
    if args.dry_run:
        print("provision: would write " + ", ".join(names) + " (values not shown)")
        print(shlex.join(["mpremote"] + steps(args.port, "<staged values>")[0][:-1] + ["<merge script>"]))
        return 0
    fd, stage = tempfile.mkstemp(prefix="meter-provision-", suffix=".json")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(values, f)
        runner = runner or _mpremote
        for argv in steps(args.port, stage):
            rc, out = runner(argv)
            if rc:
                print("provision: mpremote failed (exit %d)" % rc, file=sys.stderr)
                return rc
            if "provisioned: " not in out:
                print("provision: the board did not confirm the write", file=sys.stderr)
                return 1
        print("provision: wrote " + ", ".join(names))
        return 0
    finally:
        os.remove(stage)


def _mpremote(argv):
    import subprocess
    exe = os.path.join(os.path.dirname(sys.executable), "mpremote")
    p = subprocess.run([exe] + argv, capture_output=True, text=True)
    return p.returncode, p.stdout
