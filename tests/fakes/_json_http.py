"""A threaded local HTTP server answering JSON, the base of the SMS provider and gateway fakes."""
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Reply:
    def __init__(self, status, body=None, headers=None):
        self.status = status
        self.body = body
        self.headers = headers or {}


class JsonHttpFake:
    """Subclasses implement ``handle(method, path, headers, body) -> Reply`` (thread-safe)."""

    def __init__(self, host="127.0.0.1"):
        self.host = host
        self._server = None
        self._thread = None
        self.stopping = threading.Event()  # held replies wait on it, so stop() never waits for them

    @property
    def base_url(self):
        return f"http://{self.host}:{self._server.server_address[1]}"

    def start(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = None
                reply = fake.handle(self.command, self.path, self.headers, body)
                if reply is None:  # the request hung: close without answering
                    self.close_connection = True
                    return
                payload = b"" if reply.body is None else json.dumps(reply.body).encode()
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = _serve

            def log_message(self, *args):  # keep test output quiet
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                if not isinstance(sys.exc_info()[1], ConnectionError):  # clients that gave up are expected
                    super().handle_error(request, client_address)

        self.stopping.clear()
        self._server = Server((self.host, 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=type(self).__name__, daemon=True)  # a short poll: quick stop()
        self._thread.start()
        return self.base_url

    def stop(self):
        self.stopping.set()
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = None

    def handle(self, method, path, headers, body):
        raise NotImplementedError
