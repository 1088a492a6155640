"""Local AWS for demos and integration tests: moto's server on 127.0.0.1, behind the
latency / fault-injection / call-count layer of moto_wsgi.py.

    with MotoEmulator(latency_seconds=0.05) as aws:
        aws.add_fault(FaultRule("AssumeRole", match="role/soc2-evidence-reader", times=None))
        aws.add_fault(FaultRule("GetBucketPolicy", throttle=True))  # always throttled
        aws.throttle(0.3, seed=7)  # 30 % of every other request answered with its protocol's throttling
        boto3.client("sts", endpoint_url=aws.endpoint_url, ...)
        print(aws.throttle_summary())  # "147 of 514 requests throttled"

This module owns the server's lifecycle (a thread, or MotoProcess: its own process for the
benchmarks), the environment that points boto3 at it, and the fault rules and request counts
the layer consults; how requests are named and faults answered lives in moto_wsgi.py.

moto keeps its state per process: every MotoEmulator in one process serves
the same accounts and resources (reset() clears them for all).

moto fills each EC2 backend (one per account and region, made on first use) with a catalogue
of public AMIs (~1,350, each with its snapshot); the demo estate and the collectors use none (no
check reads DescribeImages; a test's run_instances takes any AMI id). A run over every enabled
region of three accounts makes ~60 such backends: with the catalogue, the demo took 120 s of CPU
and 980 MB, without it 63 s and 700 MB (measured 2026-12-05). So start() turns it off for the
process (MOTO_EC2_LOAD_DEFAULT_AMIS=false, unless the environment already sets it).
"""

from __future__ import annotations

import logging
import os
import random
import threading
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from urllib.request import ProxyHandler, Request, build_opener

from moto.server import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server

from demo.moto_wsgi import ANY_OPERATION, DEFAULT_REGION, THROTTLING, FaultRule, FaultWrapper, RequestInfo

__all__ = [
    "ENV_UNSET",
    "CachedDispatcher",
    "MotoEmulator",
    "MotoProcess",
    "Throttling",
    "index_ec2_tags",
    "s3control_direct_host",
    "throttle_summary",
]

# Variables that would point boto3 at a real profile or role; use_env() removes them.
ENV_UNSET = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
)

# moto.settings.ec2_load_default_amis(): no catalogue of public AMIs in each EC2 region backend
NO_DEFAULT_AMIS = ("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")


class CachedDispatcher(DomainDispatcherApplication):
    """moto's dispatcher with its host -> backend lookup cached.

    moto's server names the backend of every request from the host it infers (e.g.
    "ec2.eu-west-1.amazonaws.com") by listing moto's modules (a directory scan) and matching
    the URL patterns of every service: ~1 ms of CPU per request, under the dispatcher's lock.
    The answer depends on the host string alone (the modules and patterns never change while the
    process runs, and /moto-api/reset clears backend state, not this), so it is cached per host."""

    def __init__(self, create_app: Any) -> None:
        super().__init__(create_app)
        self._backends: dict[str | None, Any] = {}

    def get_backend_for_host(self, host: str | None) -> Any:
        try:
            return self._backends[host]
        except KeyError:
            backend = self._backends[host] = super().get_backend_for_host(host)
            return backend


def index_ec2_tags() -> None:
    """Read an EC2 resource's tags from moto's tag store by its id (idempotent; moto's answers unchanged).

    moto 5.2 answers each resource's tags (TaggedEC2Resource.get_tags, in every DescribeVolumes,
    DescribeSnapshots... item) with describe_tags filtered on the resource id: a scan of every tag of
    the region, with a regular expression compiled per id. A DescribeVolumes of 250 tagged volumes
    was quadratic, a fifth of moto's CPU in bench/bench_aws_collect.py. The same list, in the same
    order, comes from the store's entry for that id; an id with glob characters keeps moto's path."""
    from moto.ec2.models.core import TaggedEC2Resource
    from moto.ec2.utils import EC2_PREFIX_TO_RESOURCE, get_prefix

    original = TaggedEC2Resource.get_tags
    if getattr(original, "indexed", False):
        return

    def get_tags(self: Any) -> list[dict[str, str]]:
        resource_id = self.id
        store = getattr(self.ec2_backend, "tags", None)
        if not resource_id or not isinstance(store, dict) or any(c in resource_id for c in "*?[\\"):
            return original(self)
        resource_type = EC2_PREFIX_TO_RESOURCE.get(get_prefix(resource_id), "")
        return [
            {"resource_id": resource_id, "key": key, "value": value, "resource_type": resource_type}
            for key, value in store.get(resource_id, {}).items()
        ]

    get_tags.indexed = True  # type: ignore[attr-defined]
    TaggedEC2Resource.get_tags = get_tags  # type: ignore[method-assign]


_THROTTLING_CODES = {code for code, _, _ in THROTTLING.values()}


