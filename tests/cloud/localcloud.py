"""The project's local cloud: a real Keystone and Glance on 127.0.0.1.

Run through the ``localcloud`` wrapper, which provides the venv. Everything the
cloud needs (configuration, sqlite databases, image stores, fernet keys, logs,
clouds.yaml) lives under LOCALCLOUD_DIR, so ``down --purge`` removes it all.

Settings come from the environment, so tests can start a differently shaped
cloud without editing files:

  LOCALCLOUD_KEYSTONE_PORT   (auto)   LOCALCLOUD_GLANCE_PORT  (auto)
                                      a number, or auto: the ports this state folder used last time
                                      when they are still ours or free, else 5000 and 9292 when free,
                                      else free ports below the kernel's ephemeral range (where
                                      clients and test proxies take theirs); clouds.yaml names them
  LOCALCLOUD_TOKEN_EXPIRATION (3600)  seconds a Keystone token lives
  LOCALCLOUD_IMAGE_SIZE_CAP  (unset)  Glance [DEFAULT] image_size_cap, bytes
  LOCALCLOUD_STORAGE_QUOTA   (unset)  Glance [DEFAULT] user_storage_quota
  LOCALCLOUD_DB              (sqlite) or postgresql: Debian's PostgreSQL cluster on
                                      127.0.0.1, for tests with concurrent writers
  LOCALCLOUD_TLS             (0)      1: both services speak HTTPS only, with a certificate
                                      signed by a throwaway CA made here (LOCALCLOUD_DIR/tls/ca.pem)
  LOCALCLOUD_REGIONS         (1)      2: a second Glance (its own database, stores and port,
                                      LOCALCLOUD_GLANCE2_PORT) in RegionTwo of the same Keystone;
                                      clouds.yaml lists both regions (RegionOne first, the default),
                                      clients ask for RegionTwo with region_name
  LOCALCLOUD_BARBICAN        (0)      1: Barbican (the key manager: simple_crypto, sqlite) on
                                      LOCALCLOUD_BARBICAN_PORT, from its own venv (LOCALCLOUD_BARBICAN_VENV),
                                      registered as key-manager; Glance verifies image signatures
                                      with the certificates it holds (castellan)

A changed setting restarts the services on the next ``up``.
"""

import base64
import datetime
import hashlib
import ipaddress
import json
import os
import random
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

HOST = "127.0.0.1"
REGION = "RegionOne"
SECOND_REGION = "RegionTwo"
DOMAIN = "Default"
# Ordinary projects, each with one user of the same name holding `member`.
MEMBER_PROJECTS = ("demo", "alt")
STORES = ("fast", "cheap")
DB = os.environ.get("LOCALCLOUD_DB", "sqlite")
PG_PORT = int(os.environ.get("LOCALCLOUD_PG_PORT", "5432"))

STATE = Path(os.environ["LOCALCLOUD_DIR"]).resolve()
VENV = Path(os.environ["LOCALCLOUD_VENV"]).resolve()
RUN = STATE / "run"
PORTS_FILE = RUN / "ports.json"
# One PostgreSQL role per state folder too: each cloud sets its own role's password.
STATE_SUFFIX = hashlib.sha256(str(STATE).encode()).hexdigest()[:8]
PG_ROLE = f"osimages_{STATE_SUFFIX}"
DEFAULT_PORTS = {"keystone": 5000, "glance": 9292, "glance2": 9293, "barbican": 9311}
REGIONS = int(os.environ.get("LOCALCLOUD_REGIONS", "1"))
if REGIONS not in (1, 2):
    sys.exit("localcloud: LOCALCLOUD_REGIONS is 1 or 2")
# The Glance services and their regions (the second one only with two regions); each has its own config folder.
GLANCES = [("glance", REGION), ("glance2", SECOND_REGION)][:REGIONS]
GLANCE_NAMES = [service for service, dummy_region in GLANCES]
BARBICAN = os.environ.get("LOCALCLOUD_BARBICAN", "0") == "1"
BARBICAN_VENV = Path(os.environ.get("LOCALCLOUD_BARBICAN_VENV", VENV.with_name("barbican-venv"))).resolve()


