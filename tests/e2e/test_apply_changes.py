"""apply_changes targets with change files written here (CSV with the change columns a
source writes): inserts, updates, deletes, a key change, a truncate, a change file that
reaches cleaned after a later one (the table is rebuilt), a partitioned table rewriting only
the partitions that hold touched keys, a run with nothing new, and a replay."""
import pytest

from conftest import Server
from s3util import rest, wait_for
from test_pipelines import apply, live_files, run_ok, snapshots, sql, wait_cleaned

HEAD = "id,region,v,_op,_source_pos,_commit_ts,_txid,_old_key\n"


def pos(n):
    return f"{n:016X}-{1:010d}"


def row(i, region, v, op, n, old=""):
    return f'{i},{region},{v},{op},{pos(n)},2024-01-01 00:00:00+00,{n},{old}\n'


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("applylake") / "data", promotion=True).start()
    yield s
    s.stop()


def land(lake, db, name, body, files):
    lake.s3().put_object(Bucket="raw", Key=f"{db}/items/{name}.csv", Body=(HEAD + body).encode())
    wait_cleaned(lake, db, "items", files)


def spec(db, name, partitioned=False):
    parts = ", partition_by: [region]" if partitioned else ""
    return f"""
name: {name}
incremental: true
steps:
  - name: apply
    sql: SELECT * FROM cleaned.{db}.items
    target: {{table: curated.{db}.items, mode: apply_changes, keys: [id]{parts}}}
"""


def state(lake, db):
    return [tuple(r) for r in sql(lake, f"SELECT id, region, v FROM curated.{db}.items ORDER BY id")]


def test_changes_applied_latest_wins(lake):
    db = "acflat"
    land(lake, db, "a", "".join(row(i, "eu", i * 10, "r", 1) for i in range(1, 6)), 1)
    apply(lake, spec(db, "acflat"))
    run = run_ok(lake, "acflat")
    assert state(lake, db) == [(i, "eu", i * 10) for i in range(1, 6)]
    assert run["outputs"][0]["operation"] == "apply_changes"
    # Insert, update twice in one file (the later wins), delete, and a key change 5 -> 50.
    land(lake, db, "b", row(6, "us", 60, "c", 10) + row(2, "eu", 21, "u", 11)
         + row(2, "eu", 22, "u", 12) + row(3, "", "", "d", 13)
         + row(50, "eu", 55, "u", 14, '{"id":5}'), 2)
    run_ok(lake, "acflat")
    assert state(lake, db) == [(1, "eu", 10), (2, "eu", 22), (4, "eu", 40), (6, "us", 60),
                               (50, "eu", 55)]
    # Nothing new: nothing committed.
    before = snapshots(lake, f"curated.{db}.items")["current"]
    run_ok(lake, "acflat")
    assert snapshots(lake, f"curated.{db}.items")["current"] == before
    # A truncate empties the table before the changes after it.
    land(lake, db, "c", row(7, "eu", 70, "c", 20) + row(0, "", "", "t", 21)
         + row(8, "us", 80, "c", 22), 3)
    run_ok(lake, "acflat")
    assert state(lake, db) == [(8, "us", 80)]
    # A file reaching cleaned after a later one: the later one applied first, then the
    # earlier one is noticed and the table rebuilt from every change, in order.
    land(lake, db, "e", row(8, "us", 82, "u", 31) + row(9, "eu", 90, "c", 32), 4)
    run_ok(lake, "acflat")
    land(lake, db, "d", row(8, "us", 81, "u", 30) + row(10, "eu", 100, "c", 30), 5)
    run_ok(lake, "acflat")
    assert state(lake, db) == [(8, "us", 82), (9, "eu", 90), (10, "eu", 100)]
    # A replay rebuilds the same table.
    run_ok(lake, "acflat", replay=True)
    assert state(lake, db) == [(8, "us", 82), (9, "eu", 90), (10, "eu", 100)]


def test_partitioned_rewrites_touched_partitions_only(lake):
    db = "acpart"
    land(lake, db, "a", "".join(row(i, r, i, "r", 1) for i, r in
                                enumerate(["eu", "us", "apac"] * 4, start=1)), 1)
    apply(lake, spec(db, "acpart", partitioned=True))
    run_ok(lake, "acpart")
    table = f"curated.{db}.items"
    first = live_files(lake, table)
    assert {k.split("/")[2] for k in first} == {"region=eu", "region=us", "region=apac"}
    # Touch only eu: an update, a delete and an insert; us and apac keep their files.
    land(lake, db, "b", row(1, "eu", 100, "u", 10) + row(4, "", "", "d", 11)
         + row(20, "eu", 200, "c", 12), 2)
    run_ok(lake, "acpart")
    second = live_files(lake, table)
    kept = [k for k in first if "region=eu" not in k]
    assert set(kept) <= set(second) and not [k for k in first if "region=eu" in k and k in second]
    # A row that moves from us to apac rewrites both, not eu.
    land(lake, db, "c", row(2, "apac", 2, "u", 20), 3)
    run_ok(lake, "acpart")
    third = live_files(lake, table)
    assert [k for k in second if "region=eu" in k] == [k for k in third if "region=eu" in k]
    assert state(lake, db) == sorted(
        [(1, "eu", 100), (2, "apac", 2), (3, "apac", 3), (5, "us", 5), (6, "apac", 6),
         (7, "eu", 7), (8, "us", 8), (9, "apac", 9), (10, "eu", 10), (11, "us", 11),
         (12, "apac", 12), (20, "eu", 200)])
    # Deleting every row of a partition removes its files.
    land(lake, db, "d", "".join(row(i, "", "", "d", 30 + i) for i in (5, 8, 11))
         + row(30, "eu", 300, "c", 50), 4)
    run_ok(lake, "acpart")
    assert not [k for k in live_files(lake, table) if "region=us" in k]
    assert sql(lake, f"SELECT count(*) FROM {table} WHERE region = 'us'") == [[0]]


def test_not_a_change_stream_is_refused(lake):
    db = "acbad"
    lake.s3().put_object(Bucket="raw", Key=f"{db}/items/a.csv", Body=b"id,v\n1,2\n")
    wait_cleaned(lake, db, "items", 1)
    apply(lake, spec(db, "acbad"))
    status, out = rest(lake, "POST", "/v1/pipelines/acbad/runs", {})
    assert status == 202
    from test_pipelines import wait_run
    run = wait_run(lake, "acbad", out["id"])
    assert run["status"] == "failed" and "_op" in run["error"], run
