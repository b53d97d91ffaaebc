"""Two real PostgreSQL servers, "blue" and "green", from Debian's `postgresql` package (`make
postgresql` installs it), for the database probe's tests and `aurora-upgrade demo --validate`: on
loopback ports, TLS with a certificate for 127.0.0.1 and localhost from a test CA (so a client
connects with verify-full), a superuser for setting conditions up, and the probe's own user
(`pg_monitor`, as docs/validation.md asks of the operator's user). Logical WAL and prepared
transactions are on, so the tests can make replication slots and PREPARE TRANSACTION. One pair per
test session; each test makes its own database and drops it (the probe looks at every database of
a server).

initdb refuses root: as root the servers run as the `postgres` user the package creates."""

from __future__ import annotations

import datetime
import ipaddress
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

ADMIN = "admin"
ADMIN_PASSWORD = "admin-secret-Ah5e"
PROBE_USER = "aurora_upgrade"
PROBE_PASSWORD = "probe-secret-Xo9q"  # tests assert it never shows in a message or a log
GHOST = "ghost_user"
# The server also listens here, but its certificate does not name it: verify-full must refuse.
UNNAMED_ADDRESS = "127.0.0.2"


@dataclass(frozen=True)
class Server:
    side: str
    port: int
    data: Path
    bin: Path

    def conninfo(self, dbname: str = "postgres", user: str = ADMIN, password: str = ADMIN_PASSWORD) -> str:
        # A lock a test holds by mistake fails the test instead of hanging it.
        return (
            f"host=127.0.0.1 port={self.port} dbname={dbname} user={user} password={password} sslmode=require "
            "options='-c lock_timeout=20s'"
        )


@dataclass(frozen=True)
class Servers:
    blue: Server
    green: Server
    ca_bundle: Path  # the test CA that signed both servers' certificates
    other_ca: Path  # a CA that signed nothing: verify-full with it must fail


def postgres_bin() -> Path | None:
    """The newest installed server's binaries (/usr/lib/postgresql/<version>/bin)."""
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=lambda p: int(p.parts[-3]))
    return versions[-1].parent if versions else None


def _ca(directory: Path, name: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .sign(key, hashes.SHA256())
    )
    (directory / f"{name}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key, cert


def _server_certificate(directory: Path, ca_key: ec.EllipticCurvePrivateKey, ca: x509.Certificate) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    (directory / "server.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (directory / "server.key").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    os.chmod(directory / "server.key", 0o600)


def _as_server_user(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start(
    root: Path,
    side: str,
    bindir: Path,
    ca_key: ec.EllipticCurvePrivateKey,
    ca: x509.Certificate,
    preload: tuple[str, ...],
) -> Server:
    directory = root / side
    directory.mkdir()
    data = directory / "data"
    pwfile = directory / "pwfile"
    pwfile.write_text(ADMIN_PASSWORD + "\n")
    if os.geteuid() == 0:
        shutil.chown(directory, "postgres", "postgres")
        shutil.chown(pwfile, "postgres", "postgres")
    initdb = [str(bindir / "initdb"), "-D", str(data), "-U", ADMIN, f"--pwfile={pwfile}", "--auth=scram-sha-256"]
    subprocess.run(
        _as_server_user([*initdb, "--no-sync", "--encoding=UTF8", "--locale=C"]),
        check=True,
        capture_output=True,
    )
    _server_certificate(data, ca_key, ca)
    if os.geteuid() == 0:
        for name in ("server.crt", "server.key"):
            shutil.chown(data / name, "postgres", "postgres")
    port = _free_port()
    with (data / "postgresql.conf").open("a") as conf:
        conf.write(
            f"listen_addresses = '127.0.0.1, {UNNAMED_ADDRESS}'\nport = {port}\n"
            f"unix_socket_directories = '{directory}'\nssl = on\n"
            # The conditions the tests make: logical slots, PREPARE TRANSACTION.
            "wal_level = logical\nmax_replication_slots = 10\nmax_wal_senders = 10\nmax_prepared_transactions = 5\n"
            "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\nshared_buffers = 16MB\n"
        )
        if preload:  # CREATE EXTENSION pg_cron refuses unless its library was loaded at start
            conf.write(f"shared_preload_libraries = '{', '.join(preload)}'\ncron.database_name = 'postgres'\n")
    # GHOST logs in without a password and exists nowhere: the server says the role does not exist.
    (data / "pg_hba.conf").write_text(
        f"local all all scram-sha-256\nhostssl all {GHOST} 127.0.0.1/32 trust\n"
        "hostssl all all 127.0.0.1/32 scram-sha-256\n"
        f"hostssl all all {UNNAMED_ADDRESS}/32 scram-sha-256\n"
    )
    subprocess.run(
        _as_server_user([str(bindir / "pg_ctl"), "-D", str(data), "-l", str(directory / "log"), "-w", "start"]),
        check=True,
        capture_output=True,
    )
    server = Server(side, port, data, bindir)
    with psycopg.connect(server.conninfo(), autocommit=True) as conn:
        conn.execute(f"create role {PROBE_USER} login password '{PROBE_PASSWORD}'")
        conn.execute(f"grant pg_monitor to {PROBE_USER}")
    return server


def _stop(server: Server) -> None:
    subprocess.run(
        _as_server_user([str(server.bin / "pg_ctl"), "-D", str(server.data), "-m", "immediate", "stop"]),
        check=False,
        capture_output=True,
    )


def start_servers(preload: tuple[str, ...] = ()) -> Iterator[Servers]:
    """Blue and green, started once, stopped at the end (the generator a session fixture yields).
    `preload`: libraries loaded at start, e.g. pg_cron (Debian's package, which `make postgresql`
    installs), which the tests of the IncompatibleExtensions guardrail create."""
    bindir = postgres_bin()
    if bindir is None:
        raise RuntimeError("PostgreSQL is not installed: run `make postgresql`")
    missing = [lib for lib in preload if not (bindir.parent / "lib" / f"{lib}.so").exists()]
    if missing:
        raise RuntimeError(f"PostgreSQL's {', '.join(missing)} package is not installed: run `make postgresql`")
    root = Path(tempfile.mkdtemp(prefix="aurora-upgrade-pg-"))
    os.chmod(root, 0o755)  # the server user must reach its data directory
    servers: list[Server] = []
    try:
        ca_key, ca = _ca(root, "test-ca")
        _ca(root, "other-ca")
        servers = [_start(root, side, bindir, ca_key, ca, preload) for side in ("blue", "green")]
        yield Servers(servers[0], servers[1], root / "test-ca.pem", root / "other-ca.pem")
    finally:
        for server in servers:
            _stop(server)
        shutil.rmtree(root, ignore_errors=True)
