"""glance_image end to end through main(), with a fake Glance behind the connect hook."""

import decimal
import json
import tempfile

import pytest
import requests
from ansible.module_utils import basic
from ansible.module_utils.common import warnings as ansible_warnings
from ansible.module_utils.common.text.converters import to_bytes
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from ansible_collections.osimages.glance.plugins.module_utils._queries import derived_image_id
from ansible_collections.osimages.glance.plugins.modules import glance_image

PROJECT = "p" * 32


class FakeImageProxy:
    """Just enough of Glance's REST API for the module's control flow."""

    def __init__(self):
        self.images = {}
        self.calls = []
        self.deleted_ids = set()  # Glance keeps deleted IDs for ever: creating one again is a 409
        self.racing_ids = set()  # another run creates these a moment before this one does

    def _response(self, status, body=None):
        response = requests.models.Response()
        response.status_code = status
        response.headers["Content-Type"] = "application/json"
        response._content = json.dumps(body if body is not None else {}).encode()
        response.url = "http://glance.test"
        return response

    def get_endpoint(self):
        return "http://glance.test/v2/"

    def request(self, url, method, params=None, json=None, **kwargs):
        self.calls.append((method, url))
        # validate_properties (warn by default) reads Glance's definitions: one namespace, and the image schema
        if method == "GET" and url == "/metadefs/namespaces":
            return self._response(200, {"namespaces": [{"namespace": "OS::Compute::LibvirtImage"}]})
        if method == "GET" and url == "/metadefs/namespaces/OS::Compute::LibvirtImage":
            disk_bus = {"type": "string", "enum": ["scsi", "virtio"]}
            return self._response(
                200, {"namespace": "OS::Compute::LibvirtImage", "properties": {"hw_disk_bus": disk_bus}}
            )
        if method == "GET" and url == "/schemas/image":
            return self._response(200, {"name": "image", "properties": {"min_disk": {"type": "integer"}}})
        if method == "GET" and url == "/images":
            found = [
                image
                for image in self.images.values()
                if image["name"] == params["name"] and str(image["os_hidden"]).lower() == params["os_hidden"]
            ]
            return self._response(200, {"images": found})
        if method == "POST" and url == "/images":
            if json.get("name") == "explode":
                return self._response(500, {"message": "boom"})
            if json.get("id") in self.deleted_ids or json.get("id") in self.images:
                return self._response(409, {"message": "Image with identifier %s already exists!" % json["id"]})
            image = {
                "id": "i%d" % len(self.images),
                "status": "queued",
                "visibility": "shared",
                "owner": PROJECT,
                "protected": False,
                "os_hidden": False,
                "tags": [],
                "min_disk": 0,
                "min_ram": 0,
            }
            image.update(json)
            self.images[image["id"]] = image
            if image["id"] in self.racing_ids:
                return self._response(409, {"message": "Image with identifier %s already exists!" % image["id"]})
            return self._response(201, image)
        parts = url.split("/")
        image = self.images.get(parts[2]) if len(parts) > 2 else None
        if image is None:
            return self._response(404, {"message": "not found"})
        if method == "GET" and len(parts) == 3:
            return self._response(200, image)
        if method == "GET" and parts[3:] == ["members"]:
            return self._response(
                200, {"members": [{"member_id": m, "status": "pending"} for m in image.setdefault("_members", [])]}
            )
        if method == "PATCH":
            for operation in json:
                key = operation["path"].lstrip("/")
                if operation["op"] == "remove":
                    image.pop(key, None)
                else:
                    image[key] = operation["value"]
            return self._response(200, image)
        if method == "DELETE" and len(parts) == 3:
            if image.get("protected"):
                return self._response(403, {"message": "image is protected"})
            del self.images[parts[2]]
            self.deleted_ids.add(parts[2])
            return self._response(204)
        if parts[3:4] == ["tags"]:
            tags = set(image["tags"])
            (tags.add if method == "PUT" else tags.discard)(parts[4])
            image["tags"] = sorted(tags)
            return self._response(204)
        if parts[3:4] == ["members"] and method == "POST":
            image.setdefault("_members", []).append(json["member"])
            return self._response(200, {"member_id": json["member"], "status": "pending"})
        if parts[3:4] == ["members"] and method == "DELETE":
            image.setdefault("_members", []).remove(parts[4])
            return self._response(204)
        if parts[3:4] == ["members"] and method in ("GET", "PUT"):
            return self._response(404, {"message": "not a member"})
        if parts[3:4] == ["actions"]:
            if image["status"] not in ("active", "deactivated"):
                return self._response(403, {"message": "only active images can be deactivated"})
            image["status"] = "deactivated" if parts[4] == "deactivate" else "active"
            return self._response(204)
        raise AssertionError("unexpected call %s %s" % (method, url))


