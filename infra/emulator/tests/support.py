"""What the emulator's tests share."""

from __future__ import annotations

import json
import logging
import urllib.request
from collections.abc import Callable
from typing import Any

import boto3
from botocore.config import Config


def pk_sk_table(ddb, name: str, attributes: tuple[dict, ...] = (), **extra) -> None:
    """A table keyed (pk, sk), both strings; `attributes` defines its indexes' keys."""
    ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
            *attributes,
        ],
        BillingMode="PAY_PER_REQUEST",
        **extra,
    )


_MISSING = object()


def saved(*places: tuple[Any, str]) -> Callable[[], None]:
    """Keeps what a fix is about to replace, (class or module, attribute) or
    (dict, key); the function returned puts it back."""

    def own(owner: Any) -> Any:
        # A class's own attributes only: one inherited is put back by removing the fix's.
        return owner if isinstance(owner, dict) else vars(owner)

    kept = [(owner, name, own(owner).get(name, _MISSING)) for owner, name in places]

    def put_back() -> None:
        for owner, name, value in reversed(kept):
            if isinstance(owner, dict):
                if value is _MISSING:
                    owner.pop(name, None)
                else:
                    owner[name] = value
            elif value is _MISSING:
                if name in vars(owner):
                    delattr(owner, name)
            else:
                setattr(owner, name, value)

    return put_back


class Server:
    """moto's server on a thread of this process, as the emulator serves (werkzeug,
    a thread per request): the fixes a test applies first are the ones it runs."""

    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        # werkzeug's line per request: the tests' output is their own.
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self.server = ThreadedMotoServer("127.0.0.1", 0, verbose=False)
        self.server.start()
        host, port = self.server.get_host_and_port()
        self.url = f"http://{host}:{port}"

    def client(self, service: str) -> Any:
        # One attempt: a throttled or refused request is the answer under test, not retried.
        return boto3.session.Session().client(
            service, endpoint_url=self.url, region_name="us-east-1",
            aws_access_key_id="test", aws_secret_access_key="test",
            config=Config(retries={"total_max_attempts": 1}, max_pool_connections=32),
        )

    def call(self, path: str, body: dict | None = None) -> Any:
        """A moto-api route: GET, or POST with a JSON body."""
        data = None if body is None else json.dumps(body).encode()
        with urllib.request.urlopen(urllib.request.Request(self.url + path, data=data), timeout=10) as r:
            return json.loads(r.read() or b"null")

    def stop(self) -> None:
        urllib.request.urlopen(urllib.request.Request(self.url + "/moto-api/reset", data=b""), timeout=10).close()
        self.server.stop()
