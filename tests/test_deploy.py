"""`deploy` and `provision` (host_tools/cli_deploy.py, cli_provision.py).

End to end on the emulated Cortex-M3 (frozen firmware = a board that runs the product image; its
FAT RAM disk is the board's filesystem): real mpremote processes copy the configuration and
provision keys and identity; the board's own KeyStore (boards/mcu.py) then reads the keys back.
The flashing steps, which need a USB boot drive, run against a recording runner."""
import argparse
import hashlib
import json
import os

import pytest

from host_tools import board_heap, cli_deploy, cli_provision
from host_tools.qemu import QemuBoard, device_files

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def deploy_args(**kw):
    a = dict(board="rp2040", port="auto", method=None, image=None, drive=None, skip_flash=False,
             builtin_crypto=False, no_reset=False, force=False, dry_run=False)
    a.update(kw)
    return argparse.Namespace(**a)


def provision_args(**kw):
    a = dict(port="auto", from_file=None, generate="", dry_run=False)
    a.update({f: None for f in cli_provision.IDENTITY})
    a.update(kw)
    return argparse.Namespace(**a)


def test_image_path_flashes_then_copies_configuration_only(tmp_path, capsys):
    uf2 = tmp_path / "firmware.uf2"
    uf2.write_bytes(b"UF2\n" * 128)
    drive = tmp_path / "RPI-RP2"
    seen = []

    def runner(tool, argv):
        seen.append((tool, argv))
        if tool == "mpremote" and argv[-1] == "bootloader":
            drive.mkdir()  # the board restarts as its boot drive
        if tool == "copy":
            with open(argv[0], "rb") as s, open(argv[1], "wb") as d:
                d.write(s.read())
        return 0

    rc = cli_deploy.run(deploy_args(port="/dev/ttyACM7", image=str(uf2), drive=str(drive)), runner)
    assert rc == 0
    tools = [t for t, _ in seen]
    assert tools == ["mpremote", "wait-drive", "copy", "wait-port", "mpremote", "mpremote"]
    assert seen[0][1] == ["connect", "/dev/ttyACM7", "resume", "bootloader"]
    assert (drive / "firmware.uf2").read_bytes() == uf2.read_bytes()
    cfg = seen[4][1]
    copied = [cfg[i + 2] for i, a in enumerate(cfg) if a == "cp"]
    # configuration and the boot selector only: no firmware module (main.py is frozen)
    assert copied[-1] == ":/bootsel.py" and cfg[cfg.index(":/bootsel.py") - 1].endswith("firmware/bootsel.py")
    assert all(c.startswith(":/config/") and c.endswith(".json") for c in copied[:-1]) and len(copied) > 1
    assert seen[5][1][-1] == "reset"
    out = capsys.readouterr().out
    assert "mpremote connect /dev/ttyACM7 resume bootloader" in out


def test_missing_product_image_is_reported(tmp_path, capsys):
    rc = cli_deploy.run(deploy_args(image=str(tmp_path / "none.uf2")), lambda *a: 0)
    assert rc == 2
    assert "none.uf2 missing" in capsys.readouterr().err
    rc = cli_deploy.run(deploy_args(board="esp32"), lambda *a: 0)
    assert rc == 2
    assert "--image" in capsys.readouterr().err


