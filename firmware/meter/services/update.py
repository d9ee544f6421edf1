# Signed firmware update: staging, verification, the A/B slot switch and the trial boot.
#
# Package (built by `python -m host_tools update build|sign`, host_tools/update/package.py):
#   0   4  b"MUP1"
#   4   4  n: manifest length, little endian
#   8   1  k: number of signatures (1..2)
#   9  65k  k x (key id, 64-byte Ed25519 signature of the manifest bytes): 1 = firmware key
#          ("update_key" in the board key store), 2 = metrology key ("metrology_key")
#   .   n  manifest, JSON (the signed bytes)
#   .      the files' bytes, concatenated in manifest order
# Manifest: {"format": 1, "board", "micropython", "mpy", "version", "counter",
#   "legal": {"version", "checksum", "changed"}, "files": [[path, size, sha256 hex], ...],
#   optional "next_key": 64 hex (key rotation, below)}
#   A file entry [path, size, sha256, "same"] (a delta package) has no bytes in the body: the file
#   is copied from the running slot at the install and must have that hash there.
#
# Flash layout under <root> ("fw" beside main.py and bootsel.py; registers, credit and events are
# in the storage region and keys in the key store: neither is inside <root>):
#   boot         the slot pointer (bootsel.py)            a/, b/   the slots: .mpy trees
#   <slot>/manifest.json  the installed firmware's manifest
#   counter      the security counter floor: raised when a firmware is confirmed
#   update_key   the rotated firmware public key (64 hex), when one was rotated in (below)
#   stage.pkg    the package being received (kept across power cuts; replayed at boot to resume)
#
# Checks, in this order; the first failure refuses the package (UPDATE_REJECTED a = reason code
# below, b = its counter) and removes the staging file. As the header arrives: format, signature
# (firmware key), board, MicroPython and .mpy version, counter >= floor, legal part (its checksum
# recomputed from the file hashes must be the manifest's; a checksum other than the running one
# needs "changed": true and a valid metrology-key signature). As the body arrives: each file's
# SHA-256 at its last byte. At the commit: the whole staging file again (signature, then every
# file's hash), the files written into the other slot and read back against their hashes, then
# one atomic pointer write (state trial). A power cut at any point before that pointer write
# leaves the running firmware untouched; the reboot follows the commit.
#
# Trial boot: the app calls health() once a second; the first healthy answer confirms (pointer
# "ok", counter floor raised, UPDATE_CONFIRMED; LEGAL_CHANGED a = old b = new checksum ident if the
# legal part changed). No confirmation within trial_s meter seconds: pointer back to the previous
# slot, UPDATE_ROLLBACK (a = 2), reset. A crash or reset during the trial: bootsel rolls back on
# the next start (UPDATE_ROLLBACK a = 1 logged then).
#
# Key rotation: a manifest may carry "next_key", the next firmware public key; like every field it
# is covered by the signature of the CURRENT firmware key. It takes effect when that firmware's
# trial boot is confirmed (a rollback leaves the old key), and at any later boot of the confirmed
# firmware if a power cut came between the confirmation and the key write: update_key in <root>
# is written atomically and from then on is the only firmware key - the old one (the board key
# store's "update_key" or the previous rotation) is retired, so a package signed by it is refused
# (R_SIGNATURE) like one of an unknown key. UPDATE_CONFIRMED b = the new key's ident (first 28
# bits). A public key is no secret: the file only needs the integrity of the boot pointer. The
# metrology key is not rotated this way (it belongs to the legal part's authority).
#
# Programming mode (IEC 62056-21, writes at level 2 = P2), manufacturer-specific:
#   C.93.0  R1  running firmware '<version>,<counter>,<slot>[,trial]'
#   C.93.1  W1  a chunk: '<offset>:<hex>' (offset = staged length appends, 0 starts over, the
#               previous chunk again is a harmless repeat), '<offset>:<hex>,<crc32 8 hex>' with
#               the CRC-32 of the chunk's bytes; empty value clears.
#           R1  '<staged length>,<crc32 of the staged bytes>,<total or 0>'
#   C.93.2  W1  '<crc32 8 hex>' of the whole package: verify, install, switch, reboot
#   C.93.9  R1  the reason of the last refusal
#   0-0:0.2.0 / 0-0:0.2.8  firmware version / manifest SHA-256 (16 hex), public
#   1-0:0.2.0 / 1-0:0.2.8  legally relevant part version / checksum (common/legal.py), public
import binascii
import hashlib
import json
import os

