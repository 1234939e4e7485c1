"""The request shapes (list queries, JSON patches) and the API layer (retries, listings, finding one image) against
scripted answers."""

import json
import re

import pytest
import requests
import yaml
from keystoneauth1 import exceptions as ksa

from ansible_collections.osimages.glance.plugins.module_utils._errors import AmbiguousName
from ansible_collections.osimages.glance.plugins.module_utils._errors import Conflict
from ansible_collections.osimages.glance.plugins.module_utils._errors import GlanceError
from ansible_collections.osimages.glance.plugins.module_utils._errors import NotFound
from ansible_collections.osimages.glance.plugins.module_utils._errors import TooLarge
from ansible_collections.osimages.glance.plugins.module_utils._errors import TransientError
from ansible_collections.osimages.glance.plugins.module_utils._errors import ValidationError
from ansible_collections.osimages.glance.plugins.module_utils._images import ImageApi
from ansible_collections.osimages.glance.plugins.module_utils._queries import LIST_FILTERS
from ansible_collections.osimages.glance.plugins.module_utils._queries import image_query
from ansible_collections.osimages.glance.plugins.module_utils._queries import json_patch


@pytest.mark.parametrize(
    "filters, expected",
    [
        ({}, {}),
        ({"name": "debian"}, {"name": "debian"}),
        ({"visibility": "all", "status": "active"}, {"visibility": "all", "status": "active"}),
        ({"hidden": True}, {"os_hidden": "true"}),
        ({"hidden": "no"}, {"os_hidden": "false"}),
        ({"hidden": "Any"}, {"os_hidden": "any"}),
        ({"protected": False}, {"protected": "false"}),
        ({"tag": ["a", "b"]}, {"tag": ["a", "b"]}),
        ({"tag": "a"}, {"tag": ["a"]}),
        ({"size_min": 10, "size_max": 20}, {"size_min": "10", "size_max": "20"}),
        ({"created_at": "gte:2026-01-01T00:00:00Z"}, {"created_at": "gte:2026-01-01T00:00:00Z"}),
        ({"properties": {"os_distro": "debian", "n": 1}}, {"os_distro": "debian", "n": "1"}),
        ({"member_status": "all", "owner": "p"}, {"member_status": "all", "owner": "p"}),
        ({"name": None}, {}),
    ],
)
def test_filters_become_glance_parameters(filters, expected):
    assert image_query(filters) == expected


def test_sort_is_passed_through():
    assert image_query({}, "name:asc,created_at:desc") == {"sort": "name:asc,created_at:desc"}


@pytest.mark.parametrize(
    "filters, words",
    [
        ({"colour": "red"}, "unknown filter(s) colour; supported filters: container_format, created_at"),
        ({"hidden": "maybe"}, "filters.hidden must be a boolean"),
        ({"properties": "x"}, "filters.properties must be a dict"),
        ({"properties": {"os_hidden": "true"}}, "use filters.os_hidden"),
        ({"name": ["a"]}, "filters.name must be a single value"),
    ],
)
def test_bad_filters(filters, words):
    with pytest.raises(ValidationError) as caught:
        image_query(filters)
    assert words in caught.value.msg


def documented_filters():
    """The filter keys that glance_image_info's DOCUMENTATION lists, one per description line: C(key), ..."""
    from ansible_collections.osimages.glance.plugins.modules import glance_image_info

    lines = yaml.safe_load(glance_image_info.DOCUMENTATION)["options"]["filters"]["description"][1:]
    return sorted(key for line in lines for key in re.findall(r"C\((\w+)\)", line.split(":", 1)[0]))


def test_every_documented_filter_is_supported_and_every_supported_one_documented():
    assert documented_filters() == sorted(LIST_FILTERS)


def test_json_patch_escapes_pointer_characters():
    assert json_patch([("add", "a/b~c", "v"), ("remove", "x", None), ("replace", "name", "n")]) == [
        {"op": "add", "path": "/a~1b~0c", "value": "v"},
        {"op": "remove", "path": "/x"},
        {"op": "replace", "path": "/name", "value": "n"},
    ]


