# Driver for tests/test_update_service.py: the update service (firmware/meter/services/update.py)
# and the boot selector inside MicroPython, on a flash directory the host prepared, with a
# filesystem that cuts the power at a chosen write unit. Usage: upd_driver.py JOB.json; prints one
# "@@R <json>" line per case.
import json
import os
import sys

import bootsel
from meter.common.events import EventLog
from meter.services import update as U


class PowerCut(Exception):
    pass


class CutFs(U.OsFs):
    """OsFs that stops after `budget` units (a written byte, or a rename/remove/mkdir/rmdir):
    the write in progress keeps its first bytes, then the power is gone."""

    def __init__(self, budget):
        self.budget = budget
        self.used = 0

    def _spend(self, n):
        if self.budget is not None and self.used + n > self.budget:
            k = self.budget - self.used
            self.used = self.budget
            raise PowerCut(k)
        self.used += n

    def open(self, path, mode="rb"):
        f = open(path, mode)
        return f if "r" in mode else _CutFile(f, self)

    def rename(self, a, b):
        self._spend(1)
        os.rename(a, b)

    def remove(self, p):
        self._spend(1)
        U.OsFs.remove(p)

    def mkdir(self, p):
        self._spend(1)
        os.mkdir(p)

    def rmdir(self, p):
        self._spend(1)
        os.rmdir(p)


class _CutFile:
    def __init__(self, f, fs):
        self.f = f
        self.fs = fs

    def write(self, data):
        try:
            self.fs._spend(len(data))
        except PowerCut as e:
            self.f.write(bytes(data[:e.args[0]]))
            raise
        return self.f.write(data)

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.f.close()


class Clock:
    def __init__(self):
        self.t = 1000

    def now(self):
        return self.t


class Keys:
    def __init__(self, d):
        self.d = d

    def get(self, n):
        v = self.d.get(n)
        return bytes.fromhex(v) if v else None


def _isdir(p):
    return U.OsFs.isdir(p)


def rmtree(p):
    if not _isdir(p):
        U.OsFs.remove(p)
        return
    for n in os.listdir(p):
        rmtree(p + "/" + n)
    os.rmdir(p)


def copytree(a, b):
    os.mkdir(b)
    for n in os.listdir(a):
        if _isdir(a + "/" + n):
            copytree(a + "/" + n, b + "/" + n)
        else:
            with open(a + "/" + n, "rb") as f, open(b + "/" + n, "wb") as g:
                g.write(f.read())


def service(job, root, fs=None, clock=None):
    ev = EventLog(32)
    s = U.UpdateService(root, job["want"], ev, clock or Clock(), keys=Keys(job["keys"]), fs=fs,
                        trial_s=30)
    s.boot(bootsel.read(root), 1000)
    return s, ev


def push(s, data, start=0, chunk=112):
    for i in range(start, len(data), chunk):
        s.stage(data[i:i + chunk], i)
    s.commit("%08X" % U.crc32(data))


def slot_state(root):
    """(version, consistent): the booted slot's files all match its manifest, nothing extra."""
    import hashlib
    p = bootsel.read(root)
    d = root + "/" + p[0]
    with open(d + "/manifest.json", "rb") as f:
        m = U.Manifest(f.read())
    want = set()
    for path, size, digest, same in m.files:
        want.add(path)
        try:
            with open(d + "/" + path, "rb") as f:
                ok = hashlib.sha256(f.read()).digest() == digest
        except OSError:
            ok = False
        if not ok:
            return m.version, False
    have = set()

    def walk(base, rel):
        for n in os.listdir(base):
            if _isdir(base + "/" + n):
                walk(base + "/" + n, rel + n + "/")
            else:
                have.add(rel + n)
    walk(d, "")
    have.discard("manifest.json")
    return m.version, have == want


def out(**kw):
    print("@@R " + json.dumps(kw))


def case_refuse(job, name, data):
    root = job["work"] + "/r"
    copytree(job["flash"], root)
    s, ev = service(job, root)
    reason = None
    try:
        push(s, data)
    except ValueError as e:
        reason = str(e)
    evs = [list(ev.get(k)) for k in range(len(ev))]
    out(case=name, reason=reason, last_error=s.last_error, events=evs, pointer=list(bootsel.read(root)),
        stage=U.exists(root + "/" + U.STAGE), files=sorted(os.listdir(root)))
    rmtree(root)


