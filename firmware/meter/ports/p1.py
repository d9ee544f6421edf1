# P1 port: passive HAN output. Sends a telegram from the P1Builder while the data request line
# is active, one per period (1 s for DSMR 5 / e-MUCS, 10 s for DSMR 4 and Smarty), started on a
# meter-clock second boundary, written in chunks and never cut short. Transmit only: the port
# never reads the UART, so nothing on the HAN side can influence the meter (DSMR 5.0.2 5.5.1).
#
# Wiring (the app):
#   p1 = P1Port(board.uart("p1"), board.pin("p1_req"), builder, snapshot_fn, board.clock,
#               counter_store=None, config=None, pace=None)
#   asyncio.create_task(p1.run())      # or call p1.poll() every ~10-20 ms from an existing task
#   the metering task calls p1.poll() right after each tick, so a telegram starts as soon as the
#   registers of its second exist
#
#   builder        cores/dsmr P1Builder (its .period, .max_frame, .needs_counter are used)
#   snapshot_fn(t) returns the P1Snapshot for meter second t (snap.t must be t), or None while the
#                  registers of second t do not exist yet (the telegram then starts at a later poll
#                  of the same second); called once per telegram, right before the build
#                  (ports/p1_snapshot.py: it reads the services, it never runs the meter)
#   clock          board clock: time() (meter seconds); run() also uses sleep_ms()
#   counter_store  smarty only (required there): load() -> int, the persisted frame counter
#                  reservation (0 if none); reserve(upto) durably stores upto before returning.
#                  The service starts at the reservation and reserves `reserve_block` frames
#                  ahead, so a frame counter is never used twice, even across power cuts, with
#                  one storage write per reserve_block frames.
#   config         dict: "chunk" bytes per UART write (default 256), "reserve_block" (1000),
#                  "poll_ms" (20), "init_uart" (True: uart.init(115200, 8N1))
#   pace           None (the cadence follows the meter clock), or a real-time ticks clock
#                  (ticks_ms/ticks_diff: the sim's board.line_clock) for a board whose meter clock
#                  may run faster than real time: one telegram per `period` real seconds (DSMR 5:
#                  once a second), each carrying the meter second current when it starts
#
# Behaviour:
#   - request line inactive: nothing is built or written;
#   - request line active: a telegram starts at the first second boundary seen (first poll where
#     clock.time() changes) and then every `period` seconds after it (for the 1 s profiles: every
#     second). A second missed because the app was late is not caught up: the telegram always
#     carries the current second;
#   - the clock set back restarts the cadence at once (no pause until the old due time);
#   - a telegram being written is finished even if the request line drops meanwhile (the next one
#     is not started); while one is still being written no new one starts;
#   - smarty: the frame counter is incremented per frame; at 0xFFFFFFFF the service stops sending
#     (LU 3.2.5); if reserve() fails, no frame is sent until it succeeds.
# Counters for diagnostics: sent, late (a telegram started after its due second: the app polled
# late or the previous telegram was still being written), build_errors, reserve_errors,
# write_errors (uart.write raised OSError: the chunk is retried, the telegram given up after 100
# failures in a row), last_len, last_build_ms (when the clock has ticks_ms/ticks_diff).

from meter.common.files import read_bytes, write_atomic

FC_MAX = 0xFFFFFFFF

# The text message (0-0:96.13.0). DSMR 5.0.2 7.2: the meter stores one message of up to 1024
# characters and sends it in every telegram until it is replaced, so it survives power cuts: the
# app keeps it in a file in the board's writable config dir.
#   text = load_text(config_dir)             at boot (b"" if none)
#   save_text(config_dir, text)              when the head end sets it (OSError if not stored)
TEXT_MAX = 1024
TEXT_FILE = "/p1_text.bin"


def load_text(config_dir):
    t = read_bytes(config_dir + TEXT_FILE, TEXT_MAX)
    return b"" if t is None else t


def save_text(config_dir, text):
    """Atomic replace (a cut leaves the old or the new message). OSError if not stored."""
    write_atomic(config_dir + TEXT_FILE, text)


