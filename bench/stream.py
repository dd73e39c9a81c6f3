#!/usr/bin/python3
"""Stream ingestion: durable records/s and MB/s of PutRecordBatch (500 records per call)
from 8 client processes, for 100-byte and 1 KiB JSON records, against the disk's
sequential write+fsync throughput measured in the same run (the same bytes written in
the same batch sizes, each batch fsynced: what acknowledging durably costs at least).

Targets: >= 100,000 records/s with 100-byte records, >= 50 MB/s with 1 KiB records.
Each figure is the median over rounds (tarn and the baseline back to back), and the
server's peak RSS is printed. Clients sign with SigV4 like the AWS SDKs (service
"firehose") but build their body once, so the client side costs little."""
import argparse
import base64
import datetime
import hashlib
import hmac
import http.client
import json
import multiprocessing
import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
import urllib.request

CLIENTS = 8
BATCH = 500


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sign(host, ak, sk, target, body_hash):
    t = datetime.datetime.now(datetime.timezone.utc)
    amz = t.strftime("%Y%m%dT%H%M%SZ")
    day = amz[:8]
    scope = f"{day}/us-east-1/firehose/aws4_request"
    hdrs = {"content-type": "application/x-amz-json-1.1", "host": host, "x-amz-date": amz,
            "x-amz-target": target}
    signed = ";".join(sorted(hdrs))
    canon = "\n".join(["POST", "/", "", *[f"{k}:{hdrs[k]}" for k in sorted(hdrs)], "", signed,
                       body_hash])
    sts = "\n".join(["AWS4-HMAC-SHA256", amz, scope, hashlib.sha256(canon.encode()).hexdigest()])
    k = ("AWS4" + sk).encode()
    for part in (day, "us-east-1", "firehose", "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
    hdrs["Authorization"] = (f"AWS4-HMAC-SHA256 Credential={ak}/{scope}, SignedHeaders={signed}, "
                             f"Signature={sig}")
    return hdrs


def record(size, i):
    base = {"event": "click", "user": f"u{i % 1000}", "region": ["eu", "us", "ap"][i % 3],
            "n": i, "pad": ""}
    text = json.dumps(base)
    base["pad"] = "x" * max(0, size - len(text) - 1)
    return json.dumps(base).encode() + b"\n"


def client(port, ak, sk, name, size, seconds, start, out):
    recs = [{"Data": base64.b64encode(record(size, i)).decode()} for i in range(BATCH)]
    body = json.dumps({"DeliveryStreamName": name, "Records": recs}).encode()
    h = hashlib.sha256(body).hexdigest()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    start.wait()
    end = time.time() + seconds
    n = 0
    while time.time() < end:
        conn.request("POST", "/", body=body,
                     headers=sign(f"127.0.0.1:{port}", ak, sk,
                                  "Firehose_20150804.PutRecordBatch", h))
        r = conn.getresponse()
        data = r.read()
        if r.status != 200:
            raise SystemExit(f"HTTP {r.status}: {data[:200]!r}")
        n += BATCH - json.loads(data)["FailedPutCount"]
    out.put(n)


def run_tarn(port, ak, sk, name, size, seconds):
    start = multiprocessing.Event()
    out = multiprocessing.Queue()
    procs = [multiprocessing.Process(target=client, args=(port, ak, sk, name, size, seconds,
                                                          start, out)) for _ in range(CLIENTS)]
    for p in procs:
        p.start()
    time.sleep(1)
    t0 = time.time()
    start.set()
    total = sum(out.get() for _ in procs)
    elapsed = time.time() - t0
    for p in procs:
        p.join()
    return total / elapsed, total * size / elapsed / 1e6


def run_disk(folder, size, seconds):
    """Sequential writes of one batch's frames, each followed by fdatasync."""
    chunk = b"x" * ((size + 24) * BATCH)
    path = os.path.join(folder, "baseline.bin")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    n = 0
    t0 = time.time()
    while time.time() - t0 < seconds:
        os.write(fd, chunk)
        os.fdatasync(fd)
        n += 1
    elapsed = time.time() - t0
    os.close(fd)
    os.unlink(path)
    return n * BATCH / elapsed, n * BATCH * size / elapsed / 1e6


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tarn", default="build/tarn")
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="tarn-bench-stream-")
    data = os.path.join(tmp, "data")
    port = free_port()
    log = open(os.path.join(tmp, "server.log"), "wb")
    srv = subprocess.Popen([a.tarn, "serve", "--data", data, "--listen", f"127.0.0.1:{port}",
                            "--pg-listen", "off"], stdout=log, stderr=log)
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        creds = {}
        for line in open(os.path.join(data, "admin.credentials")):
            if "=" in line:
                k, v = line.split("=", 1)
                creds[k.strip()] = v.strip()
        ak, sk = creds["aws_access_key_id"], creds["aws_secret_access_key"]
        print(f"stream ingestion: {CLIENTS} clients, PutRecordBatch of {BATCH} records, "
              f"{a.rounds} rounds of {a.seconds:g} s, medians")
        for size, target in ((100, "100,000 records/s"), (1024, "50 MB/s")):
            name = f"bench{size}"
            body = json.dumps({"DeliveryStreamName": name, "ExtendedS3DestinationConfiguration": {
                "BucketARN": "arn:aws:s3:::raw", "Prefix": f"bench/s{size}/",
                "BufferingHints": {"SizeInMBs": 64, "IntervalInSeconds": 5}}}).encode()
            c = http.client.HTTPConnection("127.0.0.1", port)
            c.request("POST", "/", body=body, headers=sign(
                f"127.0.0.1:{port}", ak, sk, "Firehose_20150804.CreateDeliveryStream",
                hashlib.sha256(body).hexdigest()))
            r = c.getresponse()
            assert r.status == 200, r.read()
            r.read()
            t_rec, t_mb, d_rec, d_mb = [], [], [], []
            for _ in range(a.rounds):
                rec, mb = run_tarn(port, ak, sk, name, size, a.seconds)
                t_rec.append(rec)
                t_mb.append(mb)
                rec, mb = run_disk(tmp, size, a.seconds)
                d_rec.append(rec)
                d_mb.append(mb)
            tr, tm = statistics.median(t_rec), statistics.median(t_mb)
            dr, dm = statistics.median(d_rec), statistics.median(d_mb)
            print(f"  {size:>5}-byte records: tarn {tr:>10,.0f} records/s {tm:7.1f} MB/s | disk "
                  f"write+fsync {dr:>10,.0f} records/s {dm:7.1f} MB/s | ratio {tm / dm:.2f} "
                  f"(target {target})")
        print(f"  server peak RSS: {rss_kb(srv.pid) / 1024:.0f} MiB")
    finally:
        srv.terminate()
        srv.wait(timeout=60)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
