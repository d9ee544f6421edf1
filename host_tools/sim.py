"""`make sim`: run the simulated meter in the foreground on the virtual rig.

Prints its endpoints, one per line (a contract; scripts parse them):

    p1: socket://127.0.0.1:<port>
    optical: <pty path>
    dlms: tcp://127.0.0.1:<port>
    credentials: <file> (lab optical passwords; METER_SIM_CONFIG=<file> overrides)
    state: <dir> (registers and meter log kept across runs; SIM_FRESH=1 starts fresh)

then a status line every few seconds:

    status: <local time> P=<kW> L1=<kW> L2=<kW> L3=<kW> import=<kWh> export=<kWh> rate=<n>

Options (environment): P1_PORT (default 8088), DLMS_PORT (default 4059; the meter's own DLMS/COSEM
TCP wrapper server), SIM_RATE (virtual seconds per real second,
default 1), SIM_STATUS_S (status period in real seconds, default 5), SIM_INTERP (unix|unix32),
SIM_STATE_DIR (default .sim/ in the repo: the storage image flash.bin and the firmware log meter.log),
SIM_FRESH=1 (delete that state first: registers start from zero), SIM_P1_PACE (real: one P1
telegram per real second whatever SIM_RATE, DSMR 5; virtual: one per virtual second).
Stop with Ctrl-C.
"""
import datetime
import json
import os
import signal
import sys
import time

from host_tools.loadprofile import household
from host_tools.rig import Rig, UNIX_2020


LAB_CREDENTIALS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sim_lab_credentials.json")
STATE_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), ".sim")
STATE_FILES = ("flash.bin", "meter.log")  # the Rig's state_dir contents


def _state_dir():
    """The persistent state dir (issue 16, defect 4); SIM_FRESH=1 removes its state first."""
    d = os.environ.get("SIM_STATE_DIR") or STATE_DIR
    if os.environ.get("SIM_FRESH") == "1":
        for name in STATE_FILES:
            try:
                os.remove(os.path.join(d, name))
            except FileNotFoundError:
                pass
    return d


def _local_hour(meter_s):
    # Europe/Amsterdam local hour for the load shape (CET/CEST)
    dt = datetime.datetime.fromtimestamp(meter_s + UNIX_2020, datetime.timezone.utc)
    try:
        from zoneinfo import ZoneInfo
        dt = dt.astimezone(ZoneInfo("Europe/Amsterdam"))
    except Exception:
        dt = dt + datetime.timedelta(hours=1)
    return dt.hour + dt.minute / 60.0, dt


def main():
    port = int(os.environ.get("P1_PORT", "8088"))
    rate = int(os.environ.get("SIM_RATE", "1"))
    period = float(os.environ.get("SIM_STATUS_S", "5"))
    interp = os.environ.get("SIM_INTERP", "unix")
    dlms_port = int(os.environ.get("DLMS_PORT", "4059"))
    # documented lab credentials unless the user gives a board config of their own
    creds = os.environ.get("METER_SIM_CONFIG") or LAB_CREDENTIALS
    with open(creds) as f:
        config = json.load(f)  # the rig writes the board its one config file: this plus DLMS
    config.setdefault("dlms", {"tcp_port": dlms_port})
    start = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    stop = []
    signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
    try:
        state = _state_dir()
        rig = Rig(p1_port=port, start=start, time_rate=rate, interp=interp,
                  config=config, state_dir=state, p1_pace=os.environ.get("SIM_P1_PACE", "real"))
        rig.start()
    except OSError as e:
        print("sim: cannot start: %s (is P1_PORT=%d free?)" % (e, port), file=sys.stderr)
        return 2
    try:
        print("p1: %s" % rig.p1_url)
        print("optical: %s" % rig.optical_port)
        print("dlms: %s" % rig.dlms_url)
        print("credentials: %s (lab optical passwords; METER_SIM_CONFIG=<file> overrides)" % creds)
        print("state: %s (registers and meter log kept across runs; SIM_FRESH=1 starts fresh)" % state)
        sys.stdout.flush()
        last_slot = None
        next_status = time.monotonic()
        while not stop:
            now = rig.now()
            hour, dt = _local_hour(now)
            slot = int(hour * 12)  # change loads every 5 minutes of virtual time
            if slot != last_slot:
                last_slot = slot
                for ph, (v, a, pf) in enumerate(household(hour, dt.toordinal()), 1):
                    rig.set_load(ph, v, a, pf)
            if time.monotonic() >= next_status:
                next_status += period
                regs = rig.registers()

                def val(code, default=0):
                    v = regs.get(code)
                    return v[0] * 10.0 ** v[1] if v else default

                rate_now = rig.query("rate") or 0
                print("status: %s P=%.3f L1=%.3f L2=%.3f L3=%.3f import=%.3f export=%.3f rate=%s" % (
                    dt.strftime("%Y-%m-%d %H:%M:%S"), val("1-0:1.7.0") - val("1-0:2.7.0"),
                    val("1-0:21.7.0") - val("1-0:22.7.0"), val("1-0:41.7.0") - val("1-0:42.7.0"),
                    val("1-0:61.7.0") - val("1-0:62.7.0"), val("1-0:1.8.0"), val("1-0:2.8.0"), rate_now))
                sys.stdout.flush()
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        rig.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
