"""The STS vending tool on its own (host_tools/sts, host_tools/cli_vend.py): MISTY1 against RFC
2994's test data, DES against `cryptography`, STA encrypt/decrypt inverses, the codec by its
definitions, DKGA04's shape, key changes, and the command line (keys hidden, errors without
tracebacks, the CTSA01 token reproduced through the CLI)."""
import contextlib
import datetime
import io
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from host_tools import cli_vend
from host_tools.sts import ciphers, codec, keys, sta, tokens
from host_tools.sts.misty1 import Misty1

VK = "abababababababab"
PAN = "600727000000000009"


def test_misty1_rfc2994_test_data():
    m = Misty1(bytes.fromhex("00112233445566778899aabbccddeeff"))
    for p, c in (("0123456789abcdef", "8b1da5f56ab3d07c"), ("fedcba9876543210", "04b68240b13be95d")):
        assert m.encrypt(bytes.fromhex(p)).hex() == c
        assert m.decrypt(bytes.fromhex(c)).hex() == p
    with pytest.raises(ValueError):
        Misty1(bytes(15))


@settings(max_examples=60, deadline=None)
@given(key=st.binary(min_size=8, max_size=8), block=st.integers(0, (1 << 64) - 1))
def test_sta_and_des_are_inverses(key, block):
    assert sta.decrypt(key, sta.encrypt(key, block)) == block
    assert ciphers.decrypt(9, key, ciphers.encrypt(9, key, block)) == block


def test_des_is_single_des():
    # FIPS 81 / the classic DES example: key 133457799BBCDFF1, plaintext 0123456789ABCDEF
    assert keys.des_encrypt(bytes.fromhex("133457799BBCDFF1"), bytes.fromhex("0123456789ABCDEF")).hex() == \
        "85e813540f0ab405"


@settings(max_examples=100, deadline=None)
@given(cls=st.integers(0, 3), block=st.integers(0, (1 << 64) - 1))
def test_digits_round_trip_and_transposition(cls, block):
    d = codec.to_digits(cls, block)
    assert len(d) == 20 and codec.from_digits(d) == (cls, block)
    n = int(d)
    assert (n >> 27) & 3 == cls and (n >> 64) == (block >> 27) & 3


def test_digits_rejections():
    for bad in ("1" * 19, "1" * 21, "x" * 20, str(1 << 66)):
        with pytest.raises(ValueError):
            codec.from_digits(bad)
    assert codec.from_digits("2371-6100-5011-8319-4197")[0] == 0


def test_amount_field_by_definition():
    for field in range(0, 1 << 16, 97):
        e, m = field >> 14, field & 0x3FFF
        want = m * 10 ** e + sum((1 << 14) * 10 ** (n - 1) for n in range(1, e + 1))
        assert codec.amount_value(field) == want
        assert codec.amount_field(want) == field
    with pytest.raises(ValueError):
        codec.amount_field(16385)
    assert codec.amount_field(16385, round_down=True) == 0x4000
    with pytest.raises(ValueError):
        codec.amount_field(codec.AMOUNT_MAX + 1)


def test_pan_and_blocks():
    assert keys.meter_pan("60072700000000000") == PAN
    with pytest.raises(ValueError):
        keys.meter_pan("600727000000000008")
    assert keys.pan_block(PAN).hex() == "0072700000000000"
    assert keys.pan_block("000001000000000082").hex() == "0000100000000008"
    assert keys.control_block(2, 123456, 1, 1).hex() == "2123456011ffffff"


def test_dkga04_shape():
    vk = bytes(range(20))
    k64 = keys.dkga04(vk, PAN, 2, 123456, 1, 1, 2014, 7)
    k128 = keys.dkga04(vk, PAN, 2, 123456, 1, 1, 2014, 11)
    assert len(k64) == 8 and len(k128) == 16
    assert k128 != keys.dkga04(vk, "000001000000000082", 2, 123456, 1, 1, 2014, 11)
    assert k128 != keys.dkga04(vk, PAN, 2, 123456, 1, 2, 2014, 11)
    fixed = keys.dkga04_input(PAN, 2, 123456, 1, 1, 2014, 11, 128)
    assert fixed.endswith(b"\x12" + PAN.encode() + (128).to_bytes(4, "big"))
    with pytest.raises(ValueError):
        keys.dkga04(bytes(8), PAN, 2, 123456, 1, 1, 2014, 11)


