"""The layers of plugins/, kept by reading every import (CONTRIBUTING.md, "Where code goes").

Nobody sees a wrong-way import in review: a planner that imports the HTTP layer, a downloader that imports a
catalog file, a local-only module that loads openstacksdk. This test fails on each, naming the file and the import.
"""

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

PLUGINS = Path(__file__).resolve().parents[2] / "plugins"
PREFIX = "ansible_collections.osimages.glance.plugins.module_utils"

# module_utils, by layer. A new file goes into one of them (the first test says so).
PURE = {
    "_roles",  # what the roles decide, behind the filter plugins
    "_catalog",  # a catalog's YAML, read and checked
    "_catalog_plan",
    "_checksums",
    "_data_plan",
    "_errors",
    "_formats",
    "_latest",
    "_packages",
    "_properties",
    "_queries",
    "_reconcile",
    "_scs",
    "_secrets",
    "_signing",  # the maths; it reads the one key file it is given, and loads cryptography on first use
}
LOCAL_IO = {"_boot", "_diskimage", "_fetch", "_files", "_transfer"}
CLOUD = {"_apply", "_catalog_run", "_connection", "_glance_module", "_image_data", "_images"}
BASE = {"_module"}
PLANNERS = {"_catalog", "_catalog_plan", "_data_plan", "_latest", "_reconcile", "_scs"}
CATALOG_FILES = {"_apply", "_catalog", "_catalog_plan", "_latest"}
LOCAL_MODULES = ("disk_image", "disk_image_boot", "disk_image_fetch")
CLOUD_LIBRARIES = ("openstack", "keystoneauth1")


def imports(path):
    """(the module_utils names, the top-level third-party packages) that ``path`` imports at module level."""
    ours, theirs = set(), set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Try):
            nodes = [n for n in node.body if isinstance(n, (ast.Import, ast.ImportFrom))]
        else:
            nodes = [node]
        for item in nodes:
            if isinstance(item, ast.ImportFrom) and item.module == PREFIX:
                ours.update(alias.name for alias in item.names)
            elif isinstance(item, ast.ImportFrom) and (item.module or "").startswith(PREFIX + "."):
                ours.add(item.module[len(PREFIX) + 1 :])
            elif isinstance(item, ast.ImportFrom) and item.module:
                theirs.add(item.module.split(".")[0])
            elif isinstance(item, ast.Import):
                theirs.update(alias.name.split(".")[0] for alias in item.names)
    return ours, theirs


MODULE_UTILS = {path.stem: imports(path)[0] for path in sorted((PLUGINS / "module_utils").glob("_*.py"))}


def closure(names):
    """Every module_utils file that importing ``names`` loads."""
    seen, todo = set(), list(names)
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(MODULE_UTILS.get(name, ()))
    return seen


def wrong_way(files, allowed):
    return sorted("%s imports %s" % (name, bad) for name in files for bad in MODULE_UTILS[name] - allowed)


def test_every_module_utils_file_has_its_layer():
    placed = PURE | LOCAL_IO | CLOUD | BASE
    assert sorted(set(MODULE_UTILS) - placed) == [], "place each new file in one layer of this test"
    assert sorted(placed - set(MODULE_UTILS)) == [], "a layer names a file that is gone"


def test_pure_code_imports_no_io():
    assert wrong_way(PURE, PURE) == []
    third_party = {name: imports(PLUGINS / "module_utils" / (name + ".py"))[1] for name in PURE}
    assert sorted(name for name, found in third_party.items() if found & set(CLOUD_LIBRARIES)) == []


def test_local_io_never_reaches_the_cloud():
    assert wrong_way(LOCAL_IO, PURE | LOCAL_IO) == []


def test_the_http_layer_imports_no_planner():
    assert sorted(MODULE_UTILS["_images"] & PLANNERS) == []


def test_the_generic_downloader_imports_no_catalog_file():
    assert sorted(closure(["_fetch"]) & CATALOG_FILES) == []


def test_the_base_module_knows_no_cloud():
    assert sorted(closure(BASE) & CLOUD) == []


@pytest.mark.parametrize("module", LOCAL_MODULES)
def test_local_modules_never_load_openstacksdk(module):
    ours = imports(PLUGINS / "modules" / (module + ".py"))[0]
    assert sorted(closure(ours) & CLOUD) == []
    # And for real: importing the module file loads neither openstacksdk nor keystoneauth1.
    code = "import sys, %s.%s; print(sorted(set(%r) & set(sys.modules)))"
    found = subprocess.run(
        [sys.executable, "-c", code % (PREFIX.replace("module_utils", "modules"), module, CLOUD_LIBRARIES)],
        check=True,
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p)),
    ).stdout.strip()
    assert found == "[]"
