"""A stack of the harness's own: Kafka, MinIO, PostgreSQL, clamd and toxiproxy started through
deploy/local/stack.sh on shifted ports and in their own folder (.stack-chaos by default), so that killing
them never touches the shared stack other engineers' tests use on the default ports.

The services reach every server through a toxiproxy link (`proxy_port`); the harness's own checks use the
servers directly (`server_port`), except Kafka, whose advertised listener is the proxy (a client must keep
talking to the address the broker advertises)."""

from __future__ import annotations

import asyncio
import os
import signal
from dataclasses import dataclass, field
from pathlib import Path

from services.common.settings import ArchiveSettings

REPO = Path(__file__).resolve().parents[2]
STACK_SH = REPO / "deploy" / "local" / "stack.sh"
SERVERS = ("kafka", "minio", "postgres", "clamd")
# The shared stack's ports (deploy/local/stack.env defaults): never used, never signalled.
SHARED_PORTS = {
    "kafka": 19092,
    "kafka-controller": 19093,
    "minio": 19000,
    "minio-console": 19001,
    "postgres": 15432,
    "clamd": 13310,
    "toxiproxy": 8474,
    "verapdf": 13320,
    "minio-replica": 19010,
    "minio-replica-console": 19011,
}
STACK_SH_NAME = {"kafka": "kafka", "minio": "minio", "postgres": "postgres", "clamd": "clamav"}


class StackError(RuntimeError):
    pass


