#!/usr/bin/env python3
"""A fake Lambda Runtime API on loopback, to measure the token function outside AWS.

  init   --binary B [--starts 20]
         Starts B with AWS_LAMBDA_RUNTIME_API pointing here and records the time from
         process start to its first `GET /2018-06-01/runtime/invocation/next` (= init
         done, ready for an event); repeats, prints min/median/max.
  serve  --binary B --requests 100 --client-id ID --client-secret S --audience A
         Feeds B that many API Gateway v2 token requests one after another, checks every
         answer is 200, prints the handler latency percentiles (event handed out to
         response posted) and the process's peak RSS (VmHWM from /proc/<pid>/status).
  reuse  --table T --audience A --mode on|off
         Sets the API's token reuse attribute in the table (boto3, AWS_ENDPOINT_URL).

Everything else (table, issuer, key, endpoint) comes from the environment, as in a
deployed function. Loopback only; stdlib plus boto3 (in the project's .venv via moto).
"""

import argparse
import base64
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PREFIX = "/2018-06-01/runtime"
FIXTURE = os.path.join(
    os.path.dirname(os.path.abspath(__file__)),
    "..", "crates", "testkit", "fixtures", "apigw_v2_token_form.json",
)


class Runtime:
    def __init__(self, events):
        self.events = list(events)
        self.lock = threading.Lock()
        self.first_next = threading.Event()
        self.first_next_at = None
        self.handed_out = {}  # request id -> monotonic time
        self.latencies = []
        self.statuses = []
        self.errors = []
        self.done = threading.Event()
        self.stop = threading.Event()
        self.expected = len(self.events)


def make_handler(rt):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Small writes on a keep-alive connection otherwise meet delayed ACKs (~40 ms).
        disable_nagle_algorithm = True

        def log_message(self, *args):
            pass

        def reply(self, code, body=b"", headers=()):
            self.send_response(code)
            for k, v in headers:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            if self.path != PREFIX + "/invocation/next":
                return self.reply(404)
            now = time.monotonic()
            with rt.lock:
                if rt.first_next_at is None:
                    rt.first_next_at = now
                event = rt.events.pop(0) if rt.events else None
            rt.first_next.set()
            if event is None:
                # Nothing more to do: hold the long poll, as the real API does.
                rt.stop.wait()
                return self.reply(503)
            rid = str(uuid.uuid4())
            body = json.dumps(event).encode()
            deadline = int((time.time() + 30) * 1000)
            with rt.lock:
                rt.handed_out[rid] = time.monotonic()
            self.reply(200, body, [
                ("Content-Type", "application/json"),
                ("Lambda-Runtime-Aws-Request-Id", rid),
                ("Lambda-Runtime-Deadline-Ms", str(deadline)),
                ("Lambda-Runtime-Invoked-Function-Arn",
                 "arn:aws:lambda:us-east-1:123456789012:function:token"),
                ("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000"),
            ])

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            parts = self.path[len(PREFIX):].strip("/").split("/")
            now = time.monotonic()
            if len(parts) == 3 and parts[0] == "invocation" and parts[2] == "response":
                with rt.lock:
                    start = rt.handed_out.pop(parts[1], None)
                    if start is not None:
                        rt.latencies.append(now - start)
                    try:
                        rt.statuses.append(json.loads(body).get("statusCode"))
                    except ValueError:
                        rt.statuses.append(None)
                    if len(rt.statuses) >= rt.expected:
                        rt.done.set()
                return self.reply(202)
            rt.errors.append((self.path, body[:500]))
            rt.done.set()
            return self.reply(202)

    return Handler


class QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        # A function process killed mid long-poll resets its connection: expected.
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return
        super().handle_error(request, client_address)


def start_server(rt):
    server = QuietServer(("127.0.0.1", 0), make_handler(rt))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def function_env(port):
    env = dict(os.environ)
    env.update({
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{port}",
        "AWS_LAMBDA_FUNCTION_NAME": "token",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
        "AWS_LAMBDA_LOG_GROUP_NAME": "bench",
        "RUST_LOG": env.get("RUST_LOG", "warn"),
    })
    env.pop("M2M_CLAIMS_HOOK", None)
    return env