@dataclass
class Throttling:
    """Random throttling: each matching request is throttled with `probability`, drawn from a seeded
    generator (the same sequence of requests is throttled the same way for the same seed)."""

    probability: float
    rng: random.Random
    operations: frozenset[str] | None = None  # None: every operation
    services: frozenset[str] | None = None  # None: every service

    def draw(self) -> bool:
        """Throttle this request? (one draw from the seeded generator)"""
        return self.rng.random() < self.probability

    def applies(self, info: RequestInfo) -> bool:
        return (self.operations is None or info.operation in self.operations) and (
            self.services is None or info.service in self.services
        )


def _names(value: str | Iterable[str] | None) -> frozenset[str] | None:
    if value is None or value == ANY_OPERATION:
        return None
    return frozenset([value] if isinstance(value, str) else value)


class MotoEmulator:
    """moto's server on 127.0.0.1 (a free port) in a daemon thread, behind the fault/latency wrapper."""

    def __init__(self, latency_seconds: float = 0.0, host: str = "127.0.0.1", port: int = 0) -> None:
        self.latency_seconds = latency_seconds
        self.skip_rewrites: set[str] = set()  # e.g. {"ListBuckets"}: moto's own answer, without BucketRegion
        self.host = host
        self.port = port
        self.endpoint_url = ""
        self.request_counts: Counter[str] = Counter()  # every request, per operation (faulted ones too)
        self.throttled_counts: Counter[str] = Counter()  # requests answered with a throttling error
        self.fault_counts: Counter[str] = Counter()  # requests answered with any injected error
        self._throttling: Throttling | None = None
        self._faults: list[FaultRule] = []
        self._remaining: dict[int, int] = {}  # id(rule) -> answers left, for rules with times
        self._lock = threading.Lock()
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    # lifecycle
    def start(self) -> MotoEmulator:
        if self._server is not None:
            return self
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        os.environ.setdefault(NO_DEFAULT_AMIS[0], NO_DEFAULT_AMIS[1])  # read when each EC2 backend is made
        index_ec2_tags()
        app = FaultWrapper(CachedDispatcher(create_backend_app), self)
        self._server = make_server(self.host, self.port, app, threaded=True, request_handler=MotoRequestHandler)
        self.port = self._server.server_address[1]
        self.endpoint_url = f"http://{self.host}:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="moto-emulator", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = self._thread = None

    def __enter__(self) -> MotoEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # environment for boto3 / the CLI
    def env(self) -> dict[str, str]:
        """Variables that point boto3 at this emulator with dummy credentials and no real profile.
        AWS_PROFILE and friends cannot be neutralised by a value: use_env() removes ENV_UNSET."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "",
            "AWS_SECURITY_TOKEN": "",
            "AWS_DEFAULT_REGION": DEFAULT_REGION,
            "AWS_REGION": DEFAULT_REGION,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    @contextmanager
    def use_env(self) -> Iterator[dict[str, str]]:
        """Apply env() to os.environ (and drop ENV_UNSET) for the duration of the block."""
        saved = {k: os.environ.get(k) for k in (*self.env(), *ENV_UNSET)}
        for key in ENV_UNSET:
            os.environ.pop(key, None)
        os.environ.update(self.env())
        try:
            yield self.env()
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value

    # faults and counts
    def add_fault(self, rule: FaultRule) -> None:
        with self._lock:
            self._faults.append(rule)
            if rule.times is not None:
                self._remaining[id(rule)] = rule.times

    def clear_faults(self) -> None:
        """Drop every fault rule and stop random throttling."""
        with self._lock:
            self._faults.clear()
            self._remaining.clear()
            self._throttling = None

    def throttle(
        self,
        probability: float,
        *,
        seed: int | None = 0,
        operations: str | Iterable[str] = ANY_OPERATION,
        services: str | Iterable[str] | None = None,
    ) -> None:
        """Answer each matching request with its protocol's throttling error with this probability
        (0 stops). Fault rules are consulted first; throttled requests are counted (throttled_counts)."""
        if not 0.0 <= probability <= 1.0:
            raise ValueError(f"probability must be within [0, 1], not {probability}")
        with self._lock:
            self._throttling = (
                Throttling(probability, random.Random(seed), _names(operations), _names(services))
                if probability > 0
                else None
            )

    def reset_counts(self) -> None:
        with self._lock:
            self.request_counts.clear()
            self.throttled_counts.clear()
            self.fault_counts.clear()

    def counts(self) -> dict[str, int]:
        """A consistent copy of request_counts."""
        with self._lock:
            return dict(self.request_counts)

    def throttled(self) -> dict[str, int]:
        """A consistent copy of throttled_counts."""
        with self._lock:
            return dict(self.throttled_counts)

    def faulted(self) -> dict[str, int]:
        """A consistent copy of fault_counts (rules and throttling)."""
        with self._lock:
            return dict(self.fault_counts)

    def throttle_summary(self) -> str:
        """ "N of M requests throttled" since the counts were last reset."""
        return throttle_summary(self.throttled(), self.counts())

    def reset(self) -> None:
        """Drop all moto state (POST /moto-api/reset); faults and counts are kept."""
        opener = build_opener(ProxyHandler({}))  # never via an HTTP proxy from the environment
        with opener.open(Request(f"{self.endpoint_url}/moto-api/reset", method="POST", data=b""), timeout=30) as r:
            r.read()

    def record(self, info: RequestInfo, haystack: str) -> FaultRule | None:
        """Count the request and return the fault rule to answer it with, if any."""
        with self._lock:
            self.request_counts[info.operation] += 1
            rule = self._matching_rule(info, haystack)
            throttling = self._throttling
            if rule is None and throttling is not None and throttling.applies(info) and throttling.draw():
                rule = FaultRule(info.operation, throttle=True, times=1)
            if rule is not None:
                self.fault_counts[info.operation] += 1
                if rule.throttle or rule.code in _THROTTLING_CODES:
                    self.throttled_counts[info.operation] += 1
            return rule

    def _matching_rule(self, info: RequestInfo, haystack: str) -> FaultRule | None:
        for rule in self._faults:
            if rule.operation not in (ANY_OPERATION, info.operation) or (rule.service and rule.service != info.service):
                continue
            if rule.match is not None and rule.match not in haystack:
                continue
            if rule.times is not None:
                left = self._remaining.get(id(rule), 0)
                if left <= 0:
                    continue
                self._remaining[id(rule)] = left - 1
            return rule
        return None


def throttle_summary(throttled: dict[str, int], counts: dict[str, int]) -> str:
    """ "N of M requests throttled (x %)", from throttled_counts and request_counts."""
    n, total = sum(throttled.values()), sum(counts.values())
    share = f" ({100 * n / total:.1f} %)" if total else ""
    return f"{n} of {total} requests throttled{share}"


def s3control_direct_host(client: Any) -> Any:
    """botocore's s3control endpoint rules put "<AccountId>." in front of any endpoint_url host
    (Config(inject_host_prefix=False) does not stop it), which cannot resolve for 127.0.0.1;
    send the request to the endpoint's own host instead."""

    def strip(request: Any, **_: Any) -> None:
        parts = urlsplit(request.url)
        label, _, rest = parts.netloc.partition(".")
        if label.isdigit() and len(label) == 12 and rest:
            request.url = urlunsplit(parts._replace(netloc=rest))

    client.meta.events.register("before-sign.s3-control", strip)
    return client


