"""The local single-node Apache Kafka broker (KRaft) behind ``pcfx kafka start|stop|status``.

Maven resolves the broker's jars from Maven Central through ``ops/kafka/pom.xml`` (once; a hash of the pom
beside the jars says whether they are current), Java runs them. Everything the broker writes lives in
``<data dir>/kafka/``: the rendered ``server.properties``, ``cluster-id``, ``kafka.pid``, ``logs/`` and the
partition data in ``data/``. The broker runs in its own session, so it outlives the command that started it.

Tests and ``pcfx demo`` call :func:`ensure_broker` and :func:`stop_broker`; the CLI only prints their results.
"""

from __future__ import annotations

import base64
import hashlib
import re
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from string import Template

from pcfx.ops import background
from pcfx.settings import Settings

TEMPLATES = Path(__file__).with_name("kafka")
POM = TEMPLATES / "pom.xml"
SERVER_TEMPLATE = TEMPLATES / "server.properties"
LOG4J_CONFIG = TEMPLATES / "log4j2.properties"
MAIN_CLASS = "kafka.Kafka"
LOCAL_HOSTS = ("127.0.0.1", "localhost")
JAVA_MISSING = "Java 17+ is required to run the local Kafka broker (no `java` on PATH)"
MAVEN_MISSING = "Maven is required to fetch the Kafka jars from Maven Central (no `mvn` on PATH)"
POLL_S = 0.5  # pause between "does the broker answer yet?" probes, in seconds


class LauncherError(Exception):
    """The broker cannot be started or stopped; the message is meant for the user as it is."""


@dataclass(frozen=True)
class Broker:
    """A broker that answers at ``bootstrap_servers``. ``pid`` is None when pcfx did not start it."""

    bootstrap_servers: str
    pid: int | None
    started: bool  # True when this call launched it
    log_file: Path | None


@dataclass(frozen=True)
class BrokerStatus:
    """Result of :func:`broker_status`: ``running`` means the broker answers; ``line`` says it for humans."""

    running: bool
    line: str


@dataclass(frozen=True)
class BrokerFiles:
    """Where one data dir keeps its broker. ``console_log`` gets the JVM's own output (crashes before log4j is up)."""

    home: Path
    config: Path
    pid: Path
    cluster_id: Path
    logs: Path
    server_log: Path
    console_log: Path
    data: Path

    @classmethod
    def of(cls, settings: Settings) -> "BrokerFiles":
        home = settings.data_dir / "kafka"
        logs = home / "logs"
        return cls(
            home=home,
            config=home / "server.properties",
            pid=home / "kafka.pid",
            cluster_id=home / "cluster-id",
            logs=logs,
            server_log=logs / "server.log",
            console_log=logs / "console.log",
            data=home / "data",
        )


def libs_dir(settings: Settings) -> Path:
    """Directory of the broker's jars: ``PCFX_KAFKA_LIBS``, else ``<data dir>/kafka-libs``."""
    return Path(settings.kafka_libs).expanduser() if settings.kafka_libs else settings.data_dir / "kafka-libs"


def ensure_broker(
    settings: Settings, *, timeout_s: float = 120.0, progress: Callable[[str], None] = lambda _: None
) -> Broker:
    """Return the broker at ``settings.bootstrap_servers``, starting one if none answers.

    Idempotent: a broker this data dir started, or any broker already answering there, is reused. Blocks
    until a new broker answers a metadata request or ``timeout_s`` seconds pass (then it is stopped and
    :class:`LauncherError` carries the last log lines). ``progress`` receives one-line notes for slow steps.
    """
    files = BrokerFiles.of(settings)
    files.home.mkdir(parents=True, exist_ok=True)
    with background.file_lock(files.home / "launch.lock"):
        pid = running_pid(files)
        if pid is not None:
            _wait_until_answering(settings.bootstrap_servers, pid, files, timeout_s)
            return Broker(settings.bootstrap_servers, pid, started=False, log_file=files.server_log)
        if broker_answers(settings.bootstrap_servers):
            return Broker(settings.bootstrap_servers, None, started=False, log_file=None)
        return _launch(settings, files, timeout_s, progress)


def stop_broker(
    settings: Settings, *, timeout_s: float = 30.0, progress: Callable[[str], None] = lambda _: None
) -> int | None:
    """Stop the broker this data dir started: SIGTERM, wait ``timeout_s`` seconds, then SIGKILL.

    Returns its pid, or None when none was running (stopping twice is fine). A broker pcfx did not start
    is never touched.
    """
    files = BrokerFiles.of(settings)
    pid = running_pid(files)
    if pid is not None:
        background.stop(pid, timeout_s, lambda note: progress(f"kafka: {note}"))
    files.pid.unlink(missing_ok=True)
    return pid