@dataclass
class ChaosStack:
    stack_dir: Path = REPO / ".stack-chaos"
    port_offset: int = 200  # servers at shared port + offset
    proxy_offset: int = 100  # proxies at server port + this
    minio_data_size: str = "4g"  # tmpfs under MinIO's data folder: lets the harness fill it or make it read-only
    log: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        ours = {*self.server_ports().values(), *self.proxy_ports().values(), self.toxiproxy_port, self.verapdf_port}
        ours.add(self.minio_replica_port)
        clash = ours & set(SHARED_PORTS.values())
        if clash or self.stack_dir.resolve() == (REPO / ".stack").resolve():
            raise StackError(f"the chaos stack would use the shared stack's ports {sorted(clash)} or folder: refused")

    # --- addresses ------------------------------------------------------------------------------------

    def server_ports(self) -> dict[str, int]:
        return {name: SHARED_PORTS[name] + self.port_offset for name in SERVERS}

    def proxy_ports(self) -> dict[str, int]:
        return {name: port + self.proxy_offset for name, port in self.server_ports().items()}

    @property
    def toxiproxy_port(self) -> int:
        return SHARED_PORTS["toxiproxy"] + self.port_offset

    @property
    def verapdf_port(self) -> int:
        return SHARED_PORTS["verapdf"] + self.port_offset

    @property
    def minio_replica_port(self) -> int:
        return SHARED_PORTS["minio-replica"] + self.port_offset

    def stack_env(self) -> dict[str, str]:
        """What deploy/local/stack.sh reads (stack.env takes every value from the environment)."""
        ports = self.server_ports()
        return {
            "AA_STACK_DIR": str(self.stack_dir),
            "AA_KAFKA_PORT": str(ports["kafka"]),
            "AA_KAFKA_CONTROLLER_PORT": str(SHARED_PORTS["kafka-controller"] + self.port_offset),
            "AA_KAFKA_ADVERTISED_PORT": str(self.proxy_ports()["kafka"]),
            "AA_MINIO_PORT": str(ports["minio"]),
            "AA_MINIO_CONSOLE_PORT": str(SHARED_PORTS["minio-console"] + self.port_offset),
            "AA_MINIO_DATA_SIZE": self.minio_data_size,
            "AA_PG_PORT": str(ports["postgres"]),
            "AA_CLAMD_PORT": str(ports["clamd"]),
            "AA_TOXIPROXY_PORT": str(self.toxiproxy_port),
            # veraPDF (validation's PDF/A server) runs in this stack too, shifted like the rest; it is not a
            # fault target (no proxy): the services reach it directly.
            "AA_VERAPDF_PORT": str(self.verapdf_port),
            # The second site (storage writes both copies): shifted too, reached directly, not a fault target.
            "AA_MINIO_REPLICA_PORT": str(self.minio_replica_port),
            "AA_MINIO_REPLICA_CONSOLE_PORT": str(SHARED_PORTS["minio-replica-console"] + self.port_offset),
            # A one-node test broker: a smaller heap leaves room for the shared stack on 2 cores.
            "AA_KAFKA_HEAP_OPTS": "-Xms256m -Xmx768m",
        }

    def service_env(self) -> dict[str, str]:
        """What the services read (ArchiveSettings, validation's clamd settings): every server via its proxy."""
        proxies = self.proxy_ports()
        return {
            "AA_KAFKA_BOOTSTRAP": f"127.0.0.1:{proxies['kafka']}",
            "AA_MINIO_ENDPOINT": f"127.0.0.1:{proxies['minio']}",
            "AA_PG_HOST": "127.0.0.1",
            "AA_PG_PORT": str(proxies["postgres"]),
            "AA_CLAMD_HOST": "127.0.0.1",
            "AA_CLAMD_PORT": str(proxies["clamd"]),
            "AA_STATE_DIR": str(self.stack_dir / "faust"),
            "AA_VERAPDF_URL": f"http://127.0.0.1:{self.verapdf_port}",
            "AA_MINIO_REPLICA_ENDPOINT": f"127.0.0.1:{self.minio_replica_port}",
        }

    def settings(self, namespace: str) -> ArchiveSettings:
        """The harness's own view: Kafka via the advertised proxy, MinIO and PostgreSQL directly."""
        ports = self.server_ports()
        return ArchiveSettings(
            namespace=namespace,
            kafka_bootstrap=f"127.0.0.1:{self.proxy_ports()['kafka']}",
            minio_endpoint=f"127.0.0.1:{ports['minio']}",
            minio_replica_endpoint=f"127.0.0.1:{self.minio_replica_port}",
            pg_port=ports["postgres"],
            state_dir=self.stack_dir / "faust",
        )

    @property
    def minio_data(self) -> Path:
        return self.stack_dir / "minio" / "data"

    # --- stack.sh ---------------------------------------------------------------------------------------

    async def stack_sh(self, *args: str, check: bool = True) -> str:
        env = {**os.environ, **self.stack_env()}
        proc = await asyncio.create_subprocess_exec(
            str(STACK_SH),
            *args,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            stdin=asyncio.subprocess.DEVNULL,
        )
        out, _ = await proc.communicate()
        text = out.decode(errors="replace")
        if check and proc.returncode:
            raise StackError(f"stack.sh {' '.join(args)} failed (exit {proc.returncode}):\n{text}")
        return text

    async def up(self) -> None:
        self.stack_dir.mkdir(parents=True, exist_ok=True)
        await self.stack_sh("up", "toxiproxy")  # first: the broker advertises its proxy
        await self.stack_sh("up")

    async def start(self, server: str, attempts: int = 5) -> int:
        """Start a server, retried as an orchestrator retries: a SIGKILLed PostgreSQL's postmaster can stay a
        zombie for a moment, and PostgreSQL refuses to start while its lock file names a pid that exists.
        Returns the attempts it took."""
        for attempt in range(1, attempts + 1):
            try:
                await self.stack_sh("up", STACK_SH_NAME[server])
                return attempt
            except StackError:
                if attempt == attempts:
                    raise
                await asyncio.sleep(2 * attempt)
        raise AssertionError("unreachable")

    async def down(self) -> None:
        await self.stack_sh("down", "toxiproxy", "verapdf", "minio-replica", *STACK_SH_NAME.values(), check=False)

    async def reset(self) -> None:
        """Stop everything and delete the stack's data (the tmpfs under MinIO is unmounted)."""
        await self.stack_sh("reset", check=False)

    # --- SIGKILL ----------------------------------------------------------------------------------------

    def _pid_and_needle(self, server: str) -> tuple[Path, str]:
        run = self.stack_dir / "run"
        return {
            "kafka": (run / "kafka.pid", str(self.stack_dir / "kafka" / "server.properties")),
            "minio": (run / "minio.pid", str(self.minio_data)),
            "clamd": (run / "clamd.pid", str(self.stack_dir / "clamav" / "clamd.conf")),
            "postgres": (self.stack_dir / "postgres" / "data" / "postmaster.pid", str(self.stack_dir / "postgres")),
        }[server]

    def pid(self, server: str) -> int | None:
        """The server's pid, only if its command line names this stack's folder (a reused pid is not ours)."""
        pid_file, needle = self._pid_and_needle(server)
        try:
            pid = int(pid_file.read_text().split()[0])
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, ValueError, IndexError):
            return None
        return pid if needle in cmdline else None

    def kill(self, server: str) -> int:
        """SIGKILL the server — for PostgreSQL the postmaster and every backend, as a machine crash would."""
        pid = self.pid(server)
        if pid is None:
            raise StackError(f"{server} of the chaos stack is not running (no pid naming {self.stack_dir})")
        victims = [pid, *(_children(pid) if server == "postgres" else [])]
        for victim in victims:
            try:
                os.kill(victim, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return pid

    async def wait_gone(self, pid: int, timeout: float = 30.0) -> None:
        """Until the killed process is gone (or a zombie: the kernel released its ports and files)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while _state(pid) not in ("Z", "X") and loop.time() < deadline:  # noqa: ASYNC110 — no event to wait on
            await asyncio.sleep(0.1)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return "X"


def _children(parent: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == parent:
            found.append(int(stat.parent.name))
    return found
