"""The pure planning logic, as tables of (current, desired, options) -> plan."""

import pytest

from ansible_collections.osimages.glance.plugins.module_utils._errors import ImmutableAttributeError
from ansible_collections.osimages.glance.plugins.module_utils._errors import ValidationError
from ansible_collections.osimages.glance.plugins.module_utils._reconcile import desired_from_params
from ansible_collections.osimages.glance.plugins.module_utils._reconcile import empty_plan
from ansible_collections.osimages.glance.plugins.module_utils._reconcile import has_changes
from ansible_collections.osimages.glance.plugins.module_utils._reconcile import make_diff
from ansible_collections.osimages.glance.plugins.module_utils._reconcile import make_plan
from ansible_collections.osimages.glance.plugins.module_utils._reconcile import normalize
from ansible_collections.osimages.glance.plugins.module_utils._reconcile import preview

# Glance's JSON for an image, as recorded from the local cloud.
RAW = {
    "id": "11111111-2222-3333-4444-555555555555",
    "name": "debian",
    "status": "active",
    "visibility": "private",
    "protected": False,
    "os_hidden": False,
    "min_disk": 2,
    "min_ram": 0,
    "owner": "owner-project",
    "tags": ["b", "a"],
    "disk_format": "qcow2",
    "container_format": "bare",
    "size": 1024,
    "virtual_size": 4096,
    "checksum": "abc",
    "os_hash_algo": "sha512",
    "os_hash_value": "def",
    "stores": "fast,cheap",
    "os_glance_importing_to_stores": "",
    "os_distro": "debian",
    "owner_specified.openstack.sha256": "xyz",
    "created_at": "2026-01-01T00:00:00Z",
    "updated_at": "2026-01-01T00:00:00Z",
    "self": "/v2/images/11111111-2222-3333-4444-555555555555",
    "file": "/v2/images/11111111-2222-3333-4444-555555555555/file",
    "schema": "/v2/schemas/image",
}


def current(**changes):
    raw = dict(RAW)
    raw.update(changes)
    return normalize(raw)


def desired(**params):
    return desired_from_params(params)


def plan_for(cur, **kwargs):
    params = kwargs.pop("params", {})
    return make_plan(cur, desired(**params), **kwargs)


def test_normalize_uses_option_names_and_hides_server_fields():
    image = current()
    assert image["hidden"] is False and image["hash_algo"] == "sha512" and image["hash_value"] == "def"
    assert image["tags"] == ["a", "b"]
    assert image["stores"] == ["cheap", "fast"]
    assert image["properties"] == {"os_distro": "debian", "owner_specified.openstack.sha256": "xyz"}
    assert normalize(None) is None


@pytest.mark.parametrize(
    "option, value, expected_patch",
    [
        ("name", "renamed", [("replace", "name", "renamed")]),
        ("visibility", "public", [("replace", "visibility", "public")]),
        ("protected", True, [("replace", "protected", True)]),
        ("hidden", True, [("replace", "os_hidden", True)]),
        ("min_disk", 5, [("replace", "min_disk", 5)]),
        ("min_ram", 512, [("replace", "min_ram", 512)]),
        ("kernel_id", "kid", [("add", "kernel_id", "kid")]),
        ("owner", "other", [("replace", "owner", "other")]),
    ],
)
def test_each_mutable_attribute_different_equal_and_unset(option, value, expected_patch):
    cur = current()
    assert plan_for(cur, params={option: value})["patch"] == expected_patch
    same = current(**{expected_patch[0][1]: value})
    assert not has_changes(plan_for(same, params={option: value}))
    assert not has_changes(plan_for(cur, params={option: None}))


def test_existing_kernel_id_is_replaced():
    assert plan_for(current(kernel_id="old"), params={"kernel_id": "new"})["patch"] == [("replace", "kernel_id", "new")]


@pytest.mark.parametrize("option", ["disk_format", "container_format"])
def test_create_only_attribute_drift_fails(option):
    with pytest.raises(ImmutableAttributeError, match="cannot change %s" % option):
        plan_for(current(), params={option: "raw" if option == "disk_format" else "ova"})