class ScriptedAdapter:
    """Answers requests from a script of (status or exception) items, recording each call."""

    def __init__(self, script):
        self.script = list(script)
        self.calls = []

    def request(self, url, method, **kwargs):
        self.calls.append((method, url))
        item = self.script.pop(0)
        if isinstance(item, Exception):
            raise item
        response = requests.models.Response()
        response.status_code = item
        response.headers["Content-Type"] = "application/json"
        response._content = json.dumps({"id": "x", "message": "scripted"}).encode()
        response.url = "http://glance.test" + url
        return response


class ScriptedConnection:
    def __init__(self, script):
        self.image = ScriptedAdapter(script)


def test_transient_failures_are_retried_then_succeed():
    api = ImageApi(ScriptedConnection([503, ksa.ConnectFailure("reset by peer"), 200]), retry_delays=(0, 0, 0))
    assert api.get("11111111-2222-3333-4444-555555555555") == {"id": "x", "message": "scripted"}
    assert len(api.conn.image.calls) == 3
    assert len(api.retries) == 2 and "HTTP 503" in api.retries[0] and "connection to Glance failed" in api.retries[1]


def test_retries_are_bounded():
    api = ImageApi(ScriptedConnection([503, 502, 504, 503]), retry_delays=(0, 0, 0))
    with pytest.raises(TransientError, match="HTTP 503"):
        api.get("11111111-2222-3333-4444-555555555555")
    assert len(api.conn.image.calls) == 4 and len(api.retries) == 3


@pytest.mark.parametrize(
    "call",
    [
        lambda api: api.create({"name": "n"}),
        lambda api: api.add_member({"id": "x", "name": "n"}, "p"),
    ],
)
def test_calls_that_are_not_safe_to_repeat_are_not_retried(call):
    api = ImageApi(ScriptedConnection([503, 201]), retry_delays=(0, 0, 0))
    with pytest.raises(TransientError):
        call(api)
    assert len(api.conn.image.calls) == 1 and api.retries == []


class PagedAdapter:
    """A Glance image list of visible and hidden images, answered in pages of two."""

    def __init__(self, visible, hidden):
        self.pools = {"false": visible, "true": hidden}
        self.queries = []

    def request(self, url, method, params=None, **kwargs):
        if params is not None:
            self.cursor = (params["os_hidden"], 0)
            self.queries.append(dict(params))
        pool, start = self.cursor
        page = self.pools[pool][start : start + 2]
        self.cursor = (pool, start + 2)
        body = {"images": [item if isinstance(item, dict) else {"id": item} for item in page]}
        if start + 2 < len(self.pools[pool]):
            body["next"] = "/v2/images?marker=%s" % body["images"][-1]["id"]
        response = requests.models.Response()
        response.status_code = 200
        response.headers["Content-Type"] = "application/json"
        response._content = json.dumps(body).encode()
        response.url = "http://glance.test" + url
        return response


class PagedConnection:
    def __init__(self, visible, hidden):
        self.image = PagedAdapter(visible, hidden)


@pytest.mark.parametrize(
    "limit, expected, queries",
    [
        (None, ["v1", "v2", "v3", "h1", "h2"], 2),
        (4, ["v1", "v2", "v3", "h1"], 2),
        (3, ["v1", "v2", "v3"], 1),  # the limit is reached among the visible images: hidden ones are not asked for
        (2, ["v1", "v2"], 1),
    ],
)
def test_hidden_any_lists_visible_then_hidden_within_the_limit(limit, expected, queries):
    api = ImageApi(PagedConnection(["v1", "v2", "v3"], ["h1", "h2"]))
    found = [image["id"] for image in api.iter_images({"name": "n", "os_hidden": "any"}, limit=limit)]
    assert found == expected
    assert [query["os_hidden"] for query in api.conn.image.queries] == ["false", "true"][:queries]
    assert all(query["name"] == "n" for query in api.conn.image.queries)


