# Every wmbus.json vector through the firmware's receive layers (ELL, AFL, TPL, mode 5/7 or
# plain, records): the first storage-0 volume or energy record matches "expect" (total_m3,
# volume_m3, energy_kwh); the bad-MAC vector is rejected. Floats only here in the test.
from mptest import eq
import oms_vectors as OV
from meter.cores.wmbus import ell as E, afl as A, tpl as T, records as R
from meter.cores.oms import mode5 as M5, mode7 as M7


def _open(v):
    b = OV.frame(v)
    end = len(b)
    key = bytes.fromhex(v["key"]) if "key" in v else None
    p = 10
    a = None
    if 0x8C <= b[p] <= 0x8F:
        e = E.Ell()
        eq(e.read(b, p, end, key), E.OK)
        p = e.next_off
    if b[p] == 0x90:
        a = A.Afl()
        eq(a.read(b, p, end), A.OK)
        p = a.next_off
    if b[p] == 0x78:
        return 0, b, p + 1
    t = T.Tpl()
    eq(t.read(b, p, end), T.OK)
    if t.mode == 7:
        return M7.Mode7().open(key, b, a, t, end), b, t.data_off
    if t.mode == 5:
        return M5.Mode5().decrypt(key, t, b, end), b, t.data_off
    return 0, b, t.data_off


def _first(b, p, units):
    r = R.Record()
    while p < len(b):
        q = r.decode(b, p, len(b))
        if q < 0 or r.dtype in (R.T_NONE, R.T_MFCT):
            return None
        if (r.unit in units and r.storage == 0 and r.tariff == 0
                and r.ext == 0 and r.dtype in (R.T_INT, R.T_BCD)):
            return r.value, r.scaler
        p = q
    return None


def test_every_vector():
    done = []
    for vid, v in OV.V.items():
        r, b, p = _open(v)
        if "expect_error" in v:
            eq(r, M7.ERR_MAC)
            done.append(vid)
            continue
        eq(r, 0)
        x = v["expect"]
        for name, units, k in (("total_m3", (R.U_M3,), 0), ("volume_m3", (R.U_M3,), 0),
                               ("energy_kwh", (R.U_WH,), -3)):
            if name in x:
                got = _first(b, p, units)
                eq((vid, got is not None), (vid, True))
                val = got[0] * 10 ** (got[1] + k) if got[1] + k >= 0 else got[0] / 10 ** -(got[1] + k)
                eq((vid, abs(val - x[name]) < 1e-6 * max(1, abs(x[name]))), (vid, True))
                done.append(vid)
                break
    print("checked", sorted(done))
    eq(len(done) >= 9, True)
