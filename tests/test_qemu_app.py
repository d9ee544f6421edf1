"""The whole app on the emulated Cortex-M3 (frozen firmware, metercrypto compiled in): meter.app.App
on the test board of tests/qemu/qapp.py (constant-count AFE, NOR flash emulator outside the heap,
virtual clock), its asyncio tasks run for 120 virtual seconds. The P1 telegrams it writes are
checked by dsmr-parser (checksum on) against energy computed here from the telegram's own time
stamp; the heap figures are printed (`pytest -s`) and bounded."""
import re

from dsmr_parser import obis_references as O
from dsmr_parser import telegram_specifications
from dsmr_parser.parsers import TelegramParser

from p1_strict import meter_secs_to_utc, tst_to_utc
from qemu_support import board_files
from host_tools.qemu import QemuBoard

EPOCH = 220000000  # tests/qemu/qapp.py
SECONDS = 120
COUNTS_PER_TICK, COUNTS_PER_WH = 3 * 20, 11  # FixedAfe: 20 import counts per phase and second


def test_app_meters_and_serves_p1_on_cortex_m3(tmp_path):
    with QemuBoard("m3", board_files("m3", str(tmp_path))) as b:
        out = b.exec("import qapp\nqapp.run(%d)\n" % SECONDS, timeout=300)
    head, _, telegram = out.partition("@@TELEGRAM\n")
    fig = dict((k, int(v)) for k, v in re.findall(r"^(\w+) (-?\d+)$", head, re.M))
    print("\nM3 heap: %(heap_free_boot)d B free at boot (test board loaded), meter.app import costs "
          "%(heap_import_cost)d B, App built: %(heap_app_cost)d B, %(heap_free_after_app)d B free, "
          "%(heap_free_after_run)d B free after the run" % fig)
    # one telegram per second (DSMR 5: 1 s), the first at the first second boundary
    assert SECONDS - 2 <= fig["telegrams"] <= SECONDS, fig
    assert "\r\n" in telegram or "\n" in telegram
    raw = telegram.strip("\n").replace("\r\n", "\n").replace("\n", "\r\n") + "\r\n"
    t = TelegramParser(telegram_specifications.V5, apply_checksum_validation=True).parse(raw)
    stamp = t[O.P1_MESSAGE_TIMESTAMP].value
    # the telegram of second s carries the metering ticks of seconds 1..s after boot
    utc = tst_to_utc(re.search(r"0-0:1\.0\.0\((\w+)\)", raw).group(1))
    ticks = int((utc - meter_secs_to_utc(EPOCH)).total_seconds())
    assert 0 < ticks <= SECONDS, (stamp, ticks)
    want_wh = ticks * COUNTS_PER_TICK // COUNTS_PER_WH
    got_wh = int((t[O.ELECTRICITY_USED_TARIFF_1].value + t[O.ELECTRICITY_USED_TARIFF_2].value) * 1000)
    assert got_wh == want_wh, (got_wh, want_wh, ticks)
    # the register the app holds after the run is at least the last telegram's
    assert want_wh <= fig["import_wh"] <= SECONDS * COUNTS_PER_TICK // COUNTS_PER_WH
    # heap: the frozen app leaves room on a 140 KB heap, and a minute of running does not leak
    assert fig["heap_free_after_app"] > 48 * 1024, fig
    assert fig["heap_free_after_run"] >= fig["heap_free_after_app"] - 2048, fig
