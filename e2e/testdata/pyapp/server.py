"""pyapp: / answers with its version, /health with 200 while it is
healthy. Debian's Python and its standard library only. It listens on
$PORT and, on SIGTERM, stops accepting and lets in-flight requests
finish. The e2e tests change VERSION and HEALTHY in later commits."""

import os
import signal
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

VERSION = "1"
HEALTHY = True


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    disable_nagle_algorithm = True  # headers and body are two writes

    def do_GET(self):
        if self.path == "/":
            self.answer(200, f"pyapp version {VERSION}\n")
        elif self.path == "/health":
            self.answer(200 if HEALTHY else 503, "ok\n" if HEALTHY else "broken\n")
        else:
            self.answer(404, "not found\n")

    def answer(self, code, text):
        body = text.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        pass


def serve(port):
    return ThreadingHTTPServer(("127.0.0.1", port), Handler)


if __name__ == "__main__":
    server = serve(int(os.environ.get("PORT", "3000")))
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    server.serve_forever()
    server.server_close()
