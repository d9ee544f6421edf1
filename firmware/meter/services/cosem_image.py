# Image transfer (interface class 18 v0, Blue Book 4.4.6, IEC 62056-6-2) at 0-0:44.0.0.255 on the
# signed firmware update (services/update.py): the image IS an update package (MUP1), every block
# goes through UpdateService.stage() - the same streaming checks and staging file as the optical
# upload - and image_verify / image_activate are UpdateService.verify() / switch(). Nothing is
# copied or checked twice here. Also the firmware identification as Data (1) objects, public:
# 0-0:0.2.0 firmware version, 0-0:0.2.8 manifest id, 1-0:0.2.0 / 1-0:0.2.8 the legally relevant
# part's version / checksum (common/legal.py), octet-strings, as on the optical port.
#
#   add_image_objects(reg, update, mgmt_sap, ident_rights)
#
# Only the management client, and only authenticated (HLS-GMAC: AUTH_* rights, granted to
# glo-ciphered APDUs with the authentication bit); other clients do not see the object.
# Attributes: 2 image_block_size (BLOCK), 3 image_transferred_blocks_status (bit-string, one bit
# per block), 4 image_first_not_transferred_block_number, 5 image_transfer_enabled (boolean,
# writable; kept in RAM: true again after a reset), 6 image_transfer_status (enum, below), 7 image_to_activate_info (after a successful
# verification: {package size, identifier, the manifest's firmware-key Ed25519 signature}).
# Methods (results are action-result codes):
#   1 image_transfer_initiate {identifier octet-string (1..32), size double-long-unsigned}: the
#     identifier and size of the transfer already staged resume it (the client reads attribute 4
#     and goes on, also after a power cut: the staging file is replayed at boot); anything else
#     starts over. Transfer disabled -> read-write-denied; size 0 or over the update limit ->
#     other-reason; the flash failing -> hardware-fault.
#   2 image_block_transfer {block number, block}: blocks are taken in order (the package is
#     verified as it streams): a block already staged is a harmless repeat, a block beyond the
#     first missing one -> data-block-number-invalid, a block of the wrong length (all are
#     image_block_size but the last) -> type-unmatched, none initiated -> temporary-failure. A
#     block the update service refuses (bad signature, wrong board, downgrade, a file not matching
#     its hash...) -> other-reason, status 4, the staging removed, UPDATE_REJECTED logged.
#   3 image_verify(0): the whole staged package again from flash; incomplete -> other-reason
#     (status stays 1: send the missing blocks); refused -> other-reason, status 4.
#   4 image_activate(0): verifies if not yet, switches (UpdateService.switch, which verifies the
#     staging file once more before the install); status 5 and the meter resets into its trial
#     boot after the answer. Verification refused -> other-reason, status 4; the install or
#     switch failing (storage) -> other-reason, status 7.
# Status after the reboot ("image.id" in the update root: identifier, size, activated manifest
# id): 5 while the new firmware's trial boot runs, 6 once confirmed, 7 if it rolled back.
import binascii

from meter.cores.dlms import axdr
from meter.cores.dlms import objects as O
from meter.common.files import read_bytes, write_atomic

IMAGE_TRANSFER = 18
BLOCK = 512  # fits one ACTION request (a ciphered one too) in the server's 1024-byte PDU
ID_MAX = 32
# image_transfer_status (Blue Book 4.4.6.2)
NOT_INITIATED, INITIATED, VERIFY_STARTED, VERIFIED, VERIFY_FAILED, ACTIVATING, ACTIVATED, \
    ACTIVATE_FAILED = 0, 1, 2, 3, 4, 5, 6, 7
_FILE = "image.id"
_DLU = axdr.DOUBLE_LONG_UNSIGNED


