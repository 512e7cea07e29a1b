"""Brings the whole system up locally: emulator, resources, functions, relay, admin page.

    stack.py dev            foreground; Ctrl-C / SIGTERM stops everything it started
    stack.py run -- CMD     the same on free ports, runs CMD with the stack's
                            variables in its environment, stops the stack, exits
                            with CMD's status (what `make test` uses)

Everything binds to 127.0.0.1. The functions get their endpoint only from the
standard SDK setting AWS_ENDPOINT_URL; point it (and the credentials) at
LocalStack or real AWS and nothing else changes.
"""

from __future__ import annotations

import argparse
import ctypes
import functools
import http.server
import json
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import relay  # noqa: E402
import resources  # noqa: E402
from template import Resolver, load  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
DEV_DIR = ROOT / ".dev"
LOCAL_ACCOUNT = "123456789012"  # moto's default account
# Like `sam deploy --parameter-overrides`: the emulator has no SES/SNS sandbox rate.
LOCAL_PARAMETERS = {"InviteEmailRate": "50", "InviteSmsRate": "50"}
ADMIN_USERNAME = "admin"
log = logging.getLogger("stack")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_in_use(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _die_with_parent() -> None:
    """Child processes get SIGTERM if this process dies, even by SIGKILL."""
    os.setsid()
    try:
        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class Stack:
    def __init__(
        self,
        moto_port: int,
        lambda_port: int,
        admin_port: int,
        watch_code: bool,
        endpoint: str | None = None,
        account: str = LOCAL_ACCOUNT,
        release: bool = False,
        instances: int = 1,
    ):
        self.moto_port = moto_port
        self.external = endpoint is not None
        self.account = account
        self.release = release
        self.instances = instances
        self.lambda_port = lambda_port
        self.admin_port = admin_port
        self.watch_code = watch_code
        self.region = os.environ.get("AWS_REGION", "us-east-1")
        self.stack_name = os.environ.get("STACK_NAME", "preapprove")
        self.endpoint = endpoint or f"http://127.0.0.1:{moto_port}"
        self.procs: list[subprocess.Popen] = []
        self.threads: list[threading.Thread] = []
        self.relay: relay.Relay | None = None
        self.http: http.server.ThreadingHTTPServer | None = None
        self.template = load(ROOT / "template.yaml")
        self.resolver = Resolver(
            self.template,
            self.stack_name,
            account,
            self.region,
            parameters={**LOCAL_PARAMETERS, "AdminOrigin": self.admin_origin()},
            queue_url_base=self.endpoint,
        )
        DEV_DIR.mkdir(exist_ok=True)

    def admin_origin(self) -> str:
        return f"http://127.0.0.1:{self.admin_port}"

    def admin_password(self) -> str:
        """Stable across runs of make dev (kept in .dev/), meets the pool's password policy."""
        path = DEV_DIR / "admin-password"
        if not path.exists():
            path.write_text("Adm1n-" + secrets.token_urlsafe(12))
        return path.read_text().strip()

    def local_signing_key(self) -> dict[str, str]:
        """moto signs every token with one well-known key; tests use it (as PEM) to
        make expired but otherwise valid tokens. Not available with another emulator."""
        if self.external:
            return {}
        from cryptography.hazmat.primitives import serialization
        from joserfc.jwk import RSAKey
        from moto.utilities.utils import load_resource

        key = RSAKey.import_key(load_resource("cognitoidp/resources/jwks-private.json")).private_key
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
        )
        path = DEV_DIR / "moto-cognito-signing-key.pem"
        path.write_bytes(pem)
        return {"COGNITO_LOCAL_SIGNING_KEY": str(path)}

    # ---- pieces ----
    def spawn(self, name: str, cmd: list[str], env: dict | None = None) -> subprocess.Popen:
        logfile = open(DEV_DIR / f"{name}.log", "wb")
        log.info("starting %s (log: .dev/%s.log)", name, name)
        proc = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=logfile, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent
        )
        self.procs.append(proc)
        return proc

    def start_emulator(self) -> None:
        if self.external:
            log.info("using the emulator at %s", self.endpoint)
            return
        if port_in_use(self.moto_port):
            raise SystemExit(f"port {self.moto_port} is taken: stop whatever runs there (another `make dev`?)")
        self.spawn("moto", [str(VENV_BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(self.moto_port)])
        wait_for(f"{self.endpoint}/moto-api/data.json", "moto", 60)

    def aws_env(self) -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_ACCESS_KEY_ID": os.environ.get("AWS_ACCESS_KEY_ID", "test"),
            "AWS_SECRET_ACCESS_KEY": os.environ.get("AWS_SECRET_ACCESS_KEY", "test"),
            # Path-style S3 addressing: 127.0.0.1 has no per-bucket subdomains.
            "AWS_S3_FORCE_PATH_STYLE": "true",
        }

    def functions(self) -> dict[str, dict]:
        """Binary name (from CodeUri target/lambda/<binary>/) -> the function's resolved properties."""
        glob = self.template.get("Globals", {}).get("Function", {})
        out = {}
        for fn in self.resolver.of_type("AWS::Serverless::Function").values():
            props = {**glob, **fn["Properties"]}
            out[str(props.get("CodeUri", "")).rstrip("/").rsplit("/", 1)[-1]] = props
        return out

    def start_functions(self) -> None:
        fn_env = {
            **self.resolver.function_environment(),
            **self.aws_env(),
            # The emulator serves the pool's keys; in AWS they come from the issuer URL.
            "COGNITO_JWKS_URL": f"{self.endpoint}/{self.pool_id}/.well-known/jwks.json",
        }
        env_file = DEV_DIR / "functions.env"
        env_file.write_text("".join(f"{k}={v}\n" for k, v in sorted(fn_env.items())))
        functions = self.functions()
        profile = ["--release"] if self.release else []
        cmd = [
            str(VENV_BIN / "cargo-lambda"),
            "lambda",
            "watch",
            "--invoke-address",
            "127.0.0.1",
            "--invoke-port",
            str(self.lambda_port),
            "--env-file",
            str(env_file),
            # CORS is the functions' own (limited to the admin page), as behind API Gateway.
            "--disable-cors",
            # The invoke (and so the function's deadline) may last as long as the template allows.
            "--timeout",
            str(max((int(p.get("Timeout", 3)) for p in functions.values()), default=30)),
            *profile,
        ]
        if self.watch_code:
            # cargo lambda builds and reloads the functions; build them first (its
            # feature set) so that the first invoke does not wait for a compile.
            bins = [a for b in functions for a in ("--bin", b)]
            subprocess.run(["cargo", "build", *profile, *bins], cwd=ROOT, check=True)
            self.spawn("functions", cmd, {**os.environ, **fn_env})
            wait_for_port(self.lambda_port, "cargo lambda watch", 300)
            return
        # Tests and benchmarks: cargo lambda serves the Lambda APIs, and the
        # binaries the workspace build already made run against them, so no
        # second compile with another feature set is needed.
        subprocess.run(["cargo", "build", "--workspace", "--all-targets", *profile], cwd=ROOT, check=True)
        self.spawn("functions", [*cmd, "--only-lambda-apis"], {**os.environ, **fn_env})
        wait_for_port(self.lambda_port, "cargo lambda watch", 300)
        target = ROOT / "target" / ("release" if self.release else "debug")
        for name, props in functions.items():
            env = {
                **os.environ,
                **fn_env,
                "AWS_LAMBDA_RUNTIME_API": f"http://127.0.0.1:{self.lambda_port}/.rt/{name}",
                "AWS_LAMBDA_FUNCTION_NAME": name,
                "AWS_LAMBDA_FUNCTION_VERSION": "1",
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(props.get("MemorySize", 128)),
            }
            # Several processes polling one runtime API, as Lambda runs several
            # instances of a function under concurrent requests.
            for k in range(self.instances):
                self.spawn(f"function-{name}" + (f"-{k}" if k else ""), [str(target / name)], env)

    def start_relay(self) -> None:
        fn = self.template["Resources"]["ImportFunction"]
        sqs = next(e["Properties"] for e in fn["Properties"]["Events"].values() if e["Type"] == "SQS")
        queue_logical = sqs["Queue"].value[0]
        queue_url = self.sqs_url(self.resolver.physical_name(queue_logical))
        self.relay = relay.Relay(
            self.endpoint,
            self.region,
            queue_url,
            self.invoke_url("import"),
            batch_size=int(sqs.get("BatchSize", 10)),
            invoke_timeout=float(fn["Properties"].get("Timeout", 30)) + 60,
        )
        t = threading.Thread(target=self.relay.run, name="relay", daemon=True)
        t.start()
        self.threads.append(t)

    def sqs_url(self, queue_name: str) -> str:
        import boto3

        sqs = boto3.session.Session(region_name=self.region).client("sqs", endpoint_url=self.endpoint)
        return sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]

    def invoke_url(self, function: str) -> str:
        return f"http://127.0.0.1:{self.lambda_port}/2015-03-31/functions/{function}/invocations"

    def function_url(self, function: str) -> str:
        return f"http://127.0.0.1:{self.lambda_port}/lambda-url/{function}"

    def page_config(self, client_id: str) -> dict:
        """What the page needs to sign in and call the API (AWS: written next to index.html at deploy)."""
        return {
            "apiUrl": self.function_url("admin"),
            "authFlow": "password",
            "cognitoEndpoint": f"{self.endpoint}/",
            "clientId": client_id,
            "region": self.region,
        }

    def start_admin_page(self, client_id: str) -> None:
        handler_class = type("Page", (PageHandler,), {"page_config": json.dumps(self.page_config(client_id)).encode()})
        handler = functools.partial(handler_class, directory=str(ROOT / "static"))
        self.http = http.server.ThreadingHTTPServer(("127.0.0.1", self.admin_port), handler)
        t = threading.Thread(target=self.http.serve_forever, name="admin-page", daemon=True)
        t.start()
        self.threads.append(t)

    # ---- whole stack ----
    def up(self) -> dict[str, str]:
        # Fake credentials for boto3 in this process too; never real ones against the emulator.
        os.environ.update(self.aws_env())
        self.start_emulator()
        # Locally the page signs in with USER_PASSWORD_AUTH (moto has no hosted UI).
        created = resources.create_all(self.resolver, self.endpoint, ("ALLOW_USER_PASSWORD_AUTH",))
        self.pool_id = created["AdminUserPool"]
        resources.create_admin(self.endpoint, self.region, self.pool_id, ADMIN_USERNAME, self.admin_password())
        log.info("created %d resources from template.yaml", len(created))
        self.start_functions()
        self.start_relay()
        self.start_admin_page(created["AdminUserPoolClient"])
        env = {
            **self.aws_env(),
            "STACK_NAME": self.stack_name,
            "IMPORT_BUCKET": created["ImportBucket"],
            "IMPORT_QUEUE_URL": created["ImportQueue"],
            "IMPORT_DLQ_URL": created["ImportDeadLetterQueue"],
            "DEVICES_TABLE": created["DevicesTable"],
            "USERS_TABLE": created["UsersTable"],
            "IMPORTS_TABLE": created["ImportsTable"],
            "SETTINGS_TABLE": created["SettingsTable"],
            "DENIALS_TABLE": created["DenialsTable"],
            "LAMBDA_INVOKE_URL": f"http://127.0.0.1:{self.lambda_port}",
            "ADMISSION_URL": f"{self.function_url('admission')}/v1/admission",
            "ENROLLMENTS_URL": f"{self.function_url('admission')}/v1/enrollments",
            "ADMIN_API_URL": self.function_url("admin"),
            "ADMIN_URL": f"{self.admin_origin()}/",
            "COGNITO_USER_POOL_ID": self.pool_id,
            "COGNITO_CLIENT_ID": created["AdminUserPoolClient"],
            "ADMIN_USERNAME": ADMIN_USERNAME,
            "ADMIN_PASSWORD": self.admin_password(),
            **self.local_signing_key(),
        }
        (DEV_DIR / "stack.env").write_text("".join(f"{k}={v}\n" for k, v in env.items()))
        return env

    def down(self) -> None:
        if self.relay:
            self.relay.stop.set()
        if self.http:
            self.http.shutdown()
        for p in self.procs:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 10
        for p in self.procs:
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for t in self.threads:
            t.join(timeout=6)


