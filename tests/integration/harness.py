"""Helpers shared by the integration tests (imported by conftest and the test modules)."""

import contextlib
import fcntl
import functools
import hashlib
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from faultproxy import FaultProxy

HERE = Path(__file__).resolve().parent
CALLBACKS = HERE / "callback_plugins"
LOCALCLOUD = HERE.parent / "cloud" / "localcloud"
FAKE_QEMU = HERE.parent / "scripts" / "fake-qemu"

# Every module and playbook output of the session: the session's last check searches it for secrets.
OUTPUT_LOG = []
# Secrets the session's clouds and tests made (passwords, application-credential secrets): none may be printed.
SECRETS = set()


# The payload of the data and fault tests: a few MiB, not a multiple of the 1 MiB transfer chunk.
PAYLOAD_SIZE = 3 * 1024 * 1024 + 12345

# A Keystone fernet token: it must never be printed either.
FERNET_TOKEN = re.compile(r"gAAAAA[0-9A-Za-z_-]{80,}")


def find_leaks(texts, secrets):
    """Where any of ``secrets`` or a Keystone token appears in ``texts`` (pairs of (where, text))."""
    leaks = set("%s: a secret" % where for where, text in texts for secret in secrets if secret in text)
    leaks.update("%s: a Keystone token" % where for where, text in texts if FERNET_TOKEN.search(text))
    return sorted(leaks)


def remember_secrets(secrets_json):
    """Add a local cloud's passwords (its secrets.json) to the secrets searched for at the end of the session."""
    SECRETS.update(value for value in json.loads(Path(secrets_json).read_text()).values() if value)


def sha512(data):
    """The hex sha512 of ``data`` (bytes), as Glance's os_hash_value gives it."""
    return hashlib.sha512(data).hexdigest()


def sha512_file(path):
    digest = hashlib.sha512()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def new_image(conn, name, **attrs):
    """A private raw/bare image made with plain openstacksdk; returns its ID."""
    body = {"name": name, "disk_format": "raw", "container_format": "bare", "visibility": "private"}
    body.update(attrs)
    response = conn.image.post("/images", json=body)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def glance_port(conn):
    return int(conn.image.get_endpoint().rstrip("/").rsplit(":", 1)[1].split("/")[0])


def fault_proxied(clouds_yaml, port, cloud="demo", **faults):
    """(FaultProxy in front of the Glance on ``port``, a cloud dict for ``cloud`` whose image endpoint is the proxy).

    Use the proxy as a context manager around the module runs.
    """
    proxy = FaultProxy(port, **faults)
    config = json.loads(Path(clouds_yaml).read_text())["clouds"][cloud]
    # The override is the service root: version discovery finds /v2 behind the proxy too.
    return proxy, dict(config, image_endpoint_override="http://127.0.0.1:%d/" % proxy.port)


class QuietFiles(http.server.SimpleHTTPRequestHandler):
    """Serves files from ``directory`` without logging, recording each requested path in ``hits``."""

    def __init__(self, *args, directory=None, hits=None, **kwargs):
        self.hits = hits if hits is not None else []
        super().__init__(*args, directory=directory, **kwargs)

    def log_message(self, *args):
        self.hits.append(self.path)


@contextlib.contextmanager
def http_server(handler):
    """A threaded HTTP server on a free loopback port for ``handler``; yields its base URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield "http://127.0.0.1:%d" % server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def file_server(directory, hits=None):
    """http_server for the files in ``directory``; each request's path is appended to ``hits``."""
    return http_server(functools.partial(QuietFiles, directory=str(directory), hits=hits))


