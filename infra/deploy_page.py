"""Publishes the admin page of a deployed stack: static/ plus the config.json the
page reads (API URL, user pool client, hosted sign-in) to the site bucket behind CloudFront.

    .venv/bin/python infra/deploy_page.py --stack preapprove [--region eu-west-1]

Run after `sam deploy`; uses the normal AWS credential chain.
"""

from __future__ import annotations

import argparse
import json
import mimetypes
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parent.parent
# The page is ES modules: browsers refuse one served as anything but JavaScript
# (CloudFront adds nosniff), and mimetypes reads the machine's own table.
mimetypes.add_type("text/javascript", ".js")


def page_config(outputs: dict[str, str], region: str) -> dict:
    return {
        "apiUrl": outputs["ApiUrl"],
        "authFlow": "hosted",
        "hostedUiUrl": outputs["AdminSignInUrl"],
        "clientId": outputs["AdminUserPoolClientId"],
        "redirectUri": outputs["AdminPageUrl"],
        "cognitoEndpoint": f"https://cognito-idp.{region}.amazonaws.com/",
        "region": region,
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--stack", required=True)
    p.add_argument("--region")
    args = p.parse_args()
    session = boto3.session.Session(region_name=args.region)
    region = session.region_name
    stack = session.client("cloudformation").describe_stacks(StackName=args.stack)["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    s3 = session.client("s3")
    bucket = outputs["AdminSiteBucketName"]
    # index.html last, so that no one loads it before the modules it names are there.
    for path in sorted((ROOT / "static").rglob("*"), key=lambda p: (p.name == "index.html", p)):
        if path.is_file():
            key = path.relative_to(ROOT / "static").as_posix()
            kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            # Revalidated on each load (a 304 when unchanged) rather than cached for
            # minutes: modules cached at different times could mix two deploys, and an
            # import of a name the other version lacks stops the whole page.
            s3.upload_file(str(path), bucket, key, ExtraArgs={"ContentType": kind, "CacheControl": "no-cache"})
    s3.put_object(
        Bucket=bucket,
        Key="config.json",
        Body=json.dumps(page_config(outputs, region)).encode(),
        ContentType="application/json",
        CacheControl="no-store",
    )
    print(f"admin page: {outputs['AdminPageUrl']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
