"""The simulated RDS API served over HTTP, as boto3 and the AWS CLI reach it.

Clients point at it with `AWS_ENDPOINT_URL_RDS=http://127.0.0.1:PORT` and any credentials;
the operator has no code path of its own for it. The same port answers STS
(`AWS_ENDPOINT_URL_STS`), for `spec.aws.roleArn`, and, with `event_queue`, SQS
(`AWS_ENDPOINT_URL_SQS`) for the queue an EventBridge rule fills with the Region's RDS events
(behaviour/eventbridge.py): moto's dispatcher picks the service from the credential scope of
each request's signature. Besides the RDS API the server answers
a few control requests for tests that run it as a separate process:

    GET  /_sim/calls     the call record (JSON list, see CallRecorder)
    GET  /_sim/transitions  the delayed state changes applied so far (JSON list of {"label",
                         "time"}: e.g. "bgd-... provisioned", "reboot <instance>", "snapshot <id>"),
                         each with the time it was due, i.e. when AWS changed the state
    POST /_sim/hold      body {"operation": "X", "after": N}: hold responses to X (after letting
                         N through, default 0) until released
    POST /_sim/release   release every held response and disarm the holds
    GET  /_sim/aws-faults  what AWS's own faults did so far ({"events dropped": N, ...})
    POST /_sim/happen    body {"kind": "delete-deployment" | "add-reader" | "remove-reader",
                         "cluster": "..." (optional)}: someone else does it now (see Happening)
    GET  /_sim/held      {"held": [operations whose responses are waiting now]}

Faults (FaultConfig, see faults.py) are injected here, around moto: a refused call never
reaches it, a lost or slow answer comes after it carried the call out.
"""

from __future__ import annotations

import contextlib
import io
import json
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs

import boto3
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler
from werkzeug.serving import BaseWSGIServer, make_server

from . import behaviour, scenarios
from .behaviour.calls import access_key_of
from .config import HAPPENING_KINDS, DatabaseEndpoints, FaultConfig, Happening, SimConfig
from .faults import LOST, REFUSING, SERVER_ERROR, SLOW, THROTTLED, FaultInjector, refusal
from .recorder import CallRecorder, ResponseHold, is_mutating, took_effect

