"""The quick start works: the aws CLI copies a file into the raw zone and lists it."""


def test_healthz_and_version(server):
    out = server.tarn("version").stdout
    assert "tarn" in out and "duckdb" in out and "v1.4" in out


def test_aws_cli_cp_and_ls(server, tmp_path):
    src = tmp_path / "orders.csv"
    src.write_text("id,amount\n1,10\n2,20\n")
    server.aws("s3", "cp", str(src), "s3://raw/sales/orders/dt=2026-11-25/orders.csv")
    out = server.aws("s3", "ls", "s3://raw/sales/", "--recursive").stdout
    assert "sales/orders/dt=2026-11-25/orders.csv" in out
    got = server.aws("s3", "cp", "s3://raw/sales/orders/dt=2026-11-25/orders.csv", "-").stdout
    assert got == src.read_text()
