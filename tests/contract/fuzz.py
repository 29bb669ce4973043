"""Contract fuzzing: schemathesis against the real server and its own spec, anonymously and
as each role, with every check. Exits non-zero on any failure.

    python3 fuzz.py SERVER_BINARY [role ...]   (roles: anonymous admin secretariat coordinator
                                               focal_point member; default all)

Each role gets a server of its own, freshly loaded with the demo Compact: an administrator's
run suspends organizations and deactivates users, which must not decide what the next role
sees. Administrators and the secretariat must use a second factor, so their TOTP is enrolled
first, with a code computed from the secret (RFC 6238, standard library only).
"""

import base64
import hashlib
import hmac
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request

PASSWORD = "compact demo passphrase 2026"
ROLES = {
    "anonymous": None,
    "admin": "admin@unoct.demo",
    "secretariat": "secretariat@unoct.demo",
    "coordinator": "coordinator@oic.demo",
    "focal_point": "focal.point@oic.demo",
    "member": "member@oic.demo",
}
HERE = os.path.dirname(os.path.abspath(__file__))


def call(base, method, path, body=None, token=None):
    request = urllib.request.Request(base + path, method=method)
    request.add_header("content-type", "application/json")
    if token:
        request.add_header("authorization", "Bearer " + token)
    data = json.dumps(body).encode() if body is not None else None
    with urllib.request.urlopen(request, data) as response:
        text = response.read()
        return json.loads(text) if text else None


def totp(secret):
    key = base64.b32decode(secret.upper() + "=" * (-len(secret) % 8))
    counter = int(time.time() // 30)
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    code = (struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF) % 1_000_000
    return f"{code:06d}"


def sign_in(base, email):
    tokens = call(base, "POST", "/api/v1/auth/login", {"email": email, "password": PASSWORD})
    access = tokens["access_token"]
    me = call(base, "GET", "/api/v1/me", token=access)
    if me.get("role") in ("admin", "secretariat"):
        # Until a second factor is enrolled these roles may only enrol; enrol, then sign in
        # again with it so the token carries the second factor.
        secret = call(base, "POST", "/api/v1/me/mfa/totp", {}, token=access)["secret"]
        confirmed = call(
            base, "POST", "/api/v1/me/mfa/totp/confirm", {"code": totp(secret)}, token=access
        )
        # The code just used is spent; a recovery code signs in without waiting 30 s.
        login = {"email": email, "password": PASSWORD, "totp": confirmed["recovery_codes"][0]}
        access = call(base, "POST", "/api/v1/auth/login", login)["access_token"]
    return access


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(binary, data_dir, log):
    port = free_port()
    env = dict(
        os.environ,
        COMPACT_DATA_DIR=data_dir,
        COMPACT_LOG_LEVEL="warn",
        # The fuzzer is one caller sending thousands of requests.
        COMPACT_RATE_LIMIT_BURST="1000000",
        COMPACT_RATE_LIMIT_REPLENISH_MS="1",
        COMPACT_ADDRESS_LIMIT_BURST="1000000",
        COMPACT_ADDRESS_LIMIT_REPLENISH_MS="1",
        COMPACT_LOGIN_BURST="1000000",
        COMPACT_LOGIN_REPLENISH_MS="1",
    )
    server = subprocess.Popen(
        [binary, "serve", "--demo", "--bind", f"127.0.0.1:{port}"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        if server.poll() is not None:
            sys.exit(f"the server exited with {server.returncode}; see {log.name}")
        try:
            urllib.request.urlopen(base + "/healthz")
            return server, base
        except OSError:
            time.sleep(0.1)
    server.kill()
    sys.exit("the server did not answer within 30 s")


def fuzz(binary, schemathesis, role, work):
    data_dir = tempfile.mkdtemp(prefix=f"{role}-", dir=work)
    with open(os.path.join(work, f"{role}.log"), "w+") as log:
        server, base = start_server(binary, data_dir, log)
        try:
            command = [
                schemathesis,
                "--config-file",
                os.path.join(HERE, "schemathesis.toml"),
                "run",
                base + "/api/v1/openapi.json",
                "--url",
                base,
            ]
            if ROLES[role]:
                token = sign_in(base, ROLES[role])
                command += ["--header", "Authorization: Bearer " + token]
            print(f"\n=== schemathesis as {role}", flush=True)
            passed = subprocess.run(command).returncode == 0
        finally:
            server.terminate()
            server.wait(timeout=30)
        log.seek(0)
        panics = [line for line in log if "panicked" in line]
    if panics:
        print(f"the server panicked as {role}:\n" + "".join(panics), file=sys.stderr)
    return passed and not panics


def main():
    binary = os.path.abspath(sys.argv[1])
    roles = sys.argv[2:] or list(ROLES)
    unknown = [role for role in roles if role not in ROLES]
    if unknown:
        sys.exit("unknown roles: " + ", ".join(unknown))
    schemathesis = os.environ.get("SCHEMATHESIS", "schemathesis")
    with tempfile.TemporaryDirectory(prefix="compact-contract-") as work:
        failed = [role for role in roles if not fuzz(binary, schemathesis, role, work)]
    if failed:
        print("contract fuzzing failed as: " + ", ".join(failed), file=sys.stderr)
        sys.exit(1)
    print("contract fuzzing passed as: " + ", ".join(roles))


if __name__ == "__main__":
    main()