class PageHandler(http.server.SimpleHTTPRequestHandler):
    """Serves static/ as CloudFront would, plus the page's config.json (written at deploy in AWS)."""

    page_config: bytes = b"{}"

    def do_GET(self) -> None:  # noqa: N802
        if self.path.split("?", 1)[0] == "/config.json":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Cache-Control", "no-store")
            self.send_header("Content-Length", str(len(self.page_config)))
            self.end_headers()
            self.wfile.write(self.page_config)
            return
        super().do_GET()

    def end_headers(self) -> None:
        # The page loads nothing from elsewhere; say so to the browser.
        self.send_header(
            "Content-Security-Policy",
            "default-src 'self'; connect-src 'self' http://127.0.0.1:* http://localhost:*; img-src 'self' data: blob:",
        )
        super().end_headers()

    def log_message(self, format: str, *args) -> None:  # noqa: A002
        log.debug(format, *args)


def wait_for(url: str, what: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.2)
    raise SystemExit(f"{what} did not come up within {seconds:.0f}s ({url}); see .dev/*.log")


def wait_for_port(port: int, what: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if port_in_use(port):
            return
        time.sleep(0.2)
    raise SystemExit(f"{what} did not listen on {port} within {seconds:.0f}s; see .dev/*.log")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="mode", required=True)
    dev = sub.add_parser("dev", help="run the stack in the foreground on the fixed local ports")
    run = sub.add_parser("run", help="run a command against a stack on free ports")
    for p_ in (dev, run):
        p_.add_argument(
            "--endpoint",
            help="use an emulator that is already running (LocalStack: http://127.0.0.1:4566) instead of starting moto",
        )
        p_.add_argument("--account", default=LOCAL_ACCOUNT, help="its account id (LocalStack: 000000000000)")
        p_.add_argument("--release", action="store_true", help="run release builds of the functions")
    run.add_argument(
        "--instances", type=int, default=1, help="processes per function (Lambda's concurrent instances)"
    )
    run.add_argument("cmd", nargs=argparse.REMAINDER)
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", datefmt="%H:%M:%S")

    extra = {"endpoint": args.endpoint, "account": args.account, "release": args.release}
    if args.mode == "run":
        extra["instances"] = args.instances
    if args.mode == "dev":
        stack = Stack(4566, 9000, 8080, watch_code=True, **extra)
    else:
        stack = Stack(free_port(), free_port(), free_port(), watch_code=False, **extra)

    stopping = threading.Event()

    def on_signal(signum, _frame):
        stopping.set()
        raise KeyboardInterrupt

    # Explicitly, also for SIGINT: a shell starting us in the background may have it ignored.
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    # If whatever started us (make, a shell) dies, stop too rather than linger.
    try:
        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGTERM)
    except OSError:
        pass
    try:
        env = stack.up()
        if args.mode == "dev":
            print("\nStack is up. Variables in .dev/stack.env:", flush=True)
            print("".join(f"  {k}={v}\n" for k, v in env.items()), flush=True)
            print("Ctrl-C stops everything.", flush=True)
            while not stopping.is_set():
                time.sleep(1)
            return 0
        cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
        if not cmd:
            raise SystemExit("run: give a command after --")
        return subprocess.call(cmd, env={**os.environ, **env})
    except KeyboardInterrupt:
        return 0 if args.mode == "dev" else 130
    finally:
        log.info("stopping")
        stack.down()


if __name__ == "__main__":
    sys.exit(main())