def port_is_free(port):
    """Whether a server could listen on ``port`` (SO_REUSEADDR, as uWSGI: closed connections do not count)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe_socket:
        probe_socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe_socket.bind((HOST, port))
        except OSError:
            return False
    return True


def pid_of(name):
    """The pid of this state folder's running service ``name``, or None.

    The pid file alone does not prove it: after the service died, the kernel may give its pid to any process.
    Only a uWSGI whose command line names this pid file counts.
    """
    pidfile = RUN / f"{name}.pid"
    try:
        pid = int(pidfile.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return None
    return pid if str(pidfile).encode() in cmdline else None


def our_service_listens(name, port):
    """True when this state folder's service ``name`` runs (see pid_of) on ``port``."""
    return pid_of(name) is not None and not port_is_free(port)


def port_range():
    """Where free ports are chosen: the 12000 ports below the kernel's ephemeral range (32768-60999 by default).

    Outgoing connections, and servers that bind port 0 (the tests' fault proxies and HTTP servers), take their
    ports from the ephemeral range: a service port chosen there can be taken between two starts of a cloud.
    """
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    return range(max(low - 12000, 1024), low)


def free_port(taken=()):
    ports = list(port_range())
    start = random.randrange(len(ports))
    for port in ports[start:] + ports[:start]:
        if port not in taken and port not in DEFAULT_PORTS.values() and port_is_free(port):
            return port
    sys.exit(f"localcloud: no free port in {ports[0]}-{ports[-1]} on {HOST}")


def choose_ports():
    """The ports to serve on: explicit settings, else auto (see the module docstring); written to PORTS_FILE."""
    saved = json.loads(PORTS_FILE.read_text()) if PORTS_FILE.exists() else {}
    ports = {}
    for name in DEFAULT_PORTS:
        variable = f"LOCALCLOUD_{name.upper()}_PORT"
        setting = os.environ.get(variable, "auto")
        if setting != "auto":
            ports[name] = int(setting)
            continue
        # A saved port from the ephemeral range (an older localcloud chose those) is not reused: see port_range.
        candidates = [port for port in [saved.get(name)] if port in port_range()] + [DEFAULT_PORTS[name]]
        usable = [
            port
            for port in candidates
            if port and port not in ports.values() and (our_service_listens(name, port) or port_is_free(port))
        ]
        ports[name] = usable[0] if usable else free_port(taken=ports.values())
    return ports


PORTS = choose_ports()
KEYSTONE_PORT = PORTS["keystone"]
GLANCE_PORT = PORTS["glance"]
GLANCE2_PORT = PORTS["glance2"]
TLS = os.environ.get("LOCALCLOUD_TLS", "0") == "1"
SCHEME = "https" if TLS else "http"
KEYSTONE_URL = f"{SCHEME}://{HOST}:{KEYSTONE_PORT}/v3"
GLANCE_URL = f"{SCHEME}://{HOST}:{GLANCE_PORT}"
GLANCE2_URL = f"{SCHEME}://{HOST}:{GLANCE2_PORT}"
GLANCE_URLS = {"glance": GLANCE_URL, "glance2": GLANCE2_URL}
BARBICAN_PORT = PORTS["barbican"]
BARBICAN_URL = f"{SCHEME}://{HOST}:{BARBICAN_PORT}"

ETC = STATE / "etc"
DATA = STATE / "data"
LOGS = STATE / "logs"
CLOUDS_YAML = STATE / "clouds.yaml"
# Shaped exactly like the file AWX's OpenStack credential writes.
AWX_CLOUDS_YAML = STATE / "clouds-awx.yaml"
SECRETS = STATE / "secrets.json"
TLS_DIR = STATE / "tls"
CA_CERT = TLS_DIR / "ca.pem"
SERVER_CERT = TLS_DIR / "server.pem"
SERVER_KEY = TLS_DIR / "server.key"


def log(msg):
    print(f"localcloud: {msg}", file=sys.stderr, flush=True)


def run(*cmd, env=None):
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **(env or {})}, check=False)
    if proc.returncode != 0:
        sys.exit(f"localcloud: {' '.join(map(str, cmd))} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}")
    return proc.stdout


