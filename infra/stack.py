"""Brings the whole system up locally: emulator, resources, functions, relay, admin page,
and the stand-in for Apple's device-assignment API (infra/ade_simulator/).

    stack.py dev            foreground; Ctrl-C / SIGTERM stops everything it started
    stack.py run -- CMD     the same on free ports, runs CMD with the stack's
                            variables in its environment, stops the stack, exits
                            with CMD's status (what `make test` uses)

Everything binds to 127.0.0.1. The functions get their endpoint only from the
standard SDK setting AWS_ENDPOINT_URL; point it (and the credentials) at
LocalStack or real AWS and nothing else changes. Likewise Apple's base URL is
the template parameter AdeBaseUrl, here the simulator's.
"""

from __future__ import annotations

import argparse
import ctypes
import functools
import gc
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
import supervisor  # noqa: E402
from template import Resolver, load  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
DEV_DIR = ROOT / ".dev"
LOCAL_ACCOUNT = "123456789012"  # moto's default account
# Like `sam deploy --parameter-overrides`: the emulator has no SES/SNS sandbox rate.
LOCAL_PARAMETERS = {"InviteEmailRate": "50", "InviteSmsRate": "50"}
ADMIN_USERNAME = "admin"
# make dev's fixed port for the ADE simulator (make test's stacks take a free one).
ADE_SIMULATOR_PORT = 4567
log = logging.getLogger("stack")


free_port = supervisor.free_port