def test_mpy_copy_refused_with_figures_where_it_does_not_fit(capsys):
    rc = cli_deploy.run(deploy_args(board="esp32", method="mpy"), lambda *a: pytest.fail("ran"))
    cap = capsys.readouterr()
    assert rc == 3
    assert "refused" in cap.err
    # the figures: measured .mpy cost against the board's heap, and the frozen alternative
    cost = board_heap.mpy_import_cost()
    assert 100 * 1024 < cost < 400 * 1024  # bytecode, strings and tables of the whole firmware
    need = board_heap.need_bytes(cost)
    assert "needs about %d KB" % (need // 1024) in cap.out
    assert "110-160 KB" in cap.out
    assert need > board_heap.BOARDS["esp32"]["heap"][1]
    assert board_heap.need_bytes(board_heap.FROZEN_IMPORT) < board_heap.BOARDS["esp32"]["heap"][0]


def test_dry_run_prints_the_mpy_files_and_reports_a_missing_natmod(capsys):
    rc = cli_deploy.run(deploy_args(board="esp32", method="mpy", force=True, dry_run=True))
    cap = capsys.readouterr()
    natmod = os.path.join(ROOT, "build", "natmod", "xtensawin", "metercrypto.mpy")
    if os.path.exists(natmod):
        pytest.skip("an Espressif toolchain built the xtensawin natmod here")
    assert rc == 2
    assert "missing build/natmod/xtensawin/metercrypto.mpy" in cap.err
    cps = [l for l in cap.out.replace(" + ", "\n").splitlines() if l.startswith("fs cp ")]
    remote = [l.split()[-1] for l in cps]
    assert ":/meter/app/__init__.mpy" in remote and ":/board.mpy" in remote and ":/main.py" in remote
    assert ":/bootsel.py" in remote  # the boot selector beside main.py (A/B update slots)
    assert not [r for r in remote if r.endswith(".py") and r not in (":/main.py", ":/bootsel.py")]
    assert ":/meter/app/sim.mpy" not in remote
    assert all(os.path.basename(l.split()[-2]) == os.path.basename(l.split()[-1][1:]) for l in cps if "meter/" in l)


@pytest.mark.parametrize("method", ["image", "romfs", "mpy"])
def test_dry_run_cli_copies_the_boot_selector(tmp_path, method):
    """`python -m host_tools deploy --dry-run`: every path puts firmware/bootsel.py at /bootsel.py
    (beside main.py, which the image has frozen and the other paths copy)."""
    import shlex
    import subprocess
    import sys
    uf2 = tmp_path / "firmware.uf2"
    uf2.write_bytes(b"UF2\n")
    args = {"image": ["--image", str(uf2), "--drive", str(tmp_path)], "romfs": [],
            "mpy": ["--force", "--builtin-crypto"]}[method]
    r = subprocess.run([sys.executable, "-m", "host_tools", "deploy", "--board", "rp2040", "--method", method,
                        "--dry-run"] + args, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    argv = shlex.split(r.stdout, comments=True)  # the printed commands (exec code spans lines)
    cps = [(argv[i + 1], argv[i + 2]) for i, a in enumerate(argv[:-2]) if a == "cp"]
    dst = {d: s for s, d in cps}
    assert dst.get(":/bootsel.py") == os.path.join(ROOT, "firmware", "bootsel.py"), r.stdout
    assert (":/main.py" in dst) == (method != "image")


def test_provision_dry_run_names_only(tmp_path, capsys):
    keyfile = tmp_path / "k.json"
    keyfile.write_text(json.dumps({"keys": {"p1_key": "00112233445566778899aabbccddeeff"}}))
    assert cli_provision.run(provision_args(from_file=str(keyfile), generate="optical_key2", dry_run=True)) == 0
    out = capsys.readouterr().out
    assert "key optical_key2, key p1_key" in out
    assert "00112233" not in out


def test_provision_rejects_bad_input(tmp_path, capsys):
    bad = tmp_path / "b.json"
    bad.write_text(json.dumps({"keys": {"p1_key": "zz"}}))
    assert cli_provision.run(provision_args(from_file=str(bad)), lambda a: pytest.fail("ran")) == 2
    assert cli_provision.run(provision_args(generate="nonsense"), lambda a: pytest.fail("ran")) == 2
    assert cli_provision.run(provision_args(), lambda a: pytest.fail("ran")) == 2
    assert "zz" not in capsys.readouterr().out


def test_deploy_and_provision_end_to_end_on_the_emulated_board(tmp_path, capsys):
    keys = {"p1_key": os.urandom(16).hex(), "optical_key2": os.urandom(32).hex()}
    keyfile = tmp_path / "keys.json"
    keyfile.write_text(json.dumps({"keys": keys, "identity": {"equipment_id": "E0042", "serial": "42"}}))
    with QemuBoard("m3", device_files()) as b:
        # a board with its own configuration already (calibration): provisioning must keep it
        b.exec("import os\nos.mkdir('/config')\nf = open('/config/board.json', 'w')\n"
               "f.write('{\"calibration\": {\"meter_constant\": 1000}}')\nf.close()\n")
        b.release()
        rc = cli_deploy.run(deploy_args(port=b.pty, method="image", skip_flash=True, no_reset=True))
        assert rc == 0, capsys.readouterr()
        rc = cli_provision.run(provision_args(port=b.pty, from_file=str(keyfile), generate="p1_auth"))
        out = capsys.readouterr().out
        assert rc == 0, out
        assert "wrote key optical_key2, key p1_auth, key p1_key, identity equipment_id, identity serial" in out
        for v in keys.values():
            assert v not in out
        b.reattach()
        # the configuration and the boot selector arrived byte for byte
        for name in ("config/tariff.json", "config/tariff_3season_4rate.json", "bootsel.py"):
            with open(os.path.join(ROOT, "firmware", name), "rb") as f:
                want = hashlib.sha256(f.read()).hexdigest()
            got = b.exec("import metercrypto, binascii\nf = open('/%s', 'rb')\n"
                         "print(binascii.hexlify(metercrypto.sha256(f.read())).decode())\nf.close()" % name).strip()
            assert got == want, name
        # the board's key store reads the provisioned keys (digests compared, values stay put)
        out = b.exec("import sys, binascii, metercrypto\nsys.path.insert(0, '/rom/boards')\nimport mcu\n"
                     "ks = mcu.KeyStore()\n"
                     "for n in ('p1_key', 'optical_key2', 'p1_auth'):\n"
                     "    v = ks.get(n)\n"
                     "    print(n, len(v), binascii.hexlify(metercrypto.sha256(v)).decode())\n"
                     "print('identity', mcu.load_config({'identity': {'model': 'M'}})['identity'])\n"
                     "print('calibration', mcu.load_config({})['calibration'])\n")
        lines = dict(l.split(" ", 1) for l in out.strip().splitlines())
        for n, v in keys.items():
            raw = bytes.fromhex(v)
            assert lines[n] == "%d %s" % (len(raw), hashlib.sha256(raw).hexdigest()), n
        assert lines["p1_auth"].startswith("16 ")
        ident = lines["identity"]
        assert "'equipment_id': 'E0042'" in ident and "'serial': '42'" in ident and "'model': 'M'" in ident
        assert lines["calibration"] == "{'meter_constant': 1000}"  # other entries stay
        assert b.exec("import os\nprint('.provision.json' in os.listdir('/'))").strip() == "False"
