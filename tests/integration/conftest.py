"""Integration fixtures: the real local cloud, our modules run by ansible, and plain-SDK verification.

Tests call our modules through the ``ansible`` command (the way users do) and
check the outcome with plain openstacksdk, never with our own modules.
The local cloud is started by tests/run-all (tests/cloud/localcloud up).
"""

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import openstack
import openstack.config
import openstack.connection
import pytest

from harness import CALLBACKS
from harness import OUTPUT_LOG
from harness import PAYLOAD_SIZE
from harness import SECRETS
from harness import ModuleRunner
from harness import PlaybookRunner
from harness import fault_proxied
from harness import find_leaks
from harness import glance_port
from harness import made_once


def _require_cloud():
    path = os.environ.get("OS_CLIENT_CONFIG_FILE")
    if not path or not Path(path).exists():
        pytest.exit(
            "the local cloud is not running: start it with tests/cloud/localcloud up "
            "and export OS_CLIENT_CONFIG_FILE, or use tests/run-all",
            returncode=2,
        )
    return path


def pytest_collection_modifyitems(items):
    """The tests marked ``long`` first, longest first: parallel workers take tests in collection order, and a long
    test started last keeps one worker busy after the others have finished."""

    def seconds(item):
        marker = item.get_closest_marker("long")
        return marker.args[0] if marker else 0

    items.sort(key=seconds, reverse=True)


@pytest.fixture(scope="session")
def clouds_yaml():
    return _require_cloud()


@pytest.fixture(scope="session")
def awx_clouds_yaml(clouds_yaml):
    return os.environ.get("LOCALCLOUD_AWX_CLOUDS_YAML", str(Path(clouds_yaml).with_name("clouds-awx.yaml")))


@pytest.fixture(scope="session")
def cloud_secrets(clouds_yaml):
    """The test users' passwords, to prove they never appear in output."""
    path = os.environ.get("LOCALCLOUD_SECRETS", str(Path(clouds_yaml).with_name("secrets.json")))
    return json.loads(Path(path).read_text())


@pytest.fixture(scope="session", autouse=True)
def no_secret_in_any_output(cloud_secrets, tmp_path_factory):
    """After the whole session: no password, application-credential secret or token in any output.

    Searched: the output of every module and playbook run (warnings, errors, diffs and -vvvv runs included)
    and every file the tests left in their temporary folders (progress files, playbook results, downloads' logs).
    """
    SECRETS.update(value for value in cloud_secrets.values() if value)
    yield
    texts = [("output of run %d" % index, text) for index, text in enumerate(OUTPUT_LOG)]
    for path in Path(tmp_path_factory.getbasetemp()).rglob("*"):
        if path.is_file() and path.stat().st_size < 4 * 1024 * 1024:
            texts.append((str(path), path.read_bytes().decode("utf-8", errors="replace")))
    leaks = find_leaks(texts, SECRETS)
    assert not leaks, "secrets leaked into output:\n" + "\n".join(leaks)


@pytest.fixture(scope="session")
def sdk(clouds_yaml):
    """Plain openstacksdk connections by cloud name: the independent verifier."""
    cache = {}

    config = openstack.config.OpenStackConfig(config_files=[clouds_yaml])

    def connect(cloud="demo"):
        # Bound to the test cloud's clouds.yaml, whatever a test sets OS_CLIENT_CONFIG_FILE to meanwhile.
        if cloud not in cache:
            cache[cloud] = openstack.connection.Connection(config=config.get_one(cloud))
        return cache[cloud]

    return connect


@pytest.fixture(scope="session")
def ansible_env(clouds_yaml):
    env = dict(os.environ)
    env.update(
        ANSIBLE_CALLBACK_PLUGINS=str(CALLBACKS),
        ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
        ANSIBLE_STDOUT_CALLBACK="result_json",
        ANSIBLE_PYTHON_INTERPRETER=sys.executable,
        ANSIBLE_LOCALHOST_WARNING="0",
        ANSIBLE_INVENTORY_UNPARSED_WARNING="0",
        ANSIBLE_NOCOLOR="1",
    )
    return env


@pytest.fixture(scope="session")
def run_module(ansible_env):
    return ModuleRunner(ansible_env)


@pytest.fixture(scope="session")
def playbook_env(clouds_yaml):
    """ansible-playbook with its default output (read for the recap and error messages)."""
    env = dict(os.environ)
    env.update(
        ANSIBLE_PYTHON_INTERPRETER=sys.executable,
        ANSIBLE_LOCALHOST_WARNING="0",
        ANSIBLE_INVENTORY_UNPARSED_WARNING="0",
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default",
    )
    return env


@pytest.fixture
def run_playbook(playbook_env, tmp_path):
    return PlaybookRunner(playbook_env, tmp_path)


@pytest.fixture(scope="session")
def fixture_image(tmp_path_factory):
    """A 12 MiB bootable raw disk (syslinux, Debian's kernel, busybox), made once per run by the project's script."""
    script = Path(__file__).resolve().parents[1] / "scripts" / "make-fixture-image"
    return made_once(
        tmp_path_factory,
        "fixture.raw",
        lambda partial: subprocess.run([str(script), str(partial)], check=True, timeout=900),
    )


@pytest.fixture
def payload(tmp_path):
    """(path, bytes) of a random file of PAYLOAD_SIZE bytes."""
    data = os.urandom(PAYLOAD_SIZE)
    path = tmp_path / "disk.raw"
    path.write_bytes(data)
    return path, data


@pytest.fixture
def proxied(sdk, clouds_yaml):
    """make(**faults) -> (FaultProxy in front of the local Glance, a cloud dict for demo that goes through it)."""
    port = glance_port(sdk("demo"))
    return lambda **faults: fault_proxied(clouds_yaml, port, **faults)


@pytest.fixture
def prefix(request, sdk):
    """A unique image-name prefix for one test; its images are deleted afterwards in every project."""
    value = "it-%s-%s-" % (request.node.name[:30].replace("[", "-").replace("]", ""), uuid.uuid4().hex[:6])
    yield value
    for cloud in ("demo", "alt", "admin"):
        conn = sdk(cloud)
        # Listed in full first: deleting while paging would pull the next page's marker away.
        mine = [
            image.id
            for hidden in (False, True)
            for image in conn.image.images(owner=conn.current_project_id, is_hidden=hidden)
            if image.name and image.name.startswith(value)
        ]
        for image_id in mine:
            _force_delete(conn, image_id)


def _force_delete(conn, image_id):
    conn.image.patch(
        "/images/%s" % image_id,
        json=[{"op": "replace", "path": "/protected", "value": False}],
        headers={"Content-Type": "application/openstack-images-v2.1-json-patch"},
    )
    conn.image.delete("/images/%s" % image_id)