def broker_status(settings: Settings) -> BrokerStatus:
    """Whether a broker answers at the bootstrap servers, and whether this data dir started it."""
    files = BrokerFiles.of(settings)
    address = settings.bootstrap_servers
    pid = running_pid(files)
    answers = broker_answers(address)
    if pid is not None and answers:
        return BrokerStatus(True, f"kafka: running at {address} (pid {pid}, data in {files.home})")
    if pid is not None:
        return BrokerStatus(False, f"kafka: pid {pid} is up but {address} does not answer (log: {files.server_log})")
    if answers:
        return BrokerStatus(True, f"kafka: a broker not started from this PCFX_DATA_DIR answers at {address}")
    return BrokerStatus(False, f"kafka: not running (nothing answers at {address})")


def broker_answers(bootstrap_servers: str, timeout_s: float = 5.0) -> bool:
    """True when a Kafka broker at ``bootstrap_servers`` answers a metadata request within ``timeout_s``.

    A plain TCP connect comes first, so a closed port costs no Kafka client and logs nothing.
    """
    if not any(_port_open(host, port) for host, port in _addresses(bootstrap_servers)):
        return False
    from kafka import KafkaAdminClient  # noqa: PLC0415  (kafka-python is only needed once something listens)
    from kafka.errors import KafkaError  # noqa: PLC0415

    try:
        admin = KafkaAdminClient(
            bootstrap_servers=bootstrap_servers,
            client_id="pcfx-probe",
            bootstrap_timeout_ms=int(timeout_s * 1000),
            request_timeout_ms=int(timeout_s * 1000),
        )
    except KafkaError:
        return False
    admin.close()
    return True


class BrokerUnreachable(ConnectionError):
    """Nothing accepts a connection at the configured Kafka address. The commands say so in one line at once,
    instead of a Kafka client's 30-60 s of retries ending in a traceback."""


def require_broker(bootstrap_servers: str) -> None:
    """Raise :class:`BrokerUnreachable` unless some bootstrap server accepts a TCP connection (1 s each)."""
    try:
        addresses = list(_addresses(bootstrap_servers))
    except ValueError:
        raise BrokerUnreachable(f"PCFX_BOOTSTRAP_SERVERS = {bootstrap_servers!r}: not host:port[,host:port...]") from None
    if not any(_port_open(host, port) for host, port in addresses):
        raise BrokerUnreachable(
            f"no Kafka broker answers at {bootstrap_servers} (PCFX_BOOTSTRAP_SERVERS): "
            "start one with `pcfx kafka start`, or point PCFX_BOOTSTRAP_SERVERS at yours"
        )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now, picked by the OS."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def running_pid(files: BrokerFiles) -> int | None:
    """Pid of this data dir's broker if it runs, else None (a stale pid file is ignored)."""
    return background.running_pid(files.pid, MAIN_CLASS, str(files.config))


def java_major_version(version_output: str) -> int:
    """Major Java version from ``java -version`` output: ``"17.0.15"`` -> 17, ``"1.8.0_292"`` -> 8."""
    match = re.search(r'version "(\d+)(?:\.(\d+))?', version_output)
    if match is None:
        raise LauncherError(f"cannot read the Java version from `java -version`: {version_output.strip()!r}")
    major, minor = int(match.group(1)), int(match.group(2) or 0)
    return minor if major == 1 else major


def render_server_properties(settings: Settings, files: BrokerFiles) -> str:
    """The broker config for these settings: listener ports from the settings, data in the data dir."""
    return Template(SERVER_TEMPLATE.read_text()).substitute(
        port=settings.kafka_port, controller_port=settings.kafka_controller_port, log_dirs=files.data
    )


def new_cluster_id() -> str:
    """A KRaft cluster id: 16 random bytes, URL-safe base64 without padding, never starting with '-'."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not text.startswith("-"):
            return text


def resolve_jars(libs: Path, progress: Callable[[str], None] = lambda _: None) -> Path:
    """Copy the pom's jars into ``libs`` with Maven unless they are already there for this very pom."""
    libs.mkdir(parents=True, exist_ok=True)
    stamp = libs / "pom.sha256"
    digest = hashlib.sha256(POM.read_bytes()).hexdigest()
    with background.file_lock(libs / ".lock"):
        if stamp.exists() and stamp.read_text() == digest:
            return libs
        mvn = shutil.which("mvn")
        if mvn is None:
            raise LauncherError(MAVEN_MISSING)
        progress(f"kafka: resolving the broker's jars with Maven into {libs} (first start only)")
        for old in libs.glob("*.jar"):
            old.unlink()  # jars of an older pom would shadow the new versions on the class path
        command = [mvn, "-q", "-B", "-f", str(POM), "dependency:copy-dependencies", f"-DoutputDirectory={libs}"]
        _run(command, "Maven could not resolve the Kafka jars")
        stamp.write_text(digest)
    return libs


