"""ARM instruction counts and heap of the firmware on the emulated Cortex-M3 and Cortex-M0
(MicroPython's qemu port, images of host_tools/mcu_images.py, firmware frozen, metercrypto compiled
in), measured with qemu's -icount (see tests/qemu/insn.py: exact instruction time base, read
through an emulated SoC timer: resolution 40 (M3) / 62.5 (M0) instructions per call measured).

    .venv/bin/python -m host_tools.bench_arm

Printed per core:
  * heap: the GC heap of the image, free at boot, free after `import meter.app` (frozen), free
    after App() is built on the test board of tests/qemu/qapp.py (its own objects included);
  * instructions per metering tick (app.tick(): metrology, demand, profile, billing, quality,
    credit, supply, save policy), averaged over 300 ticks of 1 s, and per state save;
  * instructions per P1 telegram build (DSMR 5);
  * instructions per crypto call from Python: AES-128-GCM of a 1 KB Smarty-sized payload,
    SHA-256 of 1 KB, HMAC-SHA256 of 64 B, Ed25519 verify (RFC 8032 TEST 3; compare the bare C
    figure of host_tools/arm_insn_count.sh: 20.1 M on M0, 5.8 M on M3).
Debian's qemu ships no TCG plugins (libinsn.so), so icount + a timer is the counter here.
Needs the M3 image's FAT and PSRAM for the app: the M0 rows are crypto and P1 only.
"""
import re
import sys

from host_tools.qemu import QemuBoard, device_files
from host_tools.mcu_images import qemu_heap

SCRIPT = r"""
import gc, insn, metercrypto as mc
def line(k, v):
    print('@@', k, v)
gc.collect()
line('free_boot', gc.mem_free())
import meter.app
gc.collect()
line('free_after_import', gc.mem_free())
"""

APP = r"""
import gc, insn, time, qapp
app = qapp.make_app()
gc.collect()
line('free_after_app', gc.mem_free())
for i in range(120):  # warm up: first boundaries compute calendars once
    time.advance(1000)
    app.tick()
st = app.store
def tick():
    time.advance(1000)
    app.tick()
n, saves = 300, st.saves
line('tick', insn.count(tick, n))
line('tick_saves', st.saves - saves)
line('save', insn.count(app.save, 5))
"""

CRYPTO = r"""
key = b'k' * 16
iv = b'i' * 12
data = bytes(1024)
buf = bytearray(1024)
tag = bytearray(16)
line('gcm_1k', insn.count(lambda: mc.gcm_encrypt_into(key, iv, b'', data, buf, tag), 10))
line('sha256_1k', insn.count(lambda: mc.sha256(data), 10))
line('hmac_64', insn.count(lambda: mc.hmac_sha256(key, data[:64]), 10))
pk = bytes.fromhex('fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025')
sig = bytes.fromhex('6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac'
                    '18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a')
msg = b'\xaf\x82'
assert mc.ed25519_verify(pk, msg, sig)
line('ed25519_verify', insn.count(lambda: mc.ed25519_verify(pk, msg, sig), 1))
import mpt_p1
from meter.cores.dsmr.builder import P1Builder
s = mpt_p1.snapshot()
b = P1Builder('dsmr5', {})
pbuf = bytearray(b.max_frame)
line('p1_build', insn.count(lambda: b.build_into(pbuf, s, None), 5))
"""


def measure(image):
    with QemuBoard(image, device_files(), icount=True) as b:
        out = b.exec(SCRIPT + (APP if image == "m3" else "") + CRYPTO, timeout=600)
    return dict((k, int(v)) for k, v in re.findall(r"^@@ (\w+) (-?\d+)$", out, re.M))


def main(argv=None):
    rows = [("free_boot", "heap free at boot (B)"), ("free_after_import", "heap free after import meter.app (B)"),
            ("free_after_app", "heap free after App() on the test board (B)"),
            ("tick", "instructions per metering tick (1 s)"), ("save", "instructions per state save"),
            ("p1_build", "instructions per P1 telegram build (DSMR 5)"),
            ("gcm_1k", "instructions per AES-128-GCM encrypt, 1 KB"),
            ("sha256_1k", "instructions per SHA-256, 1 KB"), ("hmac_64", "instructions per HMAC-SHA256, 64 B"),
            ("ed25519_verify", "instructions per Ed25519 verify")]
    res = {}
    for image, label in (("m3", "Cortex-M3 (MPS2-AN385)"), ("m0", "Cortex-M0 (micro:bit)")):
        res[image] = measure(image)
        res[image]["heap"] = qemu_heap(image)
    print("%-48s %14s %14s" % ("emulated core (qemu -icount)", "Cortex-M3", "Cortex-M0"))
    print("%-48s %14d %14d" % ("GC heap of the image (B)", res["m3"]["heap"], res["m0"]["heap"]))
    for k, label in rows:
        print("%-48s %14s %14s" % (label, res["m3"].get(k, "-"), res["m0"].get(k, "-")))
    if "tick_saves" in res["m3"]:
        print("(the 300 measured ticks include %d state saves)" % res["m3"]["tick_saves"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