class ImageTransfer:
    def __init__(self, update):
        self.u = update
        self.enabled = True
        self.ident = b""
        self.size = 0
        self.status = NOT_INITIATED
        self.info = None  # (size, identifier, signature) of the verified image
        self.mid = None  # and its manifest id
        self.activated = None  # manifest id of the image activated before the last reboot
        self._load()

    # ---- persistence of the transfer's identity (a few bytes, written at initiate/activate)
    def _path(self):
        return self.u.root + "/" + _FILE

    def _load(self):
        d = read_bytes(self._path())
        p = d.split() if d else ()
        try:
            ident, size = binascii.unhexlify(p[0]), int(p[1])
        except (IndexError, ValueError):
            return
        if len(p) > 2:
            self.activated = p[2].decode()
        elif self.u.staged:  # a transfer to resume (the update service replayed the staging)
            self.ident, self.size, self.status = ident, size, INITIATED

    def _save(self, mid=None):
        t = "%s %d" % (binascii.hexlify(self.ident).decode(), self.size)
        try:
            write_atomic(self._path(), (t if mid is None else t + " " + mid).encode())
        except OSError:  # the flash refuses a few bytes: nothing can be staged either
            raise O.DataAccessError(O.HARDWARE_FAULT)

    # ---- attributes
    def blocks(self):
        return (self.size + BLOCK - 1) // BLOCK

    def first_missing(self):
        if self.status == NOT_INITIATED:
            return 0
        n = self.u.staged
        return self.blocks() if n >= self.size else n // BLOCK

    def blocks_status(self):
        n = self.blocks() if self.status != NOT_INITIATED else 0
        k = self.first_missing()
        b = bytearray((n + 7) // 8)
        for i in range(k // 8):
            b[i] = 0xFF
        if k % 8:
            b[k // 8] = (0xFF << (8 - k % 8)) & 0xFF
        return (axdr.BIT_STRING, (n, bytes(b)))

    def transfer_status(self):
        if self.status == NOT_INITIATED and self.activated is not None:
            u = self.u
            if u.manifest_id != self.activated:
                return ACTIVATE_FAILED  # rolled back to the previous firmware
            return ACTIVATING if u.trial else ACTIVATED
        return self.status

    def activate_info(self):
        if self.info is None:
            return (axdr.ARRAY, [])
        size, ident, sig = self.info
        return (axdr.ARRAY, [(axdr.STRUCTURE, ((_DLU, size), (axdr.OCTET_STRING, ident),
                                               (axdr.OCTET_STRING, sig or b"")))])

    def set_enabled(self, v):
        if v[0] != axdr.BOOLEAN:
            raise O.DataAccessError(O.TYPE_UNMATCHED)
        self.enabled = bool(v[1])

    # ---- methods
    def initiate(self, params):
        try:
            tag, (it, st) = params
            ok = tag == axdr.STRUCTURE and it[0] == axdr.OCTET_STRING and st[0] in (_DLU, axdr.LONG_UNSIGNED)
        except (TypeError, ValueError):
            ok = False
        if not ok or not 0 < len(it[1]) <= ID_MAX:
            raise O.DataAccessError(O.TYPE_UNMATCHED)
        if not self.enabled:
            raise O.DataAccessError(O.READ_WRITE_DENIED)
        ident, size = bytes(it[1]), st[1]
        if not 0 < size <= self.u.limit:
            raise O.DataAccessError(O.OTHER_REASON)
        self.info = None
        self.activated = None
        if ident == self.ident and size == self.size and self.status in (INITIATED, VERIFIED):
            self.status = INITIATED
            return  # the same transfer: resume at attribute 4
        self.u.clear()
        self.ident, self.size, self.status = ident, size, INITIATED
        self._save()

    def block(self, params):
        try:
            tag, (nt, bt) = params
            ok = tag == axdr.STRUCTURE and nt[0] == _DLU and bt[0] == axdr.OCTET_STRING
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise O.DataAccessError(O.TYPE_UNMATCHED)
        if not self.enabled:
            raise O.DataAccessError(O.READ_WRITE_DENIED)
        if self.status not in (INITIATED, VERIFIED):
            raise O.DataAccessError(O.TEMPORARY_FAILURE)
        n, data = nt[1], bt[1]
        off = n * BLOCK
        if n >= self.blocks() or len(data) != min(BLOCK, self.size - off):
            raise O.DataAccessError(O.TYPE_UNMATCHED if n < self.blocks() else O.DATA_BLOCK_NUMBER_INVALID)
        u = self.u
        if off > u.staged:
            raise O.DataAccessError(O.DATA_BLOCK_NUMBER_INVALID)
        if off + len(data) <= u.staged:
            return  # staged already
        try:
            u.stage(memoryview(data)[u.staged - off:], u.staged)
        except ValueError:  # refused: logged, staging removed by the update service
            self.status = VERIFY_FAILED
            raise O.DataAccessError(O.OTHER_REASON)

    def _verify(self):
        if not self.u.complete():
            raise O.DataAccessError(O.OTHER_REASON)
        self.status = VERIFY_STARTED
        try:
            _, mid, sig = self.u.verify()
        except ValueError:
            self.status = VERIFY_FAILED
            raise O.DataAccessError(O.OTHER_REASON)
        self.status = VERIFIED
        self.info = (self.size, self.ident, sig)
        self.mid = mid
        return mid

    def verify(self, params):
        if self.status not in (INITIATED, VERIFIED):
            raise O.DataAccessError(O.OTHER_REASON if self.status == VERIFY_FAILED else O.TEMPORARY_FAILURE)
        self._verify()

    def activate(self, params):
        if self.status not in (INITIATED, VERIFIED):
            raise O.DataAccessError(O.OTHER_REASON if self.status == VERIFY_FAILED else O.TEMPORARY_FAILURE)
        # Blue Book: an image not yet verified is verified first (switch() verifies once more: the
        # staging file as it is on flash right before the install)
        mid = self.mid if self.status == VERIFIED else self._verify()
        self._save(mid)
        try:
            self.u.switch()
        except ValueError:
            self.status = ACTIVATE_FAILED
            self._save()
            raise O.DataAccessError(O.OTHER_REASON)
        self.status = ACTIVATING


def _octets(get):
    return lambda: (axdr.OCTET_STRING, get().encode())


def add_image_objects(reg, update, mgmt_sap, ident_rights):
    it = ImageTransfer(update)
    r = {mgmt_sap: O.AUTH_READ}
    rw = {mgmt_sap: O.AUTH_READ_WRITE}
    m = {mgmt_sap: O.M_AUTH_ACCESS}
    reg.add(O.CosemObject(IMAGE_TRANSFER, 0, O.obis(0, 0, 44, 0, 0), {
        2: O.Attr(O.const_getter((_DLU, BLOCK)), None, r),
        3: O.Attr(it.blocks_status, None, r),
        4: O.Attr(lambda: (_DLU, it.first_missing()), None, r),
        5: O.Attr(lambda: (axdr.BOOLEAN, it.enabled), it.set_enabled, rw),
        6: O.Attr(lambda: (axdr.ENUM, it.transfer_status()), None, r),
        7: O.Attr(it.activate_info, None, r),
    }, {1: O.Method(it.initiate, m), 2: O.Method(it.block, m), 3: O.Method(it.verify, m),
        4: O.Method(it.activate, m)}))
    u = update
    for ln, get in ((O.obis(0, 0, 0, 2, 0), lambda: u.version),
                    (O.obis(0, 0, 0, 2, 8), lambda: u.manifest_id or "NONE"),
                    (O.obis(1, 0, 0, 2, 0), lambda: u.legal_version),
                    (O.obis(1, 0, 0, 2, 8), lambda: u.legal_checksum or "NONE")):
        if reg.find(ln) is None:
            reg.add(O.data(ln, _octets(get), ident_rights))
    return it