def settings():
    """The settings that shape the running services; a change means a restart."""
    return {
        "keystone_port": KEYSTONE_PORT,
        "glance_port": GLANCE_PORT,
        "glance2_port": GLANCE2_PORT if REGIONS == 2 else None,
        "regions": REGIONS,
        "token_expiration": int(os.environ.get("LOCALCLOUD_TOKEN_EXPIRATION", "3600")),
        "image_size_cap": os.environ.get("LOCALCLOUD_IMAGE_SIZE_CAP", ""),
        "storage_quota": os.environ.get("LOCALCLOUD_STORAGE_QUOTA", ""),
        "db": DB,
        "tls": TLS,
        "barbican_port": BARBICAN_PORT if BARBICAN else None,
    }


def load_secrets():
    values = json.loads(SECRETS.read_text()) if SECRETS.exists() else {}
    missing = [user for user in ("admin", "glance", "database", *MEMBER_PROJECTS) if user not in values]
    if missing or "barbican_kek" not in values:
        values.update((user, secrets.token_urlsafe(18)) for user in missing)
        # simple_crypto's key-encryption key: a Fernet key (32 bytes, url-safe base64).
        values.setdefault("barbican_kek", base64.urlsafe_b64encode(os.urandom(32)).decode())
        write_private(SECRETS, json.dumps(values, indent=2))
    return values


