"""A stand-in provider API for pam-otp-deliver's provider tests, on 127.0.0.1 over HTTPS.

  canned.py CERT KEY RECORD ANSWERS

ANSWERS is a JSON file {"/path": [{"status": N, "body": JSON, "headers": {...}}, ...]}: each
request to a path gets that path's next answer (the last one again once they are used up);
a path not in the file gets 404. A body that is a string is sent as it is (an answer that
is not JSON, or JSON exactly as a provider spells it); any other body is sent as JSON. Every request is appended to RECORD as one JSON line
{method, path, headers, body}. Prints the port on stdout once listening. The test kills it.
"""
import http.server, json, socketserver, ssl, sys, threading

cert, key, record, answers_file = sys.argv[1:5]
with open(answers_file) as f:
    answers = json.load(f)
used = {}
lock = threading.Lock()
ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
ctx.load_cert_chain(cert, key)


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        with lock:
            with open(record, "a") as f:
                f.write(json.dumps({"method": "POST", "path": self.path,
                                    "headers": {k.lower(): v for k, v in self.headers.items()},
                                    "body": body.decode()}) + "\n")
            queue = answers.get(self.path)
            if queue:
                n = used.get(self.path, 0)
                used[self.path] = n + 1
                answer = queue[min(n, len(queue) - 1)]
            else:
                answer = {"status": 404, "body": {}}
        body = answer.get("body", {})
        out = (body if isinstance(body, str) else json.dumps(body)).encode()
        self.send_response(answer["status"])
        self.send_header("Content-Type", "application/json")
        for k, v in answer.get("headers", {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args):
        pass


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


server = Server(("127.0.0.1", 0), Handler)
server.socket = ctx.wrap_socket(server.socket, server_side=True)
print(server.server_address[1], flush=True)
server.serve_forever()
