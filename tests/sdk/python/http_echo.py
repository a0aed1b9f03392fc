"""A tiny HTTP server on 127.0.0.1 for the server's HTTP tasks to call.

Every request is recorded. The answer is JSON
`{"method", "path", "query", "contentType", "received"}` where `received` is the parsed
JSON body (or the text, or null). `/status/<code>` answers with that status code.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit


class EchoServer:
    def __init__(self, port: int = 0) -> None:
        self.requests: list[dict] = []
        self._lock = threading.Lock()
        echo = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                text = raw.decode("utf-8", errors="replace")
                received = None
                if text:
                    try:
                        received = json.loads(text)
                    except ValueError:
                        received = text
                url = urlsplit(self.path)
                record = {
                    "method": self.command,
                    "path": url.path,
                    "query": dict(parse_qsl(url.query)),
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "received": received,
                }
                with echo._lock:
                    echo.requests.append(record)
                status = 200
                parts = url.path.strip("/").split("/")
                if len(parts) == 2 and parts[0] == "status" and parts[1].isdigit():
                    status = int(parts[1])
                body = json.dumps(
                    {
                        "method": record["method"],
                        "path": record["path"],
                        "query": record["query"],
                        "contentType": self.headers.get("Content-Type"),
                        "received": received,
                    }
                ).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_DELETE = _answer

            def log_message(self, format, *args):  # keep pytest output clean
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="http-echo", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def calls(self, **match) -> list[dict]:
        with self._lock:
            return [r for r in self.requests if all(r.get(k) == v for k, v in match.items())]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