from meter.common import events as ev
from meter.common import legal
from meter.common.crc import crc32
from meter.common.files import exists, remove, read_bytes, write_atomic
from meter.common.text import sanitize

try:
    from metercrypto import ed25519_verify
except ImportError:  # a build without the native module cannot verify: every package is refused
    ed25519_verify = None

MAGIC = b"MUP1"
KEY_FIRMWARE = 1
KEY_METROLOGY = 2
MANIFEST = "manifest.json"
STAGE = "stage.pkg"
MANIFEST_MAX = 32768
_BLOCK = 512

# UPDATE_REJECTED reason codes (event a)
R_FORMAT, R_SIGNATURE, R_BOARD, R_VERSION, R_DOWNGRADE, R_LEGAL, R_LEGAL_KEY, R_FILE, R_SIZE, \
    R_STORAGE, R_CRC = 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11
ROLLBACK_RESET, ROLLBACK_HEALTH = 1, 2


class Refused(ValueError):
    def __init__(self, code, text):
        super().__init__(text)
        self.code = code


class OsFs:
    """The filesystem calls the service makes (a test substitutes one that cuts the power)."""
    open = staticmethod(open)
    rename = staticmethod(os.rename)
    mkdir = staticmethod(os.mkdir)
    rmdir = staticmethod(os.rmdir)
    listdir = staticmethod(os.listdir)

    @staticmethod
    def remove(path):
        remove(path)

    @staticmethod
    def isdir(path):
        try:
            return os.stat(path)[0] & 0x4000 != 0
        except OSError:
            return False


def _safe_path(p):
    if not p or len(p) > 96 or p[0] == "/" or p == MANIFEST:
        return False
    for part in p.split("/"):
        if part in ("", ".", ".."):
            return False
    for c in p:
        if not (c.isalpha() or c.isdigit() or c in "._-/"):
            return False
    return True


def manifest_id(data):
    """The manifest's identification: its SHA-256, first 8 bytes, 16 upper-case hex digits."""
    return binascii.hexlify(hashlib.sha256(data).digest()[:8]).decode().upper()


def parse_header(hdr):
    """(manifest bytes, {key id: signature}, header length) of a complete header; Refused."""
    if len(hdr) < 9 or hdr[:4] != MAGIC:
        raise Refused(R_FORMAT, "FORMAT: not an update package")
    n = int.from_bytes(hdr[4:8], "little")
    k = hdr[8]
    if not 0 < n <= MANIFEST_MAX or not 1 <= k <= 2:
        raise Refused(R_FORMAT, "FORMAT: bad header")
    end = 9 + 65 * k + n
    if len(hdr) < end:
        return None, None, end
    sigs = {}
    for i in range(k):
        o = 9 + 65 * i
        sigs[hdr[o]] = bytes(hdr[o + 1:o + 65])
    return bytes(hdr[end - n:end]), sigs, end


