"""A single-node Apache Kafka (KRaft) broker run from the official jars on Maven Central.

The jars are fetched once per version with Maven into a cache outside the repository
(`~/.cache/correlator/kafka-<version>/libs`, or `$CORRELATOR_CACHE_DIR/kafka-<version>/libs`),
so every later start only pays for the JVM.
"""

from __future__ import annotations

import base64
import fcntl
import os
import re
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from correlator.broker.process import LocalBroker, die_with_parent, free_port, log_tail, wait_ready
from correlator.errors import BrokerError
from correlator.kafka_connection import KafkaConnection

_JAAS_SAFE = re.compile(r"[A-Za-z0-9_.-]+")

KAFKA_VERSION = "4.1.1"
#: The SLF4J 1.x binding for the log4j-core that kafka_2.13 already brings (both 2.24.3 in 4.1).
LOG4J_VERSION = "2.24.3"
DEPENDENCY_PLUGIN_VERSION = "3.8.1"

_POM = """\
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.correlator</groupId>
  <artifactId>kafka-fetch</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>{kafka}</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j-impl</artifactId>
      <version>{log4j}</version>
    </dependency>
  </dependencies>
  <build>
    <pluginManagement>
      <plugins>
        <plugin>
          <groupId>org.apache.maven.plugins</groupId>
          <artifactId>maven-dependency-plugin</artifactId>
          <version>{plugin}</version>
        </plugin>
      </plugins>
    </pluginManagement>
  </build>
</project>
"""

# Broker logs go to a file in the data dir; the noisiest loggers are turned down. log4j's own
# shutdown hook is off: it would stop logging before Kafka's hook has logged its clean shutdown.
_LOG4J2_XML = """\
<?xml version="1.0" encoding="UTF-8"?>
<Configuration status="WARN" shutdownHook="disable">
  <Appenders>
    <File name="file" fileName="{log_file}" append="true">
      <PatternLayout pattern="[%d] %p %m (%c)%n"/>
    </File>
  </Appenders>
  <Loggers>
    <Logger name="kafka.request.logger" level="WARN"/>
    <Logger name="org.apache.kafka.controller" level="INFO"/>
    <Logger name="state.change.logger" level="WARN"/>
    <Logger name="kafka.log.LogCleaner" level="INFO"/>
    <Root level="INFO">
      <AppenderRef ref="file"/>
    </Root>
  </Loggers>
</Configuration>
"""

# KAFKA.md's single-node KRaft settings plus what keeps tests fast on a small machine.
_SERVER_PROPERTIES = """\
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:{controller_port}
listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}{sasl_listener}
advertised.listeners=PLAINTEXT://127.0.0.1:{port}{sasl_advertised}
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT{sasl_map}
log.dirs={log_dirs}
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
group.min.session.timeout.ms=1000
num.network.threads=2
num.io.threads=2
num.recovery.threads.per.data.dir=1
background.threads=2
log.cleaner.threads=1
log.cleaner.dedupe.buffer.size=2097152
log.cleaner.backoff.ms=1000
auto.create.topics.enable=true
"""

# A SASL_PLAINTEXT listener with the PLAIN mechanism and fixed users, beside the PLAINTEXT one
# (which the broker itself, readiness checks and most tests keep using). No authorizer: any
# authenticated user may do anything; it is there to test clients' credentials, not ACLs.
_SASL_PROPERTIES = """\
sasl.enabled.mechanisms=PLAIN
listener.name.sasl_plaintext.sasl.enabled.mechanisms=PLAIN
listener.name.sasl_plaintext.plain.sasl.jaas.config=\
org.apache.kafka.common.security.plain.PlainLoginModule required {users};
"""

_JVM_OPTS = (
    "-Xms256m",
    "-Xmx512m",
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-Djava.awt.headless=true",
)


def cache_root() -> Path:
    """Where fetched brokers live: `$CORRELATOR_CACHE_DIR`, else the user's cache dir."""
    override = os.environ.get("CORRELATOR_CACHE_DIR")
    if override:
        return Path(override).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "correlator"