def write_private(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


def ini(sections):
    lines = []
    for name, options in sections.items():
        lines.append(f"[{name}]")
        lines.extend(f"{key} = {value}" for key, value in options.items() if value not in (None, ""))
        lines.append("")
    return "\n".join(lines)


def database_url(service, pw):
    if DB == "sqlite":
        return f"sqlite:///{DATA / (service + '.sqlite')}"
    return f"postgresql+psycopg2://{PG_ROLE}:{pw['database']}@{HOST}:{PG_PORT}/{pg_database(service)}"


def pg_database(service):
    # One pair of databases per state folder, so that two local clouds never share one.
    return f"osimages_{service}_{STATE_SUFFIX}"


def keystone_conf(cfg, pw):
    return ini(
        {
            "DEFAULT": {"use_stderr": "true"},
            # The fewest bcrypt rounds: every test authenticates many times, and these are throwaway passwords.
            "identity": {"password_hash_rounds": 4},
            "database": {"connection": database_url("keystone", pw)},
            "token": {"provider": "fernet", "expiration": cfg["token_expiration"]},
            "fernet_tokens": {"key_repository": DATA / "fernet-keys"},
            "fernet_receipts": {"key_repository": DATA / "fernet-receipts"},
            "credential": {"key_repository": DATA / "credential-keys"},
        }
    )


def glance_data(service):
    """Where a Glance keeps its stores (RegionOne's in DATA itself, as before there were two)."""
    return DATA if service == "glance" else DATA / service


def authtoken(pw):
    """keystonemiddleware's settings: Glance's service user checks the tokens (Barbican's too, in a throwaway cloud)."""
    return {
        "www_authenticate_uri": KEYSTONE_URL,
        "auth_url": KEYSTONE_URL,
        "auth_type": "password",
        "project_domain_name": DOMAIN,
        "user_domain_name": DOMAIN,
        "project_name": "service",
        "username": "glance",
        "password": pw["glance"],
        "cafile": CA_CERT if TLS else None,
    }


def glance_conf(cfg, pw, service="glance"):
    data = glance_data(service)
    stores = {
        store: {"filesystem_store_datadir": data / "stores" / store, "store_description": f"local file store '{store}'"}
        for store in STORES
    }
    return ini(
        {
            "DEFAULT": {
                "use_stderr": "true",
                "enabled_backends": ", ".join(f"{store}:file" for store in STORES),
                # glance-download: this Glance fetches an image from another region's Glance with the user's token,
                # finding it in the token's service catalog (keystonemiddleware passes it on).
                "enabled_import_methods": "[glance-direct,web-download,copy-image,glance-download]",
                "worker_self_reference_url": GLANCE_URLS[service],
                "image_size_cap": cfg["image_size_cap"],
                "user_storage_quota": cfg["storage_quota"],
            },
            "database": {"connection": database_url(service, pw)},
            "glance_store": {"default_backend": STORES[0]},
            **stores,
            # Imports fail unless the reserved stores have somewhere to write.
            "os_glance_staging_store": {"filesystem_store_datadir": data / "staging"},
            "os_glance_tasks_store": {"filesystem_store_datadir": data / "tasks"},
            "keystone_authtoken": authtoken(pw),
            "paste_deploy": {"flavor": "keystone", "config_file": ETC / service / "glance-api-paste.ini"},
            # web-download refuses loopback unless the host is listed; the bracketed list
            # syntax is required. An empty allowed_ports list lets test servers use any port.
            "import_filtering_opts": {"allowed_hosts": f"[{HOST}]", "allowed_ports": "[]"},
            "oslo_concurrency": {"lock_path": RUN / "locks" / service},
            # Signed images: Glance fetches the signing certificate from Barbican with the uploader's token.
            **(
                {
                    "key_manager": {"backend": "barbican"},
                    "barbican": {"barbican_endpoint": BARBICAN_URL, "auth_endpoint": KEYSTONE_URL},
                }
                if BARBICAN
                else {}
            ),
        }
    )


def barbican_conf(pw):
    return ini(
        {
            "DEFAULT": {
                "use_stderr": "true",
                "host_href": BARBICAN_URL,
                "sql_connection": f"sqlite:///{DATA / 'barbican.sqlite'}",
                "db_auto_create": "true",
            },
            "database": {"connection": f"sqlite:///{DATA / 'barbican.sqlite'}"},
            "secretstore": {"enabled_secretstore_plugins": "store_crypto"},
            "crypto": {"enabled_crypto_plugins": "simple_crypto"},
            "simple_crypto_plugin": {"kek": pw["barbican_kek"]},
            "keystone_authtoken": authtoken(pw),
        }
    )


# Barbican and each of its plugins read the config files oslo.config finds by default (~/.barbican/ first): it runs
# with HOME set to its config folder. Its own WSGI script reads /etc: this one loads the paste pipeline from here.
BARBICAN_WSGI = """from paste import deploy
application = deploy.loadapp("config:" + {paste!r})
"""


def write_configs(cfg, pw):
    (ETC / "keystone").mkdir(parents=True, exist_ok=True)
    write_private(ETC / "keystone" / "keystone.conf", keystone_conf(cfg, pw))
    for service in GLANCE_NAMES:
        (ETC / service).mkdir(parents=True, exist_ok=True)
        write_private(ETC / service / "glance-api.conf", glance_conf(cfg, pw, service))
        shutil.copy(VENV / "etc" / "glance" / "glance-api-paste.ini", ETC / service / "glance-api-paste.ini")
        for sub in ("stores/fast", "stores/cheap", "staging", "tasks"):
            (glance_data(service) / sub).mkdir(parents=True, exist_ok=True)
        (RUN / "locks" / service).mkdir(parents=True, exist_ok=True)
    if BARBICAN:
        etc = ETC / "barbican"
        write_private(etc / ".barbican" / "barbican.conf", barbican_conf(pw))
        shutil.copy(BARBICAN_VENV / "etc" / "barbican" / "barbican-api-paste.ini", etc / "barbican-api-paste.ini")
        (etc / "barbican_wsgi.py").write_text(BARBICAN_WSGI.format(paste=str(etc / "barbican-api-paste.ini")))


# --- processes -------------------------------------------------------------


def _listen(port, router):
    """uWSGI's options to serve HTTP, or HTTPS with the test CA's server certificate, on ``port``."""
    address = f"{HOST}:{port}"
    if TLS:
        address += f",{SERVER_CERT},{SERVER_KEY}"
    if router:
        return ["--https" if TLS else "--http", address]
    return ["--https-socket" if TLS else "--http-socket", address]


def glance_service(service):
    port = PORTS[service]
    return {
        "module": "glance.wsgi.api:application",
        "port": port,
        "env": {"OS_GLANCE_CONFIG_DIR": str(ETC / service)},
        "probe": GLANCE_URLS[service] + "/",
        "ready": (300,),
        # uWSGI's own HTTP parser, not its router: Glance reads chunked uploads
        # through uwsgi.chunked_read(), which the router does not feed reliably.
        "listen": _listen(port, router=False)
        + ["--add-header", "Connection: close", "--chunked-input-limit", str(64 * 1024 * 1024)],
    }


SERVICES = {
    "keystone": {
        "module": "keystone.wsgi.api:application",
        "port": KEYSTONE_PORT,
        "env": {"OS_KEYSTONE_CONFIG_DIR": str(ETC / "keystone")},
        "probe": KEYSTONE_URL,
        "ready": (200,),
        "listen": _listen(KEYSTONE_PORT, router=True) + ["--http-keepalive"],
    },
    **dict((service, glance_service(service)) for service in GLANCE_NAMES),
    **(
        {
            "barbican": {
                "wsgi_file": str(ETC / "barbican" / "barbican_wsgi.py"),
                "home": BARBICAN_VENV,
                "port": BARBICAN_PORT,
                "env": {"HOME": str(ETC / "barbican")},
                "cwd": DATA,  # where a default that names a relative path (sqlite:///barbican.sqlite) lands
                "probe": BARBICAN_URL + "/",
                "ready": (200, 300),
                "listen": _listen(BARBICAN_PORT, router=True) + ["--http-keepalive"],
            }
        }
        if BARBICAN
        else {}
    ),
}


def make_test_ca():
    """A throwaway CA and a server certificate for 127.0.0.1 signed by it (kept across restarts)."""
    if SERVER_CERT.exists() and CA_CERT.exists():
        return
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)

    def certificate(subject, issuer, public_key, signing_key, ca):
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if not ca:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(HOST))]), critical=False
            )
        return builder.sign(signing_key, hashes.SHA256())

    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "osimages.glance test CA")])
    server_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)])
    ca_cert = certificate(ca_name, ca_name, ca_key.public_key(), ca_key, ca=True)
    server_cert = certificate(server_name, ca_name, server_key.public_key(), ca_key, ca=False)
    write_private(
        SERVER_KEY,
        server_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
        ).decode(),
    )
    SERVER_CERT.write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    CA_CERT.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))