class Manifest:
    """A decoded manifest; Refused if a field is missing or malformed."""

    def __init__(self, data):
        try:
            m = json.loads(data)
            self.board = m["board"]
            self.micropython = m["micropython"]
            self.mpy = m["mpy"]
            self.version = m["version"]
            self.counter = m["counter"]
            lg = m["legal"]
            self.legal_version = lg["version"]
            self.legal_checksum = lg["checksum"]
            self.legal_changed = lg["changed"] is True
            files = m["files"]
            nk = m.get("next_key")
            self.next_key = None if nk is None else binascii.unhexlify(nk)
            ok = (m["format"] == 1 and type(self.counter) is int and 0 <= self.counter < (1 << 30)
                  and (nk is None or len(self.next_key) == 32))
        except (ValueError, KeyError, TypeError, IndexError):
            raise Refused(R_FORMAT, "FORMAT: manifest")
        self.files = []
        total = 0
        for f in files:
            if not (ok and len(f) in (3, 4) and _safe_path(f[0]) and type(f[1]) is int and f[1] >= 0
                    and len(f[2]) == 64 and (len(f) == 3 or f[3] == "same")):
                raise Refused(R_FORMAT, "FORMAT: file entry")
            same = len(f) == 4
            try:
                digest = binascii.unhexlify(f[2])
            except ValueError:
                raise Refused(R_FORMAT, "FORMAT: file hash")
            self.files.append((f[0], 0 if same else f[1], digest, f[1] if same else -1))
            total += 0 if same else f[1]
        if not ok or not self.files:
            raise Refused(R_FORMAT, "FORMAT: manifest")
        self.body = total

    def legal_digests(self):
        d = {}
        for path, _, digest, _ in self.files:
            m = legal.module_of(path)
            if m is not None:
                d[m] = (path, digest)
        return d


