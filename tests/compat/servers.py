"""Start and stop the servers the compatibility suite talks to.

Two kinds of server can be started, both from the same generated zoo.cfg:

* ``warden``: ``$WARDEN_BIN server --config zoo.cfg`` (default binary
  ``target/release/warden`` under the repository root);
* ``zookeeper``: Apache ZooKeeper 3.8 from Debian's ``zookeeper`` package,
  ``java ... org.apache.zookeeper.server.quorum.QuorumPeerMain zoo.cfg``.

Each server gets a free loopback port, a fresh temporary data directory and a
log file.  Readiness is the four-letter word ``ruok`` answered with ``imok``.

Extra settings go to both kinds alike: ``extra_cfg`` keys are written to
zoo.cfg (ZooKeeper sets a key it does not know, e.g. ``enforceQuota``, as
the system property ``zookeeper.<key>``), and ``jvm_flags`` (``-D...``) are
given to ZooKeeper's JVM and to Warden as ``$SERVER_JVMFLAGS``.

A server given ``jaas`` (the text of a JAAS login configuration) writes it to
``jaas.conf`` next to zoo.cfg and is pointed at it the way each is configured
in production: ZooKeeper with ``-Djava.security.auth.login.config=...`` on the
JVM command line, Warden with the same flag in ``SERVER_JVMFLAGS``.
"""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]

ZK_JAR_DIR = Path(os.environ.get("ZK_JAR_DIR", "/usr/share/java"))
# zookeeper.jar's manifest carries the Class-Path of its Debian dependencies;
# slf4j-simple gives us server logs on stderr.
ZK_CLASSPATH = os.environ.get(
    "ZK_CLASSPATH",
    f"{ZK_JAR_DIR}/zookeeper.jar:{ZK_JAR_DIR}/slf4j-simple.jar",
)
JAVA = os.environ.get("JAVA", shutil.which("java") or "/usr/bin/java")
ZKCLI = os.environ.get("ZKCLI", "/usr/share/zookeeper/bin/zkCli.sh")

READY_TIMEOUT = float(os.environ.get("WARDEN_READY_TIMEOUT", "30"))


class ServerStartError(RuntimeError):
    pass


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def four_letter(host, port, cmd, timeout=5.0):
    """Send a four-letter word and read the whole answer (until EOF)."""
    if isinstance(cmd, str):
        cmd = cmd.encode()
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(cmd)
        chunks = []
        while True:
            try:
                d = s.recv(65536)
            except ConnectionResetError:
                break
            if not d:
                break
            chunks.append(d)
    return b"".join(chunks).decode("utf-8", "replace")


def shards_from_env():
    return int(os.environ.get("WARDEN_SHARDS", "1"))