def test_create_only_attribute_can_be_set_while_queued_and_unset():
    cur = current(status="queued", disk_format=None)
    assert plan_for(cur, params={"disk_format": "raw"})["patch"] == [("replace", "disk_format", "raw")]
    assert not has_changes(plan_for(current(), params={"disk_format": "qcow2"}))


@pytest.mark.parametrize(
    "wanted, purge, add, remove",
    [
        (None, True, [], []),
        (["a", "b"], True, [], []),
        (["b", "a", "a"], True, [], []),
        (["a", "c"], True, ["c"], ["b"]),
        (["a", "c"], False, ["c"], []),
        ([], True, [], ["a", "b"]),
        ([], False, [], []),
    ],
)
def test_tags(wanted, purge, add, remove):
    plan = plan_for(current(), params={"tags": wanted}, purge_tags=purge)
    assert (plan["add_tags"], plan["remove_tags"]) == (add, remove)


@pytest.mark.parametrize(
    "wanted, purge, patch",
    [
        (None, True, []),
        ({"os_distro": "debian"}, True, []),
        ({"os_distro": "ubuntu"}, False, [("replace", "os_distro", "ubuntu")]),
        ({"hw_disk_bus": "scsi"}, False, [("add", "hw_disk_bus", "scsi")]),
        ({"hw_disk_bus": "scsi"}, True, [("add", "hw_disk_bus", "scsi"), ("remove", "os_distro", None)]),
        ({}, True, [("remove", "os_distro", None)]),
        ({}, False, []),
    ],
)
def test_properties(wanted, purge, patch):
    assert plan_for(current(), params={"properties": wanted}, purge_properties=purge)["patch"] == patch


def test_property_values_are_compared_as_strings():
    cur = current(os_version="13", hw_qemu_guest_agent="True")
    wanted = {"os_distro": "debian", "os_version": 13, "hw_qemu_guest_agent": True}
    assert not has_changes(plan_for(cur, params={"properties": wanted}, purge_properties=False))


@pytest.mark.parametrize(
    "key, words",
    [
        ("min_disk", "use the min_disk option"),
        ("os_hidden", "use the hidden option"),
        ("visibility", "use the visibility option"),
        ("disk_format", "use the disk_format option"),
        ("os_hash_value", "set by Glance"),
        ("os_glance_import_task", "set by Glance"),
        ("stores", "set by Glance"),
    ],
)
def test_reserved_property_keys_are_rejected(key, words):
    with pytest.raises(ValidationError, match=words):
        desired(properties={key: "1"})


@pytest.mark.parametrize(
    "params, words",
    [
        ({"min_ram": -1}, "min_ram must be 0 or more"),
        ({"min_disk": -5}, "min_disk must be 0 or more"),
        ({"disk_format": "floppy"}, "disk_format must be one of"),
        ({"visibility": "everyone"}, "visibility must be one of"),
        ({"properties": {"x": [1]}}, "properties.x must be a string"),
        ({"properties": {"x": None}}, "properties.x must not be null"),
        ({"tags": ["x" * 256]}, "tags must be 1 to 255"),
    ],
)
def test_bad_values(params, words):
    with pytest.raises(ValidationError, match=words):
        desired_from_params(params)


def test_create_body_and_preview():
    want = desired(
        name="new",
        disk_format="raw",
        container_format="bare",
        hidden=True,
        tags=["x"],
        properties={"os_distro": "debian"},
        visibility="shared",
        members=["p2"],
    )
    plan = make_plan(None, want)
    assert plan["create"] == {
        "name": "new",
        "disk_format": "raw",
        "container_format": "bare",
        "os_hidden": True,
        "visibility": "shared",
        "os_distro": "debian",
        "tags": ["x"],
    }
    assert plan["add_members"] == ["p2"]
    after = preview(None, plan, project_id="me")
    assert (after["id"], after["status"], after["owner"], after["hidden"]) == (None, "queued", "me", True)
    assert after["members"] == [{"project_id": "p2", "status": "pending"}]
    assert after["properties"] == {"os_distro": "debian"}