def fake_qemu_env(base_env, folder, **cases):
    """``base_env`` with tests/scripts/fake-qemu first on PATH as qemu-system-x86_64, playing ``cases`` (probe, kvm,
    tcg: see the script), and a cache of its own (the probe's answer). Returns (env, the file counting its runs)."""
    bin_dir = Path(folder) / "fake-bin"
    bin_dir.mkdir()
    shutil.copy(str(FAKE_QEMU), str(bin_dir / "qemu-system-x86_64"))
    env = dict(base_env, PATH="%s:%s" % (bin_dir, base_env["PATH"]), XDG_CACHE_HOME=str(Path(folder) / "cache"))
    env.update(("FAKE_QEMU_%s" % case.upper(), value) for case, value in cases.items())
    return env, bin_dir / "qemu-system-x86_64.runs"


def raw_publish_vars(name, artifact, version="1", **more):
    """image_publish's variables for publishing the raw file ``artifact`` as ``name`` into cloud demo."""
    artifact = {"path": str(artifact), "disk_format": "raw"}
    return dict(
        image_publish_cloud="demo",
        image_publish_name=name,
        image_publish_version=version,
        image_publish_artifact=artifact,
        **more,
    )


def raw_image(conn, image_id):
    """Glance's own JSON for an image (the SDK resource hides `stores`), or None."""
    response = conn.image.get("/images/%s" % image_id)
    if response.status_code == 404:
        return None
    response.raise_for_status()
    return response.json()


def _ansible_bin(name):
    return str(Path(sys.executable).parent / name)


def _results(stdout):
    """The result dicts that the result_json callback printed, in task order."""
    results = []
    for line in stdout.splitlines():
        if line.startswith("RESULT_JSON "):
            result = json.loads(line[len("RESULT_JSON ") :])
            result["failed"] = result.get("_status") != "ok"
            results.append(result)
    return results


class ModuleRunner:
    """Runs our modules the way users do, returning their result dicts.

    ``run_module(module, args)`` is one ``ansible localhost -m`` run. ``run_module.many(module, [args, ...])``
    runs several calls as the tasks of one playbook (one controller start-up for all), each with
    ``ignore_errors`` so that every call gets its own result.
    """

    def __init__(self, env):
        self.env = env

    @staticmethod
    def _fqcn(module):
        return module if "." in module else "osimages.glance.%s" % module

    @staticmethod
    def _with_cloud(args, cloud):
        if isinstance(args, dict):
            args = dict(args)
            if cloud is not None:
                args.setdefault("cloud", cloud)
        return args

    def _run(self, cmd, env):
        proc = subprocess.run(
            cmd, env=dict(self.env, **(env or {})), capture_output=True, text=True, timeout=900, check=False
        )
        OUTPUT_LOG.append(proc.stdout + proc.stderr)
        return proc

    def __call__(self, module, args, cloud="demo", check=False, diff=False, env=None):
        args = self._with_cloud(args, cloud)
        cmd = [
            _ansible_bin("ansible"),
            "localhost",
            "-c",
            "local",
            "-m",
            self._fqcn(module),
            "-a",
            args if isinstance(args, str) else json.dumps(args),
        ]
        if check:
            cmd.append("--check")
        if diff:
            cmd.append("--diff")
        proc = self._run(cmd, env)
        results = _results(proc.stdout)
        if not results:
            raise AssertionError("no result from %s:\n%s\n%s" % (module, proc.stdout, proc.stderr))
        result = results[-1]
        result["_output"] = proc.stdout + proc.stderr
        return result

    def many(self, module, calls, cloud="demo", check=False, diff=False, env=None):
        """One result per entry of ``calls`` (each a dict of module options, plus ``_check`` for a call of its own
        in check mode), from one playbook run."""
        tasks = [
            {
                "name": "call %d" % index,
                self._fqcn(module): self._with_cloud(dict((k, v) for k, v in args.items() if k != "_check"), cloud),
                "ignore_errors": True,
                "check_mode": args.get("_check", check),
                "diff": diff,
            }
            for index, args in enumerate(calls)
        ]
        play = [{"hosts": "localhost", "connection": "local", "gather_facts": False, "tasks": tasks}]
        with tempfile.NamedTemporaryFile("w", suffix=".yml", prefix="many-") as playbook:
            json.dump(play, playbook)  # JSON is YAML
            playbook.flush()
            proc = self._run([_ansible_bin("ansible-playbook"), playbook.name], env)
        results = _results(proc.stdout)
        if len(results) != len(calls):
            raise AssertionError(
                "%d results for %d calls of %s:\n%s\n%s" % (len(results), len(calls), module, proc.stdout, proc.stderr)
            )
        for result in results:
            result["_output"] = proc.stdout + proc.stderr
        return results


