"""Local receivers for pam-otp-deliver's tests, on 127.0.0.1, port chosen by the OS.

  receiver.py https CERT KEY RECORD STATUS|hang   HTTPS; each request appended to RECORD
                                                  as one JSON line {method, path, headers, body}
  receiver.py smtp  CERT KEY RECORD               SMTP with STARTTLS and AUTH PLAIN/LOGIN;
                                                  each message appended to RECORD as JSON
                                                  {auth, mail_from, rcpt_to, data, tls}

Prints the port on stdout once listening. The test kills it.
"""
import base64, http.server, json, socket, socketserver, ssl, sys, time

mode, cert, key, record = sys.argv[1:5]
ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
ctx.load_cert_chain(cert, key)


def save(entry):
    with open(record, "a") as f:
        f.write(json.dumps(entry) + "\n")


if mode == "https":
    answer = sys.argv[5]

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            save({"method": "POST", "path": self.path,
                  "headers": {k.lower(): v for k, v in self.headers.items()},
                  "body": body.decode()})
            if answer == "hang":
                time.sleep(3600)
            self.send_response(int(answer))
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True

    server = Server(("127.0.0.1", 0), Handler)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    print(server.server_address[1], flush=True)
    server.serve_forever()

elif mode == "smtp":
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)
    print(listener.getsockname()[1], flush=True)
    while True:
        conn, _ = listener.accept()
        f = conn.makefile("rwb")
        tls = False

        def send(line):
            f.write(line.encode() + b"\r\n")
            f.flush()

        send("220 localhost test sink")
        entry = {"auth": None, "mail_from": None, "rcpt_to": [], "data": None}
        while True:
            try:
                line = f.readline()
            except (ssl.SSLError, OSError):
                break
            if not line:
                break
            cmd = line.decode().rstrip("\r\n")
            verb = cmd.split(" ")[0].upper()
            if verb in ("EHLO", "HELO"):
                if tls:
                    f.write(b"250-localhost\r\n250 AUTH PLAIN LOGIN\r\n")
                else:
                    f.write(b"250-localhost\r\n250 STARTTLS\r\n")
                f.flush()
            elif verb == "STARTTLS":
                send("220 go ahead")
                f.close()
                try:
                    conn = ctx.wrap_socket(conn, server_side=True)
                except (ssl.SSLError, OSError):
                    break  # the client did not trust us: it sent nothing

                f = conn.makefile("rwb")
                tls = True
            elif verb == "AUTH":
                parts = cmd.split(" ")
                if parts[1].upper() == "PLAIN":
                    entry["auth"] = base64.b64decode(parts[2]).decode()
                else:
                    send("334 VXNlcm5hbWU6")
                    user = base64.b64decode(f.readline().strip()).decode()
                    send("334 UGFzc3dvcmQ6")
                    pw = base64.b64decode(f.readline().strip()).decode()
                    entry["auth"] = "\0" + user + "\0" + pw
                send("235 ok")
            elif verb == "MAIL":
                entry["mail_from"] = cmd
                send("250 ok")
            elif verb == "RCPT":
                entry["rcpt_to"].append(cmd)
                send("250 ok")
            elif verb == "DATA":
                send("354 go")
                data = []
                while True:
                    l = f.readline()
                    if l in (b".\r\n", b""):
                        break
                    data.append(l.decode())
                entry["data"] = "".join(data)
                entry["tls"] = tls
                save(entry)
                send("250 queued")
            elif verb == "QUIT":
                send("221 bye")
                break
            else:
                send("250 ok")
        conn.close()