def port_in_use(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


# Child processes get SIGTERM if this process dies, even by SIGKILL.
_die_with_parent = supervisor.die_with_parent
# How long the stack's processes have to exit on their own before SIGKILL:
# everything is gone and every port free well within 5 seconds of Ctrl-C.
STOP_GRACE_SECONDS = 3.0


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
        inject_faults: bool = False,
        ade_port: int | None = None,
        function_instances: dict[str, int] | None = None,
        release_functions: frozenset[str] = frozenset(),
    ):
        self.moto_port = moto_port
        self.ade_port = ade_port or free_port()
        self.external = endpoint is not None
        self.account = account
        self.release = release
        # Functions (binary names) run from their release build while the others run debug:
        # a benchmark of one function builds only that one optimised (minutes, not the workspace).
        self.release_functions = frozenset(release_functions)
        self.instances = instances
        # Per function (binary name), beyond --instances: e.g. admission=4.
        self.function_instances = function_instances or {}
        self.inject_faults = inject_faults
        self.stopping = threading.Event()
        self.control: http.server.ThreadingHTTPServer | None = None
        self.instances_of: dict[str, list[supervisor.Instance]] = {}
        self.faults: dict[str, supervisor.FaultProxy] = {}
        self.lambda_port = lambda_port
        self.admin_port = admin_port
        self.watch_code = watch_code
        self.region = os.environ.get("AWS_REGION", "us-east-1")
        self.stack_name = os.environ.get("STACK_NAME", "preapprove")
        self.endpoint = endpoint or f"http://127.0.0.1:{moto_port}"
        self.procs: list[subprocess.Popen] = []
        self.builds: list[subprocess.Popen] = []
        self.threads: list[threading.Thread] = []
        self.relay: relay.Relay | None = None
        self.http: http.server.ThreadingHTTPServer | None = None
        self.template = load(ROOT / "template.yaml")
        self.resolver = Resolver(
            self.template,
            self.stack_name,
            account,
            self.region,
            # The functions reach Apple's API at the simulator, as they reach AWS at the emulator.
            parameters={**LOCAL_PARAMETERS, "AdminOrigin": self.admin_origin(), "AdeBaseUrl": self.ade_url()},
            queue_url_base=self.endpoint,
        )
        DEV_DIR.mkdir(exist_ok=True)

    def admin_origin(self) -> str:
        return f"http://127.0.0.1:{self.admin_port}"

    def ade_url(self) -> str:
        return f"http://127.0.0.1:{self.ade_port}"

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
        # The package infra/emulator, run from ROOT (spawn's working directory).
        moto = self.spawn("moto", [str(VENV_BIN / "python"), "-m", "infra.emulator", "-p", str(self.moto_port)])
        wait_for(f"{self.endpoint}/moto-api/data.json", "moto", 60, process=moto)

    def start_ade_simulator(self) -> None:
        """Apple's side (infra/ade_simulator/): what the functions call at AdeBaseUrl."""
        if port_in_use(self.ade_port):
            raise SystemExit(f"port {self.ade_port} is taken: stop whatever runs there (another `make dev`?)")
        cmd = [str(VENV_BIN / "python"), "-m", "infra.ade_simulator", "--host", "127.0.0.1"]
        sim = self.spawn("ade-simulator", [*cmd, "--port", str(self.ade_port)])
        wait_for(f"{self.ade_url()}/control/clock", "ade-simulator", 30, process=sim)

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

    @staticmethod
    def sqs_concurrency(event: dict) -> int:
        """How many instances an SQS event source may run at once (ScalingConfig; 1 if unset)."""
        return int(event["Properties"].get("ScalingConfig", {}).get("MaximumConcurrency", 1))

    def sqs_messages_at_once(self, name: str) -> int:
        """Queue messages a function may hold at once: for each SQS event source,
        its instances (ScalingConfig) times its batch size."""
        events = self.functions().get(name, {}).get("Events", {}).values()
        return sum(
            self.sqs_concurrency(e) * int(e["Properties"].get("BatchSize", 10)) for e in events if e["Type"] == "SQS"
        )

    def processes_of(self, name: str, props: dict) -> int:
        """Processes to run for a function: as many as its SQS event sources may
        use at once (so a sender's ten pollers are not served by one process),
        and at least --instances (its own NAME=N, else the N for all)."""
        sqs = [self.sqs_concurrency(e) for e in props.get("Events", {}).values() if e["Type"] == "SQS"]
        return max([self.function_instances.get(name, self.instances), *sqs])

    def start_functions(self) -> None:
        fn_env = {
            **self.resolver.function_environment(),
            **self.aws_env(),
            # The emulator serves the pool's keys; in AWS they come from the issuer URL.
            "COGNITO_JWKS_URL": f"{self.endpoint}/{self.pool_id}/.well-known/jwks.json",
            # After a crash the relay retries in seconds (AWS: after the visibility
            # timeout); a short lease lets that retry take over without a long wait.
            "IMPORT_LEASE_SECONDS": "9",
            # Likewise a sender's claim on an invite: a killed sender's claim expires in seconds.
            "INVITE_CLAIM_SECONDS": "9",
            # Tests and the benchmark change the emulator's SES quota: the senders see it within a second.
            "INVITE_QUOTA_SECONDS": "1",
        }
        env_file = DEV_DIR / "functions.env"
        env_file.write_text("".join(f"{k}={v}\n" for k, v in sorted(fn_env.items())))
        functions = self.functions()
        unknown = sorted(set(self.function_instances) - set(functions))
        if unknown:
            raise SystemExit(f"--instances names no function {unknown}; the functions are {sorted(functions)}")
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
        # cargo lambda serves the Lambda APIs; the binaries the workspace build
        # made run against them under a supervisor that restarts a process that
        # dies and fails its invocation at once, as Lambda does (supervisor.py).
        if self.release_functions and not self.release:
            self.cargo_build(["--workspace", "--bins"], check=True)
            bins = [a for name in sorted(self.release_functions) for a in ("--bin", name)]
            self.cargo_build(["--release", *bins], check=True)
        else:
            self.cargo_build(["--workspace", "--all-targets", *profile], check=True)
        self.spawn("functions", [*cmd, "--only-lambda-apis"], {**os.environ, **fn_env})
        wait_for_port(self.lambda_port, "cargo lambda watch", 300)
        for name, props in functions.items():
            env = {
                **os.environ,
                **fn_env,
                "AWS_LAMBDA_FUNCTION_NAME": name,
                "AWS_LAMBDA_FUNCTION_VERSION": "1",
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(props.get("MemorySize", 128)),
            }
            if "FUNCTION_RUST_LOG" in os.environ:
                # Debugging: e.g. FUNCTION_RUST_LOG=info,shared=debug (the template sets info).
                env["RUST_LOG"] = os.environ["FUNCTION_RUST_LOG"]
            if self.inject_faults:
                proxy = supervisor.FaultProxy(name, self.endpoint, functools.partial(self.kill_function, name))
                self.faults[name] = proxy
                env["AWS_ENDPOINT_URL"] = proxy.url
            # Several processes polling one runtime API, as Lambda runs several
            # instances of a function under concurrent requests.
            for k in range(self.processes_of(name, props)):
                label = f"function-{name}" + (f"-{k}" if k else "")
                log.info("starting %s (log: .dev/%s.log)", label, label)
                inst = supervisor.Instance(
                    name, [str(self.target_dir(name) / name)], env, ("127.0.0.1", self.lambda_port), str(DEV_DIR / f"{label}.log")
                )
                inst.start()
                self.instances_of.setdefault(name, []).append(inst)
        if self.watch_code:
            t = threading.Thread(target=self.rebuild_on_change, args=(profile,), name="rebuild", daemon=True)
            t.start()
            self.threads.append(t)

    def cargo_build(self, args: list[str], check: bool = False) -> None:
        """cargo build, stopped with the stack if still running then (a signal that
        ends the wait here leaves it in self.builds for down())."""
        proc = subprocess.Popen(["cargo", "build", *args], cwd=ROOT, preexec_fn=_die_with_parent)
        self.builds.append(proc)
        code = proc.wait()
        self.builds.remove(proc)
        if check and code:
            raise subprocess.CalledProcessError(code, proc.args)

    def target_dir(self, function: str | None = None) -> Path:
        release = self.release or function in self.release_functions
        return ROOT / "target" / ("release" if release else "debug")

    def kill_function(self, name: str) -> None:
        """SIGKILL every process of a function (a crash test's injected fault)."""
        for inst in self.instances_of.get(name, []):
            inst.kill()

    def rebuild_on_change(self, profile: list[str]) -> None:
        """make dev: a saved source file rebuilds the functions; a changed binary restarts its processes."""
        sources = [ROOT / d for d in ("functions", "shared")]

        def newest() -> float:
            return max((p.stat().st_mtime for d in sources for p in d.rglob("*.rs")), default=0.0)

        target = self.target_dir()
        binaries = {name: (target / name).stat().st_mtime for name in self.instances_of}
        seen = newest()
        while not self.stopping.wait(2):
            latest = newest()
            if latest > seen:
                seen = latest
                log.info("sources changed: cargo build")
                self.cargo_build(["--workspace", "--bins", *profile])
            for name, insts in self.instances_of.items():
                mtime = (target / name).stat().st_mtime
                if mtime != binaries[name]:
                    binaries[name] = mtime
                    log.info("restarting %s (new build)", name)
                    for inst in insts:
                        inst.kill()

    def start_control(self) -> str:
        """The crash tests' handle on the stack (STACK_CONTROL_URL); only with --faults."""
        stack = self

        class Control(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                req = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                proxy = stack.faults.get(req.get("function", ""))
                if self.path not in ("/crash", "/hold", "/release") or proxy is None:
                    self.send_error(404)
                    return
                if self.path == "/release":
                    proxy.release()
                    self._json({"released": True})
                    return
                hold = self.path == "/hold"
                proxy.arm(req["action"], int(req.get("count", 1)), None if hold else req.get("after_bytes"), hold)
                self._json({"armed": True})

            def do_GET(self) -> None:  # noqa: N802
                self._json(
                    {
                        name: {
                            "restarts": sum(i.restarts for i in stack.instances_of.get(name, [])),
                            "fired": [r.action for r in proxy.rules if r.fired and not r.hold],
                            "pending": [r.action for r in proxy.rules if not r.fired and not r.hold],
                            "held": proxy.held(),
                            "calls": dict(proxy.calls),
                            "sqs_messages_at_once": stack.sqs_messages_at_once(name),
                        }
                        for name, proxy in stack.faults.items()
                    }
                )

            def _json(self, value) -> None:
                body = json.dumps(value).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args) -> None:
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Control)
        self.control = server
        threading.Thread(target=server.serve_forever, name="control", daemon=True).start()
        return f"http://127.0.0.1:{server.server_address[1]}"

    def start_relays(self) -> None:
        """One relay per SQS, DynamoDB stream or schedule event source the template declares."""
        self.relays = []
        for name, props in self.functions().items():
            invoke_timeout = float(props.get("Timeout", 30)) + 60
            for event in props.get("Events", {}).values():
                source = event["Properties"]
                if event["Type"] == "SQS":
                    queue_url = self.sqs_url(self.resolver.physical_name(source["Queue"].value[0]))
                    # One poller per instance the event source may run at once (ScalingConfig).
                    for k in range(self.sqs_concurrency(event)):
                        r = relay.Relay(
                            self.endpoint,
                            self.region,
                            queue_url,
                            self.invoke_url(name),
                            batch_size=int(source.get("BatchSize", 10)),
                            invoke_timeout=invoke_timeout,
                            function_sets_visibility=_grants(props, "sqs:ChangeMessageVisibility"),
                        )
                        self.start_relay(r, f"relay-{name}-{k}")
                elif event["Type"] == "DynamoDB":
                    r = relay.StreamRelay(
                        self.endpoint,
                        self.region,
                        self.resolver.physical_name(source["Stream"].value[0]),
                        self.invoke_url(name),
                        batch_size=int(source.get("BatchSize", 100)),
                        invoke_timeout=invoke_timeout,
                        window=int(source.get("TumblingWindowInSeconds", 0)),
                    )
                    self.start_relay(r, f"stream-{name}")
                elif event["Type"] == "Schedule":
                    every = relay.rate_seconds(str(self.resolver.resolve(source["Schedule"])))
                    # Locally sooner than the template's rate, so a change shows while you watch.
                    every = float(os.environ.get("STACK_SCHEDULE_SECONDS", min(every or 60, 60)))
                    r = relay.ScheduleRelay(
                        self.region, self.invoke_url(name), every, f"{name}-schedule", invoke_timeout
                    )
                    self.start_relay(r, f"schedule-{name}")
        # The import's relay: `make bench` times imports by when it last answered.
        self.relay = next(r for r in self.relays if r.invoke_url == self.invoke_url("import"))

    def start_relay(self, r: relay.Poller, thread_name: str) -> None:
        t = threading.Thread(target=r.run, name=thread_name, daemon=True)
        t.start()
        self.threads.append(t)
        self.relays.append(r)

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
        self.start_ade_simulator()
        # Locally the page signs in with USER_PASSWORD_AUTH (moto has no hosted UI).
        created = resources.create_all(self.resolver, self.endpoint, ("ALLOW_USER_PASSWORD_AUTH",))
        self.pool_id = created["AdminUserPool"]
        resources.create_admin(self.endpoint, self.region, self.pool_id, ADMIN_USERNAME, self.admin_password())
        log.info("created %d resources from template.yaml", len(created))
        self.start_functions()
        self.start_relays()
        self.start_admin_page(created["AdminUserPoolClient"])
        control = {"STACK_CONTROL_URL": self.start_control()} if self.inject_faults else {}
        # How many processes serve each function, for tests that need requests to overlap.
        started = {name: len(insts) for name, insts in sorted(self.instances_of.items())}
        env = {
            **self.aws_env(),
            "STACK_NAME": self.stack_name,
            "IMPORT_BUCKET": created["ImportBucket"],
            "IMPORT_QUEUE_URL": created["ImportQueue"],
            "IMPORT_DLQ_URL": created["ImportDeadLetterQueue"],
            "INVITE_QUEUE_URL": created["InviteQueue"],
            "INVITE_EVENTS_TOPIC_ARN": created["InviteEventsTopic"],
            "INVITE_EVENTS_QUEUE_URL": created["InviteEventsQueue"],
            "DEVICES_TABLE": created["DevicesTable"],
            "USERS_TABLE": created["UsersTable"],
            "IMPORTS_TABLE": created["ImportsTable"],
            "SETTINGS_TABLE": created["SettingsTable"],
            "DENIALS_TABLE": created["DenialsTable"],
            "USED_TOKENS_TABLE": created["UsedTokensTable"],
            "EVENT_BUS_NAME": created["EventBus"],
            "LAMBDA_INVOKE_URL": f"http://127.0.0.1:{self.lambda_port}",
            "ADMISSION_URL": f"{self.function_url('admission')}/v1/admission",
            "ENROLLMENTS_URL": f"{self.function_url('admission')}/v1/enrollments",
            "ADMIN_API_URL": self.function_url("admin"),
            "ADMIN_URL": f"{self.admin_origin()}/",
            "COGNITO_USER_POOL_ID": self.pool_id,
            "COGNITO_CLIENT_ID": created["AdminUserPoolClient"],
            "ADMIN_USERNAME": ADMIN_USERNAME,
            "ADMIN_PASSWORD": self.admin_password(),
            "ADE_SIMULATOR_URL": self.ade_url(),
            "ADE_ACCOUNTS_TABLE": created["AdeAccountsTable"],
            "ADE_SYNC_QUEUE_URL": created["AdeSyncQueue"],
            "ADE_SECRET_PREFIX": f"{self.stack_name}/ade/",
            **self.local_signing_key(),
            **control,
            "STACK_INSTANCES": ",".join(f"{name}={n}" for name, n in started.items()),
        }
        (DEV_DIR / "stack.env").write_text("".join(f"{k}={v}\n" for k, v in env.items()))
        return env

    def down(self) -> None:
        # Everything is told at once and waited for together, within one bound:
        # one at a time, the graceful exits add up (half a second for each
        # function's proxy, a second for cargo lambda), and make dev held its
        # ports for ten seconds after Ctrl-C.
        deadline = time.monotonic() + STOP_GRACE_SECONDS + 1
        self.stopping.set()
        for r in getattr(self, "relays", []):
            r.stop.set()
        instances = [inst for insts in self.instances_of.values() for inst in insts]
        procs = [inst.halt() for inst in instances] + self.procs + list(self.builds)
        servers = [inst.server for inst in instances] + [proxy.server for proxy in self.faults.values()]
        closing = supervisor.close_servers([*servers, *(s for s in (self.control, self.http) if s is not None)])
        supervisor.stop_processes([p for p in procs if p is not None], STOP_GRACE_SECONDS)
        # The threads are daemons: whatever still runs past the bound ends with this process.
        for t in [*closing, *self.threads]:
            t.join(timeout=max(0.0, deadline - time.monotonic()))


