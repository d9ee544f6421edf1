"""Issue 18 on the 96 KB frozen image (32-bit, firmware frozen as in a product image): without
"update" in the board config the update service, the DLMS image transfer mapping and the P1
firmware lines' caller are not imported and the heap is as before; with it the meter boots and
meters at 96 KB too (the heap figures are printed for the report)."""
import os
import sys

import pytest

from host_tools.rig import Rig

sys.path.insert(0, os.path.dirname(__file__))
from update_support import KEYS  # noqa: E402

pytestmark = pytest.mark.rig
LAZY = ("meter.services.update", "meter.services.cosem_image", "meter.common.legal")


def _run(cfg):
    with Rig(interp="unix32", heap="96K", frozen=True, time_rate=0, config=cfg) as rig:
        boot = rig.query("mem")
        loaded = rig.query("modules", *LAZY)
        rig.set_load(1, 230.0, 10.0, 1.0)
        rig.advance(3600)
        after = rig.query("mem")
        log = rig.meter_log()
        assert "MemoryError" not in log and "Traceback" not in log, log[-3000:]
        assert rig.query("status")["ready"]
        wh = rig.query("energies")["1-0:1.8.0"][0]  # (the registers query is too big for 96 KB)
        assert 2290 <= wh <= 2310  # 2.3 kW for 1 h
        return boot, after, loaded


def test_96k_frozen_without_and_with_the_update_service():
    b0, a0, loaded0 = _run({"p1": {"profile": "emucs"}})
    assert loaded0 == []  # not configured: nothing of the update path is imported
    b1, a1, loaded1 = _run({"p1": {"profile": "emucs"}, "update": {"trial_s": 20}, "keys": dict(KEYS)})
    assert loaded1 == ["meter.services.update", "meter.common.legal"]  # no DLMS: no image transfer
    print("\n96K frozen, e-MUCS P1: without update alloc %d free %d (after 1 h: %d / %d); with update "
          "alloc %d free %d (after 1 h: %d / %d): the update service costs %d B"
          % (b0["alloc"], b0["free"], a0["alloc"], a0["free"], b1["alloc"], b1["free"], a1["alloc"],
             a1["free"], a1["alloc"] - a0["alloc"]))
    assert a1["free"] >= 12 * 1024