class FakeConnection:
    def __init__(self):
        self.image = FakeImageProxy()
        self.current_project_id = PROJECT


def run_main(args, conn, monkeypatch, capsys):
    args = dict(args, _ansible_remote_tmp="/tmp", _ansible_keep_remote_files=False)
    monkeypatch.setattr(basic, "_ANSIBLE_ARGS", to_bytes(json.dumps({"ANSIBLE_MODULE_ARGS": args})))
    monkeypatch.setattr(basic, "_ANSIBLE_PROFILE", "legacy", raising=False)
    # Warnings are kept process-wide by ansible-core: each call reports its own only.
    monkeypatch.setattr(ansible_warnings, "_global_warnings", type(ansible_warnings._global_warnings)())
    monkeypatch.setattr(
        glance_image.GlanceImageModule, "__init__", _init_with_fake(glance_image.GlanceImageModule.__init__, conn)
    )
    # The definitions a task keeps on disk (validate_properties) go to a folder of this call's own.
    with tempfile.TemporaryDirectory() as cache, pytest.raises(SystemExit):
        monkeypatch.setenv("XDG_CACHE_HOME", cache)
        glance_image.main()
    return json.loads(capsys.readouterr().out)


def _init_with_fake(original, conn):
    def init(self, connect=None):
        original(self, connect=lambda params: conn)

    return init


def test_check_mode_create_makes_no_call_that_writes(monkeypatch, capsys):
    conn = FakeConnection()
    result = run_main({"name": "img", "_ansible_check_mode": True, "_ansible_diff": True}, conn, monkeypatch, capsys)
    assert result["changed"] is True
    assert result["image"]["id"] is None and result["image"]["owner"] == PROJECT
    assert result["diff"] == {"before": {}, "after": {"id": None, "name": "img"}}
    assert [call[0] for call in conn.image.calls] == ["GET", "GET"]


def test_create_then_no_change(monkeypatch, capsys):
    conn = FakeConnection()
    result = run_main({"name": "img", "tags": ["t"]}, conn, monkeypatch, capsys)
    assert result["changed"] and result["image"]["tags"] == ["t"]
    result = run_main({"name": "img", "tags": ["t"]}, conn, monkeypatch, capsys)
    assert result["changed"] is False


def test_glance_error_becomes_one_clear_message(monkeypatch, capsys):
    result = run_main({"name": "explode"}, FakeConnection(), monkeypatch, capsys)
    assert result["failed"]
    assert result["msg"] == "Failed to create image explode: Glance answered HTTP 500: boom"
    assert result["status_code"] == 500


def test_validation_fails_before_any_call(monkeypatch, capsys):
    conn = FakeConnection()
    result = run_main({"name": "img", "min_ram": -1}, conn, monkeypatch, capsys)
    assert result["failed"] and "min_ram" in result["msg"]
    assert conn.image.calls == []


def test_unexpected_errors_are_still_one_line(monkeypatch, capsys):
    conn = FakeConnection()
    conn.image.request = None  # calling it raises TypeError inside the module
    result = run_main({"name": "img"}, conn, monkeypatch, capsys)
    assert result["failed"]
    assert result["msg"].startswith("osimages.glance.glance_image failed unexpectedly: TypeError")


def test_id_from_creates_with_the_derived_id_then_finds_it(monkeypatch, capsys):
    conn = FakeConnection()
    result = run_main({"id_from": "seed", "name": "img"}, conn, monkeypatch, capsys)
    assert result["changed"] and result["image"]["id"] == derived_image_id("seed")
    result = run_main({"id_from": "seed", "name": "img"}, conn, monkeypatch, capsys)
    assert result["changed"] is False and result["image"]["id"] == derived_image_id("seed")


