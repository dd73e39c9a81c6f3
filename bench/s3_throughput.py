#!/usr/bin/python3
"""S3 throughput of tarn against the same machine's filesystem, measured in one run.

Prints, for each figure, tarn's rate, the baseline's rate and their ratio, with the
issue's targets:
  large PUT  (1 GiB in 64 MiB objects)  >= 0.7 x  write+fsync of the same bytes
  large GET  (the same objects)         >= 0.8 x  reading them back with cat
  small PUT  (10,000 x 4 KiB, 8 clients) >= 0.8 x  8 writers creating 4 KiB files + fsync
  peak RSS of the server                 <  100 MiB
Each ratio is the median over paired runs (tarn and the baseline back to back, in
alternating order), since the disk of a virtual machine drifts more than the differences. Clients sign with SigV4 (UNSIGNED-PAYLOAD for
the large bodies, as SDKs do over TLS; the small PUTs sign their payload hash)."""
import argparse
import datetime
import hashlib
import hmac
import http.client
import multiprocessing
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

MiB = 1 << 20


def sign(method, path, host, ak, sk, payload_hash, now=None):
    """Minimal SigV4 (S3 flavour) for a path with no query string."""
    t = now or datetime.datetime.now(datetime.timezone.utc)
    amz = t.strftime("%Y%m%dT%H%M%SZ")
    day = amz[:8]
    scope = f"{day}/us-east-1/s3/aws4_request"
    hdrs = {"host": host, "x-amz-content-sha256": payload_hash, "x-amz-date": amz}
    signed = ";".join(sorted(hdrs))
    canon = "\n".join([method, path, "", *[f"{k}:{hdrs[k]}" for k in sorted(hdrs)], "", signed,
                       payload_hash])
    sts = "\n".join(["AWS4-HMAC-SHA256", amz, scope, hashlib.sha256(canon.encode()).hexdigest()])
    k = ("AWS4" + sk).encode()
    for part in (day, "us-east-1", "s3", "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
    hdrs["Authorization"] = (f"AWS4-HMAC-SHA256 Credential={ak}/{scope}, SignedHeaders={signed}, "
                             f"Signature={sig}")
    del hdrs["host"]
    return hdrs


class Tarn:
    def __init__(self, binary, data, wrapper=()):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.host = f"127.0.0.1:{self.port}"
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            pg_port = s.getsockname()[1]
        self.data = data
        self.log = open(os.path.join(os.path.dirname(os.path.dirname(data)), "tarn-bench.log"), "ab")
        self.proc = subprocess.Popen([*wrapper, binary, "serve", "--data", data, "--listen", self.host,
                                      "--pg-listen", f"127.0.0.1:{pg_port}",
                                      "--promotion", "off"],
                                     stdout=self.log, stderr=self.log)
        for _ in range(300):
            try:
                urllib.request.urlopen(f"http://{self.host}/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.05)
        creds = open(os.path.join(data, "admin.credentials")).read().split("\n")
        kv = dict(l.split(" = ", 1) for l in creds if " = " in l)
        self.ak, self.sk = kv["aws_access_key_id"], kv["aws_secret_access_key"]

    def peak_rss_mib(self):
        for line in open(f"/proc/{self.proc.pid}/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self):
        pid = self.proc.pid
        try:  # under strace, signal the server itself
            if os.path.basename(os.readlink(f"/proc/{pid}/exe")) == "strace":
                with open(f"/proc/{pid}/task/{pid}/children") as f:
                    pid = int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass
        os.kill(pid, signal.SIGTERM)
        self.proc.wait(timeout=60)


def wait_written(t, timeout=300):
    """Seconds until the server's background writer has given every small object held in
    the catalog its file (0 for a build without one)."""
    import sqlite3
    start = time.perf_counter()
    db = sqlite3.connect(f"file:{t.data}/tarn.db?mode=ro", uri=True, timeout=30)
    try:
        while time.perf_counter() - start < timeout:
            try:
                if not db.execute("SELECT count(*) FROM object_pending").fetchone()[0]:
                    break
            except sqlite3.OperationalError as e:  # an earlier build: no such table
                if "no such table" in str(e):
                    break
                raise
            time.sleep(0.01)
    finally:
        db.close()
    return time.perf_counter() - start


def fsync_census(binary, scratch, count, size, clients, use_wrk):
    """fsyncs per acknowledged small PUT, read from a system-call trace of a server of its
    own (strace, only fsync and fdatasync traced): the object's own, its folder's, the
    catalog WAL's, and the rest (audit log, checkpoints). Not timed."""
    if not shutil.which("strace"):
        return None
    log = os.path.join(scratch, "census.trace")
    t = Tarn(binary, os.path.join(scratch, "census-lake"),
             wrapper=["strace", "-f", "-qq", "-y", "--seccomp-bpf", "-e",
                      "trace=fsync,fdatasync", "-o", log])
    try:
        with open(log) as f:
            f.seek(0, 2)
            start = f.tell()
        if use_wrk:
            run_small_wrk(t, "census/t", count, size, clients, scratch)
        else:
            run_small_tarn(t, "census/t", count, size, clients)
        wait_written(t)  # the files written in the background count too
        time.sleep(0.2)
        with open(log) as f:
            f.seek(start)
            lines = f.read().splitlines()
    finally:
        t.stop()
    kinds = {"object": 0, "folder": 0, "catalog WAL": 0, "other": 0}
    for line in lines:
        i = line.find("<")
        j = line.find(">", i)
        if "fsync(" not in line and "fdatasync(" not in line or i < 0:
            continue
        path = line[i + 1:j]
        if path.endswith("/tarn.db-wal"):
            kinds["catalog WAL"] += 1
        elif os.path.isdir(path):
            kinds["folder"] += 1
        elif "/objects/" in path or "/tmp/" in path:
            kinds["object"] += 1
        else:
            kinds["other"] += 1
    shutil.rmtree(os.path.join(scratch, "census-lake"), ignore_errors=True)
    return {k: v / count for k, v in kinds.items()}


def connect(t):
    """One keep-alive connection, as SDKs and the AWS CLI keep theirs."""
    return http.client.HTTPConnection(t.host, timeout=600, blocksize=4 * MiB)


def put_large(t, key, body, c=None):
    own = c is None
    c = c or connect(t)
    h = sign("PUT", f"/raw/{key}", t.host, t.ak, t.sk, "UNSIGNED-PAYLOAD")
    h["Content-Length"] = str(len(body))
    c.request("PUT", f"/raw/{key}", body=body, headers=h)
    r = c.getresponse()
    r.read()
    assert r.status == 200, r.status
    if own:
        c.close()


def get_large(t, key, c=None):
    own = c is None
    c = c or connect(t)
    h = sign("GET", f"/raw/{key}", t.host, t.ak, t.sk, hashlib.sha256(b"").hexdigest())
    c.request("GET", f"/raw/{key}", headers=h)
    r = c.getresponse()
    n = 0
    buf = bytearray(4 * MiB)
    while True:
        got = r.readinto(buf)
        if not got:
            break
        n += got
    assert r.status == 200, r.status
    if own:
        c.close()
    return n


def put_stream(t, key, total, chunk):
    """PUTs `total` bytes produced on the fly (the client holds one chunk)."""
    def gen():
        left = total
        while left:
            n = min(left, len(chunk))
            yield chunk[:n]
            left -= n
    c = http.client.HTTPConnection(t.host, timeout=3600)
    h = sign("PUT", f"/raw/{key}", t.host, t.ak, t.sk, "UNSIGNED-PAYLOAD")
    h["Content-Length"] = str(total)
    c.request("PUT", f"/raw/{key}", body=gen(), headers=h, encode_chunked=False)
    r = c.getresponse()
    r.read()
    assert r.status == 200, r.status
    c.close()


def small_worker(args):
    host, ak, sk, prefix, keys, size = args
    body = os.urandom(size)
    ph = hashlib.sha256(body).hexdigest()
    c = http.client.HTTPConnection(host, timeout=60)
    for k in keys:
        path = f"/raw/{prefix}/{k}"
        h = sign("PUT", path, host, ak, sk, ph)
        h["Content-Length"] = str(size)
        c.request("PUT", path, body=body, headers=h)
        r = c.getresponse()
        r.read()
        if r.status != 200:
            raise RuntimeError(f"PUT {path}: {r.status}")
    c.close()


def run_small_tarn(t, prefix, count, size, clients):
    keys = [f"obj-{i:06d}" for i in range(count)]
    chunks = [(t.host, t.ak, t.sk, prefix, keys[i::clients], size) for i in range(clients)]
    with multiprocessing.Pool(clients) as pool:
        start = time.perf_counter()
        pool.map(small_worker, chunks)
        return count / (time.perf_counter() - start)


def run_small_wrk(t, prefix, count, size, clients, scratch):
    """The same PUTs replayed by wrk (C, 2 threads): the clients then take little of the
    machine's two cores, so the figure is the server's. Requests are signed in advance."""
    body = os.urandom(size)
    ph = hashlib.sha256(body).hexdigest()
    path_file = os.path.join(scratch, "wrk-requests")
    with open(path_file, "wb") as f:
        for i in range(count):
            path = f"/raw/{prefix}/obj-{i:06d}"
            h = sign("PUT", path, t.host, t.ak, t.sk, ph)
            head = f"PUT {path} HTTP/1.1\r\nHost: {t.host}\r\nContent-Length: {size}\r\n"
            head += "".join(f"{k}: {v}\r\n" for k, v in h.items()) + "\r\n"
            rec = head.encode() + body
            f.write(f"{len(rec)}\n".encode() + rec)
    threads = 2
    env = dict(os.environ, TARN_BENCH_REQUESTS=path_file, TARN_BENCH_THREADS=str(threads))
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "small_put.lua")
    proc = subprocess.Popen(["wrk", "-t", str(threads), "-c", str(clients), "-d", "600s",
                             "-s", script, f"http://{t.host}/"], env=env,
                            stdout=subprocess.PIPE, text=True)
    ready = finished = bad = 0
    start = end = None
    for line in proc.stdout:
        if line.startswith("ready"):
            ready += 1
            if ready == threads:
                start = time.perf_counter()
        elif line.startswith("finished"):
            finished += 1
            bad += int(line.split()[1])
            if finished == threads:
                end = time.perf_counter()
                break
    proc.kill()
    proc.wait()
    os.unlink(path_file)
    if end is None or bad:
        raise RuntimeError(f"wrk: {finished} of {threads} threads finished, {bad} failed PUTs")
    return count / (end - start)


def baseline_write_one(path, body):
    start = time.perf_counter()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    view = memoryview(body)
    while view:
        w = os.write(fd, view[:16 * MiB])
        view = view[w:]
    os.fsync(fd)
    os.close(fd)
    return time.perf_counter() - start


def drop_caches(t=None, key=None):
    """Empties the page cache so both reads come from the disk, as a real read of a large
    dataset would; False when this machine does not allow it (then both read warm).
    Dropping the cache also evicts the readers' own code and tarn's index pages, which a
    running server keeps warm: a HEAD of the object (and a `cat` of nothing) brings those
    back before the timed read, so only the object's bytes come cold."""
    try:
        os.sync()
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        ok = True
    except OSError:
        ok = False
    subprocess.run(["cat", "/dev/null"], check=True)
    if t is not None:
        c = http.client.HTTPConnection(t.host, timeout=60)
        h = sign("HEAD", f"/raw/{key}", t.host, t.ak, t.sk, hashlib.sha256(b"").hexdigest())
        c.request("HEAD", f"/raw/{key}", headers=h)
        r = c.getresponse()
        r.read()
        c.close()
    return ok


def baseline_read_one(path):
    start = time.perf_counter()
    subprocess.run(["cat", path], stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def baseline_small(folder, count, size, writers):
    body = os.urandom(size)
    os.makedirs(folder, exist_ok=True)

    def work(i):
        for j in range(i, count, writers):
            fd = os.open(os.path.join(folder, f"s-{j}"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.write(fd, body)
            os.fsync(fd)
            os.close(fd)

    ts = [threading.Thread(target=work, args=(i,)) for i in range(writers)]
    start = time.perf_counter()
    for x in ts:
        x.start()
    for x in ts:
        x.join()
    return count / (time.perf_counter() - start)


def timed(fn, *args):
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tarn", default="build/tarn")
    ap.add_argument("--dir", default=None, help="scratch folder (default: under build/)")
    ap.add_argument("--large-mib", type=int, default=1024)
    ap.add_argument("--object-mib", type=int, default=64)
    ap.add_argument("--small-count", type=int, default=10000)
    ap.add_argument("--small-size", type=int, default=4096)
    ap.add_argument("--small-batches", type=int, default=10,
                    help="the small PUTs run in this many batches, each paired with a baseline batch")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--huge-gib", type=int, default=0,
                    help="also PUT and GET one object of this many GiB (streaming, RSS check)")
    ap.add_argument("--python-clients", action="store_true",
                    help="small PUTs from Python processes instead of wrk")
    ap.add_argument("--before", default=None,
                    help="an earlier build of tarn: its small-PUT rate is measured in the same "
                         "batches, and its fsyncs per PUT counted beside this build's")
    ap.add_argument("--small-only", action="store_true", help="skip the large PUTs and GETs")
    ap.add_argument("--census-count", type=int, default=2000,
                    help="small PUTs traced to count fsyncs per PUT (0: no census)")
    a = ap.parse_args()

    base = a.dir or os.path.join(os.path.dirname(os.path.abspath(a.tarn)), "bench-scratch")
    os.makedirs(base, exist_ok=True)
    scratch = tempfile.mkdtemp(dir=base)
    fsdir = os.path.join(scratch, "fs")
    os.makedirs(fsdir)
    nbig = 0 if a.small_only else a.large_mib // a.object_mib
    body = os.urandom(a.object_mib * MiB)
    use_wrk = shutil.which("wrk") is not None and not a.python_clients
    # Each figure is measured in pairs (tarn, then the baseline, or the other way round,
    # alternating), and the ratio reported is the median of the pairs' ratios: the disk
    # of a virtual machine drifts by more than the differences measured here.
    pairs = {"put": [], "get": [], "small": [], "written": [], "before": [], "gain": []}
    totals = {k: [0.0, 0.0, 0] for k in pairs}  # tarn seconds, baseline seconds, units
    huge = None
    t = Tarn(os.path.abspath(a.tarn), os.path.join(scratch, "lake"))
    old = Tarn(os.path.abspath(a.before), os.path.join(scratch, "lake-before")) if a.before else None
    census = {}
    try:
        conn = connect(t)
        for i in range(nbig):
            key, path = f"bench/big/obj-{i}", os.path.join(fsdir, f"big-{i}")
            if i % 2:
                tt = timed(put_large, t, key, body, conn)
                tb = baseline_write_one(path, body)
            else:
                tb = baseline_write_one(path, body)
                tt = timed(put_large, t, key, body, conn)
            pairs["put"].append(tb / tt)
            totals["put"][0] += tt
            totals["put"][1] += tb
            totals["put"][2] += len(body)
        os.sync()
        time.sleep(1)
        cold = False
        for i in range(nbig):
            key, path = f"bench/big/obj-{i}", os.path.join(fsdir, f"big-{i}")
            if i % 2:
                cold = drop_caches(t, key)
                tt = timed(get_large, t, key, conn)
                cold = drop_caches()
                tb = baseline_read_one(path)
            else:
                cold = drop_caches()
                tb = baseline_read_one(path)
                cold = drop_caches(t, key)
                tt = timed(get_large, t, key, conn)
            pairs["get"].append(tb / tt)
            totals["get"][0] += tt
            totals["get"][1] += tb
            totals["get"][2] += len(body)
        conn.close()
        per = a.small_count // a.small_batches
        for bi in range(a.small_batches):
            prefix, folder = f"bench/small/b{bi}", os.path.join(fsdir, f"small-{bi}")

            def server_batch(srv):
                if use_wrk:
                    return per / run_small_wrk(srv, prefix, per, a.small_size, a.clients, scratch)
                return per / run_small_tarn(srv, prefix, per, a.small_size, a.clients)

            def base_batch():
                return per / baseline_small(folder, per, a.small_size, a.clients)
            # Each batch runs every side once, the order turning from batch to batch.
            def tarn_batch():
                took = server_batch(t)
                # Acknowledged; the files follow in the background. Waiting for them here
                # keeps that work out of the next side's time, and gives the rate at which
                # small objects reach their own files.
                written[bi] = took + wait_written(t)
                return took
            written = {}
            sides = [("tarn", tarn_batch), ("base", base_batch)]
            if old:
                sides.append(("before", lambda: server_batch(old)))
            k = bi % len(sides)
            took = {name: fn() for name, fn in sides[k:] + sides[:k]}
            tt, tb = took["tarn"], took["base"]
            pairs["small"].append(tb / tt)
            totals["small"][0] += tt
            totals["small"][1] += tb
            totals["small"][2] += per
            pairs["written"].append(tb / written[bi])
            totals["written"][0] += written[bi]
            totals["written"][1] += tb
            totals["written"][2] += per
            if old:
                pairs["before"].append(tb / took["before"])
                pairs["gain"].append(took["before"] / tt)
                totals["before"][0] += took["before"]
                totals["before"][1] += tb
                totals["before"][2] += per
        one_writer = baseline_small(os.path.join(fsdir, "small-1w"), min(per, 2000),
                                    a.small_size, 1)
        if a.huge_gib:
            total = a.huge_gib << 30
            start = time.perf_counter()
            put_stream(t, "bench/huge.bin", total, body[:4 * MiB])
            hp = total / (time.perf_counter() - start)
            start = time.perf_counter()
            got = get_large(t, "bench/huge.bin")
            hg = got / (time.perf_counter() - start)
            assert got == total
            huge = (hp, hg)
        rss = t.peak_rss_mib()
        if a.census_count:
            census["tarn"] = fsync_census(os.path.abspath(a.tarn), scratch, a.census_count,
                                          a.small_size, a.clients, use_wrk)
            if old:
                census["before"] = fsync_census(os.path.abspath(a.before), scratch,
                                                a.census_count, a.small_size, a.clients, use_wrk)
    finally:
        t.stop()
        if old:
            old.stop()
        # Deleting only at the end: ext4 slows file creation for a while after many
        # deletions, which would penalise whichever side ran next.
        shutil.rmtree(scratch, ignore_errors=True)

    rows = ([] if a.small_only else [
        ("large PUT", "put", MiB, "MiB/s", "write+fsync", 0.7),
        ("large GET", "get", MiB, "MiB/s", "cat" + (" (cold)" if cold else " (warm)"), 0.8),
    ]) + [("small PUT", "small", 1, "obj/s", f"{a.clients} writers+fsync", 0.8),
          ("  to files", "written", 1, "obj/s", f"{a.clients} writers+fsync", 0.0)]
    if old:
        rows.append(("before", "before", 1, "obj/s", f"{a.clients} writers+fsync", 0.0))
    print(f"\ns3_throughput: {nbig} x {a.object_mib} MiB, {a.small_count} x {a.small_size} B "
          f"with {a.clients} clients ({'wrk' if use_wrk else 'python'}); ratio = median of "
          f"paired runs")
    print(f"{'figure':<10} {'tarn':>10} {'':<6} {'baseline':<16} {'rate':>10} {'ratio':>6} "
          f"{'target':>7}  ok")
    ok_all = True
    for name, k, unit, uname, bname, target in rows:
        tt, tb, units = totals[k]
        ratio = statistics.median(pairs[k])
        ok = ratio >= target
        ok_all &= ok
        print(f"{name:<10} {units / tt / unit:>10.1f} {uname:<6} {bname:<16} "
              f"{units / tb / unit:>10.1f} {ratio:>6.2f} {'>=' + str(target):>7}  "
              f"{'yes' if ok else 'NO'}")
    print(f"{'peak RSS':<10} {rss:>10.1f} {'MiB':<6} {'limit':<16} {100:>10.1f} "
          f"{rss / 100:>6.2f} {'<1.0':>7}  {'yes' if rss < 100 else 'NO'}")
    ok_all &= rss < 100
    print("(small PUT: acknowledged, durable in the catalog; to files: until the background "
          "writer has\n given every one its own fsynced file)")
    print(f"(for scale: one writer creating 4 KiB files with fsync does {one_writer:.0f} files/s here)")
    if old:
        gain = statistics.median(pairs["gain"])
        print(f"small PUT, this build against the earlier one: {gain:.2f}x (median of batches)")
    if census:
        print(f"\nfsyncs per acknowledged small PUT ({a.census_count} PUTs, {a.clients} clients, "
              f"counted in a strace of fsync/fdatasync)")
        cols = list(next(iter(census.values())) or {})
        print(f"{'build':<8} " + " ".join(f"{c:>12}" for c in cols) + f" {'total':>8}")
        for name, kinds in census.items():
            if kinds:
                print(f"{name:<8} " + " ".join(f"{kinds[c]:>12.3f}" for c in cols) +
                      f" {sum(kinds.values()):>8.3f}")
    if huge:
        print(f"{a.huge_gib} GiB object: PUT {huge[0] / MiB:.1f} MiB/s, GET {huge[1] / MiB:.1f} "
              f"MiB/s (server peak RSS above includes it)")
    return 0 if ok_all else 1


if __name__ == "__main__":
    sys.exit(main())
