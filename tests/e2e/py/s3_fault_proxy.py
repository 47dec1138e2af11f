"""A fault-injecting HTTP proxy in front of a real S3 endpoint, used ONLY by t781.

A real S3 server (here moto's) cannot be made to answer 503 SlowDown, or to drop
a connection, on demand.  This proxy passes every request through unchanged
(headers, body, so the client's SigV4 signature still holds: the Host it signed
is the proxy's, which is what the endpoint sees) except the ones its MODE picks,
and appends one JSON line per request to LOG.

Usage: s3_fault_proxy.py PORT_FILE LOG UPSTREAM_PORT MODE
  MODE slowdown   every other request, the first 8: 503 SlowDown with Retry-After 0
  MODE drop-part  the first upload of each part: the body is read, then the
                  connection is closed unanswered
  MODE complete-error  the first CompleteMultipartUpload: 200 with an <Error> inside,
                  not passed on (S3 may fail a completion after sending 200)
  MODE complete-lost   the first CompleteMultipartUpload is passed on (the object is
                  made), then its connection is closed unanswered; the retry is
                  answered 404 NoSuchUpload, as S3 does once the upload is done
                  (moto would answer 200 again)
  MODE deny-part  every upload of part 2: 403 AccessDenied, which is not retried:
                  the client must abort the whole upload
"""
import http.client
import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Lock
from urllib.parse import parse_qs, urlparse

port_file, log_path, upstream, mode = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
lock = Lock()
state = {"n": 0, "parts_seen": set(), "completes": 0}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def record(self, what):
        with lock, open(log_path, "a") as f:
            q = parse_qs(urlparse(self.path).query, keep_blank_values=True)
            f.write(json.dumps({"t": time.time(), "method": self.command, "path": urlparse(self.path).path,
                                "part": q.get("partNumber", [None])[0],
                                "complete": self.command == "POST" and "uploadId" in q, "what": what}) + "\n")

    def reply_error(self, status, code, message, what):
        """Answer with S3's error document, without passing the request on."""
        data = (b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>' + code.encode() +
                b'</Code><Message>' + message.encode() + b'</Message></Error>')
        self.record(what)
        self.send_response(status)
        if status == 503:
            self.send_header("Retry-After", "0")
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def handle_one(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        with lock:
            state["n"] += 1
            k = state["n"]
            part = parse_qs(urlparse(self.path).query).get("partNumber", [None])[0]
            first_of_part = part is not None and part not in state["parts_seen"]
            if part is not None:
                state["parts_seen"].add(part)
            is_complete = self.command == "POST" and "uploadId=" in self.path
            if is_complete:
                state["completes"] += 1
            first_complete = is_complete and state["completes"] == 1
            second_complete = is_complete and state["completes"] == 2
        if mode == "slowdown" and k <= 8 and k % 2 == 1:
            return self.reply_error(503, "SlowDown", "Please reduce your request rate.", "503")
        if mode == "complete-error" and first_complete:  # S3 may fail a completion after sending 200
            return self.reply_error(200, "InternalError", "We encountered an internal error.", "200-error")
        if mode == "complete-lost" and second_complete:
            return self.reply_error(404, "NoSuchUpload", "The specified upload does not exist.", "404")
        if mode == "deny-part" and part == "2":
            return self.reply_error(403, "AccessDenied", "Access Denied", "403")
        if mode == "drop-part" and first_of_part:
            self.record("dropped")
            self.close_connection = True
            self.connection.close()
            return
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("expect", "connection")}
        c = http.client.HTTPConnection("127.0.0.1", upstream, timeout=60)
        c.request(self.command, self.path, body=body if n or self.command in ("PUT", "POST") else None,
                  headers=headers)
        r = c.getresponse()
        data = r.read()
        if mode == "complete-lost" and first_complete:
            self.record(f"{r.status}-lost")
            self.close_connection = True
            self.connection.close()
            return
        self.record(str(r.status))
        self.send_response(r.status)
        for k, v in r.getheaders():
            if k.lower() not in ("transfer-encoding", "connection", "content-length", "server", "date"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)) if self.command != "HEAD" else r.getheader("Content-Length", "0"))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        c.close()

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_one


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(port_file + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
import os  # noqa: E402
os.rename(port_file + ".tmp", port_file)
server.serve_forever()