class PlaybookRunner:
    """Runs a playbook of tests/integration/playbooks with extra vars; returns (rc, output, facts).

    The playbooks write what they produced to ``result_file``; ``changed`` is read off the recap.
    """

    def __init__(self, env, tmp_dir):
        self.env = env
        self.tmp_dir = Path(tmp_dir)
        self.count = 0

    def __call__(self, playbook, extra_vars, check=False, env=None):
        self.count += 1
        result_file = self.tmp_dir / ("result-%d.json" % self.count)
        extra = dict(extra_vars, result_file=str(result_file))
        cmd = [
            _ansible_bin("ansible-playbook"),
            "-i",
            "localhost,",
            str(HERE / "playbooks" / playbook),
            "-e",
            json.dumps(extra),
        ]
        if check:
            cmd.append("--check")
        # A complete environment (one holding PATH) replaces the runner's, so tests can drop variables.
        full_env = env if env and "PATH" in env else dict(self.env, **(env or {}))
        proc = subprocess.run(cmd, env=full_env, capture_output=True, text=True, timeout=1800, check=False)
        output = proc.stdout + proc.stderr
        OUTPUT_LOG.append(output)
        facts = json.loads(result_file.read_text()) if proc.returncode == 0 and result_file.exists() else None
        return PlaybookResult(proc.returncode, output, facts)


class PlaybookResult:
    def __init__(self, rc, output, facts):
        self.rc = rc
        self.output = output
        self.facts = facts

    @property
    def changed(self):
        """The recap's changed count."""
        for line in self.output.splitlines():
            if line.startswith("localhost") and "changed=" in line:
                return int(line.split("changed=")[1].split()[0])
        raise AssertionError("no play recap in:\n" + self.output)


class ExtraCloud:
    """Another local cloud beside the default one, shaped by LOCALCLOUD_* settings, in its own state folder.

    ``state`` names the folder under the cache (None: localcloud's own default for these settings).
    """

    def __init__(self, state, **settings):
        # On the test cloud's database kind (tests/run-all: PostgreSQL, which never answers "database is locked"
        # to the concurrent writers a loaded machine brings), unless the settings say otherwise.
        self.env = dict(os.environ, **settings)
        self.env.pop("LOCALCLOUD_DIR", None)
        if state:
            cache = Path(os.environ.get("OSIMAGES_CACHE", Path.home() / ".cache" / "osimages-glance"))
            self.env["LOCALCLOUD_DIR"] = str(cache / state)

    def run(self, command):
        proc = subprocess.run([str(LOCALCLOUD), command], env=self.env, capture_output=True, text=True, check=False)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    def up(self):
        """Start it (or find it running); return its clouds.yaml. Its passwords join the secrets searched for."""
        clouds_yaml = Path(self.run("up").strip().split("=", 1)[1])
        remember_secrets(clouds_yaml.with_name("secrets.json"))
        return clouds_yaml

    def down(self):
        self.run("down")


def made_once(tmp_path_factory, name, make):
    """``make(path)`` run once per test run for the file ``name``: pytest-xdist workers share it through their common
    temporary root, under a lock. ``make`` writes a partial path, moved into place when it returns."""
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    path = shared / "shared" / name
    path.parent.mkdir(exist_ok=True)
    with open(shared / "shared.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not path.exists():
            partial = path.with_name(path.name + ".partial")
            make(partial)
            shutil.move(partial, path)
    return path
