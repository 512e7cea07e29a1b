"""Seeds the running stack with devices through the import path and waits
until the device totals count them: `seed.py 100000` (the browser test's
table at scale). Run inside `stack.py run -- ...`, which sets the variables."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import boto3  # noqa: E402

import bench  # noqa: E402


def totals(ddb, table: str) -> int:
    item = ddb.get_item(TableName=table, Key={"pk": {"S": "counts"}, "sk": {"S": "devices"}}, ConsistentRead=True)
    return sum(int(v["N"]) for k, v in item.get("Item", {}).items() if k.startswith("n#"))


def main() -> int:
    rows = int(sys.argv[1])
    env = os.environ
    s3 = boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"], region_name=env["AWS_REGION"])
    ddb = boto3.client("dynamodb", endpoint_url=env["AWS_ENDPOINT_URL"], region_name=env["AWS_REGION"])
    bench.OUT.mkdir(parents=True, exist_ok=True)
    path = bench.OUT / f"seed-{rows}.csv"
    bench.generate(path, rows, prefix="SEED")
    start = time.monotonic()
    before = totals(ddb, env["SETTINGS_TABLE"])
    s3.put_object(Bucket=env["IMPORT_BUCKET"], Key="imports/seed.csv", Body=path.read_bytes(), Metadata={"invite": "none"})
    report = bench.wait_report(s3, env["IMPORT_BUCKET"], "reports/seed.csv/", timeout=1800, every=2.0)
    assert report["status"] == "completed" and report["devices_written"] == rows, report
    imported = time.monotonic() - start
    while totals(ddb, env["SETTINGS_TABLE"]) < before + rows:
        if time.monotonic() - start > 2400:
            raise SystemExit("the device totals did not count the seeded devices within 40 minutes")
        time.sleep(2)
    print(f"seeded {rows:,} devices: imported in {imported:.0f} s, counted in {time.monotonic() - start:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
