"""The console's HTTP server (the standard library's ThreadingHTTPServer; nothing to install).

    GET  /                 the page (static/index.html); /static/<file> its script and style
    GET  /api/state        the latest snapshot (JSON; the page polls it every second)
    GET  /api/history      the power ring: [[meter s, P, L1, L2, L3] kW ...]; ?since=<meter s>
    POST /api/<control>    load | power | rate | button | keypad (controls.py), fields as JSON or a
                           form; needs the token (header X-Console-Token or field "token"), else
                           403 and nothing happens

Bound to 127.0.0.1 only, and it answers only requests addressed to 127.0.0.1 or localhost (a
page elsewhere that rebinds its own host name to 127.0.0.1 gets 403). Reads need no token: they
show what the meter's own ports show anyway.
"""
import hmac
import json
import mimetypes
import os
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from host_tools.rig import RigError

STATIC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")
MAX_BODY = 4096
# everything from this origin (no CDN, no inline script): the browser refuses anything else
CSP = "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'"


class Handler(BaseHTTPRequestHandler):
    server_version = "meter-console"
    console = None  # set on the subclass made per server

    def log_message(self, fmt, *args):  # quiet: `make sim` prints only its contract lines
        pass

    def _send(self, code, body, ctype="application/json"):
        if not isinstance(body, bytes):
            body = json.dumps(body, separators=(",", ":")).encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Content-Security-Policy", CSP)
        self.end_headers()
        self.wfile.write(body)

    def _foreign(self):
        """True (and 403 sent) unless the Host header names this server by a loopback name."""
        port = self.server.server_address[1]
        if self.headers.get("Host") in ("127.0.0.1:%d" % port, "localhost:%d" % port):
            return False
        self._send(403, {"error": "use http://127.0.0.1:%d/" % port})
        return True

    def do_GET(self):
        if self._foreign():
            return
        url = urllib.parse.urlsplit(self.path)
        path = url.path
        c = self.console
        if path == "/api/state":
            snap = c.sampler.snapshot()
            snap["manual"] = sorted(c.controls.manual)
            return self._send(200, snap)
        if path == "/api/history":
            q = urllib.parse.parse_qs(url.query)
            try:
                since = int(q["since"][0]) if "since" in q else None
            except ValueError:
                return self._send(400, {"error": "since: not an integer"})
            return self._send(200, c.sampler.history(since))
        if path in ("/", "/index.html"):
            path = "/static/index.html"
        if path.startswith("/static/"):
            name = path[len("/static/"):]
            if "/" in name or name.startswith(".") or not name:
                return self._send(404, {"error": "not found"})
            try:
                with open(os.path.join(STATIC, name), "rb") as f:
                    data = f.read()
            except OSError:
                return self._send(404, {"error": "not found"})
            ctype = mimetypes.guess_type(name)[0] or "application/octet-stream"
            return self._send(200, data, ctype + ("; charset=utf-8" if ctype.startswith("text/") else ""))
        return self._send(404, {"error": "not found"})

    def _fields(self):
        """The POST body as a dict (JSON object or form), or None if it is malformed."""
        try:
            n = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            return None
        if n < 0 or n > MAX_BODY:
            return None
        raw = self.rfile.read(n) if n else b""
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        try:
            if ctype == "application/json":
                f = json.loads(raw.decode() or "{}")
                return f if isinstance(f, dict) else None
            return {k: v[0] for k, v in urllib.parse.parse_qs(raw.decode(), keep_blank_values=True).items()}
        except (UnicodeDecodeError, ValueError):
            return None

    def do_POST(self):
        if self._foreign():
            return
        c = self.console
        path = urllib.parse.urlsplit(self.path).path
        fields = self._fields()
        token = self.headers.get("X-Console-Token") or (fields or {}).get("token") or ""
        if not hmac.compare_digest(str(token).encode(), c.token.encode()):
            return self._send(403, {"error": "token required (printed when the console started)"})
        name = path[len("/api/"):] if path.startswith("/api/") else ""
        if name not in c.controls.ROUTES:
            return self._send(404, {"error": "no such control"})
        if fields is None:
            return self._send(400, {"error": "body: a JSON object or a form, at most %d bytes" % MAX_BODY})
        try:
            return self._send(200, getattr(c.controls, name)(fields))
        except ValueError as e:
            return self._send(400, {"error": str(e)})
        except RigError as e:  # e.g. power already off; the meter's own refusal
            return self._send(409, {"error": str(e).splitlines()[0]})


def serve(console, port):
    """A ThreadingHTTPServer on 127.0.0.1:port (0: any free) whose handler sees `console`."""
    handler = type("ConsoleHandler", (Handler,), {"console": console})
    srv = ThreadingHTTPServer(("127.0.0.1", port), handler)
    srv.daemon_threads = True
    return srv
