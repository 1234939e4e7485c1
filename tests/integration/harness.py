"""Helpers shared by the integration tests (imported by conftest and the test modules)."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
CALLBACKS = HERE / "callback_plugins"
LOCALCLOUD = HERE.parent / "cloud" / "localcloud"

# Every module and playbook output of the session: the session's last check searches it for secrets.
OUTPUT_LOG = []
# Secrets the session's clouds and tests made (passwords, application-credential secrets): none may be printed.
SECRETS = set()


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


def raw_image(conn, image_id):
    """Glance's own JSON for an image (the SDK resource hides `stores`), or None."""
    response = conn.image.get("/images/%s" % image_id)
    if response.status_code == 404:
        return None
    response.raise_for_status()
    return response.json()


class ModuleRunner:
    """Runs one of our modules with `ansible localhost -m`, returning its result dict."""

    def __init__(self, env):
        self.env = env

    def __call__(self, module, args, cloud="demo", check=False, diff=False, env=None):
        if isinstance(args, dict):
            args = dict(args)
            if cloud is not None:
                args.setdefault("cloud", cloud)
        cmd = [
            str(Path(sys.executable).parent / "ansible"), "localhost", "-c", "local",
            "-m", module if "." in module else "osimages.glance.%s" % module,
            "-a", args if isinstance(args, str) else json.dumps(args),
        ]
        if check:
            cmd.append("--check")
        if diff:
            cmd.append("--diff")
        proc = subprocess.run(cmd, env=dict(self.env, **(env or {})), capture_output=True, text=True, timeout=900,
                              check=False)
        OUTPUT_LOG.append(proc.stdout + proc.stderr)
        lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT_JSON ")]
        if not lines:
            raise AssertionError("no result from %s:\n%s\n%s" % (module, proc.stdout, proc.stderr))
        result = json.loads(lines[-1][len("RESULT_JSON "):])
        result["failed"] = result.get("_status") != "ok"
        result["_output"] = proc.stdout + proc.stderr
        return result


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
        cmd = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,",
               str(HERE / "playbooks" / playbook), "-e", json.dumps(extra)]
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