def test_a_plain_query_is_one_listing():
    api = ImageApi(PagedConnection(["v1", "v2", "v3"], ["h1"]))
    assert [image["id"] for image in api.iter_images({"os_hidden": "true"})] == ["h1"]
    assert len(api.conn.image.queries) == 1


def test_an_import_whose_answer_was_lost_is_not_started_twice():
    """503 first, then 409: the first attempt started the import (Glance holds its lock), which is success."""
    api = ImageApi(ScriptedConnection([503, 409]), retry_delays=(0, 0, 0))
    api.start_import({"id": "x", "name": "n"}, "glance-direct")
    assert [call[0] for call in api.conn.image.calls] == ["POST", "POST"] and len(api.retries) == 1


def test_an_import_refused_at_once_is_a_conflict():
    api = ImageApi(ScriptedConnection([409]), retry_delays=(0, 0, 0))
    with pytest.raises(Conflict):
        api.start_import({"id": "x", "name": "n"}, "glance-direct")


@pytest.mark.parametrize(
    "visible, hidden, found, error",
    [
        (["only"], [], "only", None),
        ([], ["hidden-one"], "hidden-one", None),
        ([], [], None, "no image named 'n' matches os_hidden=any"),
        (["a", "b"], ["c"], None, "3 images are named 'n': a, b, c"),
        (["i%02d" % n for n in range(12)], [], None, "10 or more images are named 'n': i00, i01"),
    ],
)
def test_find_one(visible, hidden, found, error):
    api = ImageApi(PagedConnection(visible, hidden))
    if error is None:
        assert api.find_one("n", {"os_hidden": "any"})["id"] == found
        return
    with pytest.raises((NotFound, AmbiguousName), match=re.escape(error)) as caught:
        api.find_one("n", {"os_hidden": "any"})
    if isinstance(caught.value, AmbiguousName):
        assert caught.value.details["image_ids"] == sorted(visible + hidden)[:10]


def test_find_one_may_find_nothing():
    assert ImageApi(PagedConnection([], [])).find_one("n", {"os_hidden": "true"}, missing_ok=True) is None


def made(image_id, created_at):
    return {"id": image_id, "created_at": created_at}


@pytest.mark.parametrize(
    "visible, hidden, newest",
    [
        # each kind comes sorted newest first, as Glance sorts it; the newer of the two firsts wins
        ([made("v2", "2026-02"), made("v1", "2026-01")], [made("h", "2026-03")], "h"),
        ([made("v2", "2026-02"), made("v1", "2026-01")], [made("h", "2026-01")], "v2"),
        ([], [made("h", "2026-01")], "h"),
        ([], [], None),
    ],
)
def test_most_recent_takes_the_newest_of_both_kinds_with_one_image_each(visible, hidden, newest):
    api = ImageApi(PagedConnection(visible, hidden))
    found = api.find_one("n", {"os_hidden": "any"}, missing_ok=True, most_recent="created_at")
    assert (found or {}).get("id") == newest
    assert [(query["sort"], query["limit"]) for query in api.conn.image.queries] == [("created_at:desc", 1)] * 2


def test_most_recent_sorts_only_by_keys_that_mean_recent():
    with pytest.raises(ValidationError, match="created_at, updated_at, name, not 'size'"):
        ImageApi(PagedConnection([], [])).find_one("n", {"os_hidden": "true"}, most_recent="size")


@pytest.mark.parametrize("status, error", [(410, Conflict), (409, Conflict), (400, GlanceError), (413, TooLarge)])
def test_a_data_put_that_another_upload_beat_is_a_conflict(status, error):
    """Glance answers 410 "could not be found after upload" when another upload moved the image on under it."""
    for send in (
        lambda api: api.upload({"id": "x", "name": "n"}, OneByte()),
        lambda api: api.stage({"id": "x"}, OneByte()),
    ):
        api = ImageApi(ScriptedConnection([status]), retry_delays=(0, 0, 0))
        with pytest.raises(error) as caught:
            send(api)
        assert caught.type is error and caught.value.details["status_code"] == status


class OneByte:
    """An upload body (see _transfer.UploadBody) of one byte."""

    length = 1

    def __iter__(self):
        return iter([b"x"])
