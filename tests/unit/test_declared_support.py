"""What the collection claims to support is exactly what the matrix tests."""

import re
from pathlib import Path

import yaml

from ansible_collections.osimages.glance.plugins.module_utils._connection import MINIMUM_SDK_VERSION

REPO = Path(__file__).resolve().parents[2]


def oldest_pins():
    pins = {}
    for line in (REPO / "tests" / "matrix" / "oldest.txt").read_text().splitlines():
        match = re.match(r"^([a-z-]+)==([0-9.*]+)$", line.strip())
        if match:
            pins[match.group(1)] = match.group(2)
    return pins


def test_minimums_match_the_oldest_matrix_cell():
    pins = oldest_pins()
    runtime = yaml.safe_load((REPO / "meta" / "runtime.yml").read_text())
    assert runtime["requires_ansible"] == ">=%s.0" % pins["ansible-core"].replace(".*", "")
    assert MINIMUM_SDK_VERSION == pins["openstacksdk"]


def test_readme_states_the_tested_range():
    readme = (REPO / "README.md").read_text()
    pins = oldest_pins()
    assert "ansible-core >= %s" % pins["ansible-core"].replace(".*", "") in readme
    assert "openstacksdk >= %s" % pins["openstacksdk"] in readme
