#!/usr/bin/env python3
"""RSS of a release `backbone` under concurrent large request bodies (issue 8, item 9).

Starts the binary on a fresh data dir and free ports, creates an OAuth client (CLI) and N
identities with their datawallets, then sends N concurrent POST /api/v2/Datawallet/Modifications
of SIZE MiB each (or, with MODE "files", N concurrent file uploads of SIZE MiB) and reports
VmRSS/VmHWM before, at the peak (sampled every 50 ms), and 10, 20 and 30 s after the last
answer, then the modes of the data dir's files and whether `openssl pkey` reads the key.
Needs Python 3 with `requests` and `cryptography`; sends to 127.0.0.1 only.
Usage: scripts/large_bodies_rss.py target/release/backbone [N=25] [SIZE_MIB=19] [MODE=datawallet]
"""
import base64, json, os, shutil, socket, subprocess, sys, tempfile, threading, time
import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives import serialization

BIN = sys.argv[1]
N = int(sys.argv[2]) if len(sys.argv) > 2 else 25
SIZE_MIB = float(sys.argv[3]) if len(sys.argv) > 3 else 19
MODE = sys.argv[4] if len(sys.argv) > 4 else "datawallet"  # or "files"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def status(pid: int) -> dict:
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = int(value.split()[0]) // 1024
    return fields


def main():
    data_dir = tempfile.mkdtemp(prefix="backbone-rss-")
    port, admin = free_port(), free_port()
    env = dict(os.environ, BACKBONE_DATA_DIR=data_dir, BACKBONE_LOG__LEVEL="warn",
               BACKBONE_CONSUMER_API__LISTEN=f"127.0.0.1:{port}",
               BACKBONE_ADMIN_API__LISTEN=f"127.0.0.1:{admin}")
    subprocess.run([BIN, "client", "create", "--clientId", "rss", "--clientSecret", "rss-secret",
                    "--defaultTier", "Basic"], env=env, check=True, capture_output=True)
    server = subprocess.Popen([BIN], env=env, stderr=open(os.path.join(data_dir, "log"), "w"))
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 30
        while True:
            try:
                if requests.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert time.time() < deadline, "server did not start"
            time.sleep(0.1)
        headers_of = []
        addresses = []
        for _ in range(N):
            token, address = identity(base)
            headers = {"Authorization": f"Bearer {token}", "X-Supported-Datawallet-Version": "1"}
            addresses.append(address)
            run = requests.post(f"{base}/api/v2/SyncRuns", json={"type": "DatawalletVersionUpgrade"},
                                headers=headers).json()["result"]["syncRun"]["id"]
            requests.put(f"{base}/api/v2/SyncRuns/{run}/FinalizeDatawalletVersionUpgrade",
                         json={"newDatawalletVersion": 1}, headers=headers).raise_for_status()
            headers_of.append(headers)
        payload = b64url(os.urandom(int(SIZE_MIB * 1024 * 1024 * 3 / 4) - 200))
        body = json.dumps({"modifications": [{"type": "Create", "objectIdentifier": "o", "collection": "c",
                                              "payloadCategory": "p", "encryptedPayload": payload,
                                              "datawalletVersion": 1}]}).encode()
        time.sleep(2)
        before = status(server.pid)
        peak = {"VmRSS": 0}
        done = threading.Event()

        def sample():
            while not done.is_set():
                peak["VmRSS"] = max(peak["VmRSS"], status(server.pid)["VmRSS"])
                time.sleep(0.05)

        sampler = threading.Thread(target=sample)
        sampler.start()
        results = []

        content = os.urandom(int(SIZE_MIB * 1024 * 1024))

        def send(headers, address):
            if MODE == "files":
                fields = {"cipherHash": b64url(b"hash"), "owner": address,
                          "ownerSignature": base64.b64encode(b"sig").decode(),
                          "expiresAt": "2999-01-01T00:00:00.000Z",
                          "encryptedProperties": base64.b64encode(b"properties").decode()}
                files = [("content", ("cipher.bin", content))] + [(k, (None, v)) for k, v in fields.items()]
                r = requests.post(f"{base}/api/v2/Files", files=files, headers=headers, timeout=300)
            else:
                r = requests.post(f"{base}/api/v2/Datawallet/Modifications", data=body,
                                  headers=dict(headers, **{"Content-Type": "application/json"}), timeout=300)
            results.append(r.status_code)
            if r.status_code >= 400 and len(results) < 3:
                print(r.status_code, r.text[:300])

        started = time.time()
        threads = [threading.Thread(target=send, args=(h, a)) for h, a in zip(headers_of, addresses)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.time() - started
        done.set()
        sampler.join()
        at_end = status(server.pid)
        later = []
        for _ in range(3):
            time.sleep(10)
            later.append(status(server.pid)["VmRSS"])
        after = {"VmRSS": later[0]}
        counts = {s: results.count(s) for s in sorted(set(results))}
        print(f"{MODE}: {N} x {len(body if MODE != 'files' else content) / 2**20:.1f} MiB: statuses {counts}, {wall:.1f} s")
        print(f"RSS before {before['VmRSS']} MiB; peak {peak['VmRSS']} MiB (VmHWM {at_end['VmHWM']} MiB); "
              f"at end {at_end['VmRSS']} MiB; 10 s after {after['VmRSS']} MiB (20 s: {later[1]}, 30 s: {later[2]})")
    finally:
        for name in ("", "backbone.db", "jwt-signing-key.pem", "admin-api-key"):
            path = os.path.join(data_dir, name)
            if os.path.exists(path):
                print(f"mode {oct(os.stat(path).st_mode & 0o777)} {name or 'data dir'}")
        check = subprocess.run(["openssl", "pkey", "-noout", "-in", os.path.join(data_dir, "jwt-signing-key.pem")],
                               capture_output=True, text=True)
        print(f"openssl pkey: exit {check.returncode} {check.stderr.strip()[:200]}")
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(data_dir, ignore_errors=True)


def identity(base: str) -> str:
    key = Ed25519PrivateKey.generate()
    pub = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    challenge = requests.post(f"{base}/api/v2/Challenges", json={}).json()["result"]
    text = json.dumps({"expiresAt": challenge["expiresAt"], "id": challenge["id"], "type": "Identity"},
                      separators=(",", ":"))
    signature = b64url(json.dumps({"sig": b64url(key.sign(text.encode())), "alg": 2,
                                   "@type": "CryptoSignature"}, separators=(",", ":")).encode())
    created = requests.post(f"{base}/api/v2/Identities", json={
        "clientId": "rss", "clientSecret": "rss-secret",
        "identityPublicKey": b64url(json.dumps({"pub": b64url(pub), "alg": 3}, separators=(",", ":")).encode()),
        "devicePassword": "password", "identityVersion": 1,
        "signedChallenge": {"challenge": text, "signature": signature}})
    assert created.status_code == 201, created.text
    username = created.json()["result"]["device"]["username"]
    token = requests.post(f"{base}/connect/token", data={
        "grant_type": "password", "client_id": "rss", "client_secret": "rss-secret",
        "username": username, "password": "password"})
    assert token.status_code == 200, token.text
    return token.json()["access_token"], created.json()["result"]["address"]


if __name__ == "__main__":
    main()