StartResponse = Callable[..., Any]
# How often the timeline advances by itself while an event queue is served: an event reaches the
# queue within this of the change (EventBridge's own delivery takes about as long).
EVENT_DELIVERY_SECONDS = 0.1
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class _QuietRequestHandler(MotoRequestHandler):
    """moto's request handler without a log line per request (the call record says more)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class _SimApp:
    """WSGI front: control endpoints, injected faults, then moto, then the response hold."""

    def __init__(
        self,
        moto_app: WSGIApp,
        recorder: CallRecorder,
        hold: ResponseHold,
        injector: FaultInjector,
        transitions: Callable[[], list[dict[str, str]]],
        happen: Callable[[str, str | None], None],
        aws_faults_met: Callable[[], dict[str, int]],
    ) -> None:
        self._moto_app = moto_app
        self._recorder = recorder
        self._hold = hold
        self._injector = injector
        self._transitions = transitions
        self._happen = happen
        self._aws_faults_met = aws_faults_met

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "").startswith("/_sim/"):
            return self._control(environ, start_response)
        operation = _operation_of(environ)
        fault = self._injector.pick(operation) if operation else None
        if operation and fault in REFUSING:
            code = self._injector.throttling_code() if fault == THROTTLED else ""
            status, code, body = refusal(fault, operation, code)
            signer = access_key_of(environ.get("HTTP_AUTHORIZATION", ""))
            self._recorder.record(operation, _params_of(environ), code, access_key_id=signer, fault=fault)
            start_response(status, [("Content-Type", "text/xml"), ("Content-Length", str(len(body)))])
            return [body]
        lost: list[str] = []  # how a chosen call's answer is lost, once it took effect

        def mark(entry: dict[str, Any]) -> str | None:
            if fault:
                return fault
            if entry["took_effect"] and operation and entry["operation"] == operation:
                kind = self._injector.lose_answer(operation, entry["params"])
                if kind:
                    lost.append(kind)
                    if kind == "500":
                        entry["answer"] = "InternalFailure"
                    return LOST
            return None

        marking = fault or self._injector.config.lost_answers
        with self._recorder.marking(mark) if marking else contextlib.nullcontext():
            status, headers, body = self._carry_out(environ)
        # The call has been carried out; a held response waits here, state already changed.
        if operation:
            self._hold.pass_or_wait(operation)
        if fault == SLOW:
            time.sleep(self._injector.config.slow_seconds)
        elif fault == LOST or lost == ["reset"]:
            _drop_connection(environ)
        elif lost and operation:
            status, _code, body = refusal(SERVER_ERROR, operation)
            headers = [("Content-Type", "text/xml"), ("Content-Length", str(len(body)))]
        start_response(status, headers)
        return [body]

    def _carry_out(self, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
        captured: list[Any] = []

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
            captured[:] = [status, headers]
            return lambda _data: None

        chunks = self._moto_app(environ, capture)
        try:
            body = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        return captured[0], captured[1], body

    def _control(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ["PATH_INFO"]
        payload: Any
        if method == "GET" and path == "/_sim/calls":
            payload = self._recorder.calls()
        elif method == "GET" and path == "/_sim/transitions":
            payload = self._transitions()
        elif method == "GET" and path == "/_sim/aws-faults":
            payload = self._aws_faults_met()
        elif method == "GET" and path == "/_sim/held":
            payload = {"held": self._hold.held()}
        elif method == "POST" and path == "/_sim/hold":
            body = json.loads(_read_body(environ) or b"{}")
            operation, after = body.get("operation"), body.get("after", 0)
            if not isinstance(operation, str) or not operation or not isinstance(after, int) or after < 0:
                return _json(
                    start_response, "400 Bad Request", {"error": 'body must be {"operation": "...", "after": N >= 0}'}
                )
            self._hold.hold(operation, after)
            payload = {"holding": operation}
        elif method == "POST" and path == "/_sim/happen":
            body = json.loads(_read_body(environ) or b"{}")
            kind, cluster = body.get("kind"), body.get("cluster")
            if kind not in HAPPENING_KINDS or not isinstance(cluster, str | None):
                return _json(
                    start_response,
                    "400 Bad Request",
                    {"error": f'body must be {{"kind": one of {list(HAPPENING_KINDS)}, "cluster": "..." (optional)}}'},
                )
            self._happen(kind, cluster)
            payload = {"happened": kind}
        elif method == "POST" and path == "/_sim/release":
            self._hold.release()
            payload = {"released": True}
        else:
            return _json(start_response, "404 Not Found", {"error": f"no such control endpoint: {method} {path}"})
        return _json(start_response, "200 OK", payload)


def _read_body(environ: dict[str, Any]) -> bytes:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return body


def _drop_connection(environ: dict[str, Any]) -> None:
    """Close the client's connection before it gets an answer (werkzeug then drops the write)."""
    connection = environ.get("werkzeug.socket")
    if connection is not None:
        with contextlib.suppress(OSError):
            connection.shutdown(socket.SHUT_RDWR)


def _params_of(environ: dict[str, Any]) -> dict[str, Any]:
    """A query-protocol request's parameters, as the call record keeps them."""
    query = parse_qs(environ.get("QUERY_STRING", ""))
    if environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        query.update(parse_qs(_read_body(environ).decode("utf-8", "replace")))
    return {k: v[0] if len(v) == 1 else v for k, v in query.items() if k not in ("Action", "Version")}


def _operation_of(environ: dict[str, Any]) -> str | None:
    """The Action of an AWS query-protocol request (how boto3 and the CLI call RDS)."""
    query = parse_qs(environ.get("QUERY_STRING", ""))
    if "Action" in query:
        return query["Action"][0]
    if environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        form = parse_qs(_read_body(environ).decode("utf-8", "replace"))
        if "Action" in form:
            return form["Action"][0]
    return None


