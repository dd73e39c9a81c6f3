"""An idle server is idle: once it has done a little of everything (an object landed,
crawled and promoted, stream records delivered, a pipeline with triggers applied and run, a
query, a PostgreSQL login) and settled, its threads sleep until woken or until a deadline
far away, so over a quarter of a minute it uses next to no CPU. A background loop that
polls fails this test."""
import json
import os
import time

import boto3
import psycopg2
from botocore.config import Config

from conftest import Server
from s3util import rest, unique, wait_for

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(stat_path):
    """utime + stime of a process or thread, in seconds."""
    with open(stat_path) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def threads(pid):
    """{tid: (name, cpu seconds)} of every thread of pid."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                name = f.read().strip()
            out[tid] = (name, cpu_seconds(f"/proc/{pid}/task/{tid}/stat"))
        except OSError:
            pass  # a thread that just ended
    return out


def exercise(s):
    """A little of everything the background threads do."""
    s3 = s.s3()
    db = unique("idle").replace("-", "_")  # a SQL name too
    s3.put_object(Bucket="raw", Key=f"{db}/events/0.csv", Body=b"id,kind\n1,a\n2,b\n")

    def cleaned():
        status, out = rest(s, "GET", f"/v1/tables/cleaned/{db}/events")
        return status == 200 and out.get("files") == 1
    wait_for(cleaned, timeout=60)

    ak, sk = s.admin_keys()
    fh = boto3.client("firehose", endpoint_url=s.endpoint, region_name="us-east-1",
                      aws_access_key_id=ak, aws_secret_access_key=sk,
                      config=Config(parameter_validation=False, retries={"max_attempts": 1}))
    stream = unique("idle")
    fh.create_delivery_stream(
        DeliveryStreamName=stream, DeliveryStreamType="DirectPut",
        ExtendedS3DestinationConfiguration={
            "RoleARN": "arn:aws:iam::123456789012:role/firehose",
            "BucketARN": "arn:aws:s3:::raw", "Prefix": f"{db}/stream/",
            "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 1}})
    fh.put_record(DeliveryStreamName=stream, Record={"Data": json.dumps({"n": 1}).encode()})
    wait_for(lambda: s3.list_objects_v2(Bucket="cleaned", Prefix=f"{db}/stream/")
             .get("KeyCount"), timeout=60)

    # A cron time months away and a data trigger: the scheduler holds deadlines, not a poll.
    name = unique("idle").replace("-", "_")
    status, out = rest(s, "POST", "/v1/pipelines", {"spec": f"""
name: {name}
trigger: {{schedule: "0 0 1 1 *", on_new_data: [cleaned.{db}.events], batch_window_seconds: 0}}
steps:
  - name: count
    sql: SELECT count(*) AS n FROM cleaned.{db}.events
    target: {{table: curated.{db}.counts, mode: overwrite}}
"""})
    assert status in (200, 201), out

    def ran():
        status, out = rest(s, "GET", f"/v1/pipelines/{name}/runs")
        return status == 200 and out["runs"] and out["runs"][0]["status"] == "succeeded"
    wait_for(ran, timeout=120)
    status, out = rest(s, "POST", "/v1/sql", {"sql": f"SELECT n FROM {db}.counts"})
    assert status == 200 and out["rows"] == [[2]], out
    conn = psycopg2.connect(**s.pg_params())
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1")
            assert cur.fetchone() == (1,)
    finally:
        conn.close()


def test_an_idle_server_uses_no_cpu(tmp_path):
    s = Server(tmp_path / "data", promotion=True).start()
    try:
        exercise(s)
        time.sleep(3)  # the last checkpoint and audit sync, connections closing
        pid = s.pid
        before, threads_before = cpu_seconds(f"/proc/{pid}/stat"), threads(pid)
        time.sleep(15)
        used = cpu_seconds(f"/proc/{pid}/stat") - before
        busy = {}
        for tid, (name, cpu) in threads(pid).items():
            if tid in threads_before and cpu > threads_before[tid][1]:
                busy[name] = round(busy.get(name, 0) + cpu - threads_before[tid][1], 3)
        assert used < 0.05, f"{used:.2f} s of CPU in 15 s of idleness; by thread: {busy}"
    finally:
        s.stop()