def probe(url):
    context = ssl.create_default_context(cafile=str(CA_CERT)) if TLS else None
    try:
        # Generous: on a loaded machine a healthy service may take seconds, and a failed probe restarts it.
        with urllib.request.urlopen(url, timeout=10, context=context) as resp:
            return resp.status
    except urllib.error.HTTPError as err:
        return err.code
    except (urllib.error.URLError, OSError):
        return None


def start(name):
    svc = SERVICES[name]
    if not port_is_free(svc["port"]):
        variable = f"LOCALCLOUD_{name.upper()}_PORT"
        sys.exit(
            f"localcloud: {name} cannot listen on {HOST}:{svc['port']}: another process holds that port; "
            f"set {variable} to a free port, or to auto"
        )
    LOGS.mkdir(parents=True, exist_ok=True)
    logfile = open(LOGS / f"{name}.log", "ab")
    cmd = [
        str(VENV / "bin" / "uwsgi"),
        *svc["listen"],
        "--master",
        "--processes",
        "1",
        "--threads",
        "4",
        "--enable-threads",
        "--die-on-term",
        "--need-app",
        "--buffer-size",
        "65535",
        "--home",
        str(svc.get("home", VENV)),
        *(["--wsgi-file", svc["wsgi_file"]] if "wsgi_file" in svc else ["--module", svc["module"]]),
        "--pidfile",
        str(RUN / f"{name}.pid"),
    ]
    proc = subprocess.Popen(
        cmd,
        stdout=logfile,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **svc["env"]},
        cwd=svc.get("cwd"),
        start_new_session=True,
    )
    (RUN / f"{name}.pid").write_text(str(proc.pid))
    wait_ready(name, proc)


def wait_ready(name, proc=None, timeout=90):
    svc = SERVICES[name]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if probe(svc["probe"]) in svc["ready"]:
            return
        if proc is not None and proc.poll() is not None:
            break
        time.sleep(0.3)
    tail = (LOGS / f"{name}.log").read_text(errors="replace").splitlines()[-40:]
    sys.exit(f"localcloud: {name} did not become ready on {svc['probe']}; last log lines:\n" + "\n".join(tail))


