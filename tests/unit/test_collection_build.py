"""The collection as users get it: the built tarball, the action group, the docs of every module."""

import os
import subprocess
import sys
import tarfile
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
MODULES = sorted(path.stem for path in (REPO / "plugins" / "modules").glob("*.py"))
# Modules that talk to Glance belong to the action group; disk_image* work on local files only.
GLANCE_MODULES = [module for module in MODULES if module.startswith("glance_")]


def test_build_holds_no_test_output_venvs_or_symlinks(tmp_path):
    subprocess.run(
        [str(BIN / "ansible-galaxy"), "collection", "build", "--output-path", str(tmp_path), str(REPO)],
        check=True,
        capture_output=True,
    )
    (tarball,) = tmp_path.glob("osimages-glance-*.tar.gz")
    with tarfile.open(tarball) as archive:
        members = archive.getmembers()
    names = [member.name for member in members]
    assert not [member.name for member in members if member.issym() or member.islnk()]
    for unwanted in ("tests/output", ".venv", "__pycache__", ".pytest_cache", "collections/", ".git/", ".ansible"):
        assert not [name for name in names if unwanted in name], unwanted
    for module in MODULES:
        assert "plugins/modules/%s.py" % module in names
    for role in ("image_build", "image_publish"):
        assert "roles/%s/meta/argument_specs.yml" % role in names
    assert "meta/runtime.yml" in names and "meta/execution-environment.yml" in names


def test_action_group_lists_every_module():
    runtime = yaml.safe_load((REPO / "meta" / "runtime.yml").read_text())
    assert sorted(runtime["action_groups"]["glance"]) == GLANCE_MODULES


def test_ansible_doc_renders_every_plugin():
    env = dict(os.environ, ANSIBLE_NOCOLOR="1")
    for plugin in ["osimages.glance.%s" % module for module in MODULES]:
        out = subprocess.run([str(BIN / "ansible-doc"), plugin], check=True, capture_output=True, text=True, env=env)
        assert "EXAMPLES" in out.stdout and "RETURN VALUES" in out.stdout, plugin
    out = subprocess.run(
        [str(BIN / "ansible-doc"), "-t", "lookup", "osimages.glance.glance_image_id"],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    assert "RETURN VALUES" in out.stdout