class UpdateService:
    def __init__(self, root, board, events, clock, running=None, keys=None, log=None, fs=None,
                 trial_s=120, limit=1 << 20):
        """root: the flash dir of the slots; board: {"board", "micropython", "mpy"} this meter
        accepts; running: (version, counter, legal version, legal checksum) of the firmware
        running when there is no installed manifest (a source tree); keys: the key store."""
        self.root = root
        self.want = board
        self.events = events
        self.clock = clock
        self.keys = keys
        self.log = log
        self.fs = fs or OsFs
        self.trial_s = trial_s
        self.limit = limit
        self.slot = None
        self.trial = False
        self.boot_t = 0
        self.reset_due = False
        self.last_error = ""
        self.version, self.counter, self.legal_version, self.legal_checksum = \
            running or ("0", 0, legal.VERSION, "")
        self.manifest_id = ""
        self.next_key = None
        self._clear_state()

    # ------------------------------------------------------------------ helpers
    def _p(self, name):
        return self.root + "/" + name

    def _event(self, code, a=0, b=0):
        if self.events is not None:
            self.events.add(self.clock.now(), code, a, b)

    def _say(self, text):
        if self.log is not None:
            self.log("update: " + text)

    def floor(self):
        d = read_bytes(self._p("counter"))
        try:
            return int(d) if d else 0
        except ValueError:
            return 0

    def _clear_state(self):
        self.staged = 0
        self.crc = 0
        self._last = (-1, 0, 0)
        self._hdr = bytearray()
        self._hdr_len = 9
        self._hdr_total = 0
        self.man = None
        self._fi = 0  # file being received
        self._fleft = 0  # its bytes still to come
        self._h = None

    def clear(self):
        self.fs.remove(self._p(STAGE))
        self._clear_state()

    # ------------------------------------------------------------------ boot
    def boot(self, bootsel_state, now):
        """After the clock started. bootsel_state = bootsel.read(root) as it is now (the selector
        already ran). Logs a rollback, arms the trial, loads the installed identity, resumes a
        staged upload."""
        self.boot_t = now
        if bootsel_state is not None:
            active, prev, state, _ = bootsel_state
            self.slot = active
            data = read_bytes(self._p(active + "/" + MANIFEST))
            if data is not None:
                try:
                    m = Manifest(data)
                    self.version, self.counter = m.version, m.counter
                    self.legal_version, self.legal_checksum = m.legal_version, m.legal_checksum
                    self.manifest_id = manifest_id(data)
                    self.next_key = m.next_key
                except Refused:
                    self._say("installed manifest unreadable")
            if state == "rb":
                self._event(ev.UPDATE_ROLLBACK, ROLLBACK_RESET, self.counter)
                self._say("trial boot never confirmed: rolled back to slot " + active)
                self._pointer(active, active, "ok")
            self.trial = state == "trial"
            if not self.trial:
                self._rotate()  # completes a rotation cut short after the confirmation
        if exists(self._p(STAGE)):
            self._resume()

    def _pointer(self, active, prev, state):
        import bootsel
        bootsel.write(self.root, active, prev, state, 0, self.fs.open, self.fs.rename)

    def _resume(self):
        """Replay the staging file (a power cut during the upload): the host reads C.93.1 and
        continues from the staged length."""
        buf = bytearray(_BLOCK)
        mv = memoryview(buf)
        try:
            with self.fs.open(self._p(STAGE), "rb") as f:
                while True:
                    k = f.readinto(buf)
                    if not k:
                        break
                    self._feed(mv[:k])
                    self.crc = crc32(mv[:k], self.crc)
                    self.staged += k
        except (Refused, OSError) as e:
            self._say("staged package dropped: %s" % (e,))
            self.clear()

    # ------------------------------------------------------------------ checks
    def _check_manifest(self, data, sigs):
        if ed25519_verify is None or self.keys is None:
            raise Refused(R_SIGNATURE, "SIGNATURE: no verifier or key store")
        key = self.update_key()
        sig = sigs.get(KEY_FIRMWARE)
        if key is None or sig is None or not ed25519_verify(key, data, sig):
            raise Refused(R_SIGNATURE, "SIGNATURE: firmware key signature not valid")
        m = Manifest(data)
        w = self.want
        if m.board != w["board"]:
            raise Refused(R_BOARD, "BOARD: package for %s, this is %s" % (m.board, w["board"]))
        if m.micropython != w["micropython"] or m.mpy != w["mpy"]:
            raise Refused(R_VERSION, "VERSION: needs MicroPython %s mpy %s" % (m.micropython, m.mpy))
        if m.counter < max(self.counter, self.floor()):
            raise Refused(R_DOWNGRADE, "DOWNGRADE: counter %d below %d" % (
                m.counter, max(self.counter, self.floor())))
        try:
            c = legal.checksum(m.legal_digests())
        except ValueError as e:
            raise Refused(R_LEGAL, "LEGAL: %s" % e)
        if c != m.legal_checksum:
            raise Refused(R_LEGAL, "LEGAL: checksum does not match the files")
        if c != self.legal_checksum:
            if not m.legal_changed:
                raise Refused(R_LEGAL, "LEGAL: legally relevant part changed without the flag")
            mk = self.keys.get("metrology_key")
            ms = sigs.get(KEY_METROLOGY)
            if mk is None or ms is None or not ed25519_verify(mk, data, ms):
                raise Refused(R_LEGAL_KEY, "LEGAL: metrology key signature missing or not valid")
        return m

    def update_key(self):
        """The firmware key: the rotated one in <root>, else the board key store's."""
        d = read_bytes(self._p("update_key"))
        if d:
            try:
                return binascii.unhexlify(d.strip())
            except ValueError:
                pass  # not a key: the key store's applies
        return self.keys.get("update_key")

    def _rotate(self):
        """Install the running (confirmed) firmware's next_key; its ident, or 0 if none is new."""
        k = self.next_key
        if k is None or k == self.update_key():
            return 0
        write_atomic(self._p("update_key"), binascii.hexlify(k))
        self._say("firmware key rotated")
        return int.from_bytes(k[:4], "big") >> 4

    def _refuse(self, e, counter=0):
        self.last_error = str(e)
        self._event(ev.UPDATE_REJECTED, e.code, counter)
        self._say("package refused: %s" % e)
        self.clear()
        raise ValueError(str(e)[:32])

    # ------------------------------------------------------------------ streaming
    def _feed(self, data):
        """Parse and hash arriving bytes (Refused on the first bad one)."""
        i = 0
        n = len(data)
        while i < n:
            if self.man is None:
                need = self._hdr_len - len(self._hdr)
                take = min(need, n - i)
                self._hdr.extend(data[i:i + take])
                i += take
                if len(self._hdr) < self._hdr_len:
                    continue
                mdata, sigs, end = parse_header(self._hdr)
                if mdata is None:
                    self._hdr_len = end
                    continue
                self.man = self._check_manifest(mdata, sigs)
                self._hdr_total = end
                self._hdr = None
                self._next_file()
                continue
            if self._fi >= len(self.man.files):
                raise Refused(R_SIZE, "SIZE: bytes after the last file")
            take = min(self._fleft, n - i)
            self._h.update(data[i:i + take])
            self._fleft -= take
            i += take
            if self._fleft == 0:
                path, _, digest, _ = self.man.files[self._fi]
                if self._h.digest() != digest:
                    raise Refused(R_FILE, "FILE: %s does not match its hash" % path)
                self._fi += 1
                self._next_file()

    def _next_file(self):
        while self._fi < len(self.man.files) and self.man.files[self._fi][1] == 0:
            f = self.man.files[self._fi]
            if f[3] < 0 and hashlib.sha256().digest() != f[2]:
                raise Refused(R_FILE, "FILE: %s does not match its hash" % self.man.files[self._fi][0])
            self._fi += 1
        if self._fi < len(self.man.files):
            self._fleft = self.man.files[self._fi][1]
            self._h = hashlib.sha256()

    def stage(self, chunk, off):
        """Bytes at `off` of the package; ValueError(reason)."""
        n = self.staged
        lo, ln, lc = self._last
        if off == lo and off + ln == n and len(chunk) == ln and crc32(chunk) == lc:
            return  # the previous frame again (its ACK was lost)
        if off == 0 and n:
            self.clear()
            n = 0
        elif off != n:
            self.last_error = "OFFSET: have %d bytes" % n
            raise ValueError("OFFSET: have %d" % n)
        if n + len(chunk) > self.limit:
            self._refuse(Refused(R_SIZE, "SIZE: at most %d bytes" % self.limit))
        try:
            self._feed(chunk)
        except Refused as e:
            self._refuse(e, self.man.counter if self.man is not None else 0)
        try:
            with self.fs.open(self._p(STAGE), "wb" if n == 0 else "ab") as f:
                f.write(chunk)
        except OSError as e:
            self._refuse(Refused(R_STORAGE, "STORAGE: cannot stage (%s)" % (e,)))
        cc = crc32(chunk)
        self.crc = cc if n == 0 else crc32(chunk, self.crc)
        self.staged = n + len(chunk)
        self._last = (off, len(chunk), cc)

    def total(self):
        return 0 if self.man is None else self._hdr_total + self.man.body

    # ------------------------------------------------------------------ commit
    def complete(self):
        return self.man is not None and self._fi >= len(self.man.files)

    def commit(self, crc_text):
        """The optical commit: the whole package's CRC-32, then switch(). ValueError."""
        try:
            if not self.complete():
                raise Refused(R_SIZE, "SIZE: package incomplete (%d bytes)" % self.staged)
            try:
                want = int(crc_text, 16) if crc_text and len(crc_text) == 8 else -1
            except ValueError:
                want = -1
            if want != self.crc:
                raise Refused(R_CRC, "CRC: staged bytes have %08X" % self.crc)
        except Refused as e:
            self._refuse(e, self.man.counter if self.man is not None else 0)
        self.switch()

    def verify(self):
        """The staged package verified whole from flash (signature, then every file's hash):
        (manifest, manifest id, firmware-key signature); ValueError (refused, staging removed)."""
        try:
            if not self.complete():
                raise Refused(R_SIZE, "SIZE: package incomplete (%d bytes)" % self.staged)
            m = self._verify_stage()
        except Refused as e:
            self._refuse(e, self.man.counter if self.man is not None else 0)
        except OSError as e:
            self._refuse(Refused(R_STORAGE, "STORAGE: %s" % (e,)))
        return m, manifest_id(self._mdata), self._sigs.get(KEY_FIRMWARE)

    def switch(self):
        """Verify the staged package whole, install it into the other slot, switch (the reboot
        follows: reset_due). ValueError."""
        try:
            if not self.complete():
                raise Refused(R_SIZE, "SIZE: package incomplete (%d bytes)" % self.staged)
            m = self._verify_stage()
            new = "b" if self.slot == "a" else "a"
            self._install(m, new)
            old_legal = self.legal_checksum
            self._pointer(new, self.slot or new, "trial")  # the switch: one atomic rename
        except Refused as e:
            self._refuse(e, self.man.counter if self.man is not None else 0)
        except OSError as e:
            self._refuse(Refused(R_STORAGE, "STORAGE: %s" % (e,)))
        self.fs.remove(self._p(STAGE))
        self._clear_state()
        self._event(ev.UPDATE_SWITCHED, m.counter, self.counter)
        if m.legal_checksum != old_legal:
            self._say("legally relevant part %s -> %s" % (old_legal, m.legal_checksum))
        self._say("switched to slot %s (version %s): rebooting for the trial" % (new, m.version))
        self.last_error = ""
        self.reset_due = True

    def _read_header(self, f):
        hdr = bytearray(f.read(9))
        _, _, end = parse_header(hdr)
        hdr.extend(f.read(end - 9))
        return parse_header(hdr)

    def _verify_stage(self):
        """The signature, then every file's hash, from the staging file as it is on flash."""
        buf = bytearray(_BLOCK)
        with self.fs.open(self._p(STAGE), "rb") as f:
            mdata, sigs, _ = self._read_header(f)
            if mdata is None:
                raise Refused(R_FORMAT, "FORMAT: header")
            m = self._check_manifest(mdata, sigs)
            for path, size, digest, same in m.files:
                if self._hash_stream(f, size, buf) != digest and same < 0:
                    raise Refused(R_FILE, "FILE: %s does not match its hash" % path)
            if f.read(1):
                raise Refused(R_SIZE, "SIZE: bytes after the last file")
        self._mdata = mdata
        self._sigs = sigs
        return m

    def _hash_stream(self, f, size, buf, out=None):
        h = hashlib.sha256()
        mv = memoryview(buf)
        while size:
            k = f.readinto(mv[:min(size, len(buf))])
            if not k:
                raise Refused(R_SIZE, "SIZE: package truncated")
            h.update(mv[:k])
            if out is not None:
                out.write(mv[:k])
            size -= k
        return h.digest()

    def _rmtree(self, path):
        fs = self.fs
        if not fs.isdir(path):
            fs.remove(path)
            return
        for name in fs.listdir(path):
            self._rmtree(path + "/" + name)
        fs.rmdir(path)

    def _mkdirs(self, path):
        cur = "" if path[:1] == "/" else None
        for part in path.split("/"):
            if not part:
                continue
            cur = part if cur is None else cur + "/" + part
            if not self.fs.isdir(cur):
                self.fs.mkdir(cur)

    def _install(self, m, slot):
        """Write the files into `slot` (emptied first) and read them back against their hashes."""
        fs = self.fs
        d = self._p(slot)
        self._rmtree(d)
        self._mkdirs(d)
        buf = bytearray(_BLOCK)
        with fs.open(self._p(STAGE), "rb") as f:
            self._read_header(f)
            for path, size, digest, same in m.files:
                k = path.rfind("/")
                if k > 0:
                    self._mkdirs(d + "/" + path[:k])
                with fs.open(d + "/" + path, "wb") as out:
                    if same < 0:
                        self._hash_stream(f, size, buf, out)
                        continue
                    # a delta entry: the running slot's file, which must have the listed hash
                    try:
                        with fs.open(self._p((self.slot or "-") + "/" + path), "rb") as src:
                            ok = self._hash_stream(src, same, buf, out) == digest and not src.read(1)
                    except (OSError, Refused):
                        ok = False
                    if not ok:
                        raise Refused(R_FILE, "FILE: %s: running copy differs (delta base)" % path)
        for path, size, digest, same in m.files:
            with fs.open(d + "/" + path, "rb") as f:
                if self._hash_stream(f, max(size, same), buf) != digest:
                    raise Refused(R_STORAGE, "STORAGE: %s read back wrong" % path)
        with fs.open(d + "/" + MANIFEST, "wb") as out:
            out.write(self._mdata)

    # ------------------------------------------------------------------ trial boot
    def trial_step(self, healthy, now):
        """Once a second while self.trial: 'confirmed', 'rollback' (reset now) or None (wait)."""
        if not self.trial:
            return None
        if healthy:
            prev_legal = self._prev_legal()
            write_atomic(self._p("counter"), str(max(self.counter, self.floor())).encode())
            self._pointer(self.slot, self.slot, "ok")
            self.trial = False
            self._event(ev.UPDATE_CONFIRMED, self.counter, self._rotate())
            if prev_legal is not None and prev_legal != self.legal_checksum:
                self._event(ev.LEGAL_CHANGED, legal.ident(prev_legal), legal.ident(self.legal_checksum))
            self._say("firmware %s confirmed" % self.version)
            return "confirmed"
        if now - self.boot_t >= self.trial_s:
            p = self._read_pointer()
            prev = p[1] if p is not None else self.slot
            self._pointer(prev, prev, "ok")
            self.trial = False
            self._event(ev.UPDATE_ROLLBACK, ROLLBACK_HEALTH, self.counter)
            self._say("health check not passed in %d s: rolling back" % self.trial_s)
            self.reset_due = True
            return "rollback"
        return None

    def _read_pointer(self):
        import bootsel
        return bootsel.read(self.root)

    def _prev_legal(self):
        p = self._read_pointer()
        if p is None or p[1] == self.slot:
            return None
        data = read_bytes(self._p(p[1] + "/" + MANIFEST))
        try:
            return Manifest(data).legal_checksum if data else None
        except Refused:
            return None

    # ------------------------------------------------------------------ programming mode
    def register(self, registry, level=2, read_level=1):
        reg = registry.register_object
        reg("C.93.0", self.r_running, None, level, read_level)
        reg("C.93.1", self.r_staged, self.w_chunk, level, read_level, logged=False)
        reg("C.93.2", self.r_running, self.w_commit, level, read_level)
        reg("C.93.9", lambda: sanitize(self.last_error, 200), None, level, read_level)
        reg("0-0:0.2.0", lambda: sanitize(self.version), None, level, 0)
        reg("0-0:0.2.8", lambda: self.manifest_id or "NONE", None, level, 0)
        reg("1-0:0.2.0", lambda: sanitize(self.legal_version), None, level, 0)
        reg("1-0:0.2.8", lambda: self.legal_checksum or "NONE", None, level, 0)

    def r_running(self):
        return "%s,%d,%s%s" % (sanitize(self.version), self.counter, self.slot or "-",
                               ",trial" if self.trial else "")

    def r_staged(self):
        return "%d,%08X,%d" % (self.staged, self.crc, self.total())

    def w_chunk(self, value):
        if not value:
            self.clear()
            return
        o, sep, rest = value.partition(":")
        if not sep or not o.isdigit() or len(o) > 8:
            raise ValueError("SYNTAX: offset")
        data, _, ctext = rest.partition(",")
        try:
            chunk = binascii.unhexlify(data)
            if ctext and (len(ctext) != 8 or int(ctext, 16) != crc32(chunk)):
                raise ValueError("CRC: chunk")
        except ValueError as e:
            raise ValueError("CRC: chunk" if "CRC" in str(e) else "SYNTAX: hex")
        self.stage(chunk, int(o))

    def w_commit(self, value):
        self.commit(value)

    def info(self):
        return {"version": self.version, "counter": self.counter, "slot": self.slot,
                "trial": self.trial, "legal_version": self.legal_version,
                "legal_checksum": self.legal_checksum, "manifest": self.manifest_id,
                "staged": self.staged, "last_error": self.last_error, "floor": self.floor()}