def stop(name):
    pid = pid_of(name)
    if pid is None:
        return
    try:
        os.killpg(pid, signal.SIGTERM)
    except OSError:
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and pid_of(name):
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        time.sleep(0.2)
    if pid_of(name):
        os.killpg(pid, signal.SIGKILL)
    (RUN / f"{name}.pid").unlink(missing_ok=True)


def running(name):
    return pid_of(name) is not None and probe(SERVICES[name]["probe"]) in SERVICES[name]["ready"]


# --- PostgreSQL ----------------------------------------------------------------


def as_postgres(*cmd):
    return run("runuser", "-u", "postgres", "--", *cmd)


def psql(sql, database="postgres"):
    # Over the local socket, where Debian lets the postgres user in without a password.
    return as_postgres("psql", "-p", str(PG_PORT), "-d", database, "-v", "ON_ERROR_STOP=1", "-tAc", sql)


def ensure_postgres(pw):
    """Start Debian's PostgreSQL cluster (loopback only by default) and create our role and databases."""
    if not shutil.which("pg_lsclusters"):
        sys.exit("localcloud: LOCALCLOUD_DB=postgresql needs Debian's postgresql package (apt-get install postgresql)")
    clusters = [line.split() for line in run("pg_lsclusters", "-h").splitlines() if line.strip()]
    ours = [c for c in clusters if int(c[2]) == PG_PORT]
    if not ours:
        version = sorted(os.listdir("/usr/lib/postgresql"))[-1]
        run("pg_createcluster", "-p", str(PG_PORT), version, "osimages")
        clusters = [line.split() for line in run("pg_lsclusters", "-h").splitlines() if line.strip()]
        ours = [c for c in clusters if int(c[2]) == PG_PORT]
    version, name, _port, status = ours[0][:4]
    if status != "online":
        log(f"starting PostgreSQL {version}/{name} on {HOST}:{PG_PORT}")
        run("pg_ctlcluster", version, name, "start")
    for dummy in range(60):
        if (
            subprocess.run(["pg_isready", "-h", HOST, "-p", str(PG_PORT)], capture_output=True, check=False).returncode
            == 0
        ):
            break
        time.sleep(0.5)
    password = pw["database"].replace("'", "''")
    if not psql(f"SELECT 1 FROM pg_roles WHERE rolname = '{PG_ROLE}'").strip():
        psql(f"CREATE ROLE {PG_ROLE} LOGIN PASSWORD '{password}'")
    else:
        psql(f"ALTER ROLE {PG_ROLE} PASSWORD '{password}'")
    for service in ("keystone", *GLANCE_NAMES):
        database = pg_database(service)
        if not psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}'").strip():
            psql(f"CREATE DATABASE {database} OWNER {PG_ROLE}")


def drop_postgres_databases():
    if DB != "postgresql" or not shutil.which("pg_lsclusters"):
        return
    for service in ("keystone", "glance", "glance2"):
        psql(f"DROP DATABASE IF EXISTS {pg_database(service)}")


# --- bootstrap ---------------------------------------------------------------


# The bootstrap markers name the database kind: a state folder bootstrapped on sqlite is bootstrapped again when it
# starts on PostgreSQL (and the other way round), instead of serving empty databases.


def bootstrap_keystone(pw):
    marker = DATA / f".keystone-bootstrapped-{DB}"
    if marker.exists():
        return
    conf = ["--config-file", str(ETC / "keystone" / "keystone.conf")]
    manage = str(VENV / "bin" / "keystone-manage")
    owner = ["--keystone-user", "root", "--keystone-group", "root"] if os.geteuid() == 0 else []
    log("initialising Keystone (db_sync, keys, bootstrap)")
    run(manage, *conf, "db_sync")
    run(manage, *conf, "fernet_setup", *owner)
    run(manage, *conf, "credential_setup", *owner)
    # The password goes by keystone-manage's environment variable: as an argument, one that token_urlsafe started
    # with "-" was read as an option (1 run in 64 failed), and a failure printed it with the command line.
    run(
        manage,
        *conf,
        "bootstrap",
        "--bootstrap-admin-url",
        KEYSTONE_URL,
        "--bootstrap-internal-url",
        KEYSTONE_URL,
        "--bootstrap-public-url",
        KEYSTONE_URL,
        "--bootstrap-region-id",
        REGION,
        env={"OS_BOOTSTRAP_PASSWORD": pw["admin"]},
    )
    marker.touch()


