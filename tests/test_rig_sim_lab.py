"""`make sim` as a lab instrument (issue 16): state kept across runs in its state dir."""
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_sim(n_status, **env):
    """Run host_tools.sim until it printed n_status status lines; returns (header lines, status
    lines). Stops it with SIGTERM (its clean stop)."""
    e = dict(os.environ, P1_PORT="0", DLMS_PORT="0", SIM_STATUS_S="0.5", **env)
    p = subprocess.Popen([sys.executable, "-m", "host_tools.sim"], stdout=subprocess.PIPE, text=True,
                         env=e, cwd=ROOT)
    head, status = [], []
    try:
        while len(status) < n_status:
            line = p.stdout.readline()
            assert line, "sim ended early: %r" % head
            (status if line.startswith("status: ") else head).append(line.rstrip("\n"))
    finally:
        p.terminate()
        p.wait(timeout=15)
    return head, status


def energy(status_line):
    """import + export in kWh from a status line."""
    return sum(float(re.search(r" %s=([0-9.]+)" % k, status_line).group(1)) for k in ("import", "export"))


def test_sim_state_survives_restart_and_fresh_start_clears_it(tmp_path):
    state = str(tmp_path / "sim")
    _, s1 = run_sim(3, SIM_RATE="3600", SIM_STATE_DIR=state)
    assert os.path.exists(os.path.join(state, "flash.bin"))
    assert os.path.exists(os.path.join(state, "meter.log"))
    e1 = energy(s1[-1])
    assert e1 > 0.05  # over an hour of household load at 3600x
    _, s2 = run_sim(1, SIM_RATE="3600", SIM_STATE_DIR=state)
    assert energy(s2[0]) >= e1  # registers continue where the last run stopped
    _, s3 = run_sim(1, SIM_RATE="3600", SIM_STATE_DIR=state, SIM_FRESH="1")
    assert energy(s3[0]) < energy(s2[0]) - 0.05  # fresh: back from zero