# ---------------------------------------------------------------- in a child process


def _serve_in_child(conn: Any, latency_seconds: float) -> None:
    """Child-process loop: run an emulator and answer control messages."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    emulator = MotoEmulator(latency_seconds=latency_seconds).start()
    conn.send(emulator.endpoint_url)
    while True:
        command, arg = conn.recv()
        if command == "latency":
            emulator.latency_seconds = float(arg)
            conn.send(None)
        elif command == "counts":
            conn.send(emulator.counts())
        elif command == "throttle":
            probability, seed = arg
            emulator.throttle(probability, seed=seed)
            conn.send(None)
        elif command == "throttled":
            conn.send(emulator.throttled())
        elif command == "reset_counts":
            emulator.reset_counts()
            conn.send(None)
        elif command == "stop":
            emulator.stop()
            conn.send(None)
            return


class MotoProcess:
    """A MotoEmulator in its own process: for benchmarks, so the emulator's
    CPU, GIL and memory are not counted as the tool's. Same env/use_env,
    latency, counts and random throttling surface; no fault rules."""

    def __init__(self, latency_seconds: float = 0.0) -> None:
        import multiprocessing

        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._process = ctx.Process(target=_serve_in_child, args=(child, latency_seconds), daemon=True)
        self._latency = latency_seconds
        self.endpoint_url = ""

    def __enter__(self) -> MotoProcess:
        self._process.start()
        self.endpoint_url = self._conn.recv()
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self._ask("stop")
        finally:
            self._process.join(timeout=10)
            if self._process.is_alive():
                self._process.kill()

    def _ask(self, command: str, arg: object = None) -> Any:
        self._conn.send((command, arg))
        return self._conn.recv()

    @property
    def latency_seconds(self) -> float:
        return self._latency

    @latency_seconds.setter
    def latency_seconds(self, value: float) -> None:
        self._latency = value
        self._ask("latency", value)

    def counts(self) -> dict[str, int]:
        return dict(self._ask("counts"))

    @property
    def pid(self) -> int | None:
        return self._process.pid

    def reset_counts(self) -> None:
        self._ask("reset_counts")

    def throttle(self, probability: float, *, seed: int | None = 0) -> None:
        """MotoEmulator.throttle for every operation and service."""
        self._ask("throttle", (probability, seed))

    def throttled(self) -> dict[str, int]:
        return dict(self._ask("throttled"))

    def throttle_summary(self) -> str:
        return throttle_summary(self.throttled(), self.counts())

    env = MotoEmulator.env
    use_env = MotoEmulator.use_env