class PageHandler(http.server.SimpleHTTPRequestHandler):
    """Serves static/ as CloudFront would, plus the page's config.json (written at deploy in AWS)."""

    page_config: bytes = b"{}"
    # Browsers refuse a module script served as anything but JavaScript, and
    # mimetypes reads the machine's own table (on Windows, the registry).
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, ".js": "text/javascript"}

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
        if self.path.split("?", 1)[0] != "/config.json":
            # Revalidated on each load (a 304 when unchanged): an edited module
            # never meets a stale copy of another from the browser's cache.
            self.send_header("Cache-Control", "no-cache")
        super().end_headers()

    def log_message(self, format: str, *args) -> None:  # noqa: A002
        log.debug(format, *args)


def wait_for(url: str, what: str, seconds: float, process: subprocess.Popen | None = None) -> None:
    """Until `url` answers; a `process` that exits first (e.g. the emulator's
    version guard refusing moto) fails at once, with the end of its log."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            tail = (DEV_DIR / f"{what}.log").read_text(errors="replace").strip().splitlines()[-5:]
            raise SystemExit(f"{what} exited ({process.returncode}) before it answered:\n  " + "\n  ".join(tail))
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


def _grants(props: dict, action: str) -> bool:
    """Whether a function's inline policy statements allow `action`."""
    for policy in props.get("Policies", []):
        for st in policy.get("Statement", []) if isinstance(policy, dict) else []:
            actions = st.get("Action", [])
            if action in ([actions] if isinstance(actions, str) else actions):
                return True
    return False


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
        "--instances",
        action="append",
        default=[],
        metavar="[NAME=]N",
        help="processes per function (Lambda's concurrent instances): N for every function, "
        "NAME=N for one (its binary name, e.g. admission=4); repeatable",
    )
    run.add_argument(
        "--faults",
        action="store_true",
        help="route each function's AWS calls through a crash injector (STACK_CONTROL_URL, for crash tests)",
    )
    run.add_argument("cmd", nargs=argparse.REMAINDER)
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", datefmt="%H:%M:%S")

    extra = {"endpoint": args.endpoint, "account": args.account, "release": args.release}
    if args.mode == "run":
        for value in args.instances:
            name, _, count = value.rpartition("=")
            if not count.isdigit() or int(count) < 1:
                p.error(f"--instances {value}: give a count of at least 1, as N or NAME=N")
            if name:
                extra.setdefault("function_instances", {})[name] = int(count)
            else:
                extra["instances"] = int(count)
        extra["inject_faults"] = args.faults
    if args.mode == "dev":
        stack = Stack(4566, 9000, 8080, watch_code=True, ade_port=ADE_SIMULATOR_PORT, **extra)
    else:
        stack = Stack(free_port(), free_port(), free_port(), watch_code=False, **extra)

    stopping = threading.Event()

    def on_signal(signum, _frame):
        # Only the first: make passes a SIGTERM on to us besides the one to the
        # group, and a second KeyboardInterrupt would cut the stop short.
        if not stopping.is_set():
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
        # The collection at exit walks the whole heap (every relay's SDK models)
        # and took seconds with the terminal waiting; nothing here needs it.
        gc.freeze()


if __name__ == "__main__":
    sys.exit(main())