def test_key_change_sets():
    v = tokens.Vendor(bytes(8))
    pair = v.key_change(bytes(range(8)), kt=2, krn=2, ti=5, ken=0xA5, rollover=True)
    assert [t.subclass for t in pair] == [3, 4]
    d = [v.decode(t.digits) for t in pair]
    assert (d[0]["kenho"], d[0]["krn"], d[0]["ro"], d[0]["kt"], d[0]["nk"]) == (0xA, 2, 1, 2, 0x00010203)
    assert (d[1]["kenlo"], d[1]["ti"], d[1]["nk"]) == (0x5, 5, 0x04050607)
    v11 = tokens.Vendor(bytes(16), ea=11)
    four = v11.key_change(bytes(range(16)), kt=2, krn=1, ti=1, sgc=0xABCDE)
    assert [t.subclass for t in four] == [3, 4, 8, 9]
    dd = {t.subclass: v11.decode(t.digits) for t in four}
    assert [dd[s]["nk"] for s in (3, 9, 8, 4)] == [0x00010203, 0x04050607, 0x08090A0B, 0x0C0D0E0F]
    assert dd[9]["sgcho"] << 12 | dd[8]["sgclo"] == 0xABCDE
    with pytest.raises(ValueError):
        v.key_change(bytes(8), kt=0, krn=1, ti=1)  # a DITK cannot be sent
    assert "key" not in repr(v).replace("key hidden", "")


def run_cli(*argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = cli_vend.main(list(argv))
    return rc, out.getvalue(), err.getvalue()


def test_cli_reproduces_ctsa01_step1():
    rc, out, _ = run_cli("credit", "--pan", PAN, "--vending-key", VK, "--units", "1", "--time",
                         "2004-03-01T13:55", "--rnd", "5", "--json")
    assert rc == 0
    info = json.loads(out)
    assert info["token"] == "23716100501183194197" and info["tid"] == 5871715


def test_cli_keeps_keys_hidden():
    rc, out, _ = run_cli("key", "--pan", PAN, "--vending-key", VK)
    assert rc == 0 and "e653341f9d5bf36f" not in out and VK not in out and "--show-key" in out
    rc, out, _ = run_cli("key", "--pan", PAN, "--vending-key", VK, "--show-key")
    assert "e653341f9d5bf36f" in out
    rc, out, err = run_cli("credit", "--pan", "600727000000000008", "--vending-key", VK, "--kwh", "1")
    assert rc == 2 and "check digit" in err and VK not in err and "Traceback" not in err


def test_cli_other_commands(monkeypatch):
    monkeypatch.setenv("STS_VENDING_KEY", VK)
    rc, out, _ = run_cli("mgmt", "--pan", PAN, "max-power", "5000", "--tid", "100", "--rnd", "1", "--json")
    assert rc == 0 and json.loads(out)["subclass"] == 0
    tok = json.loads(out)["token"]
    rc, out, _ = run_cli("decode", "--pan", PAN, tok, "--json")
    d = json.loads(out)
    assert (d["cls"], d["subclass"], d["value"], d["tid"], d["crc_ok"]) == (2, 0, 5000, 100, True)
    rc, out, _ = run_cli("keychange", "--pan", PAN, "--new-krn", "2", "--rollover", "--json")
    assert rc == 0 and [json.loads(x)["subclass"] for x in out.splitlines()] == [3, 4]
    rc, out, _ = run_cli("test", "--control", "0x5", "--mfr", "12", "--json")
    assert json.loads(out)["cls"] == 1
    rc, _, err = run_cli("credit", "--pan", PAN, "--kwh", "0.05")
    assert rc == 2 and "0.1" in err
    rc, out, err = run_cli("credit", "--pan", PAN, "--units", "16385", "--round-down", "--tid", "1")
    assert rc == 0 and "rounded down" in err


def test_tid_for_base_dates():
    assert codec.tid_for(datetime.datetime(2004, 3, 1, 13, 55), 1993) == 5871715
    with pytest.raises(ValueError):
        codec.tid_for(datetime.datetime(1992, 12, 31, 23, 59), 1993)
    assert codec.tid_for(datetime.datetime(2014, 1, 1, 0, 1), 2014) == 1
