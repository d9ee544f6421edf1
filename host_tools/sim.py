"""`make sim`: run the simulated meter in the foreground on the virtual rig.

Prints its endpoints, one per line (a contract; scripts parse them):

    p1: socket://127.0.0.1:<port>
    optical: <pty path>
    dlms: tcp://127.0.0.1:<port>
    credentials: <file> (lab optical passwords; METER_SIM_CONFIG=<file> overrides)
    state: <dir> (registers and meter log kept across runs; SIM_FRESH=1 starts fresh)
    console: http://127.0.0.1:<port>/ (token <token>; SIM_CONSOLE=0 disables)

(the console line only with the web console on, host_tools/console) then a status line every few seconds:

    status: <meter's local date time zone> P=<n>kW L1=<n>kW L2=<n>kW L3=<n>kW import=<n>kWh export=<n>kWh tariff=<n>

(P and L1-L3 net active power, + import / - export; import/export the total energy registers
1.8.0/2.8.0; tariff the active tariff rate register 0-0:96.14.0; time in Europe/Amsterdam, the
load profile's zone). The first status line waits for the meter's first tick with the loads on.

Options (environment): P1_PORT (default 8088), DLMS_PORT (default 4059; the meter's own DLMS/COSEM
TCP wrapper server), SIM_RATE (virtual seconds per real second,
default 1), SIM_STATUS_S (status period in real seconds, default 5), SIM_INTERP (unix|unix32),
SIM_STATE_DIR (default .sim/ in the repo: the storage image flash.bin and the firmware log meter.log),
SIM_FRESH=1 (delete that state first: registers start from zero), SIM_P1_PACE (real, the default
when SIM_RATE > 1: one P1 telegram per real second whatever SIM_RATE, DSMR 5; virtual, the default
at 1x: one per virtual second, on the meter's second boundaries), SIM_CONSOLE (1, the default:
serve the web console; 0: not), SIM_CONSOLE_PORT (default 0: any free port). A phase whose load
the console set keeps it (the household profile leaves it alone until released there); a power
cut from the console pauses the status lines until the power is back; a time rate set there brings
the P1 pace SIM_P1_PACE's rule gives for it.
Stop with Ctrl-C.
"""
import datetime
import json
import os
import signal
import sys
import time

from host_tools.loadprofile import household
from host_tools.rig import Rig, RigError, UNIX_2020


LAB_CREDENTIALS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sim_lab_credentials.json")
STATE_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), ".sim")
STATE_FILES = ("flash.bin", "meter.log")  # the Rig's state_dir contents


def _p1_pace(rate):
    """SIM_P1_PACE, else real-time pacing when virtual time runs faster than real time (at 1x the
    meter-second cadence is the same rate and stays on the meter's second boundaries)."""
    return os.environ.get("SIM_P1_PACE") or ("real" if rate > 1 else "virtual")


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
    except (ImportError, KeyError):  # no tz database (ZoneInfoNotFoundError is a KeyError): CET
        dt = dt.astimezone(datetime.timezone(datetime.timedelta(hours=1), "CET"))
    return dt.hour + dt.minute / 60.0, dt


def _status_line(rig, dt, force=False):
    """The status line (a contract, see the module docstring); None while the meter has not yet
    ticked with the loads on (all power registers zero), unless force."""
    regs = rig.registers()

    def val(code):
        v = regs.get(code)
        return v[0] * 10.0 ** v[1] if v else 0.0

    net = [val("1-0:%d.7.0" % a) - val("1-0:%d.7.0" % b) for a, b in ((1, 2), (21, 22), (41, 42), (61, 62))]
    if not force and not any(net):
        return None
    return "status: %s P=%.3fkW L1=%.3fkW L2=%.3fkW L3=%.3fkW import=%.3fkWh export=%.3fkWh tariff=%s" % (
        (dt.strftime("%Y-%m-%d %H:%M:%S %Z"),) + tuple(net) + (val("1-0:1.8.0"), val("1-0:2.8.0"),
                                                              rig.query("rate") or 0))


def _start_console(rig):
    """The web console on SIM_CONSOLE_PORT unless SIM_CONSOLE=0; None when off."""
    if os.environ.get("SIM_CONSOLE", "1") == "0":
        return None
    from host_tools.console import Console
    return Console(rig, port=int(os.environ.get("SIM_CONSOLE_PORT", "0")), pace_for_rate=_p1_pace).start()


def _power_handled(rig, console):
    """True while the console has the power off or is cutting or restoring it (a RigError then
    means no power, not a dead meter)."""
    return console is not None and (not rig.powered or bool(console.sampler.busy))


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
                  config=config, state_dir=state, p1_pace=_p1_pace(rate))
        rig.start()
    except OSError as e:
        print("sim: cannot start: %s (is P1_PORT=%d free?)" % (e, port), file=sys.stderr)
        return 2
    except RigError as e:  # the firmware died or hung at boot: its log tail is in the message
        print("sim: the meter did not start: %s" % e, file=sys.stderr)
        rig.close()
        return 1
    try:
        console = _start_console(rig)
    except OSError as e:
        print("sim: cannot start the console: %s (is SIM_CONSOLE_PORT free? SIM_CONSOLE=0 runs "
              "without it)" % e, file=sys.stderr)
        rig.close()
        return 2
    try:
        print("p1: %s" % rig.p1_url)
        print("optical: %s" % rig.optical_port)
        print("dlms: %s" % rig.dlms_url)
        print("credentials: %s (lab optical passwords; METER_SIM_CONFIG=<file> overrides)" % creds)
        print("state: %s (registers and meter log kept across runs; SIM_FRESH=1 starts fresh)" % state)
        if console is not None:
            print("console: %s (token %s; SIM_CONSOLE=0 disables)" % (console.url, console.token))
        sys.stdout.flush()
        last_slot = None
        next_status = time.monotonic()
        first_by = next_status + 10  # hold the first status until a tick with load, at most 10 s
        while not stop:
            if _power_handled(rig, console):  # cut from the console: wait for its restore
                time.sleep(0.2)
                continue
            try:
                now = rig.now()
            except RigError:
                if not _power_handled(rig, console):
                    raise
                continue
            hour, dt = _local_hour(now)
            slot = int(hour * 12)  # change loads every 5 minutes of virtual time
            if slot != last_slot:
                last_slot = slot
                for ph, (v, a, pf) in enumerate(household(hour, dt.toordinal()), 1):
                    if console is None or ph not in console.controls.manual:
                        try:
                            rig.set_load(ph, v, a, pf)
                        except RigError:  # kept by the rig for the next power-on
                            if not _power_handled(rig, console):
                                raise
            if time.monotonic() >= next_status:
                try:
                    line = _status_line(rig, dt)
                except RigError:
                    if not _power_handled(rig, console):
                        raise
                    continue
                if line is not None or time.monotonic() > first_by:
                    # the period counts from the first line (however long it was held back)
                    next_status = (next_status if first_by == 0 else time.monotonic()) + period
                    first_by = 0  # printed once: never held back again
                    print(line or _status_line(rig, dt, force=True))
                    sys.stdout.flush()
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    except RigError as e:  # the firmware process died: say so at once, with its log tail
        print("sim: the meter stopped: %s" % e, file=sys.stderr)
        return 1
    finally:
        if console is not None:
            console.close()
        rig.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
