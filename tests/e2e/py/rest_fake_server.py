"""A FAKE MLflow server, used ONLY by the REST fault tests (tests/e2e/t3*-rest-faults*.sh).

A real `mlflow server` cannot be made to answer 429/503 with Retry-After, or to drop
the connection after doing the work, on demand; this small stand-in does exactly
that and nothing else.  It speaks just enough of /api/2.0/mlflow/ (experiments/get,
runs/create, runs/search, runs/get) for track-driver's calls, keeps its runs in
memory, and appends one JSON line per request to LOG so a test can check what
the client sent and when.  Nothing else should ever talk to it.

Usage: rest_fake_server.py PORT_FILE LOG MODE
  MODE retry-after   experiments/get: 429 Retry-After 2, then 503 Retry-After 1, then 200
  MODE always-503    every request: 503 Retry-After 1
  MODE drop-create   the first runs/create creates the run, then closes the connection unanswered
  MODE error-create  the first runs/create answers 500 without creating anything
"""
import json
import socket
import sys
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

port_file, log_path, mode = sys.argv[1:4]
runs = {}
counts = {}


def run_json(r):
    return {"info": {"run_id": r["run_id"], "run_uuid": r["run_id"], "experiment_id": r["experiment_id"],
                     "run_name": r["run_name"], "user_id": r["user_id"], "status": "RUNNING",
                     "start_time": r["start_time"], "artifact_uri": "mlflow-artifacts:/x",
                     "lifecycle_stage": "active"},
            "data": {"tags": r["tags"]}}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def record(self, status):
        with open(log_path, "a") as f:
            f.write(json.dumps({"t": time.time(), "method": self.command,
                                "path": urlparse(self.path).path, "status": status}) + "\n")

    def reply(self, status, body, headers=()):
        data = json.dumps(body).encode()
        self.record(status)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(n) or b"{}")

    def do_GET(self):
        self.handle_any()

    def do_POST(self):
        self.handle_any()

    def handle_any(self):
        path = urlparse(self.path).path
        query = parse_qs(urlparse(self.path).query)
        body = self.body() if self.command == "POST" else {}
        n = counts[path] = counts.get(path, 0) + 1
        if mode == "always-503":
            return self.reply(503, {"error_code": "TEMPORARILY_UNAVAILABLE", "message": "busy"},
                              [("Retry-After", "1")])
        if path.endswith("/experiments/get"):
            if mode == "retry-after" and n == 1:
                return self.reply(429, {"error_code": "REQUEST_LIMIT_EXCEEDED", "message": "slow down"},
                                  [("Retry-After", "2")])
            if mode == "retry-after" and n == 2:
                return self.reply(503, {"error_code": "TEMPORARILY_UNAVAILABLE", "message": "busy"},
                                  [("Retry-After", "1")])
            eid = query.get("experiment_id", ["1"])[0]
            return self.reply(200, {"experiment": {"experiment_id": eid, "name": "fake",
                                                   "artifact_location": "mlflow-artifacts:/" + eid,
                                                   "lifecycle_stage": "active"}})
        if path.endswith("/runs/create"):
            if mode == "error-create" and n == 1:
                return self.reply(500, {"error_code": "INTERNAL_ERROR", "message": "database hiccup"})
            rid = uuid.uuid4().hex
            runs[rid] = {"run_id": rid, "experiment_id": body.get("experiment_id"),
                         "run_name": body.get("run_name", ""), "user_id": body.get("user_id", ""),
                         "start_time": body.get("start_time", 0), "tags": body.get("tags", [])}
            if mode == "drop-create" and n == 1:
                # The work is done, the answer is lost: close without a response.
                self.record(0)
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            return self.reply(200, {"run": run_json(runs[rid])})
        if path.endswith("/runs/search"):
            flt = body.get("filter", "")
            found = [r for r in runs.values()
                     if any(("`%s` = '%s'" % (t["key"], t["value"])) in flt for t in r["tags"])]
            return self.reply(200, {"runs": [run_json(r) for r in found]})
        if path.endswith("/runs/get"):
            rid = query.get("run_id", [""])[0]
            if rid not in runs:
                return self.reply(404, {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "no run"})
            return self.reply(200, {"run": run_json(runs[rid])})
        if path == "/_fake/runs":
            return self.reply(200, {"runs": sorted(runs)})
        return self.reply(404, {"error_code": "ENDPOINT_NOT_FOUND", "message": "fake: " + path})


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(port_file + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
import os  # noqa: E402
os.rename(port_file + ".tmp", port_file)
server.serve_forever()
