#!/usr/bin/env python3
"""A token server for a test registry: the "Docker token authentication" of the distribution spec
(what Docker Hub and most registries do), offline, on 127.0.0.1. Started by registry.sh.

usage: token-server.py DIR USER PASSWORD

DIR holds token.key (an RSA key) and token.crt (its self-signed certificate, the registry's
rootcertbundle). The server binds 127.0.0.1 on a free port, writes it to DIR/token.port, and
answers
  GET  /token?service=S&scope=repository:NAME:ACTIONS...   (Authorization: Basic USER:PASSWORD or none)
  POST /token  (form: grant_type=password, username, password, service, scope; docker's OAuth2 way)
with {"token": JWT, "access_token": JWT, "expires_in": 300, "issued_at": ...}. The JWT is RS256,
signed with `openssl dgst -sha256 -sign` (no Python crypto package needed), its header carrying
the certificate (x5c), issuer "rcontainer-test-issuer", audience the service asked for.
  right USER:PASSWORD  every action asked for, on every repository;
  no credentials       a token granting nothing (the registry then answers 401, as Docker Hub
                       does for a private repository);
  wrong credentials    401 from the token server itself.
Each request is logged to DIR/token.log ("METHOD user=... scope=... -> STATUS").
"""
import base64
import json
import os
import subprocess
import sys
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ISSUER = "rcontainer-test-issuer"


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def main():
    d, user, password = sys.argv[1], sys.argv[2], sys.argv[3]
    key = os.path.join(d, "token.key")
    with open(os.path.join(d, "token.crt")) as f:
        pem = f.read()
    der_b64 = "".join(l for l in pem.splitlines() if l and not l.startswith("-----"))
    log = open(os.path.join(d, "token.log"), "a", buffering=1)

    def sign(service, access):
        now = int(time.time())
        header = {"alg": "RS256", "typ": "JWT", "x5c": [der_b64]}
        claims = {
            "iss": ISSUER, "sub": user if access else "", "aud": service,
            "exp": now + 300, "nbf": now - 10, "iat": now,
            "jti": b64url(os.urandom(12)), "access": access,
        }
        signing_input = (b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())).encode()
        sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key], input=signing_input,
                             stdout=subprocess.PIPE, check=True).stdout
        return signing_input.decode() + "." + b64url(sig)

    def access_for(scopes):
        access = []
        for s in scopes:
            for one in s.split(" "):
                parts = one.split(":")
                if len(parts) >= 3:
                    access.append({"type": parts[0], "name": ":".join(parts[1:-1]),
                                   "actions": [a for a in parts[-1].split(",") if a]})
        return access

    class Handler(BaseHTTPRequestHandler):
        def reply(self, status, obj, who, scopes):
            body = json.dumps(obj).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            if status == 401:
                self.send_header("WWW-Authenticate", 'Basic realm="rcontainer-test-token"')
            self.end_headers()
            self.wfile.write(body)
            log.write(f"{self.command} user={who} scope={' '.join(scopes)} -> {status}\n")

        def answer(self, q, creds):
            service = (q.get("service") or [""])[0]
            scopes = q.get("scope") or []
            if creds is None:
                access, who = [], "(anonymous)"
            elif creds == (user, password):
                access, who = access_for(scopes), creds[0]
            else:
                return self.reply(401, {"errors": [{"code": "UNAUTHORIZED", "message": "wrong user or password"}]},
                                  creds[0], scopes)
            t = sign(service, access)
            self.reply(200, {"token": t, "access_token": t, "expires_in": 300,
                             "issued_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}, who, scopes)

        def do_GET(self):
            u = urllib.parse.urlsplit(self.path)
            if u.path != "/token":
                return self.reply(404, {"errors": [{"code": "NOT_FOUND"}]}, "-", [])
            creds = None
            h = self.headers.get("Authorization", "")
            if h.lower().startswith("basic "):
                try:
                    u_, _, p_ = base64.b64decode(h[6:].strip()).decode().partition(":")
                    creds = (u_, p_)
                except ValueError:
                    creds = ("(malformed)", "")
            self.answer(urllib.parse.parse_qs(u.query), creds)

        def do_POST(self):
            n = int(self.headers.get("Content-Length") or 0)
            q = urllib.parse.parse_qs(self.rfile.read(n).decode())
            creds = None
            if (q.get("grant_type") or [""])[0] == "password":
                creds = ((q.get("username") or [""])[0], (q.get("password") or [""])[0])
            self.answer(q, creds)

        def log_message(self, *a):
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    tmp = os.path.join(d, "token.port.tmp")
    with open(tmp, "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(tmp, os.path.join(d, "token.port"))
    srv.serve_forever()


if __name__ == "__main__":
    main()
