"""Files written whole or not at all (_files)."""

import os

import pytest

from ansible_collections.osimages.glance.plugins.module_utils._files import read_json
from ansible_collections.osimages.glance.plugins.module_utils._files import write_atomically
from ansible_collections.osimages.glance.plugins.module_utils._files import write_json


def test_a_write_replaces_the_file_whole_with_the_mode_asked(tmp_path):
    path = tmp_path / "manifest.json"
    path.write_text("old")
    write_json(str(path), {"b": 1, "a": [2]}, mode=0o644)
    assert read_json(str(path)) == {"a": [2], "b": 1}
    assert os.stat(path).st_mode & 0o777 == 0o644 and os.listdir(tmp_path) == ["manifest.json"]


def test_a_failed_write_leaves_the_old_file_and_no_partial(tmp_path):
    taken = tmp_path / "taken"
    (taken / "inside").mkdir(parents=True)  # a non-empty folder: the rename over it fails
    with pytest.raises(OSError):
        write_atomically(str(taken), b"data")
    assert sorted(os.listdir(tmp_path)) == ["taken"] and os.listdir(taken) == ["inside"]


@pytest.mark.parametrize("content", [None, "not json", "[1, 2]"])
def test_only_a_json_object_is_read(tmp_path, content):
    path = tmp_path / "record.json"
    if content is not None:
        path.write_text(content)
    assert read_json(str(path)) is None
