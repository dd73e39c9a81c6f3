"""GET /metrics (Prometheus text, admin only, SigV4-signed): request counters by API,
operation and status (tarn_requests_total{op="PutObject"}), latency histograms, and the
objects and bytes per bucket read from the store (tarn_bucket_objects{bucket="raw"}),
and the catalog: tables, files by status, and how far the crawler lags behind uploads."""
import re

from s3util import raw, s3_error, signed, wait_for


def metrics(server):
    r = signed(server, "GET", "/metrics", service="tarn")
    assert r.status == 200, r.body
    assert r.headers["content-type"].startswith("text/plain")
    return r.body.decode()


def sample(text, name, **labels):
    """Value of the one sample of `name` whose labels include `labels`."""
    found = []
    for line in text.splitlines():
        m = re.match(r'^(\w+)\{(.*)\} (\S+)$', line)
        if not m or m.group(1) != name:
            continue
        got = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2)))
        if all(got.get(k) == v for k, v in labels.items()):
            found.append(float(m.group(3)))
    assert len(found) == 1, (name, labels, found)
    return found[0]


def test_metrics_counts_requests_and_objects(fresh_server):
    s3 = fresh_server.s3()
    for i in range(3):
        s3.put_object(Bucket="raw", Key=f"m/{i}.csv", Body=b"x" * (10 + i))
    s3.create_bucket(Bucket="plain-metrics")
    s3.put_object(Bucket="plain-metrics", Key="only", Body=b"12345")
    with s3_error("NoSuchKey", 404):
        s3.get_object(Bucket="raw", Key="m/missing")
    # A request is counted once its answer is sent, which the client may see first.
    wait_for(lambda: 'op="GetObject",status="404"' in metrics(fresh_server), timeout=10)
    text = metrics(fresh_server)
    assert "# TYPE tarn_requests_total counter" in text
    assert sample(text, "tarn_requests_total", api="s3", op="PutObject", status="200") == 4
    assert sample(text, "tarn_requests_total", api="s3", op="GetObject", status="404") == 1
    assert sample(text, "tarn_bucket_objects", bucket="raw") == 3
    assert sample(text, "tarn_bucket_bytes", bucket="raw") == 10 + 11 + 12
    assert sample(text, "tarn_bucket_objects", bucket="plain-metrics") == 1
    assert sample(text, "tarn_bucket_objects", bucket="curated") == 0
    assert sample(text, "tarn_request_duration_seconds_count", api="s3", op="PutObject") == 4
    assert sample(text, "tarn_request_duration_seconds_bucket", api="s3", op="PutObject",
                  le="+Inf") == 4
    assert sample(text, "tarn_bytes_in_total", api="s3", op="PutObject") == 10 + 11 + 12 + 5

    s3.delete_object(Bucket="raw", Key="m/0.csv")
    text = metrics(fresh_server)
    assert sample(text, "tarn_bucket_objects", bucket="raw") == 2
    assert sample(text, "tarn_requests_total", api="s3", op="DeleteObject", status="204") == 1


def test_metrics_requires_admin(server):
    r = raw(server, "GET", "/metrics")
    assert r.status == 403
    assert "tarn_requests_total" not in r.body.decode(errors="replace")


def test_metrics_show_the_catalog_and_crawler_lag(fresh_server):
    s3 = fresh_server.s3()
    s3.put_object(Bucket="raw", Key="shop/orders/a.csv", Body=b"id\n1\n")
    s3.put_object(Bucket="raw", Key="shop/orders/b.csv", Body=b"")
    s3.put_object(Bucket="raw", Key="loose.csv", Body=b"id\n1\n")
    wait_for(lambda: "tarn_crawler_lag_events 0" in metrics(fresh_server))
    text = metrics(fresh_server)
    assert sample(text, "tarn_catalog_tables", zone="raw") == 1
    assert sample(text, "tarn_catalog_files", zone="raw", status="ok") == 1
    assert sample(text, "tarn_catalog_files", zone="raw", status="error") == 1
    assert sample(text, "tarn_catalog_files", zone="raw", status="unmapped") == 1
