"""STS public vectors (shared/vectors/sts.json): every token through the vending tool (it must
reproduce each one bit for bit) and through the firmware's decoder in MicroPython (both
interpreters), decoding to the values the file's notes give; CTSA01 steps replayed as a meter
would see them. Expected values are computed here from the notes (times -> TIDs with datetime),
not taken from either implementation.
"""
import datetime

import pytest

from host_tools.sts import codec, keys, tokens
from sts_support import INTERPS, drive, fw_key, key_cmd, vectors



def _v():
    return vectors()


def _tid(iso, base=1993):
    t = datetime.datetime.fromisoformat(iso)
    return int((t - datetime.datetime(base, 1, 1)).total_seconds() // 60)


def _setup(v):
    s = v["ctsa01"]["setup"]
    return bytes.fromhex(s["vending_key"]), s["key_type"], int(s["supply_group_code"]), int(s["tariff_index"]), s["key_revision"]


def _decoder_key(v, pan):
    vk, kt, sgc, ti, krn = _setup(v)
    return keys.dkga02(vk, pan, kt, sgc, ti, krn)


def test_dkga02_reproduces_the_given_decoder_key():
    v = _v()
    assert _setup(v)[2:] == (123456, 1, 1)
    assert v["ctsa01"]["setup"]["base_date"] == "1993-01-01"
    assert _decoder_key(v, "600727000000000009") == fw_key(v["ctsa01"]["decoder_key_for_pan_600727000000000009"])


@pytest.mark.parametrize("step", range(1, 7))
def test_vending_reproduces_ctsa01(step):
    v = _v()
    t = v["ctsa01"]["tokens"][step - 1]
    assert t["step"] == step
    rnd = int(v["ctsa01"]["setup"]["rnd"])
    vend = tokens.Vendor(_decoder_key(v, t["pan"]), ea=7, base_year=1993)
    tok = vend.credit(1, subclass=t["subclass"], tid=_tid(t["time_utc"]), rnd=rnd)
    assert tok.digits == t["token"]
    # and the vending tool's own decoder reads back what the notes say
    d = vend.decode(t["token"])
    assert (d["cls"], d["subclass"], d["crc_ok"], d["rnd"], d["tid"], d["value"]) == \
        (0, t["subclass"], True, rnd, _tid(t["time_utc"]), 0x0001)


def test_vending_reproduces_the_extra_tokens():
    v = _v()
    more = v["more"]
    # 1.0 kWh at 2004-04-21 10:01, same setup (meter 600727000000000009, RND 5)
    vend = tokens.Vendor(_decoder_key(v, "600727000000000009"))
    tok = vend.credit(10, tid=_tid("2004-04-21T10:01"), rnd=5)
    assert tok.digits == more[0]["token"]
    assert format(tok.block & 0xFFFF, "016b") == more[0]["crc_bits"]
    # the decoder test: its own key, 25.6 kWh, RND 1011, 1996-03-25T13:55
    e = more[1]["expect"]
    vend = tokens.Vendor(fw_key(more[1]["decoder_key"]))
    tok = vend.credit(int(round(e["amount_kwh"] * 10)), subclass=e["subclass"], tid=_tid(e["tid_utc"]),
                      rnd=int(e["rnd"], 2))
    assert tok.digits == more[1]["token"]


def test_amount_and_crc_facts():
    v = _v()
    assert "0x3FFF=1638.3" in v["amount"]
    for field, tenths in ((0x0001, 1), (0x3FFF, 16383), (0x4000, 16384), (0x8000, 180224), (0xC000, 1818624),
                          (0xFFFF, 18201624)):
        assert codec.amount_value(field) == tenths
        assert codec.amount_field(tenths) == field
    assert codec.crc16(b"123456789") == 0x4B37


def test_tid_rollover_dates():
    v = _v()
    for base, text in ((1993, "2024-11-24 20:16"), (2014, "2045-11-24 20:16"), (2035, "2066-11-24 20:16")):
        assert text in v["tid_rollover"]
        want = datetime.datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=datetime.timezone.utc)
        assert codec.rollover_at(base) == want
        with pytest.raises(ValueError):
            codec.tid_for(want, base)
        assert codec.tid_for(want - datetime.timedelta(minutes=1), base) == (1 << 24) - 1


@pytest.mark.parametrize("interp", INTERPS)
def test_firmware_decodes_and_replays_the_vectors(interp):
    v = _v()
    cts = v["ctsa01"]["tokens"]
    pans = sorted({t["pan"] for t in cts})
    cfg = {"credit": [0, 1, 2]}  # the steps credit electricity, water and gas
    cmds = [key_cmd(p, _decoder_key(v, p), config=cfg) for p in pans]
    cmds.append(key_cmd("given", fw_key(v["ctsa01"]["decoder_key_for_pan_600727000000000009"]), config=cfg))
    cmds.append(key_cmd("dt", fw_key(v["more"][1]["decoder_key"])))
    expect = []
    for t in cts:  # each step on its own meter: accepted, credited as the notes say
        tid = _tid(t["time_utc"])
        cmds.append({"op": "enter", "id": t["pan"], "digits": t["token"]})
        expect.append(("Accept", [["RECORD_TID", tid], ["ADD_CREDIT", t["subclass"], 1, tid],
                                  ["DISPLAY", "Accept"]], dict(cls=0, sub=t["subclass"], rnd=5, tid=tid, value=1)))
    for t in cts:  # replayed: every one is now Used
        cmds.append({"op": "enter", "id": t["pan"], "digits": t["token"]})
        expect.append(("Used", None, None))
    for t in cts:  # on the other meter: a CRC error (another decoder key)
        other = [p for p in pans if p != t["pan"]][0]
        cmds.append({"op": "enter", "id": other, "digits": t["token"]})
        expect.append(("CRC", None, None))
    for t in cts:  # the given key of meter 600727000000000009 decodes its steps
        cmds.append({"op": "enter", "id": "given", "digits": t["token"]})
        expect.append(("Accept" if t["pan"] == "600727000000000009" else "CRC", None, None))
    tid = _tid("2004-04-21T10:01")
    cmds.append({"op": "enter", "id": "600727000000000009", "digits": v["more"][0]["token"]})
    expect.append(("Accept", [["RECORD_TID", tid], ["ADD_CREDIT", 0, 10, tid], ["DISPLAY", "Accept"]], None))
    e = v["more"][1]["expect"]
    tid = _tid(e["tid_utc"])
    cmds.append({"op": "enter", "id": "dt", "digits": v["more"][1]["token"]})
    expect.append(("Accept", [["RECORD_TID", tid], ["ADD_CREDIT", 0, 256, tid], ["DISPLAY", "Accept"]],
                   dict(cls=e["class"], sub=e["subclass"], rnd=int(e["rnd"], 2), tid=tid, value=256)))
    replies = drive(interp, cmds)[len(pans) + 2:]
    for (code, acts, fields), r, c in zip(expect, replies, cmds[len(pans) + 2:]):
        assert r["code"] == code, (c, r)
        assert r["problems"] == [], r
        if acts is not None:
            assert r["actions"] == acts, (c, r)
        if fields is not None:
            assert r["fields"] == fields, (c, r)