def stop_process(proc):
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def cmd_init(args):
    samples = []
    for _ in range(args.starts):
        rt = Runtime([])
        server = start_server(rt)
        env = function_env(server.server_address[1])
        t0 = time.monotonic()
        proc = subprocess.Popen([args.binary], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        ok = rt.first_next.wait(timeout=30)
        if not ok:
            stop_process(proc)
            sys.exit(f"init: no /next within 30 s; stderr: {proc.stderr.read()[-2000:]!r}")
        samples.append((rt.first_next_at - t0) * 1000)
        rt.stop.set()
        stop_process(proc)
        server.shutdown()
        server.server_close()
    samples.sort()
    print(f"init (process start -> first /invocation/next), {len(samples)} starts: "
          f"min {samples[0]:.1f} ms, median {statistics.median(samples):.1f} ms, "
          f"max {samples[-1]:.1f} ms")


def token_event(client_id, secret, audience, scope):
    with open(FIXTURE) as f:
        event = json.load(f)
    from urllib.parse import urlencode
    params = {"grant_type": "client_credentials", "audience": audience}
    if scope:
        params["scope"] = scope
    body = urlencode(params)
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    event["headers"]["authorization"] = f"Basic {basic}"
    event["headers"]["content-length"] = str(len(body))
    event["body"] = body
    return event


def pct(values, p):
    values = sorted(values)
    k = max(0, min(len(values) - 1, int(round(p / 100 * len(values) + 0.5)) - 1))
    return values[k]


def cmd_serve(args):
    event = token_event(args.client_id, args.client_secret, args.audience, args.scope)
    rt = Runtime([event] * args.requests)
    server = start_server(rt)
    proc = subprocess.Popen([args.binary], env=function_env(server.server_address[1]),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    finished = rt.done.wait(timeout=300)
    hwm = rss = None
    try:
        with open(f"/proc/{proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    hwm = int(line.split()[1])
                elif line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
    except OSError:
        pass
    rt.stop.set()
    stop_process(proc)
    server.shutdown()
    if not finished or rt.errors:
        sys.exit(f"serve: finished={finished} errors={rt.errors} "
                 f"stderr={proc.stderr.read()[-2000:]!r}")
    bad = [s for s in rt.statuses if s != 200]
    lat = [x * 1000 for x in rt.latencies]
    # The first request after init resolves nothing new, but pays the first Sign.
    print(f"serve {args.requests} requests (label: {args.label}): non-200 {len(bad)}; "
          f"handler latency p50 {pct(lat, 50):.2f} ms, p99 {pct(lat, 99):.2f} ms, "
          f"max {max(lat):.2f} ms; peak RSS (VmHWM) {hwm / 1024:.1f} MiB, "
          f"RSS at end {rss / 1024:.1f} MiB")
    if bad:
        sys.exit(1)


def cmd_reuse(args):
    import boto3
    region = os.environ.get("AWS_REGION", "us-east-1")
    table = boto3.resource("dynamodb", region_name=region).Table(args.table)
    table.update_item(
        Key={"PK": f"API#{args.audience}", "SK": "API"},
        UpdateExpression="SET #r = :m",
        ExpressionAttributeNames={"#r": "reuse"},
        ExpressionAttributeValues={":m": args.mode},
        ConditionExpression="attribute_exists(PK)",
    )
    print(f"reuse: API {args.audience} set to {args.mode}")


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    i = sub.add_parser("init")
    i.add_argument("--binary", required=True)
    i.add_argument("--starts", type=int, default=20)
    s = sub.add_parser("serve")
    s.add_argument("--binary", required=True)
    s.add_argument("--requests", type=int, default=100)
    s.add_argument("--client-id", required=True)
    s.add_argument("--client-secret", required=True)
    s.add_argument("--audience", required=True)
    s.add_argument("--scope", default=None)
    s.add_argument("--label", default="")
    r = sub.add_parser("reuse")
    r.add_argument("--table", required=True)
    r.add_argument("--audience", required=True)
    r.add_argument("--mode", choices=["on", "off"], required=True)
    args = p.parse_args()
    {"init": cmd_init, "serve": cmd_serve, "reuse": cmd_reuse}[args.cmd](args)


if __name__ == "__main__":
    main()