def kafka_libs(version: str = KAFKA_VERSION) -> Path:
    """The directory of jars for `version`, fetched with Maven on first use.

    Two processes may race here: a lock file serialises the fetch, and the jars land in a
    temporary directory that is renamed into place, so `libs/` is either complete or absent.
    """
    home = cache_root() / f"kafka-{version}"
    libs = home / "libs"
    if _complete(libs, version):
        return libs
    home.mkdir(parents=True, exist_ok=True)
    with (home / ".fetch.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _complete(libs, version):
            return libs
        _fetch(home, libs, version)
    return libs


def _complete(libs: Path, version: str) -> bool:
    return (libs / f"kafka_2.13-{version}.jar").is_file()


def _fetch(home: Path, libs: Path, version: str) -> None:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise BrokerError(
            "mvn not found on PATH: Maven is needed once to fetch the Kafka jars "
            "(or use --kind tansu)"
        )
    work = Path(tempfile.mkdtemp(prefix="fetch-", dir=home))
    try:
        (work / "pom.xml").write_text(
            _POM.format(kafka=version, log4j=LOG4J_VERSION, plugin=DEPENDENCY_PLUGIN_VERSION)
        )
        staged = work / "libs"
        result = subprocess.run(
            [
                mvn,
                "-q",
                "-B",
                "-f",
                str(work / "pom.xml"),
                "dependency:copy-dependencies",
                "-DincludeScope=runtime",
                f"-DoutputDirectory={staged}",
            ],
            cwd=work,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0 or not _complete(staged, version):
            output = (result.stdout + result.stderr).strip().splitlines()
            errors = [line for line in output if "ERROR" in line] or output or [""]
            raise BrokerError(
                f"could not fetch Kafka {version} jars with Maven "
                f"(exit {result.returncode}): {errors[0].strip()[:300]}"
            )
        if libs.exists():
            shutil.rmtree(libs, ignore_errors=True)
        os.rename(staged, libs)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def new_cluster_id() -> str:
    """A KRaft cluster id: a random UUID in URL-safe base64, as `kafka-storage random-uuid`."""
    while True:
        raw = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not raw.startswith("-"):  # Kafka avoids ids that look like a flag.
            return raw


class KafkaBroker(LocalBroker):
    """One Apache Kafka broker+controller on loopback, for tests and local runs.

    With no `data_dir` a temporary one is made and removed on stop (kept if start fails, so the
    log the error names can still be read).
    """

    kind: Literal["kafka"] = "kafka"
    label = "kafka broker"
    log_name = "server.log"

    def __init__(
        self,
        data_dir: Path | None = None,
        *,
        port: int | None = None,
        version: str = KAFKA_VERSION,
        start_timeout: float = 90.0,
        sasl_users: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(data_dir, port=port, start_timeout=start_timeout)
        self.version = version
        for name, password in (sasl_users or {}).items():
            if not _JAAS_SAFE.fullmatch(name) or '"' in password or "\\" in password:
                raise BrokerError(f"SASL user {name!r}: only [A-Za-z0-9_.-] names, no quotes")
        self.sasl_users = dict(sasl_users or {})
        """With users, a SASL_PLAINTEXT (PLAIN) listener on `sasl_port` accepts exactly these."""
        self.sasl_port: int | None = None

    def sasl_connection(self, username: str, password: str) -> KafkaConnection:
        """How a client reaches the SASL_PLAINTEXT listener with these credentials."""
        if self.sasl_port is None:
            raise BrokerError(f"the {self.label} has no SASL listener (give it sasl_users)")
        return KafkaConnection(
            f"127.0.0.1:{self.sasl_port}",
            security_protocol="SASL_PLAINTEXT",
            sasl_mechanism="PLAIN",
            sasl_username=username,
            sasl_password=password,
        )

    def start(self) -> KafkaBroker:
        """Fetch the jars if needed, format storage, start the JVM and wait until it serves."""
        java = shutil.which("java")
        if java is None:
            raise BrokerError("java not found on PATH: Kafka 4.x needs Java 17+ (or --kind tansu)")
        libs = kafka_libs(self.version)
        data = self._make_data_dir()
        # A port picked here may be taken before the JVM binds it; try again with new ones.
        attempts = 1 if self._requested_port else 3
        for attempt in range(attempts):
            try:
                self._start_once(java, libs, data)
                return self
            except BrokerError:
                self._kill()
                log = self.log_file
                in_use = log is not None and "Address already in use" in log_tail(log)
                if not in_use or attempt == attempts - 1:
                    raise
        raise AssertionError("unreachable")

    def _start_once(self, java: str, libs: Path, data: Path) -> None:
        port = self._requested_port or free_port()
        controller_port = free_port()
        logs = data / "logs"
        logs.mkdir(exist_ok=True)
        kraft = data / "kraft"
        (data / "log4j2.xml").write_text(_LOG4J2_XML.format(log_file=logs / "server.log"))
        sasl_port = free_port() if self.sasl_users else None
        sasl = {"sasl_listener": "", "sasl_advertised": "", "sasl_map": ""}
        if sasl_port is not None:
            listener = f",SASL_PLAINTEXT://127.0.0.1:{sasl_port}"
            sasl = {
                "sasl_listener": listener,
                "sasl_advertised": listener,
                "sasl_map": ",SASL_PLAINTEXT:SASL_PLAINTEXT",
            }
        properties = _SERVER_PROPERTIES.format(
            port=port, controller_port=controller_port, log_dirs=kraft, **sasl
        )
        if sasl_port is not None:
            users = " ".join(f'user_{n}="{p}"' for n, p in self.sasl_users.items())
            properties += _SASL_PROPERTIES.format(users=users)
        (data / "server.properties").write_text(properties)
        self.port = port
        self.sasl_port = sasl_port
        classpath = f"{libs}/*"
        jvm = [
            java,
            *_JVM_OPTS,
            f"-Dlog4j2.configurationFile={data / 'log4j2.xml'}",
            f"-Dkafka.logs.dir={logs}",
            "-cp",
            classpath,
        ]
        cluster_id = _existing_cluster_id(kraft) or new_cluster_id()
        fmt = subprocess.run(
            [
                *jvm,
                "kafka.tools.StorageTool",
                "format",
                "-t",
                cluster_id,
                "-c",
                str(data / "server.properties"),
                "--ignore-formatted",
            ],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
        )
        if fmt.returncode != 0:
            lines = (fmt.stderr + fmt.stdout).strip().splitlines()
            raise BrokerError(
                f"kafka storage format failed in {kraft}: {lines[-1] if lines else fmt.returncode}"
            )
        stdout = (logs / "stdout.log").open("ab")
        self._output = stdout
        self._process = subprocess.Popen(
            [*jvm, "kafka.Kafka", str(data / "server.properties")],
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent(),
        )
        wait_ready(self._process, port, self.bootstrap, self.start_timeout, self._failure)


def _existing_cluster_id(log_dir: Path) -> str | None:
    """The cluster id a reused data dir was formatted with, so a restart keeps its data."""
    meta = log_dir / "meta.properties"
    if not meta.is_file():
        return None
    for line in meta.read_text().splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "cluster.id":
            return value.strip()
    return None