@pytest.mark.parametrize(
    "params, kwargs, words",
    [
        ({"name": "n"}, {"status": "active"}, "it has no data yet"),
        ({"name": "n", "members": ["p"]}, {}, "visibility: shared"),
        ({"name": "n"}, {"member_status": "accepted"}, "existing image shared with this project"),
    ],
)
def test_create_refusals(params, kwargs, words):
    with pytest.raises(ValidationError, match=words):
        make_plan(None, desired(**params), **kwargs)


@pytest.mark.parametrize(
    "status, have, action",
    [
        (None, "active", None),
        ("active", "active", None),
        ("deactivated", "active", "deactivate"),
        ("deactivated", "deactivated", None),
        ("active", "deactivated", "reactivate"),
    ],
)
def test_status(status, have, action):
    assert plan_for(current(status=have), status=status)["status_action"] == action


@pytest.mark.parametrize(
    "status, have, words",
    [
        ("deactivated", "queued", "no data yet"),
        ("active", "queued", "no data yet"),
        ("deactivated", "saving", "while it is saving"),
    ],
)
def test_status_refusals(status, have, words):
    with pytest.raises(ValidationError, match=words):
        plan_for(current(status=have), status=status)


def test_members_need_a_shared_image_and_purge():
    shared = current(visibility="shared")
    shared["members"] = [{"project_id": "p1", "status": "accepted"}, {"project_id": "p2", "status": "pending"}]
    plan = plan_for(shared, params={"members": ["p2", "p3"]})
    assert (plan["add_members"], plan["remove_members"]) == (["p3"], ["p1"])
    plan = plan_for(shared, params={"members": ["p3"]}, purge_members=False)
    assert (plan["add_members"], plan["remove_members"]) == (["p3"], [])
    with pytest.raises(ValidationError, match="visibility: shared"):
        plan_for(current(), params={"members": ["p1"]})
    assert not has_changes(plan_for(current(), params={"members": []}))
    # Switching to shared in the same task is fine.
    assert plan_for(current(), params={"members": ["p1"], "visibility": "shared"})["add_members"] == ["p1"]


def test_member_status():
    mine = {"member_id": "me", "status": "pending"}
    assert plan_for(current(), member_status="accepted", membership=mine)["member_status"] == "accepted"
    assert plan_for(current(), member_status="pending", membership=mine)["member_status"] is None
    with pytest.raises(ValidationError, match="not shared with this project"):
        plan_for(current(), member_status="accepted", membership=None)


def test_delete():
    assert plan_for(None, state="absent") == empty_plan()
    assert plan_for(current(), state="absent")["delete"] is True
    with pytest.raises(ValidationError, match="protected"):
        plan_for(current(protected=True), state="absent")
    with pytest.raises(ValidationError, match="protected"):
        plan_for(current(protected=True), state="absent", params={"protected": True})
    plan = plan_for(current(protected=True), state="absent", params={"protected": False})
    assert plan["patch"] == [("replace", "protected", False)] and plan["delete"]
    assert preview(current(), plan) is None


def test_preview_matches_plan():
    cur = current(visibility="shared")
    want = desired(
        name="renamed", hidden=True, tags=["a", "z"], properties={"os_distro": "x", "new": "1"}, members=["p"]
    )
    plan = make_plan(cur, want, status="deactivated")
    after = preview(cur, plan)
    assert (after["name"], after["hidden"], after["status"]) == ("renamed", True, "deactivated")
    assert after["tags"] == ["a", "z"]
    assert after["properties"] == {"os_distro": "x", "new": "1", "owner_specified.openstack.sha256": "xyz"}
    assert after["members"] == [{"project_id": "p", "status": "pending"}]
    assert cur["name"] == "debian", "preview must not modify its input"


def test_diff_shows_only_managed_fields():
    cur = current()
    want = desired(min_disk=3, properties={"os_distro": "x"})
    plan = make_plan(cur, want, purge_properties=False)
    diff = make_diff(cur, preview(cur, plan), want, purge_properties=False)
    assert diff["before"] == {"id": cur["id"], "name": "debian", "min_disk": 2, "properties": {"os_distro": "debian"}}
    assert diff["after"] == {"id": cur["id"], "name": "debian", "min_disk": 3, "properties": {"os_distro": "x"}}
    assert make_diff(None, None, want) == {"before": {}, "after": {}}
