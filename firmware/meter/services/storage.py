# Power-fail safe storage on a raw flash region (see STORAGE.md for layout, wear and lifetime).
#
# Device: the board HAL `storage` object: size, block_size (erase block), read(offset, buf),
# write(offset, data) with NOR semantics (bits only go 1 -> 0), erase(block). The unix_sim board's
# SimStorage implements it on a file; tests use the emulators in tests/mp/fakes/flash.py.
#
#   Journal(dev, first_block, nblocks, record_size, tag)  newest-valid-wins record journal
#   RingStore(dev, first_block, nblocks, record_size, tag) append-only ring of fixed records
#   StateStore(journal, events)   composes sections of several services into one journal record
#   EventStore(ring, eventlog)    persists the EventLog ring, event by event
#   SavePolicy(wh_threshold, max_seconds, min_seconds)
#   layout(dev, ...)              default split of the region
#
# Slots are written in order through the whole region (wear spreads evenly); a block is erased just
# before its first slot is needed ("erase ahead", done right after a save, so a power-fail save never
# waits for an erase). A slot that is not blank when its turn comes (a torn write) is zeroed ("dead")
# and skipped. Every slot carries a sequence number and a CRC-32; restore takes the valid slot with
# the newest sequence number (serial-number arithmetic, so the 32-bit sequence may wrap). A torn
# write only ever damages the slot being written, so restore falls back to the previous save: at most
# the last save interval is lost and nothing older than the last completed save is ever restored.
import struct

from meter.common import events as _ev
from meter.common.crc import crc32

# state journal record capacity: 1000 bytes -> 1024-byte slots, 4 per 4 KB erase block. Everything
# that must stay consistent with the energy registers is in one record, written atomically: the
# metering sections (~450 bytes: metrology 360, demand 60, profile 16, billing 12, ...), supply
# control (~50), the credit account with the last values of the rate registers it charged (~104)
# and the STS token memory.
STATE_RECORD = 1000

# region ids (events a = region id)
REGION_STATE = 1
REGION_PROFILE = 2
REGION_BILLING = 3
REGION_EVENTS = 4
REGION_CREDIT = 5

# load status
FRESH = 0  # region blank: first start
OK = 1  # newest valid record found, no corruption
RECOVERED = 2  # newest valid record found, but corrupt slots elsewhere
LOST = 3  # nothing valid, region not blank


def _newer(a, b):
    """Serial-number arithmetic on 32-bit sequence numbers: True if a is newer than b."""
    d = (a - b) & 0xFFFFFFFF
    return d != 0 and d < 0x80000000