def bootstrap_identity(pw):
    """Projects, users and the image endpoint; find-or-create, so re-runs are harmless."""
    marker = DATA / (
        f".identity-{DB}-{KEYSTONE_PORT}-{GLANCE_PORT}"
        + (f"-{GLANCE2_PORT}" if REGIONS == 2 else "")
        + (f"-barbican{BARBICAN_PORT}" if BARBICAN else "")
    )
    if marker.exists():
        return
    import openstack

    log("creating projects, users and the endpoints")
    # The catalog may still name the ports of an earlier start: talk to this Keystone directly.
    conn = openstack.connect(
        auth_url=KEYSTONE_URL,
        username="admin",
        password=pw["admin"],
        project_name="admin",
        user_domain_name=DOMAIN,
        project_domain_name=DOMAIN,
        region_name=REGION,
        cacert=str(CA_CERT) if TLS else None,
        identity_endpoint_override=KEYSTONE_URL,
    )
    ident = conn.identity
    domain = ident.find_domain(DOMAIN)
    member = ident.find_role("member")
    admin_role = ident.find_role("admin")

    def project_with_user(name, role):
        project = ident.find_project(name, domain_id=domain.id) or ident.create_project(name=name, domain_id=domain.id)
        user = ident.find_user(name if name != "service" else "glance", domain_id=domain.id)
        username = "glance" if name == "service" else name
        if user is None:
            user = ident.create_user(
                name=username, password=pw[username], domain_id=domain.id, default_project_id=project.id
            )
        else:
            ident.update_user(user, password=pw[username])
        ident.assign_project_role_to_user(project, user, role)

    project_with_user("service", admin_role)
    for name in MEMBER_PROJECTS:
        project_with_user(name, member)

    glance = ident.find_service("glance") or ident.create_service(name="glance", type="image")
    keystone = ident.find_service("keystone")
    for service in (glance, keystone):
        for endpoint in ident.endpoints(service_id=service.id):
            ident.delete_endpoint(endpoint)
    # Keystone serves every region; each region has its own Glance.
    for name, region in GLANCES:
        if not any(existing.id == region for existing in ident.regions()):
            ident.create_region(id=region)
        for service, url in ((glance, GLANCE_URLS[name]), (keystone, KEYSTONE_URL)):
            for interface in ("public", "internal", "admin"):
                ident.create_endpoint(service_id=service.id, interface=interface, url=url, region_id=region)
    if BARBICAN:
        barbican = ident.find_service("barbican") or ident.create_service(name="barbican", type="key-manager")
        for endpoint in ident.endpoints(service_id=barbican.id):
            ident.delete_endpoint(endpoint)
        for interface in ("public", "internal", "admin"):
            ident.create_endpoint(service_id=barbican.id, interface=interface, url=BARBICAN_URL, region_id=REGION)
    for old in DATA.glob(".identity-*"):
        old.unlink()
    marker.touch()


def bootstrap_glance(service):
    marker = glance_data(service) / f".{service}-synced-metadefs-{DB}"
    if marker.exists():
        return
    log(f"initialising {service} (db_sync, metadata definitions)")
    manage = [str(VENV / "bin" / "glance-manage"), "--config-file", str(ETC / service / "glance-api.conf")]
    run(*manage, "db_sync")
    # Glance's own property definitions (hw_disk_bus and the rest), which validate_properties checks against.
    run(*manage, "db_load_metadefs", str(VENV / "etc" / "glance" / "metadefs"))
    marker.touch()


def cloud_entry(user, password):
    project = "admin" if user == "admin" else user
    return {
        "auth": {
            "auth_url": KEYSTONE_URL,
            "username": user,
            "password": password,
            "project_name": project,
            "user_domain_name": DOMAIN,
            "project_domain_name": DOMAIN,
        },
        # openstacksdk accepts only the regions a cloud lists: with two, both (the first is the default).
        **({"region_name": REGION} if REGIONS == 1 else {"regions": [region for dummy, region in GLANCES]}),
        "interface": "public",
        "identity_api_version": 3,
    }