def _launch(settings: Settings, files: BrokerFiles, timeout_s: float, progress: Callable[[str], None]) -> Broker:
    _require_local(settings)
    _require_free_ports(settings)
    java = _require_java()
    class_path = str(resolve_jars(libs_dir(settings), progress) / "*")
    files.config.write_text(render_server_properties(settings, files))
    files.logs.mkdir(exist_ok=True)
    jvm = [java, f"-Dkafka.logs.dir={files.logs}", f"-Dlog4j2.configurationFile={LOG4J_CONFIG}", "-cp", class_path]
    _format_storage(jvm, files)
    command = [*jvm, f"-Xmx{settings.kafka_heap}", MAIN_CLASS, str(files.config)]
    pid = background.spawn(command, files.console_log, files.pid)
    try:
        _wait_until_answering(settings.bootstrap_servers, pid, files, timeout_s)
    except LauncherError:
        stop_broker(settings)
        raise
    return Broker(settings.bootstrap_servers, pid, started=True, log_file=files.server_log)


def _format_storage(jvm: list[str], files: BrokerFiles) -> None:
    """Format the KRaft log dir once, with the cluster id this data dir keeps for good."""
    if (files.data / "meta.properties").exists():
        return
    if not files.cluster_id.exists():
        files.cluster_id.write_text(new_cluster_id() + "\n")
    cluster_id = files.cluster_id.read_text().strip()
    command = [*jvm, "kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(files.config)]
    _run(command, "Kafka could not format its storage")


def _wait_until_answering(bootstrap_servers: str, pid: int, files: BrokerFiles, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not broker_answers(bootstrap_servers):
        if not background.alive(pid):
            raise LauncherError(f"Kafka (pid {pid}) exited during start-up.\n{_last_log_lines(files)}")
        if time.monotonic() > deadline:
            raise LauncherError(
                f"Kafka (pid {pid}) did not answer at {bootstrap_servers} within {timeout_s:g} s.\n"
                f"{_last_log_lines(files)}"
            )
        time.sleep(POLL_S)


def _require_local(settings: Settings) -> None:
    host = settings.bootstrap_servers.split(",")[0].rsplit(":", 1)[0]
    if host not in LOCAL_HOSTS:
        raise LauncherError(
            f"`pcfx kafka start` runs a broker on 127.0.0.1, but PCFX_BOOTSTRAP_SERVERS points at {host}"
        )


def _require_free_ports(settings: Settings) -> None:
    checks = (
        (settings.kafka_port, "PCFX_BOOTSTRAP_SERVERS"),
        (settings.kafka_controller_port, "PCFX_KAFKA_CONTROLLER_PORT"),
    )
    for port, variable in checks:
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                raise LauncherError(
                    f"port {port} on 127.0.0.1 is taken by another program; choose a free one with {variable}"
                ) from None


def _require_java() -> str:
    java = shutil.which("java")
    if java is None:
        raise LauncherError(JAVA_MISSING)
    found = subprocess.run([java, "-version"], capture_output=True, text=True, check=False)
    major = java_major_version(found.stderr + found.stdout)
    if major < 17:
        raise LauncherError(f"Java 17+ is required to run the local Kafka broker (found Java {major} at {java})")
    return java


def _run(command: list[str], failure: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False)
    if done.returncode != 0:
        output = "\n".join((done.stdout + done.stderr).strip().splitlines()[-20:])
        raise LauncherError(f"{failure} (exit {done.returncode}): {' '.join(command)}\n{output}")


def _last_log_lines(files: BrokerFiles, count: int = 20) -> str:
    parts = []
    for log in (files.console_log, files.server_log):
        lines = log.read_text(errors="replace").splitlines()[-count:] if log.exists() else []
        if lines:
            parts.append(f"--- last lines of {log}\n" + "\n".join(lines))
    return "\n".join(parts) or f"(no log output in {files.logs})"


def _addresses(bootstrap_servers: str) -> Iterator[tuple[str, int]]:
    for server in bootstrap_servers.split(","):
        host, _, port = server.strip().rpartition(":")
        yield host, int(port)


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False