class P1Port:
    def __init__(self, uart, req_pin, builder, snapshot_fn, clock, counter_store=None, config=None,
                 pace=None):
        cfg = config or {}
        for k in cfg:
            if k not in ("chunk", "reserve_block", "poll_ms", "init_uart"):
                raise ValueError("P1 port: unknown config key %r" % (k,))
        self.uart = uart
        self.req = req_pin
        self.builder = builder
        self.snapshot_fn = snapshot_fn
        self.clock = clock
        self.chunk = cfg.get("chunk", 256)
        self.block = cfg.get("reserve_block", 1000)
        self.poll_ms = cfg.get("poll_ms", 20)
        if type(self.chunk) is not int or self.chunk < 16:
            raise ValueError("P1 port: chunk must be >= 16")
        if type(self.block) is not int or self.block < 1:
            raise ValueError("P1 port: reserve_block must be >= 1")
        self.period = builder.period
        self.buf = bytearray(builder.max_frame)
        self.mv = memoryview(self.buf)
        self.store = counter_store
        self.fc = None
        self.reserved = 0
        if builder.needs_counter:
            if counter_store is None:
                raise ValueError("P1 port: an encrypted profile needs a frame counter store")
            v = counter_store.load()
            self.fc = v if type(v) is int and v >= 0 else 0
            self.reserved = self.fc  # nothing at or above this is reserved yet
        if cfg.get("init_uart", True):
            uart.init(115200, bits=8, parity=None, stop=1)
        self._n = 0  # length of the telegram being written
        self._off = 0  # bytes of it written so far
        self._last_t = None  # last second seen
        self._next_t = None  # second at which the next telegram is due (None: first boundary)
        self._active = False
        self.sent = 0
        self.late = 0
        self.build_errors = 0
        self.reserve_errors = 0
        self.last_len = 0
        self.last_build_ms = -1
        self.stopped = False  # smarty frame counter exhausted
        self.write_errors = 0
        self.mem_errors = 0
        self._wfail = 0
        self._timed = hasattr(clock, "ticks_ms") and hasattr(clock, "ticks_diff")
        self.pace = pace
        self._pace_ms = self.period * 1000
        self._due = None  # pace: ticks_ms at which the next telegram is due (None: at once)

    def set_pace(self, pace):
        """Change the cadence live (see `pace` above): a real-time ticks clock, or None for the
        meter clock's seconds. The next telegram is due at once."""
        self.pace = pace
        self._due = None

    def busy(self):
        """True while a telegram is being written."""
        return self._off < self._n

    def poll(self):
        """Advance the port: write the next chunk of a telegram in progress, or start a telegram
        when one is due. Call every few ms (run() does; the metering task too, right after its
        tick). A MemoryError (a fragmented small heap) costs that telegram, never the caller."""
        try:
            self._poll()
        except MemoryError:
            self.mem_errors += 1
            self._off = self._n = 0

    def _poll(self):
        if self._off < self._n:
            self._write_chunk()
            return
        t = self.clock.time()
        if not self.req.value():
            self._active = False
            self._last_t = t
            return
        if not self._active:
            # request line just became active: the first telegram goes out at the next boundary
            self._active = True
            self._next_t = None
            self._last_t = t
            return
        if self.pace is not None:
            self._poll_paced(t)
            return
        if t == self._last_t:
            return
        if t < self._last_t:  # the clock was set back: keep the cadence from here
            self._next_t = None
        self._last_t = t
        if self._next_t is not None and t < self._next_t:
            return
        if not self._start(t):
            self._last_t = t - 1  # not started (registers not ready): try again at the next poll

    def _poll_paced(self, t):
        """Real-time cadence: due every period real seconds, whatever the meter clock does; the
        telegram carries meter second t. Kept on a fixed grid (no drift from poll jitter) unless
        more than a period late (then restarted from now)."""
        p = self.pace
        now = p.ticks_ms()
        if self._due is not None and p.ticks_diff(now, self._due) < 0:
            return
        self._next_t = None  # the meter-second schedule does not apply (nor its `late` count)
        if not self._start(t):
            return  # registers of second t not there yet: the next poll tries again
        self._last_t = t
        if self._due is not None and p.ticks_diff(now, self._due) < self._pace_ms:
            self._due = (self._due + self._pace_ms) & 0x3FFFFFFF
        else:
            self._due = (now + self._pace_ms) & 0x3FFFFFFF

    def _start(self, t):
        """Start the telegram of second t. False if its registers are not there yet (nothing
        changed: the next poll tries again), else True (started, or given up for this second)."""
        snap = self.snapshot_fn(t)
        if snap is None:
            return False
        if self._next_t is not None and t > self._next_t:
            self.late += 1
        self._next_t = t + self.period
        fc = None
        if self.fc is not None:
            if self.stopped or self.fc >= FC_MAX:
                self.stopped = True
                return True
            if self.fc >= self.reserved or self.reserved - self.fc <= self.block // 4:
                upto = self.fc + self.block
                if upto > FC_MAX:
                    upto = FC_MAX
                try:
                    self.store.reserve(upto)
                except OSError:
                    self.reserve_errors += 1
                    self._next_t = t + 1  # retry next second
                    return True
                self.reserved = upto
            fc = self.fc
        clk = self.clock
        t0 = clk.ticks_ms() if self._timed else None
        try:
            n = self.builder.build_into(self.buf, snap, fc)
        except Exception:  # noqa: BLE001 - counted (p1_info errors); a bad snapshot must not stop P1
            self.build_errors += 1
            return True
        finally:
            if fc is not None:
                self.fc = fc + 1  # a counter value handed to the builder is never reused
        if t0 is not None:
            self.last_build_ms = clk.ticks_diff(clk.ticks_ms(), t0)
        self._n = n
        self._off = 0
        self.last_len = n
        self._write_chunk()
        return True

    def _write_chunk(self):
        end = self._off + self.chunk
        if end > self._n:
            end = self._n
        try:
            w = self.uart.write(self.mv[self._off:end])
        except OSError:
            self.write_errors += 1
            self._wfail += 1
            if self._wfail >= 100:  # the UART is gone: give this telegram up
                self._off = self._n = 0
                self._wfail = 0
            return
        self._wfail = 0
        if w is None:
            w = 0
        self._off += w
        if self._off >= self._n:
            self._off = self._n = 0
            self.sent += 1

    async def run(self):
        """Task body: poll forever. While a telegram is being written it polls at the pace of
        the line (one chunk takes chunk * 10 / 115200 s). When idle with the request line active
        and the clock has time_ms() -> (s, ms), it wakes right at the next second boundary, so a
        telegram starts within a ms or so of its second (a steady 1 s cadence), not up to poll_ms
        after it."""
        chunk_ms = self.chunk * 10 * 1000 // 115200 + 1
        clk = self.clock
        tm = getattr(clk, "time_ms", None)
        while True:
            self.poll()
            if self._off < self._n:
                d = chunk_ms
            else:
                d = self.poll_ms
                if tm is not None and self._active:
                    left = 1000 - tm()[1]
                    if left < d:
                        d = left if left > 0 else 1
            await clk.sleep_ms(d)