def write_clouds(pw):
    clouds = {user: cloud_entry(user, pw[user]) for user in ("admin", *MEMBER_PROJECTS)}
    # JSON is valid YAML, and keeps this script free of a yaml dependency.
    write_private(CLOUDS_YAML, json.dumps({"clouds": clouds}, indent=2) + "\n")
    # AWX writes one cloud named `devstack`, with `domain_name` and no `user_domain_name`.
    awx = {
        "clouds": {
            "devstack": {
                "auth": {
                    "auth_url": KEYSTONE_URL,
                    "username": "demo",
                    "password": pw["demo"],
                    "project_name": "demo",
                    "domain_name": DOMAIN,
                },
                "verify": False,
            }
        }
    }
    write_private(AWX_CLOUDS_YAML, json.dumps(awx, indent=2) + "\n")


# --- commands ----------------------------------------------------------------


def cmd_up():
    started = time.monotonic()
    cfg = settings()
    pw = load_secrets()
    fingerprint = hashlib.sha256(json.dumps(cfg, sort_keys=True).encode()).hexdigest()
    fp_file = RUN / "settings.sha256"
    RUN.mkdir(parents=True, exist_ok=True)
    PORTS_FILE.write_text(json.dumps(PORTS))
    if fp_file.exists() and fp_file.read_text() != fingerprint:
        log("settings changed: restarting services")
        for name in ("barbican", "glance2", "glance", "keystone"):
            stop(name)
    write_configs(cfg, pw)
    if TLS:
        make_test_ca()
    fp_file.write_text(fingerprint)
    if DB == "postgresql":
        ensure_postgres(pw)

    bootstrap_keystone(pw)
    if not running("keystone"):
        stop("keystone")
        start("keystone")
    bootstrap_identity(pw)
    for service in GLANCE_NAMES:
        bootstrap_glance(service)
        if not running(service):
            stop(service)
            start(service)
    if REGIONS == 1:
        stop("glance2")  # a second region from an earlier start
    if BARBICAN and not running("barbican"):
        stop("barbican")
        start("barbican")
    elif not BARBICAN:
        stop("barbican")
    write_clouds(pw)
    second = f", {SECOND_REGION} glance {GLANCE2_URL}" if REGIONS == 2 else ""
    second += f", barbican {BARBICAN_URL}" if BARBICAN else ""
    log(f"up in {time.monotonic() - started:.1f}s: keystone {KEYSTONE_URL}, glance {GLANCE_URL}{second}")
    print(f"OS_CLIENT_CONFIG_FILE={CLOUDS_YAML}")


def cmd_down(purge=False):
    for name in ("barbican", "glance2", "glance", "keystone"):
        stop(name)
    if purge:
        drop_postgres_databases()
        if STATE.exists():
            shutil.rmtree(STATE)
    log("down" + (" (state purged)" if purge else ""))


def cmd_status():
    healthy = True
    for name, svc in SERVICES.items():
        ok = running(name)
        healthy &= ok
        print(f"{name:9} {'up' if ok else 'down':5} {svc['probe']}  log: {LOGS / (name + '.log')}")
    print(f"clouds.yaml: {CLOUDS_YAML}")
    return 0 if healthy else 3


def cmd_env():
    print(f"export OS_CLIENT_CONFIG_FILE={CLOUDS_YAML}")
    print(f"export LOCALCLOUD_AWX_CLOUDS_YAML={AWX_CLOUDS_YAML}")
    print(f"export LOCALCLOUD_SECRETS={SECRETS}")
    if TLS:
        print(f"export LOCALCLOUD_CA_CERT={CA_CERT}")
    return 0


def main(argv):
    command = argv[1] if len(argv) > 1 else ""
    if command == "up":
        cmd_up()
        return 0
    if command == "down":
        cmd_down(purge="--purge" in argv[2:])
        return 0
    if command == "status":
        return cmd_status()
    if command == "env":
        return cmd_env()
    print("usage: localcloud up|down [--purge]|status|env", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
