"""`make bench` (console): what the web console costs at idle (issue 16, section 2).

The console runs in the rig's process, so its cost is the difference between a rig alone and the
same rig with the console, over the same real time (CPU from /proc/<pid>/stat utime + stime, RSS
from /proc/<pid>/status VmRSS), for the host process and for the firmware process (the sampler's
queries run there). Three phases of WINDOW_S real seconds each: rig alone; console with no page
open; console with one page's polling (state every 1 s, history every 2 s), from a separate
process so the client's own CPU is not counted.
"""
import os
import subprocess
import sys
import time

from host_tools.rig import Rig

WINDOW_S = 10.0
CLIENT = """
import sys, time, urllib.request
url = sys.argv[1]
n = 0
while True:
    urllib.request.urlopen(url + "api/state").read()
    if n % 2 == 0:
        urllib.request.urlopen(url + "api/history").read()
    n += 1
    time.sleep(1.0)
"""


def cpu_s(pid, task=None):
    """utime + stime of a process (or one of its threads) in seconds (proc(5): fields 14 and 15)."""
    with open("/proc/%d/task/%d/stat" % (pid, task) if task else "/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def window(rig):
    """(host CPU %, firmware CPU %) over WINDOW_S real seconds."""
    me, fw = os.getpid(), rig.proc.pid
    h0, f0, t0 = cpu_s(me), cpu_s(fw), time.monotonic()
    time.sleep(WINDOW_S)
    dt = time.monotonic() - t0
    return 100.0 * (cpu_s(me) - h0) / dt, 100.0 * (cpu_s(fw) - f0) / dt


def main():
    with Rig(time_rate=1) as rig:
        rig.set_load(1, 230.0, 5.0, 1.0)
        time.sleep(1.0)
        rss0 = rss_kb(os.getpid())
        alone = window(rig)
        from host_tools.console import Console  # here: its imports count in the console's RSS
        with Console(rig) as con:
            threads = [t.native_id for t in con.threads()]
            c0 = sum(cpu_s(os.getpid(), t) for t in threads)
            idle = window(rig)
            own = 100.0 * (sum(cpu_s(os.getpid(), t) for t in threads) - c0) / WINDOW_S
            rss1 = rss_kb(os.getpid())
            client = subprocess.Popen([sys.executable, "-c", CLIENT, con.url], stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL)
            try:
                polled = window(rig)
            finally:
                client.kill()
                client.wait()
            rss2 = rss_kb(os.getpid())
            samples = con.sampler.samples_taken
    print("over %.0f s each, time_rate 1; CPU %% of one core (host = the rig's Python process)" % WINDOW_S)
    print("rig alone:                 host %5.2f %%  firmware %5.2f %%" % alone)
    print("+ console, no page open:   host %5.2f %%  firmware %5.2f %%" % idle)
    print("+ console, one page polls: host %5.2f %%  firmware %5.2f %%" % polled)
    print("console idle cost: host %+.2f %%, firmware %+.2f %% (sampler: %d samples in both windows)" % (
        idle[0] - alone[0], idle[1] - alone[1], samples))
    print("console's own threads (sampler + HTTP server) at idle: %.2f %% (clock tick %d ms)" % (
        own, 1000 // os.sysconf("SC_CLK_TCK")))
    print("host RSS: rig alone %d KB, + console idle %d KB (%+d KB), after a page polled %d KB (%+d KB)" % (
        rss0, rss1, rss1 - rss0, rss2, rss2 - rss0))


if __name__ == "__main__":
    main()
