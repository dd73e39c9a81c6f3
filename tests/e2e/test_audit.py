"""The hash-chained audit trail, driven through the tarn CLI: every request (allowed,
failed or denied) becomes a record with principal / action / resource / outcome;
`tarn audit tail` shows them; `tarn audit verify` exits 0 on an intact trail and, after
one flipped byte, a removed line or a forged digest, exits non-zero naming the segment
and the line / seq; GET /v1/audit is for admins only. A power failure's damage (zeros
in the last segment) does not stop the server: it starts, records the gap in a signed
recovery line, and verify reports the gap (failing only with --strict); a missing
segment always fails verify."""
import json
import os
import subprocess
import time

import pytest

from conftest import TARN
from s3util import s3_error, signed


def tail(server, n):
    out = server.tarn("audit", "tail", "-n", str(n), "--data", server.data, "--json").stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def wait_for_record(server, pred, n=50, timeout=5):
    """Records are written when a request completes, just after its response: poll."""
    deadline = time.time() + timeout
    while True:
        recs = tail(server, n)
        if any(pred(r) for r in recs):
            return recs
        if time.time() > deadline:
            raise AssertionError(f"no matching audit record in {recs[-5:]}")
        time.sleep(0.05)


def segment(server, k=1):
    return os.path.join(server.data, "audit", f"seg-{k:06d}.jsonl")


def verify(server):
    return server.tarn("audit", "verify", "--data", server.data, check=False)


@pytest.fixture
def audited(fresh_server):
    """A server that has seen a few allowed, failed and denied requests."""
    s3 = fresh_server.s3()
    s3.put_object(Bucket="raw", Key="audit/a.csv", Body=b"a\n")
    s3.get_object(Bucket="raw", Key="audit/a.csv")["Body"].read()
    with s3_error("NoSuchKey", 404):
        s3.get_object(Bucket="raw", Key="audit/missing")
    ak, _ = fresh_server.admin_keys()
    with s3_error("SignatureDoesNotMatch", 403):
        fresh_server.s3(access_key=ak, secret_key="x" * 40).get_object(Bucket="raw", Key="audit/a.csv")
    wait_for_record(fresh_server, lambda r: r["reason"] == "SignatureDoesNotMatch")
    return fresh_server


def test_verify_intact(audited):
    r = verify(audited)
    assert r.returncode == 0, r.stderr
    assert "audit trail intact" in r.stdout
    assert "records in 1 segment," in r.stdout


def test_tail_json_shows_principal_action_outcome(audited):
    recs = tail(audited, 5)
    assert len(recs) == 5
    for rec in recs:
        assert {"seq", "time", "principal", "action", "resource", "outcome", "status",
                "prev", "hash"} <= set(rec)
    seqs = [r["seq"] for r in recs]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    last4 = [(r["principal"], r["action"], r["resource"], r["outcome"], r["status"])
             for r in recs[-4:]]
    assert last4 == [
        ("admin", "s3:PutObject", "raw/audit/a.csv", "allow", 200),
        ("admin", "s3:GetObject", "raw/audit/a.csv", "allow", 200),
        ("admin", "s3:GetObject", "raw/audit/missing", "error", 404),
        ("anonymous", "s3:GetObject", "raw/audit/a.csv", "deny", 403),
    ]
    assert recs[-1]["reason"] == "SignatureDoesNotMatch"
    assert recs[-2]["reason"] == "NoSuchKey"
    for a, b in zip(recs, recs[1:]):
        assert b["prev"] == a["hash"]


def test_tail_table(audited):
    out = audited.tarn("audit", "tail", "-n", "2", "--data", audited.data).stdout
    lines = out.splitlines()
    assert lines[0].split()[:5] == ["TIME", "PRINCIPAL", "ACTION", "RESOURCE", "OUTCOME"]
    assert len(lines) == 3
    assert "deny" in lines[-1] and "s3:GetObject" in lines[-1]