def _json(start_response: StartResponse, status: str, payload: Any) -> Iterable[bytes]:
    body = json.dumps(payload).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def rds_client(endpoint_url: str, region: str = scenarios.RUNBOOK_REGION) -> Any:
    """A boto3 RDS client for a simulator at `endpoint_url`, with the throwaway credentials it
    accepts (what `aws rds ... --endpoint-url` is to the AWS CLI)."""
    return boto3.client(
        "rds",
        region_name=region,
        endpoint_url=endpoint_url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


class SimServer:
    """A moto-based RDS API with AWS's timing (and STS, trusting roles as `roles` says), served
    on 127.0.0.1 in a background thread.

        with SimServer(config=SimConfig(), scenario="runbook", port=0) as server:
            client = rds_client(server.endpoint_url)
            ...
            server.calls(); server.mutating_calls()

    One SimServer runs per process at a time: moto keeps its state in process-wide
    registries, which start() resets and stop() hands back.
    """

    def __init__(
        self,
        config: SimConfig | None = None,
        scenario: str | Mapping[str, Any] = "runbook",
        port: int = 0,
        host: str = "127.0.0.1",
        on_call: Callable[[dict[str, Any]], None] | None = None,
        roles: behaviour.RoleTrust | None = None,
        faults: FaultConfig | None = None,
        databases: DatabaseEndpoints | None = None,
        event_queue: str | None = None,
        cluster_quota: int | None = None,
    ) -> None:
        self.config = config or SimConfig()
        self.databases = databases or DatabaseEndpoints()
        self.event_queue = event_queue
        self.cluster_quota = cluster_quota
        self.roles = roles or behaviour.RoleTrust()
        self.faults = faults or FaultConfig()
        self.scenario = scenarios.resolve(scenario)
        self._requested_port = port
        self._host = host
        self._recorder = CallRecorder(on_record=on_call)
        self._hold = ResponseHold()
        self._httpd: BaseWSGIServer | None = None
        self._simulation: behaviour.Simulation | None = None
        self._thread: threading.Thread | None = None
        self._delivery: behaviour.EventBridgeDelivery | None = None
        self._pump: threading.Thread | None = None
        self._stopping = threading.Event()

    def start(self) -> SimServer:
        if self._httpd is not None:
            raise RuntimeError("SimServer already started")
        clusters = self.scenario.get("db_clusters") or [{}]
        simulation = behaviour.Simulation(
            config=self.config,
            recorder=self._recorder,
            roles=self.roles,
            aws=behaviour.AwsFaults(self.faults, default_cluster=clusters[0].get("identifier")),
            databases=self.databases,
            cluster_quota=self.cluster_quota,
        )
        behaviour.install(simulation)
        self._simulation = simulation
        try:
            with simulation.lock:
                simulation.faults = scenarios.apply(self.scenario)
                for happening in self.faults.happenings:
                    if happening.moment == "start":
                        self._home_backend().schedule_happening(happening)
                if self.event_queue:
                    self._delivery = behaviour.EventBridgeDelivery(self._home_backend(), self.event_queue)
            app = _SimApp(
                DomainDispatcherApplication(behaviour.create_backend_app),
                self._recorder,
                self._hold,
                FaultInjector(self.faults),
                lambda: self.transitions(),
                self.happen,
                self.aws_faults_met,
            )
            self._httpd = make_server(
                self._host, self._requested_port, app, threaded=True, request_handler=_QuietRequestHandler
            )
        except BaseException:
            behaviour.uninstall()
            raise
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1}, name="aurora-upgrade-sim", daemon=True
        )
        self._thread.start()
        if self._delivery is not None:
            self._stopping.clear()
            self._pump = threading.Thread(target=self._deliver_events, name="aurora-upgrade-sim-events", daemon=True)
            self._pump.start()
        return self

    def _deliver_events(self) -> None:
        """Advance the timeline on its own and put new events on the queue: a client that only
        long-polls the queue makes no RDS request that would advance it."""
        while not self._stopping.wait(EVENT_DELIVERY_SECONDS):
            assert self._simulation is not None and self._delivery is not None
            with self._simulation.lock:
                behaviour.advance_all()
                self._delivery.deliver()

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._stopping.set()
        if self._pump is not None:
            self._pump.join(timeout=10)
            self._pump = None
        self._delivery = None
        self._hold.release()
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._httpd = None
        self._thread = None
        behaviour.uninstall()

    def __enter__(self) -> SimServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("SimServer not started")
        return int(self._httpd.server_address[1])

    @property
    def endpoint_url(self) -> str:
        return f"http://{self._host}:{self.port}"

    @property
    def event_queue_url(self) -> str | None:
        """The event queue's URL as AWS names it (its Region and account in it); clients reach it
        on this server with AWS_ENDPOINT_URL_SQS=endpoint_url."""
        if not self.event_queue:
            return None
        account = self.scenario.get("account_id", scenarios.RUNBOOK_ACCOUNT_ID)
        region = self.scenario.get("region", scenarios.RUNBOOK_REGION)
        return f"https://sqs.{region}.amazonaws.com/{account}/{self.event_queue}"

    def calls(self) -> list[dict[str, Any]]:
        """Every API call answered so far: operation, params, outcome, access_key_id, time (scenario
        setup excluded)."""
        return self._recorder.calls()

    def transitions(self) -> list[dict[str, str]]:
        """The delayed state changes applied so far, each with the time it was due."""
        if self._simulation is None:
            return []
        with self._simulation.lock:
            return [dict(entry) for entry in self._simulation.transitions]

    def mutating_calls(self) -> list[str]:
        """Names of the mutating calls (Create*, Delete*, Modify*, Reboot*, Switchover*, AddTags*...)."""
        return self._recorder.mutating_calls()

    def effective_mutating_calls(self) -> list[str]:
        """Names of the mutating calls that took effect (a lost answer included), in order."""
        return [c["operation"] for c in self.calls() if is_mutating(c["operation"]) and took_effect(c)]

    def aws_faults_met(self) -> dict[str, int]:
        """What AWS's own faults did so far (FaultConfig's events, rollbacks, happenings): e.g.
        {"events dropped": 12, "switchovers rolled back": 1, "delete-deployment": 1}. Events
        are counted once a DescribeEvents has seen them."""
        if self._simulation is None:
            return {}
        with self._simulation.lock:
            behaviour.advance_all()
            for backend in behaviour.sim_backends():
                backend.fate_new_events()
            return dict(self._simulation.aws.met)

    def happen(self, kind: str, cluster: str | None = None) -> None:
        """Make `kind` (a Happening kind: delete-deployment, add-reader, remove-reader) happen now
        in the scenario's Region, as someone else would; it shows in transitions()."""
        if self._simulation is None:
            raise RuntimeError("SimServer not started")
        happening = Happening(kind=kind, moment="start", cluster=cluster)
        with self._simulation.lock:
            behaviour.advance_all()
            now = datetime.now(UTC)
            self._home_backend().happen(happening, now)
            self._simulation.transitions.append({"label": f"{kind} (asked)", "time": now.isoformat()})

    def _home_backend(self) -> behaviour.SimRDSBackend:
        account = str(self.scenario.get("account_id", scenarios.RUNBOOK_ACCOUNT_ID))
        return behaviour.backend_for(account, str(self.scenario.get("region", scenarios.RUNBOOK_REGION)))

    def hold(self, operation: str, after: int = 0) -> None:
        """Hold every response to `operation` (after letting `after` of them through), after
        the call took effect, until release()."""
        self._hold.hold(operation, after)

    def release(self) -> None:
        self._hold.release()

    def held(self) -> list[str]:
        """Operations whose responses are being held right now."""
        return self._hold.held()

    def wait_until_held(self, operation: str, timeout: float = 10.0) -> bool:
        """Block until a response to `operation` is being held (False on timeout)."""
        return self._hold.wait_until_held(operation, timeout)