# the blank (0xFF) and dead (0x00) patterns, 256 bytes each, as literals: a frozen image keeps
# them in ROM (b"\xff" * 256 would be built at import into the heap)
_FF = (
    b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"
    b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"
    b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"
    b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"
    b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"
    b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"
    b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"
    b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"
    b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"
    b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"
    b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"
    b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"
    b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"
    b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"
    b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"
    b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff")
_ZZ = (
    b"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
    b"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
    b"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
    b"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
    b"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
    b"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
    b"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
    b"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
    b"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
    b"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
    b"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
    b"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
    b"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
    b"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
    b"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
    b"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00")


def _all(buf, n, pat):
    """True if buf[:n] is all pattern bytes: compared 256 bytes at a time by the C buffer
    comparison (100x a Python loop; no allocation but the temporary memoryview slices)."""
    mv = memoryview(buf)
    i = 0
    while n - i >= 256:
        if mv[i:i + 256] != pat:
            return False
        i += 256
    if i < n:
        return mv[i:n] == memoryview(pat)[:n - i]
    return True


def _blank(buf, n):
    return _all(buf, n, _FF)


def _zero(buf, n):
    return _all(buf, n, _ZZ)


class _Slots:
    """Slot geometry, scanning and the write cursor shared by Journal and RingStore. Subclasses
    define _check(buf) -> seq (>= 0) of a valid slot, -1 invalid, -2 blank, -3 dead (zeroed) and
    _commit(buf) -> offset of the record's commit byte in buf, or -1 if the header is unreadable.
    Every record ends with a commit byte 0x00 written last: a slot whose CRC fails and whose commit
    byte is not 0x00 was torn by a power cut; one whose commit byte is 0x00 was completely written
    and then damaged (corruption)."""

    def __init__(self, dev, first_block, nblocks, slot_size):
        if nblocks < 2:
            raise ValueError("a journal region needs at least 2 erase blocks")
        bs = dev.block_size
        if first_block < 0 or (first_block + nblocks) * bs > dev.size:
            raise ValueError("region outside the storage device")
        if slot_size > bs:
            raise ValueError("record larger than an erase block")
        self.dev = dev
        self.first_block = first_block
        self.nblocks = nblocks
        self.slot_size = slot_size
        self.per_block = bs // slot_size
        self.nslots = self.per_block * nblocks
        self.buf = bytearray(slot_size)  # the record being written / the last record read
        # scratch for blank checks (never the staged record): slots are compared 256 bytes at a
        # time, so a 1 KB journal slot does not need a second 1 KB buffer on a small heap
        self._sbuf = bytearray(slot_size if slot_size < 256 else 256)
        self.next = 0  # slot index of the next write
        self.seq = 0  # sequence number of the newest valid record
        self.status = FRESH
        self.corrupt = 0  # invalid slots that are not explained by an interrupted write/erase
        self.torn = 0  # invalid slots left by an interrupted write or erase (expected after a cut)
        self.newest = -1  # slot index of the newest valid record
        self.valid = 0  # valid records found by the last scan
        self.written = 0

    def offset(self, slot):
        b = slot // self.per_block
        return (self.first_block + b) * self.dev.block_size + (slot - b * self.per_block) * self.slot_size

    def _slot_is(self, s, pat):
        """True if slot s holds only the pattern's byte (_FF blank, _ZZ dead), read in chunks."""
        buf = self._sbuf
        mv = memoryview(buf)
        off = self.offset(s)
        n = self.slot_size
        i = 0
        while i < n:
            k = n - i if n - i < len(buf) else len(buf)
            part = buf if k == len(buf) else mv[:k]
            self.dev.read(off + i, part)
            if not _all(part, k, pat):
                return False
            i += k
        return True

    def _block_blank(self, blk):
        base = blk * self.per_block
        for k in range(self.per_block):
            if not self._slot_is(base + k, _FF):
                return False
        return True

    def _prepare(self):
        """Make self.next a blank slot: a block is erased when its first slot is due and it is not
        blank; a non-blank slot inside a block (a torn write) is zeroed and skipped."""
        dev = self.dev
        for _ in range(self.nslots):
            s = self.next
            blk = s // self.per_block
            if s % self.per_block == 0:
                if self.newest >= 0 and self.newest // self.per_block == blk:
                    raise RuntimeError("journal would erase its newest record")
                if not self._block_blank(blk):
                    dev.erase(self.first_block + blk)
                return s
            if self._slot_is(s, _FF):
                return s
            if not self._slot_is(s, _ZZ):
                dev.write(self.offset(s), bytes(self.slot_size))  # kill it: all zero = dead
            self.next = (s + 1) % self.nslots
        raise RuntimeError("no writable slot")

    def _after_write(self, s, seq):
        self.seq = seq
        self.newest = s
        self.next = (s + 1) % self.nslots
        self.written += 1
        # erase ahead, so that a power-fail save never has to wait for an erase (not with one slot
        # per block: that would leave a single valid record)
        nxt = self.next
        if self.per_block > 1 and nxt % self.per_block == 0 and not self._block_blank(nxt // self.per_block):
            self.dev.erase(self.first_block + nxt // self.per_block)

    def _slot_dead(self, s):
        buf = memoryview(self._sbuf)[:8]
        self.dev.read(self.offset(s), buf)
        return _zero(buf, 8)

    def _looks_torn(self, buf):
        off = self._commit(buf)
        return off < 0 or buf[off] != 0x00

    def _scan(self):
        """Scan all slots; set newest, seq, next, valid, torn, corrupt, status."""
        dev = self.dev
        buf = self.buf
        best = -1
        best_seq = 0
        bad = []
        torn_like = []
        n = 0
        for s in range(self.nslots):
            dev.read(self.offset(s), buf)
            q = self._check(buf)
            if q >= 0:
                n += 1
                if best < 0 or _newer(q, best_seq):
                    best, best_seq = s, q
            elif q == -1:
                bad.append(s)
                torn_like.append(self._looks_torn(buf))
        self.newest = best
        self.valid = n
        self.torn = 0
        self.corrupt = 0
        if best >= 0:
            # the write position after the newest record: past slots zeroed ("dead") after torn
            # writes; what lies there may be a torn write, or a whole block whose erase was cut
            nxt = (best + 1) % self.nslots
            while nxt % self.per_block and self._slot_dead(nxt):
                nxt = (nxt + 1) % self.nslots
            whole = nxt % self.per_block == 0
            blk = nxt // self.per_block
            for k in range(len(bad)):
                s = bad[k]
                if (whole and s // self.per_block == blk) or (s == nxt and torn_like[k]):
                    self.torn += 1
                else:
                    self.corrupt += 1
            self.seq = best_seq
            self.next = nxt
            self.status = RECOVERED if self.corrupt else OK
        else:
            self.corrupt = len(bad)
            self.seq = 0
            self.next = 0
            self.status = FRESH if not bad else LOST
        return self.status


class Journal(_Slots):
    """Newest-valid-wins journal of records of up to `record_size` bytes.

    Slot layout (little endian): magic 'MJ' u16, tag u8, version u8, seq u32, length u16,
    reserved u16 (0xFFFF), payload[length], crc32 u32 over everything before it, commit byte 0x00;
    slots padded to a multiple of 16 bytes. load() returns a memoryview of the newest valid payload (or None) and sets
    status (FRESH, OK, RECOVERED, LOST), corrupt and torn. To save: fill `payload` (a memoryview into
    the slot buffer) and call save(n), or save_bytes(data)."""

    MAGIC = 0x4A4D
    HDR = 12

    def __init__(self, dev, first_block, nblocks, record_size, tag=REGION_STATE):
        slot = (self.HDR + record_size + 5 + 15) & ~15
        _Slots.__init__(self, dev, first_block, nblocks, slot)
        self.record_size = record_size
        self.tag = tag & 0xFF
        self.payload = memoryview(self.buf)[self.HDR:self.HDR + record_size]
        self.length = 0

    def _commit(self, buf):
        magic, tag, ver, seq, ln, _ = struct.unpack_from("<HBBIHH", buf, 0)
        if magic != self.MAGIC or ln > self.record_size:
            return -1
        return self.HDR + ln + 4

    def _check(self, buf):
        if _blank(buf, self.HDR):
            return -2 if _blank(buf, self.slot_size) else -1
        if _zero(buf, self.HDR):
            return -3
        magic, tag, ver, seq, ln, _ = struct.unpack_from("<HBBIHH", buf, 0)
        if magic != self.MAGIC or tag != self.tag or ver != 1 or ln > self.record_size:
            return -1
        end = self.HDR + ln
        (crc,) = struct.unpack_from("<I", buf, end)
        if crc != crc32(memoryview(buf)[:end]):
            return -1
        return seq

    def load(self):
        self._scan()
        if self.newest < 0:
            self.length = 0
            return None
        buf = self.buf
        self.dev.read(self.offset(self.newest), buf)
        self.length = struct.unpack_from("<H", buf, 8)[0]
        return self.payload[:self.length]

    def save(self, n):
        """Write payload[:n] as the next record; returns its sequence number."""
        if n > self.record_size:
            raise ValueError("record too long")
        s = self._prepare()
        seq = (self.seq + 1) & 0xFFFFFFFF
        buf = self.buf
        struct.pack_into("<HBBIHH", buf, 0, self.MAGIC, self.tag, 1, seq, n, 0xFFFF)
        end = self.HDR + n
        struct.pack_into("<I", buf, end, crc32(memoryview(buf)[:end]))
        buf[end + 4] = 0x00  # commit byte, written last
        self.dev.write(self.offset(s), memoryview(buf)[:end + 5])
        self._after_write(s, seq)
        return seq

    def save_bytes(self, data):
        n = len(data)
        if n > self.record_size:
            raise ValueError("record too long")
        self.payload[:n] = data
        return self.save(n)


class RingStore(_Slots):
    """Append-only ring of fixed-size records: seq u32, payload[record_size - 9], crc32 u32 (seeded
    with the region tag so that records of another region never validate), commit byte 0x00. Keeps at least
    `capacity` = (nblocks - 1) * records_per_block of the newest records."""

    def __init__(self, dev, first_block, nblocks, record_size, tag):
        if record_size < 16 or record_size % 4:
            raise ValueError("record_size must be a multiple of 4, >= 16")
        _Slots.__init__(self, dev, first_block, nblocks, record_size)
        self.tag = tag
        self.psize = record_size - 9
        self.payload = memoryview(self.buf)[4:4 + self.psize]
        self.capacity = (nblocks - 1) * self.per_block
        self.count = 0  # records that read() may find (upper bound)

    def _commit(self, buf):
        return self.slot_size - 1

    def _check(self, buf):
        if _blank(buf, 8):
            return -2 if _blank(buf, self.slot_size) else -1
        if _zero(buf, 8):
            return -3
        end = self.slot_size - 5
        (crc,) = struct.unpack_from("<I", buf, end)
        if crc != crc32(memoryview(buf)[:end], self.tag):
            return -1
        return struct.unpack_from("<I", buf, 0)[0]

    def open(self):
        """Scan the region; returns status (FRESH, OK, RECOVERED, LOST)."""
        st = self._scan()
        self.count = self.valid
        return st

    def open_logged(self, events=None, now=0):
        """open(), logging STORAGE_CORRUPT (a = this region's tag) if damaged records were found."""
        st = self.open()
        if events is not None and self.corrupt:
            events.add(now, _ev.STORAGE_CORRUPT, self.tag, self.corrupt)
        return st

    def nth_newest(self, k, pend, npend, size):
        """The k-th newest record (0 = newest) counting the npend records of `size` bytes still
        held back to back in `pend` (not yet appended) before the ring's own: a memoryview of its
        payload, or None."""
        if k < 0:
            return None
        if k < npend:
            return memoryview(pend)[(npend - 1 - k) * size:]
        return self.read(k - npend)

    def append_from(self, buf, n, size):
        """Append the first n records of `size` bytes held back to back in buf; returns n."""
        mv = memoryview(buf)
        for i in range(n):
            self.append(mv[i * size:(i + 1) * size])
        return n

    def append(self, data=None):
        """Append a record (payload from `data`, or already filled into self.payload); returns
        its sequence number."""
        p = self.payload
        if data is not None:
            n = len(data)
            if n > self.psize:
                raise ValueError("record too long")
            p[:n] = data
            for i in range(n, self.psize):
                p[i] = 0
        s = self._prepare()
        seq = (self.seq + 1) & 0xFFFFFFFF
        buf = self.buf
        struct.pack_into("<I", buf, 0, seq)
        end = self.slot_size - 5
        struct.pack_into("<I", buf, end, crc32(memoryview(buf)[:end], self.tag))
        buf[end + 4] = 0x00  # commit byte, written last
        self.dev.write(self.offset(s), buf)
        self._after_write(s, seq)
        present = self.capacity + self.next % self.per_block
        self.count = self.count + 1 if self.count < present else present
        return seq

    def read(self, k):
        """Payload of the k-th newest record (0 = newest) as a memoryview into the store's buffer
        (valid until the next call), or None if it is missing or invalid."""
        if self.newest < 0 or k < 0 or k >= self.nslots:
            return None
        want = (self.seq - k) & 0xFFFFFFFF
        s = (self.newest - k) % self.nslots
        dev = self.dev
        buf = self.buf
        for _ in range(self.nslots - k):
            dev.read(self.offset(s), buf)
            q = self._check(buf)
            if q == want:
                return self.payload
            if q == -2 or (q >= 0 and _newer(want, q)):
                return None  # went past it: the record is gone
            s = (s - 1) % self.nslots
        return None


class StateStore:
    """One journal record made of sections registered by services:
        add(sid, size, dump_into, load_from)
    sid: 16-bit section id (unique, e.g. two ASCII letters); dump_into(mv) fills exactly `size`
    bytes; load_from(mv) restores from them and returns True (or None) if it accepted them, False if
    it found them inconsistent. Record payload: for each section u16 sid, u16 size, data.
    A section whose id is unknown to this firmware is skipped; a registered section missing from the
    record (or with another size) is not loaded and listed in `missing` (the service keeps its
    defaults). restore(now) logs REGISTERS_RESTORED / STORAGE_CORRUPT / REGISTERS_LOST."""

    def __init__(self, journal, events=None, region=REGION_STATE):
        self.journal = journal
        self.events = events
        self.region = region
        self.sections = []
        self.used = 0
        self.missing = []
        self.rejected = []
        self.saves = 0

    def add(self, sid, size, dump_into, load_from):
        for s in self.sections:
            if s[0] == sid:
                raise ValueError("section %d registered twice" % sid)
        if self.used + 4 + size > self.journal.record_size:
            raise ValueError("state record full: %d + %d > %d" % (self.used, 4 + size,
                                                                  self.journal.record_size))
        self.sections.append((sid, size, dump_into, load_from))
        self.used += 4 + size

    def restore(self, now=0):
        j = self.journal
        data = j.load()
        ev = self.events
        self.missing = []
        self.rejected = []
        if ev is not None and j.corrupt:
            ev.add(now, _ev.STORAGE_CORRUPT, self.region, j.corrupt)
        if data is None:
            if j.status == LOST and ev is not None:
                ev.add(now, _ev.REGISTERS_LOST, self.region, 0)
            self.missing = [s[0] for s in self.sections]
            return j.status
        found = {}
        off = 0
        n = len(data)
        while off + 4 <= n:
            sid, size = struct.unpack_from("<HH", data, off)
            off += 4
            if off + size > n:
                break
            found[sid] = (off, size)
            off += size
        for sid, size, _, load_from in self.sections:
            f = found.get(sid)
            if f is None or f[1] != size:
                self.missing.append(sid)
                continue
            r = load_from(data[f[0]:f[0] + size])
            if r is False:
                self.rejected.append(sid)
        if ev is not None:
            ev.add(now, _ev.REGISTERS_RESTORED, j.seq & 0x3FFFFFFF, len(self.missing) + len(self.rejected))
        return j.status

    def save(self, now=0):
        """Dump all sections and write them as the next journal record; returns its seq."""
        p = self.journal.payload
        off = 0
        for sid, size, dump_into, _ in self.sections:
            struct.pack_into("<HH", p, off, sid, size)
            off += 4
            dump_into(p[off:off + size])
            off += size
        self.saves += 1
        return self.journal.save(off)


class SavePolicy:
    """When to save the state: every `wh_threshold` Wh moved (import + export) but not more often
    than every `min_seconds`, and at least every `max_seconds`; the power-fail signal saves
    regardless (the app does that directly)."""

    def __init__(self, wh_threshold=100, max_seconds=900, min_seconds=120):
        self.wh_threshold = wh_threshold
        self.max_seconds = max_seconds
        self.min_seconds = min_seconds
        self.last = None

    def due(self, now, wh_since_save):
        last = self.last
        if last is None:
            return True
        dt = now - last
        if dt < 0:
            return True  # clock went back: save with the new time
        if dt >= self.max_seconds:
            return True
        return wh_since_save >= self.wh_threshold and dt >= self.min_seconds

    def saved(self, now):
        self.last = now


# --- event log persistence ------------------------------------------------------------------------

EVENT_RECORD = 32  # seq u32 | n u32, t i32, code u16, a i32, b i32, pad | crc32 | commit


def _i32(v):
    v &= 0xFFFFFFFF
    return v - 0x100000000 if v & 0x80000000 else v


class EventStore:
    """Persists an EventLog into a RingStore, one record per event (n = the event's index in the
    log's lifetime count). flush() writes the events added since the last flush (the app calls it
    with every state save and at power fail; `pending` says whether there is anything to write).
    restore() refills the RAM ring from flash (without calling on_add) and sets log.count."""

    def __init__(self, ring, log):
        self.ring = ring
        self.log = log
        self.saved = 0  # log.count already on flash

    @property
    def pending(self):
        return self.log.count > self.saved

    def restore(self):
        ring = self.ring
        st = ring.open()
        log = self.log
        size = log.size
        newest = -1
        seen = {}
        k = 0
        while k < ring.count and len(seen) < size:
            p = ring.read(k)
            k += 1
            if p is None:
                continue
            n, t, code, a, b = struct.unpack_from("<IiHii", p, 0)
            if newest < 0:
                newest = n
            if n > newest or newest - n >= size or n in seen:
                continue
            seen[n] = (t, code, a, b)
        for n in seen:
            t, code, a, b = seen[n]
            i = n % size
            log.t[i] = t
            log.code[i] = code
            log.a[i] = a
            log.b[i] = b
        if newest >= 0:
            log.count = newest + 1
        self.saved = log.count
        return st

    def flush(self):
        log = self.log
        start = self.saved
        if log.count - start > log.size:
            start = log.count - log.size  # older ones already overwritten in RAM
        for n in range(start, log.count):
            i = n % log.size
            self.ring.payload[:] = bytes(self.ring.psize)
            struct.pack_into("<IiHii", self.ring.payload, 0, n, log.t[i], log.code[i],
                             _i32(log.a[i]), _i32(log.b[i]))
            self.ring.append()
        self.saved = log.count


# --- default layout -------------------------------------------------------------------------------

def layout(dev, profile_records=60 * 96 + 1, profile_record=32, billing_records=13, billing_record=256,
           event_records=256, credit_records=128, credit_record=32, state_blocks=None):
    """Split the device into regions; returns {name: (first_block, nblocks)} for 'state', 'profile',
    'billing', 'events', 'credit' (the prepayment transaction log). The state journal gets what is
    left (at least 4 blocks)."""
    bs = dev.block_size
    nb = dev.size // bs

    def blocks_for(nrec, rsize):
        per = bs // rsize
        return (nrec + per - 1) // per + 1  # +1: the block being erased ahead holds nothing old

    p = blocks_for(profile_records, profile_record)
    b = blocks_for(billing_records, billing_record)
    e = blocks_for(event_records, EVENT_RECORD)
    c = blocks_for(credit_records, credit_record)
    s = nb - p - b - e - c if state_blocks is None else state_blocks
    if s < 4 or p + b + e + c + s > nb:
        raise ValueError("storage region too small: %d blocks for %d+%d+%d+%d+4" % (nb, p, b, e, c))
    first = 0
    out = {}
    for name, n in (("state", s), ("profile", p), ("billing", b), ("events", e), ("credit", c)):
        out[name] = (first, n)
        first += n
    return out


class StateCell:
    """A small fixed-size value kept in the state journal (the P1 frame counter reservation, the
    optical lockout record). Add it with store.add(sid, cell.size, cell.dump_into, cell.load_from);
    `save_fn()` makes the whole state durable synchronously."""

    def __init__(self, size, save_fn):
        self.size = size
        self.data = bytearray(size)
        self.save_fn = save_fn

    def dump_into(self, buf):
        buf[:] = self.data

    def load_from(self, buf):
        self.data[:] = buf
        return True

    def store(self, record):
        """Set the value and make it durable now."""
        self.data[:] = record
        self.save_fn()


class CounterCell(StateCell):
    """A u32 counter reservation in the state journal: the P1 port's counter_store (load() ->
    int, reserve(upto) durable before it returns)."""

    def __init__(self, save_fn):
        StateCell.__init__(self, 4, save_fn)

    def load(self):
        return struct.unpack("<I", self.data)[0]

    def reserve(self, upto):
        struct.pack_into("<I", self.data, 0, upto)
        self.save_fn()