def test_id_from_moves_past_the_ids_of_deleted_images(monkeypatch, capsys):
    conn = FakeConnection()
    conn.image.deleted_ids.update([derived_image_id("seed", 0), derived_image_id("seed", 1)])
    result = run_main({"id_from": "seed", "name": "img"}, conn, monkeypatch, capsys)
    assert result["changed"] and result["image"]["id"] == derived_image_id("seed", 2)
    assert len(conn.image.images) == 1


def test_id_from_losing_a_creation_race_updates_the_winner(monkeypatch, capsys):
    conn = FakeConnection()
    conn.image.racing_ids.add(derived_image_id("seed"))
    result = run_main({"id_from": "seed", "name": "img"}, conn, monkeypatch, capsys)
    assert not result.get("failed"), result
    assert result["image"]["id"] == derived_image_id("seed") and len(conn.image.images) == 1


def test_id_and_id_from_are_exclusive(monkeypatch, capsys):
    result = run_main({"id_from": "seed", "id": "x", "name": "img"}, FakeConnection(), monkeypatch, capsys)
    assert result["failed"] and "mutually exclusive" in result["msg"]


def test_derived_ids_are_stable_uuids():
    assert derived_image_id("a") == derived_image_id("a", 0) != derived_image_id("a", 1) != derived_image_id("b")
    assert len(derived_image_id("a")) == 36


def _non_finite(text):
    try:
        return not decimal.Decimal(text).is_finite()
    except decimal.InvalidOperation:
        return False


OPTION_VALUES = {
    "name": st.one_of(st.text(max_size=8), st.integers()),
    "id": st.one_of(st.just("11111111-2222-3333-4444-555555555555"), st.text(max_size=8)),
    "id_from": st.text(max_size=8),
    "state": st.sampled_from(["present", "absent", "gone"]),
    "status": st.sampled_from(["active", "deactivated", "paused"]),
    "visibility": st.sampled_from(["public", "private", "shared", "x"]),
    # (not "inf" or "nan": ansible-core 2.19's own int check raises OverflowError or ValueError on them, before
    # the module runs)
    "min_disk": st.one_of(st.integers(-2, 5), st.text(max_size=3).filter(lambda text: not _non_finite(text))),
    "tags": st.one_of(st.lists(st.text(max_size=4), max_size=3), st.text(max_size=4)),
    "properties": st.one_of(
        st.dictionaries(
            st.one_of(st.text(max_size=6), st.sampled_from(["hw_disk_bus", "hw_disk_buss"])),
            st.one_of(st.text(max_size=4), st.sampled_from(["scsi", "scsii"])),
            max_size=3,
        ),
        st.text(max_size=3),
    ),
    "validate_properties": st.sampled_from(["strict", "warn", "off", "loose"]),
    "protected": st.one_of(st.booleans(), st.text(max_size=3)),
    "member_status": st.sampled_from(["accepted", "pending", "nope"]),
    "disk_format": st.sampled_from(["raw", "qcow2", "floppy"]),
}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    args=st.dictionaries(st.sampled_from(sorted(OPTION_VALUES)), st.none(), max_size=6).flatmap(
        lambda keys: st.fixed_dictionaries({key: OPTION_VALUES[key] for key in keys})
    ),
    check_mode=st.booleans(),
)
def test_random_arguments_never_crash(monkeypatch, capsys, args, check_mode):
    result = run_main(dict(args, _ansible_check_mode=check_mode), FakeConnection(), monkeypatch, capsys)
    if result.get("failed"):
        assert result["msg"] and "failed unexpectedly" not in result["msg"], result["msg"]


@pytest.mark.parametrize(
    "mode, failed, warned",
    [("strict", True, False), ("warn", False, True), ("off", False, False)],
)
def test_validate_properties_modes_decide_before_anything_is_written(monkeypatch, capsys, mode, failed, warned):
    conn = FakeConnection()
    args = {"name": "img", "properties": {"hw_disk_buss": "virtio"}, "validate_properties": mode}
    result = run_main(args, conn, monkeypatch, capsys)
    finding = "image img: hw_disk_buss is not a property Glance defines; did you mean hw_disk_bus?"
    assert bool(result.get("failed")) is failed and (finding in result.get("msg", "")) is failed
    assert any(finding in str(warning) for warning in result.get("warnings", [])) is warned
    assert (("POST", "/images") in conn.image.calls) is not failed
    assert any(url.startswith("/metadefs") for dummy, url in conn.image.calls) is (mode != "off")
