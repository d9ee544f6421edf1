# The register table's trim(): the four parallel lists lose the spare room appending left (they grow
# by doubling) without changing a register or the list objects services hold (metrology keeps
# `values`).
import gc

from meter.common.registers import Registers
from mptest import eq


def _table(n):
    r = Registers()
    for i in range(n):
        r.define("1-0:%d.8.0" % i, "kWh", -3, i * 7)
    return r


def test_trim_keeps_registers_and_list_objects():
    r = _table(77)
    vals, codes = r.values, r.codes
    before = [r.info(c) for c in r.codes]
    r.trim()
    assert r.values is vals and r.codes is codes
    eq(len(r), 77)
    eq([r.info(c) for c in r.codes], before)
    eq(r.slot("1-0:40.8.0"), 40)
    r.add(r.slot("1-0:3.8.0"), 5)
    eq(r.value("1-0:3.8.0"), 26)
    eq(r.define("1-0:77.8.0", "kW", -3), 77)  # defining after a trim still works
    eq(r.info("1-0:77.8.0"), (0, -3, "kW"))


def test_trim_gives_back_the_spare_room():
    r = _table(77)  # 77 entries: each list has room for 128 after appending
    gc.collect()
    a0 = gc.mem_alloc()
    r.trim()
    gc.collect()
    freed = a0 - gc.mem_alloc()
    word = 4 if (1 << 32) > __import__("sys").maxsize else 8
    assert freed >= 4 * 40 * word, freed  # at least 40 of the 51 spare slots of each list
