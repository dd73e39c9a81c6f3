"""Helpers of the database source tests: configurations with overrides, creating a source
from a configuration file through the CLI, SQL through REST, a source's status, and
whether a snapshot has moved on to cleaned."""
import json

from s3util import rest


def merged(c, over):
    """c with over's keys: a map replaces only the keys it gives."""
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(c.get(k), dict):
            c[k] = {**c[k], **v}
        else:
            c[k] = v
    return c


def create(lake, tmp_path, name, cfg, check=True):
    f = tmp_path / f"{name}.yaml"
    f.write_text(json.dumps(cfg))  # JSON is YAML
    return lake.tarn("source", "create", name, "--config", str(f), "--json", check=check)


def sql(lake, q):
    status, out = rest(lake, "POST", "/v1/sql", {"sql": q})
    assert status == 200, out
    return out["rows"]


def status(lake, name):
    return json.loads(lake.tarn("source", "status", name, "--json").stdout)


def promoted(lake, db, table, n):
    """cleaned.<db>.<table> holds n rows and raw holds none of its files."""
    try:
        got = sql(lake, f"SELECT count(*) FROM cleaned.{db}.{table}")[0][0]
    except AssertionError:
        return False
    left = json.loads(lake.tarn("tables", "--json").stdout)["tables"]
    raw = [t for t in left if t["name"] == f"raw.{db}.{table}"]
    return got == n and (not raw or raw[0]["files"] == 0) and got