class Server:
    """One server process under a temporary directory."""

    kind = None

    def __init__(self, shards=None, extra_cfg=None, jvm_flags=None, jaas=None):
        self.host = "127.0.0.1"
        self.port = free_port()
        self.shards = shards_from_env() if shards is None else shards
        self.dir = Path(tempfile.mkdtemp(prefix=f"compat-{self.kind}-"))
        self.data_dir = self.dir / "data"
        self.data_dir.mkdir()
        self.cfg_path = self.dir / "zoo.cfg"
        self.log_path = self.dir / "server.log"
        self.extra_cfg = dict(extra_cfg or {})
        self.jvm_flags = list(jvm_flags or [])
        self.jaas_path = None
        if jaas is not None:
            self.jaas_path = self.dir / "jaas.conf"
            self.jaas_path.write_text(jaas)
        self.proc = None
        self._log = None

    # -- configuration -------------------------------------------------------
    def cfg_items(self):
        items = {
            "tickTime": "2000",
            "clientPort": str(self.port),
            "clientPortAddress": self.host,
            "dataDir": str(self.data_dir),
            "4lw.commands.whitelist": "*",
            "extendedTypesEnabled": "true",
            "shards": str(self.shards),
            # ZooKeeper takes this as -D (see its command); Warden from zoo.cfg.
            "znode.container.checkIntervalMs": "1000",
            # 1 MiB txn log files, not 64 MiB: tests start many servers.
            "preAllocSize": "1024",
        }
        items.update(self.extra_cfg)
        return items

    def write_cfg(self):
        text = "".join(f"{k}={v}\n" for k, v in self.cfg_items().items())
        self.cfg_path.write_text(text)

    @property
    def hosts(self):
        return f"{self.host}:{self.port}"

    def command(self):
        raise NotImplementedError

    def jaas_flags(self):
        """The JVM flag naming the JAAS file, if there is one."""
        if self.jaas_path is None:
            return []
        return [f"-Djava.security.auth.login.config={self.jaas_path}"]

    def environment(self):
        """The server process's environment."""
        return dict(os.environ)

    def describe(self):
        return f"{self.kind} on {self.hosts}"

    # -- lifecycle -----------------------------------------------------------
    def start(self):
        self.write_cfg()
        cmd = self.command()
        self._log = open(self.log_path, "wb")
        self._log.write(("$ " + " ".join(cmd) + "\n").encode())
        self._log.flush()
        try:
            self.proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                env=self.environment(),
                cwd=self.dir,
                start_new_session=True,
            )
        except OSError as e:
            raise ServerStartError(f"cannot start {self.describe()}: {e}") from e
        self.wait_ready()
        return self

    def wait_ready(self):
        deadline = time.monotonic() + READY_TIMEOUT
        last = None
        while time.monotonic() < deadline:
            rc = self.proc.poll()
            if rc is not None:
                raise ServerStartError(
                    f"{self.describe()} exited with status {rc} before it was "
                    f"ready\n--- server log {self.log_path} ---\n{self.log_tail()}"
                )
            try:
                if four_letter(self.host, self.port, "ruok", timeout=1.0) == "imok":
                    return
                last = "ruok did not answer imok"
            except OSError as e:
                last = repr(e)
            time.sleep(0.1)
        self.stop()
        raise ServerStartError(
            f"{self.describe()} was not ready after {READY_TIMEOUT:.0f}s "
            f"(last: {last})\n--- server log {self.log_path} ---\n{self.log_tail()}"
        )

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(timeout=10)
        if self._log is not None:
            self._log.close()
            self._log = None

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def log_tail(self, max_bytes=20000):
        try:
            data = self.log_path.read_bytes()
        except OSError:
            return "(no log)"
        if len(data) > max_bytes:
            data = b"...\n" + data[-max_bytes:]
        return data.decode("utf-8", "replace")

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        self.cleanup()


class WardenServer(Server):
    kind = "warden"

    def __init__(self, binary=None, **kw):
        super().__init__(**kw)
        b = binary or os.environ.get("WARDEN_BIN", "target/release/warden")
        p = Path(b)
        if not p.is_absolute():
            p = REPO_ROOT / p
        self.binary = p

    def describe(self):
        return f"warden (shards={self.shards}) on {self.hosts}"

    def command(self):
        if not self.binary.exists():
            raise ServerStartError(
                f"Warden binary not found at {self.binary}. Build it with "
                "`cargo build --release`, or set WARDEN_BIN, or run the suite "
                "against Apache ZooKeeper with WARDEN_TEST_TARGET=zookeeper."
            )
        return [str(self.binary), "server", "--config", str(self.cfg_path)]

    def environment(self):
        env = super().environment()
        env.pop("JVMFLAGS", None)
        env["SERVER_JVMFLAGS"] = " ".join(self.jvm_flags + self.jaas_flags())
        return env


class ZooKeeperServer(Server):
    kind = "zookeeper"

    def command(self):
        if not Path(ZK_JAR_DIR / "zookeeper.jar").exists():
            raise ServerStartError(
                f"{ZK_JAR_DIR}/zookeeper.jar not found: install Debian's "
                "`zookeeper` package (./test.sh does this)"
            )
        return [
            JAVA,
            "-Xmx256m",
            "-XX:+UseSerialGC",
            "-XX:TieredStopAtLevel=1",
            "-Xshare:auto",
            "-Dzookeeper.extendedTypesEnabled=true",
            "-Dzookeeper.admin.enableServer=false",
            # reap empty containers and expired TTL nodes every second
            # (ZooKeeper's default is 60 s)
            "-Dznode.container.checkIntervalMs=1000",
            "-Dzookeeper.4lw.commands.whitelist=*",
            "-Dorg.slf4j.simpleLogger.showDateTime=true",
            *self.jvm_flags,
            *self.jaas_flags(),
            "-cp",
            ZK_CLASSPATH,
            "org.apache.zookeeper.server.quorum.QuorumPeerMain",
            str(self.cfg_path),
        ]


def target_name():
    t = os.environ.get("WARDEN_TEST_TARGET", "warden").strip().lower()
    if t not in ("warden", "zookeeper"):
        raise ServerStartError(
            f"WARDEN_TEST_TARGET must be 'warden' or 'zookeeper', not {t!r}"
        )
    return t


def make_target_server(**kw):
    """The server under test, chosen by WARDEN_TEST_TARGET."""
    if target_name() == "zookeeper":
        return ZooKeeperServer(**kw)
    return WardenServer(**kw)
