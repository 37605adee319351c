"""`python -m api --config PATH`: the server process alone (Granian hosting the BlackSheep app)."""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import socket
import sqlite3
import subprocess
import sys

from api import __version__
from api.config import locations
from api.config.settings import ConfigError, open_config
from api.core import crashes, stopping
from api.govern import ledger, limits, metrics
from api.local import host_protocol
from api.store import activity
from api.upstream import instance


def port_problem(host: str, port: int) -> str | None:
    """Why a server could not listen on host:port (taken, not allowed), or None when it could."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return f"port {port} on {host} is already in use"
            return f"cannot listen on {host}:{port}: {exc.strerror}"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m api", description="Run the Gatehouse server process.")
    parser.add_argument("--config", help="config file (default: $GATEHOUSE_CONFIG, ./config.toml, "
                                         "or the user config dir); created from the example if missing")
    parser.add_argument("--version", action="version", version=f"gatehouse {__version__}")
    args = parser.parse_args(argv)

    try:
        path, config = open_config(args.config, say=lambda line: print(line, file=sys.stderr))
    except ConfigError as exc:
        print(f"gatehouse: {exc}", file=sys.stderr)
        return 2
    server = config.server
    problem = port_problem(server.host, server.port)
    if problem:
        print(f"gatehouse: {problem}; change [server].port in {path}", file=sys.stderr)
        return 2
    if server.metrics_port is not None and (problem := port_problem(server.metrics_host, server.metrics_port)):
        print(f"gatehouse: {problem}; change [server].metrics_port in {path}", file=sys.stderr)
        return 2
    try:
        activity.prepare(server.data_dir)
    except (OSError, sqlite3.Error) as exc:
        print(f"gatehouse: cannot keep the activity database in {server.data_dir}: {exc}; "
              f"change [server].data_dir in {path}", file=sys.stderr)
        return 2
    try:
        ledger.prepare(server.data_dir,
                       [limits.ledger_key(name) for name, client in config.clients.items() if client.limited])
        metrics.prepare(server.data_dir)
    except OSError as exc:
        print(f"gatehouse: cannot keep the limits ledger and metrics in {server.data_dir}: {exc}; "
              f"change [server].data_dir in {path}", file=sys.stderr)
        return 2
    if server.metrics_port is not None:
        metrics.serve_open(server.metrics_host, server.metrics_port)

    from granian import Granian
    from granian.constants import Interfaces, Loops

    class Server(Granian):  # type: ignore[valid-type,misc]  # granian picks its server class at import
        """Granian, announcing a stop to its workers before it waits for them (see api.core.stopping)."""

        stop_signalled = False

        def signal_handler_interrupt(self, *args, **kwargs):
            if self.stop_signalled:  # Granian's handler takes a lock: a second signal inside it would deadlock
                return
            self.stop_signalled = True
            stopping.announce()
            super().signal_handler_interrupt(*args, **kwargs)

        def _respawn_workers(self, workers, *args, **kwargs):
            for idx in workers:
                ended = self.wrks[idx].inner
                if ended.exitcode is not None:  # it died (not a reload's respawn of a live worker)
                    print(f"gatehouse: worker-{idx + 1} (pid {ended.pid}) {stopping.exit_reason(ended.exitcode)}; "
                          "respawning it", file=sys.stderr, flush=True)
                    crashes.note(data_dir, ended.pid, ended.exitcode)
                    metrics.forget(ended.pid)
            super()._respawn_workers(workers, *args, **kwargs)

    os.environ[locations.CONFIG_ENV] = str(path)
    instance.adopt(instance.new_id())  # this server's own, never one inherited: its workers share it
    data_dir = server.data_dir
    server = Server(
        "api.edge.app:create_app",
        factory=True,
        address=server.host,
        port=server.port,
        interface=Interfaces.ASGI,
        workers=server.workers,
        loop=Loops.uvloop,
        workers_kill_timeout=stopping.WORKERS_KILL_TIMEOUT_S,
        respawn_failed_workers=True,  # a worker that dies is replaced; the socket and the other workers stay
        log_access=False,
    )
    stopping.prepare()
    crashes.reset(data_dir)
    indexer = subprocess.Popen([sys.executable, "-m", "api.localdocs.indexer", str(path)])  # one for all workers
    model_hosts = _start_model_hosts()
    try:
        server.serve()
    finally:
        stopping.clear()
        for helper in (indexer, model_hosts):
            helper.terminate()
        for helper in (indexer, model_hosts):
            try:
                helper.wait(5)
            except subprocess.TimeoutExpired:
                helper.kill()
        with contextlib.suppress(OSError):  # the sockets' folder, empty once the hosts are gone
            host_protocol.runtime_dir(instance.INSTANCE_ID).rmdir()
    return 0


def _start_model_hosts() -> subprocess.Popen:
    """The supervisor of the local model hosts (api/local/hosts.py), one for all workers, which find its socket
    in their environment."""
    control = host_protocol.runtime_dir(instance.INSTANCE_ID) / "hosts.sock"
    os.environ[host_protocol.SUPERVISOR_ENV] = str(control)
    supervisor = subprocess.Popen([sys.executable, "-m", "api.local.hosts", str(control)], stdout=subprocess.PIPE)
    assert supervisor.stdout is not None
    supervisor.stdout.readline()  # "ready": its socket is there before any worker asks
    return supervisor


if __name__ == "__main__":
    sys.exit(main())