def case_cut(job, budget, data):
    root = job["work"] + "/c"
    copytree(job["flash"], root)
    fs = CutFs(budget)
    s, _ = service(job, root, fs)
    cut = False
    try:
        push(s, data)
    except PowerCut:
        cut = True
    # power up again: the selector, then the meter; a trial confirms (healthy)
    bootsel.select(root, path=[])
    s, ev = service(job, root)
    v_boot, ok_boot = slot_state(root)
    resumed = None
    if s.trial:
        s.trial_step(True, 1001)
    elif v_boot == job["old"]:
        resumed = s.staged  # what survived of the upload: the push continues from there
        push(s, data, s.staged)
        bootsel.select(root, path=[])
        s, ev = service(job, root)
        s.trial_step(True, 1001)
    v_end, ok_end = slot_state(root)
    out(case="cut", budget=budget, used=fs.used, cut=cut, boot=v_boot, boot_ok=ok_boot,
        resumed=resumed, end=v_end, end_ok=ok_end, pointer=list(bootsel.read(root)))
    rmtree(root)


def case_trial(job, data, healthy):
    """Switch, then a trial that is healthy, or never healthy until trial_s, or that crashes."""
    root = job["work"] + "/t"
    copytree(job["flash"], root)
    s, _ = service(job, root)
    push(s, data)
    clk = Clock()
    bootsel.select(root, path=[])
    s, ev = service(job, root, clock=clk)
    r = []
    if healthy == "crash":
        s = None  # the trial boot dies before confirming; the next start rolls back
        bootsel.select(root, path=[])
        s, ev = service(job, root, clock=clk)
    else:
        for t in range(1001, 1040):
            clk.t = t
            x = s.trial_step(healthy == "ok", t)
            if x:
                r.append((t, x))
                break
        if r and r[0][1] == "rollback":
            bootsel.select(root, path=[])
            s, ev = service(job, root, clock=clk)
    v, ok = slot_state(root)
    out(case="trial", mode=healthy, steps=r, version=v, ok=ok, events=[list(ev.get(k)) for k in range(len(ev))],
        pointer=list(bootsel.read(root)), floor=s.floor())
    rmtree(root)


def _try(s, data):
    try:
        push(s, data)
        return None
    except ValueError as e:
        return str(e)


def _reboot(job, root, clk):
    bootsel.select(root, path=[])
    return service(job, root, clock=clk)


def _trial(s, clk, healthy):
    """Run the trial boot's checks once a second until it confirms or rolls back."""
    for t in range(1001, 1100):
        clk.t = t
        step = s.trial_step(healthy, t)
        if step:
            return step
    return None


def case_rotate(job, pk, healthy):
    """A package carrying next_key, then its trial (confirmed or hung); afterwards which keys the
    meter takes: old-key, unknown-key and new-key signed packages."""
    root = job["work"] + "/k"
    copytree(job["flash"], root)
    clk = Clock()
    s, _ = service(job, root, clock=clk)
    push(s, pk["rotate"])
    s, ev = _reboot(job, root, clk)
    step = _trial(s, clk, healthy)
    s, ev2 = _reboot(job, root, clk)
    key_file = U.read_bytes(root + "/update_key")
    evs = [list(ev.get(k)) for k in range(len(ev))] + [list(ev2.get(k)) for k in range(len(ev2))]
    cut_restored = None
    if key_file:
        os.remove(root + "/update_key")  # a power cut between the confirmation and the key write
        s, _ = service(job, root, clock=clk)
        cut_restored = U.read_bytes(root + "/update_key") == key_file
    res = {}
    for name in ("by_old", "by_unknown", "by_new"):
        res[name] = _try(s, pk[name])
        if res[name] is None:
            s, _ = _reboot(job, root, clk)
    out(case="rotate", mode=healthy, step=step, key=key_file.decode() if key_file else None,
        events=evs, cut_restored=cut_restored, res=res, version=slot_state(root)[0])
    rmtree(root)


