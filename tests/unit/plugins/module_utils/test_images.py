"""The API layer's pure helpers: list queries and JSON patches."""
import pytest

from ansible_collections.osimages.glance.plugins.module_utils._errors import ValidationError
from ansible_collections.osimages.glance.plugins.module_utils._images import LIST_FILTERS
from ansible_collections.osimages.glance.plugins.module_utils._images import image_query
from ansible_collections.osimages.glance.plugins.module_utils._images import json_patch


@pytest.mark.parametrize("filters, expected", [
    ({}, {}),
    ({"name": "debian"}, {"name": "debian"}),
    ({"visibility": "all", "status": "active"}, {"visibility": "all", "status": "active"}),
    ({"hidden": True}, {"os_hidden": "true"}),
    ({"hidden": "no"}, {"os_hidden": "false"}),
    ({"protected": False}, {"protected": "false"}),
    ({"tag": ["a", "b"]}, {"tag": ["a", "b"]}),
    ({"tag": "a"}, {"tag": ["a"]}),
    ({"size_min": 10, "size_max": 20}, {"size_min": "10", "size_max": "20"}),
    ({"created_at": "gte:2026-01-01T00:00:00Z"}, {"created_at": "gte:2026-01-01T00:00:00Z"}),
    ({"properties": {"os_distro": "debian", "n": 1}}, {"os_distro": "debian", "n": "1"}),
    ({"member_status": "all", "owner": "p"}, {"member_status": "all", "owner": "p"}),
    ({"name": None}, {}),
])
def test_filters_become_glance_parameters(filters, expected):
    assert image_query(filters) == expected


def test_sort_is_passed_through():
    assert image_query({}, "name:asc,created_at:desc") == {"sort": "name:asc,created_at:desc"}


@pytest.mark.parametrize("filters, words", [
    ({"colour": "red"}, "unknown filter(s) colour; supported filters: container_format, created_at"),
    ({"hidden": "maybe"}, "filters.hidden must be a boolean"),
    ({"properties": "x"}, "filters.properties must be a dict"),
    ({"properties": {"os_hidden": "true"}}, "use filters.os_hidden"),
    ({"name": ["a"]}, "filters.name must be a single value"),
])
def test_bad_filters(filters, words):
    with pytest.raises(ValidationError) as caught:
        image_query(filters)
    assert words in caught.value.msg


def test_every_documented_filter_is_supported():
    assert sorted(LIST_FILTERS) == sorted([
        "name", "status", "visibility", "owner", "member_status", "tag", "hidden", "protected", "disk_format",
        "container_format", "size_min", "size_max", "created_at", "updated_at", "properties"])


def test_json_patch_escapes_pointer_characters():
    assert json_patch([("add", "a/b~c", "v"), ("remove", "x", None), ("replace", "name", "n")]) == [
        {"op": "add", "path": "/a~1b~0c", "value": "v"},
        {"op": "remove", "path": "/x"},
        {"op": "replace", "path": "/name", "value": "n"},
    ]