def test_denied_authorization_is_recorded(fresh_server):
    fresh_server.tarn("user", "create", "bob")
    key = json.loads(fresh_server.tarn("key", "create", "bob", "--json").stdout)
    env = {"TARN_ACCESS_KEY": key["access_key"], "TARN_SECRET_KEY": key["secret_key"]}
    r = subprocess.run([TARN, "user", "list"], env={**fresh_server.env(), **env},
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0
    recs = wait_for_record(fresh_server, lambda r: r["action"] == "iam:ListUsers")
    rec = [r for r in recs if r["action"] == "iam:ListUsers"][-1]
    assert (rec["principal"], rec["outcome"], rec["status"]) == ("bob", "deny", 403)
    assert rec["reason"] == "AccessDenied"


def test_flipped_byte_is_detected(audited):
    assert audited.stop() == 0  # SIGTERM: seals the segment with a signed digest
    path = segment(audited)
    lines = open(path, "rb").read().split(b"\n")
    assert lines[-1] == b"" and b'"type":"digest"' in lines[-2]
    # Flip one byte inside the resource of the PutObject record, keeping valid JSON.
    idx = next(i for i, line in enumerate(lines) if b'"raw/audit/a.csv"' in line)
    seq = json.loads(lines[idx])["seq"]
    pos = lines[idx].index(b"raw/audit/a.csv") + 10
    lines[idx] = lines[idx][:pos] + bytes([lines[idx][pos] ^ 0x01]) + lines[idx][pos + 1:]
    json.loads(lines[idx])
    with open(path, "wb") as f:
        f.write(b"\n".join(lines))
    r = verify(audited)
    assert r.returncode != 0
    assert "seg-000001.jsonl" in r.stderr
    assert f"line {idx + 1}" in r.stderr or f"seq {seq}" in r.stderr, r.stderr


def test_removed_record_is_detected(audited):
    assert audited.stop() == 0
    path = segment(audited)
    lines = open(path, "rb").read().split(b"\n")
    del lines[2]
    open(path, "wb").write(b"\n".join(lines))
    r = verify(audited)
    assert r.returncode != 0
    assert "seg-000001.jsonl" in r.stderr


def test_forged_digest_is_detected(audited):
    assert audited.stop() == 0
    path = segment(audited)
    lines = open(path, "rb").read().split(b"\n")
    digest = json.loads(lines[-2])
    t = digest["time"]  # "...T19:20:03.260Z": change the last millisecond digit
    digest["time"] = t[:-2] + ("1" if t[-2] != "1" else "2") + "Z"
    lines[-2] = json.dumps(digest, separators=(",", ":")).encode()
    open(path, "wb").write(b"\n".join(lines))
    r = verify(audited)
    assert r.returncode != 0
    assert "seg-000001.jsonl" in r.stderr and "digest" in r.stderr


def test_chain_continues_across_restart(audited):
    before = tail(audited, 1)[-1]["seq"]
    assert audited.stop() == 0
    audited.start()
    audited.s3().list_objects_v2(Bucket="raw")
    recs = wait_for_record(audited, lambda r: r["action"] == "s3:ListObjectsV2")
    assert recs[-1]["seq"] > before
    # tail reaches back into the sealed segment when the new one is short.
    assert recs[-1]["seq"] - before < 6  # the new segment holds fewer than 6 records
    last = tail(audited, 6)
    assert [r["seq"] for r in last] == list(range(recs[-1]["seq"] - 5, recs[-1]["seq"] + 1))
    assert last[0]["seq"] <= before
    r = verify(audited)
    assert r.returncode == 0, r.stderr
    assert "in 2 segments" in r.stdout
    # Tampering with the sealed first segment is still caught after the restart.
    audited.stop()
    path = segment(audited)
    data = bytearray(open(path, "rb").read())
    i = data.index(b'"outcome":"allow"') + 12
    data[i] ^= 0x20  # "allow" -> "aLlow"
    open(path, "wb").write(bytes(data))
    r = verify(audited)
    assert r.returncode != 0 and "seg-000001.jsonl" in r.stderr


def test_rest_audit_is_admin_only(audited):
    r = signed(audited, "GET", "/v1/audit", "n=3", service="tarn")
    assert r.status == 200
    recs = json.loads(r.body)["records"]
    assert len(recs) == 3
    assert all({"principal", "action", "outcome"} <= set(x) for x in recs)

    audited.tarn("user", "create", "carol")
    key = json.loads(audited.tarn("key", "create", "carol", "--json").stdout)
    r = signed(audited, "GET", "/v1/audit", access_key=key["access_key"],
               secret_key=key["secret_key"], service="tarn")
    assert r.status == 403
    assert json.loads(r.body)["error"]["code"] == "AccessDenied"
    r = signed(audited, "GET", "/v1/audit", "n=0", service="tarn")
    assert r.status == 400


def line_starts(data):
    return [0] + [i + 1 for i, b in enumerate(data) if b == 0x0A][:-1]


def test_crash_damage_is_recovered_at_start(audited):
    s3 = audited.s3()
    for _ in range(5):
        s3.list_objects_v2(Bucket="raw")
    wait_for_record(audited, lambda r: len(tail(audited, 20)) >= 9)
    audited.kill9()  # the segment stays unsealed, as after a power failure
    path = segment(audited)
    data = bytearray(open(path, "rb").read())
    assert b'"type":"digest"' not in data
    starts = line_starts(data)
    assert len(starts) >= 9
    first_seq = json.loads(data[:starts[1]])["seq"]
    # Unsynced pages come back as zeros: from inside line 3 to inside line 5.
    lo, hi = starts[2] + 30, starts[4] + 40
    data[lo:hi] = bytes(hi - lo)
    open(path, "wb").write(bytes(data))
    r = verify(audited)
    assert r.returncode != 0 and "seg-000001.jsonl line 3" in r.stderr, r.stderr

    audited.start()  # starts instead of refusing
    s3 = audited.s3()
    s3.put_object(Bucket="raw", Key="audit/after.csv", Body=b"b\n")
    assert s3.get_object(Bucket="raw", Key="audit/after.csv")["Body"].read() == b"b\n"
    wait_for_record(audited, lambda r: r["resource"] == "raw/audit/after.csv")
    assert open(path, "rb").read() == bytes(data)  # the damaged segment is left as found
    rec = json.loads(open(segment(audited, 2), "rb").read().split(b"\n")[0])
    assert rec["type"] == "recovery" and rec["segment"] == 1 and rec["records_lost"] == 3
    assert (rec["byte_start"], rec["byte_end"]) == (starts[2], starts[5])

    r = verify(audited)
    assert r.returncode == 0, r.stderr
    gap = (f"gap: seg-000001.jsonl bytes {starts[2]}-{starts[5]}: 3 records lost "
           f"(seq {first_seq + 2}-{first_seq + 4})")
    assert gap in r.stdout, r.stdout
    assert "recovered in seg-000002.jsonl" in r.stdout
    assert "1 recorded gap" in r.stdout
    r = audited.tarn("audit", "verify", "--strict", "--data", audited.data, check=False)
    assert r.returncode != 0
    assert "seg-000001.jsonl" in r.stderr and "gap" in r.stderr
    r = audited.tarn("audit", "verify", "--json", "--data", audited.data, check=False)
    assert r.returncode == 0
    out = json.loads(r.stdout)
    assert out["ok"] is True and len(out["gaps"]) == 1
    g = out["gaps"][0]
    assert (g["segment"], g["byte_start"], g["byte_end"], g["records_lost"]) == (
        "seg-000001.jsonl", starts[2], starts[5], 3)

    # A segment missing in the middle of the chain fails verify, recovered or not.
    assert audited.stop() == 0
    audited.start()
    audited.s3().list_objects_v2(Bucket="raw")
    wait_for_record(audited, lambda r: r["action"] == "s3:ListObjectsV2")
    assert audited.stop() == 0
    assert os.path.exists(segment(audited, 3))
    os.rename(segment(audited, 2), segment(audited, 2) + ".away")
    r = verify(audited)
    assert r.returncode != 0
    assert "seg-000002.jsonl: missing" in r.stderr, r.stderr
    os.rename(segment(audited, 2) + ".away", segment(audited, 2))
    assert verify(audited).returncode == 0
