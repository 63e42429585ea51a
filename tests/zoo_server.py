"""A loopback HTTP server for the zoo's download tests: a folder on 127.0.0.1, with faults.

    with ZooServer(folder) as server:
        server.fail("m-0123456789ab.keras", "500", "500")  # then served normally
        ... AEZOO_ZOO_URL=server.url ...
        server.requests  # the file names asked for, in order

Faults, one used up per request of that file: "500", "404", "truncate" (the
right Content-Length, half the body, then the connection closes), "corrupt"
(one byte flipped), "stall" (headers and a few bytes, then silence for
``stall_seconds``), "slow" (the whole file in small pieces with pauses).
"""

import http.server
import os
import socket
import threading
import time


class ZooServer:
    def __init__(self, folder, stall_seconds=5.0):
        self.folder = os.fspath(folder)
        self.stall_seconds = stall_seconds
        self.faults = {}
        self.requests = []
        self._lock = threading.Lock()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep the test output clean
                pass

            def do_GET(self):
                server._serve(self)

        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self):
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def fail(self, name, *faults):
        with self._lock:
            self.faults.setdefault(name, []).extend(faults)

    def count(self, name=None):
        return len([r for r in self.requests if name is None or r == name])

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._httpd.shutdown()
        self._httpd.server_close()

    def _serve(self, handler):
        name = handler.path.lstrip("/")
        with self._lock:
            self.requests.append(name)
            queue = self.faults.get(name) or []
            fault = queue.pop(0) if queue else None
        path = os.path.join(self.folder, name)
        if fault in ("500", "404") or not os.path.isfile(path):
            handler.send_error(int(fault or 404))
            return
        with open(path, "rb") as file:
            data = file.read()
        if fault == "corrupt":
            data = data[:10] + bytes([data[10] ^ 0xFF]) + data[11:]
        handler.send_response(200)
        handler.send_header("Content-Type", "application/octet-stream")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        try:
            if fault == "truncate":
                handler.wfile.write(data[: len(data) // 2])
                handler.wfile.flush()
                handler.connection.shutdown(socket.SHUT_RDWR)
                handler.close_connection = True
            elif fault == "stall":
                handler.wfile.write(data[:16])
                handler.wfile.flush()
                time.sleep(self.stall_seconds)
            elif fault == "slow":
                for start in range(0, len(data), max(1, len(data) // 10)):
                    handler.wfile.write(data[start:start + max(1, len(data) // 10)])
                    handler.wfile.flush()
                    time.sleep(0.05)
            else:
                handler.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up, as it should on a stall


def dead_url():
    """An http:// URL on a loopback port nothing listens on."""
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return f"http://127.0.0.1:{port}"