def case_image(job, pk):
    """Image transfer (services/cosem_image.py) on the update service: the IC 18 methods called as
    the DLMS server calls them (decoded A-XDR tuples), results as codes (0 = success)."""
    from meter.cores.dlms import axdr
    from meter.cores.dlms.objects import DataAccessError
    from meter.services import cosem_image as CI
    root = job["work"] + "/i"
    copytree(job["flash"], root)
    clk = Clock()
    s, ev = service(job, root, clock=clk)
    it = CI.ImageTransfer(s)
    r = []

    def call(fn, *a):
        try:
            fn(*a)
            return 0
        except DataAccessError as e:
            return e.code

    def init(ident, size):
        return call(it.initiate, (axdr.STRUCTURE, ((axdr.OCTET_STRING, ident),
                                                   (axdr.DOUBLE_LONG_UNSIGNED, size))))

    def blk(data, n):
        return call(it.block, (axdr.STRUCTURE, ((axdr.DOUBLE_LONG_UNSIGNED, n),
                                                (axdr.OCTET_STRING, data[n * CI.BLOCK:(n + 1) * CI.BLOCK]))))

    good, bad = pk["good"], pk["bad_block"]
    nb = (len(good) + CI.BLOCK - 1) // CI.BLOCK
    r.append(("before_init", blk(good, 0), it.transfer_status()))
    r.append(("bad_params", call(it.initiate, (axdr.STRUCTURE, ((axdr.OCTET_STRING, b""),
                                                                (axdr.DOUBLE_LONG_UNSIGNED, 5)))),
              call(it.initiate, None), init(b"x", s.limit + 1)))
    it.set_enabled((axdr.BOOLEAN, False))
    r.append(("disabled", init(b"v2", len(good))))
    it.set_enabled((axdr.BOOLEAN, True))
    r.append(("init", init(b"v2", len(good)), it.transfer_status(), it.first_missing()))
    res = [blk(good, n) for n in range(3)]
    res.append(blk(good, 1))  # a repeat
    res.append(blk(good, 5))  # past the first missing block
    res.append(call(it.block, (axdr.STRUCTURE, ((axdr.DOUBLE_LONG_UNSIGNED, 3),
                                                (axdr.OCTET_STRING, good[3 * CI.BLOCK:3 * CI.BLOCK + 7])))))
    res.append(call(it.verify, (axdr.INTEGER, 0)))  # incomplete
    r.append(("blocks", res, it.first_missing(), it.transfer_status(), it.blocks_status()[1][0]))
    # power cut: the update service replays the staging, the transfer resumes at block 3
    s, ev = service(job, root, clock=clk)
    it = CI.ImageTransfer(s)
    r.append(("resumed", it.transfer_status(), it.first_missing(), init(b"v2", len(good)), it.first_missing()))
    res = [blk(good, n) for n in range(it.first_missing(), nb)]
    bs = it.blocks_status()[1]
    import binascii
    r.append(("rest", res, it.first_missing() == nb, bs[0] == nb, binascii.hexlify(bs[1]).decode()))
    r.append(("verify", call(it.verify, (axdr.INTEGER, 0)), it.transfer_status(),
              it.activate_info()[1][0][1][0][1] if it.activate_info()[1] else None))
    r.append(("activate", call(it.activate, (axdr.INTEGER, 0)), it.transfer_status(), s.reset_due,
              list(bootsel.read(root))))
    s, ev = _reboot(job, root, clk)
    it = CI.ImageTransfer(s)
    r.append(("trial", it.transfer_status(), s.version))
    s.trial_step(True, 1001)
    r.append(("confirmed", it.transfer_status()))
    # a tampered block: refused at its file's last byte, status 4, verify refused, nothing switched
    r.append(("bad_init", init(b"bad", len(bad))))
    res = [blk(bad, n) for n in range((len(bad) + CI.BLOCK - 1) // CI.BLOCK)]
    r.append(("bad", res, it.transfer_status(), call(it.verify, (axdr.INTEGER, 0)),
              call(it.activate, (axdr.INTEGER, 0)), list(bootsel.read(root)), U.exists(root + "/" + U.STAGE),
              [list(ev.get(k))[1:3] for k in range(len(ev))]))
    # a new identifier starts over
    r.append(("restart", init(b"v3", len(good)), it.transfer_status(), it.first_missing(), s.staged))
    # another image, activated, and its trial never healthy: rolled back -> status 7
    g2 = pk["good2"]
    n2 = (len(g2) + CI.BLOCK - 1) // CI.BLOCK
    res = [init(b"v4", len(g2))] + [blk(g2, n) for n in range(n2)] + [call(it.activate, (axdr.INTEGER, 0))]
    s, ev = _reboot(job, root, clk)
    it = CI.ImageTransfer(s)
    st5 = it.transfer_status()
    step = _trial(s, clk, False)
    s, ev = _reboot(job, root, clk)
    it = CI.ImageTransfer(s)
    r.append(("rollback", res == [0] * (n2 + 2), st5, step, it.transfer_status(), list(bootsel.read(root))))
    out(case="image", steps=r)
    rmtree(root)


def main():
    with open(sys.argv[1]) as f:
        job = json.load(f)
    pk = {}
    for k, path in job["packages"].items():
        with open(path, "rb") as f:
            pk[k] = f.read()
    for name in job.get("refuse", ()):
        case_refuse(job, name, pk[name])
    for mode in job.get("trial", ()):
        case_trial(job, pk["good"], mode)
    if job.get("measure"):
        fs = CutFs(None)
        root = job["work"] + "/m"
        copytree(job["flash"], root)
        s, _ = service(job, root, fs)
        n = len(pk["good"])
        chunk = 112
        for i in range(0, n, chunk):
            s.stage(pk["good"][i:i + chunk], i)
        upload = fs.used
        s.commit("%08X" % U.crc32(pk["good"]))
        out(case="measure", upload=upload, total=fs.used)
        rmtree(root)
    if job.get("image"):
        case_image(job, pk)
    for healthy in job.get("rotate", ()):
        case_rotate(job, pk, healthy)
    for b in job.get("cuts", ()):
        case_cut(job, b, pk["good"])
    print("@@END")


main()
