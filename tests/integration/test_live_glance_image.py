"""glance_image against the real local cloud, verified with plain openstacksdk."""

import json
import subprocess

import pytest

from harness import OUTPUT_LOG
from harness import raw_image
from harness import sha512

DATA = b"osimages test data\n" * 64


def upload_bytes(conn, image_id, data=DATA):
    response = conn.image.put(
        "/images/%s/file" % image_id, data=data, headers={"Content-Type": "application/octet-stream"}
    )
    assert response.status_code == 204, response.text


def images_named(conn, name):
    found = list(conn.image.images(name=name, owner=conn.current_project_id))
    found += list(conn.image.images(name=name, owner=conn.current_project_id, is_hidden=True))
    return found


@pytest.mark.long(80)
def test_lifecycle(run_module, sdk, prefix, tmp_path):
    conn = sdk("demo")
    name = prefix + "life"
    create = {
        "name": name,
        "disk_format": "qcow2",
        "container_format": "bare",
        "visibility": "private",
        "min_disk": 2,
        "min_ram": 512,
        "tags": ["golden", "debian"],
        "properties": {"os_distro": "debian", "os_version": 13, "hw_qemu_guest_agent": True},
    }

    # 1. check-mode create: reports a change, creates nothing.
    result = run_module("glance_image", create, check=True, diff=True)
    assert result["changed"] and not result["failed"]
    assert result["image"]["id"] is None
    assert result["diff"]["before"] == {}
    assert result["diff"]["after"]["tags"] == ["debian", "golden"]
    assert images_named(conn, name) == []

    # 2. create.
    result = run_module("glance_image", create)
    assert result["changed"], result
    image_id = result["image"]["id"]
    raw = raw_image(conn, image_id)
    assert raw["name"] == name and raw["status"] == "queued" and raw["visibility"] == "private"
    assert (raw["disk_format"], raw["container_format"], raw["min_disk"], raw["min_ram"]) == ("qcow2", "bare", 2, 512)
    assert sorted(raw["tags"]) == ["debian", "golden"]
    assert (raw["os_distro"], raw["os_version"], raw["hw_qemu_guest_agent"]) == ("debian", "13", "True")
    assert result["image"]["properties"] == {"os_distro": "debian", "os_version": "13", "hw_qemu_guest_agent": "True"}

    # Data, so that Glance holds server-owned fields (os_hash_algo, os_hash_value, checksum, size) for step 6.
    qcow2 = tmp_path / "disk.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(qcow2), "1M"], check=True)
    data = qcow2.read_bytes()
    upload_bytes(conn, image_id, data)

    # 3. the same task again: nothing to do.
    result = run_module("glance_image", create)
    assert not result["changed"], result
    assert len(images_named(conn, name)) == 1

    # 4. check-mode update with diff: the diff shows only what the task manages.
    update = {
        "name": name,
        "min_disk": 4,
        "hidden": True,
        "protected": True,
        "tags": ["golden", "approved"],
        "properties": {"os_distro": "debian", "os_version": "13.1"},
    }
    result = run_module("glance_image", update, check=True, diff=True)
    assert result["changed"]
    before, after = result["diff"]["before"], result["diff"]["after"]
    assert (before["min_disk"], after["min_disk"]) == (2, 4)
    assert (before["hidden"], after["hidden"]) == (False, True)
    assert after["tags"] == ["approved", "golden"]
    assert after["properties"] == {"os_distro": "debian", "os_version": "13.1"}
    assert "min_ram" not in after and "visibility" not in after
    assert raw_image(conn, image_id)["min_disk"] == 2, "check mode must not change the image"

    # 5. update: the real run changes exactly what check mode predicted.
    result = run_module("glance_image", update, diff=True)
    assert result["changed"]
    raw = raw_image(conn, image_id)
    assert (raw["min_disk"], raw["min_ram"], raw["os_hidden"], raw["protected"]) == (4, 512, True, True)
    assert sorted(raw["tags"]) == ["approved", "golden"]
    assert raw["os_version"] == "13.1" and "hw_qemu_guest_agent" not in raw
    assert raw["visibility"] == "private", "an unset visibility must be left alone"
    assert result["diff"]["after"] == after | {"id": image_id}
    assert not run_module("glance_image", update)["changed"]

    # 6. purge variations.
    result = run_module(
        "glance_image",
        {"name": name, "tags": ["extra"], "purge_tags": False, "properties": {"extra": "1"}, "purge_properties": False},
    )
    assert result["changed"]
    raw = raw_image(conn, image_id)
    assert sorted(raw["tags"]) == ["approved", "extra", "golden"]
    assert raw["extra"] == "1" and raw["os_distro"] == "debian"
    result = run_module("glance_image", {"name": name, "tags": [], "properties": {}})
    assert result["changed"]
    raw = raw_image(conn, image_id)
    assert raw["tags"] == []
    assert "extra" not in raw and "os_distro" not in raw
    # Server-owned keys are never purged (Glance would refuse the whole patch with 403 if they were).
    assert (raw["os_hash_algo"], raw["os_hash_value"], raw["size"]) == ("sha512", sha512(data), len(data))
    assert not run_module("glance_image", {"name": name, "tags": [], "properties": {}})["changed"]

    # rename by id
    result = run_module("glance_image", {"id": image_id, "name": name + "-renamed"})
    assert result["changed"] and raw_image(conn, image_id)["name"] == name + "-renamed"

    # 9. a protected image is not deleted by surprise...
    result = run_module("glance_image", {"id": image_id, "state": "absent"})
    assert result["failed"] and "protected" in result["msg"] and image_id in result["msg"]
    assert raw_image(conn, image_id) is not None
    # ...check mode predicts the delete, then the delete with protected: false goes through...
    result = run_module("glance_image", {"id": image_id, "state": "absent", "protected": False}, check=True, diff=True)
    assert result["changed"] and result["diff"]["after"] == {} and raw_image(conn, image_id) is not None
    result = run_module("glance_image", {"id": image_id, "state": "absent", "protected": False})
    assert result["changed"] and "image" not in result
    assert raw_image(conn, image_id) is None
    # ...and deleting again changes nothing.
    result = run_module("glance_image", {"id": image_id, "state": "absent"})
    assert not result["changed"] and not result["failed"]
    result = run_module("glance_image", {"name": name + "-renamed", "state": "absent"})
    assert not result["changed"] and not result["failed"]


def test_share_and_accept(run_module, sdk, prefix):
    demo, alt = sdk("demo"), sdk("alt")
    name = prefix + "shared"
    # Keystone lets only admins look up other projects by name: a member gets a clear pointer to IDs.
    result = run_module("glance_image", {"name": name, "visibility": "shared", "members": ["alt"]})
    assert result["failed"] and "give the project ID" in result["msg"], result
    assert images_named(demo, name) == []
    share = {"name": name, "visibility": "shared", "members": [alt.current_project_id]}
    result = run_module("glance_image", share, diff=True)
    assert result["changed"], result
    image_id = result["image"]["id"]
    members = demo.image.get("/images/%s/members" % image_id).json()["members"]
    assert [(m["member_id"], m["status"]) for m in members] == [(alt.current_project_id, "pending")]
    assert result["image"]["members"] == [{"project_id": alt.current_project_id, "status": "pending"}]
    assert not run_module("glance_image", share)["changed"]
    # The admin may use project names.
    admin_view = run_module("glance_image", {"id": image_id, "members": ["alt"]}, cloud="admin")
    assert not admin_view["failed"] and not admin_view["changed"], admin_view

    # alt accepts it, by id; check mode first.
    accept = {"id": image_id, "member_status": "accepted"}
    assert run_module("glance_image", accept, cloud="alt", check=True)["changed"]
    assert alt.image.get("/images/%s/members/%s" % (image_id, alt.current_project_id)).json()["status"] == "pending"
    result = run_module("glance_image", accept, cloud="alt")
    assert result["changed"], result
    assert alt.image.get("/images/%s/members/%s" % (image_id, alt.current_project_id)).json()["status"] == "accepted"
    assert not run_module("glance_image", accept, cloud="alt")["changed"]

    # alt cannot change demo's image: a clean failure naming the image and the HTTP status.
    result = run_module("glance_image", {"id": image_id, "min_disk": 9}, cloud="alt")
    assert result["failed"] and image_id in result["msg"] and "HTTP 403" in result["msg"], result["msg"]
    assert "Traceback" not in result["msg"]
    assert raw_image(demo, image_id)["min_disk"] == 0

    # purge members; members need a shared image.
    result = run_module("glance_image", {"name": name, "members": []})
    assert result["changed"]
    assert demo.image.get("/images/%s/members" % image_id).json()["members"] == []
    result = run_module("glance_image", {"name": name, "visibility": "private", "members": [alt.current_project_id]})
    assert result["failed"] and "visibility: shared" in result["msg"]


def test_deactivate_and_reactivate(run_module, sdk, prefix):
    conn = sdk("demo")
    name = prefix + "status"
    result = run_module("glance_image", {"name": name, "disk_format": "raw", "container_format": "bare"})
    image_id = result["image"]["id"]

    # Glance only deactivates images with data: say so.
    result = run_module("glance_image", {"name": name, "status": "deactivated"})
    assert result["failed"] and "no data" in result["msg"] and "queued" in result["msg"]

    upload_bytes(conn, image_id)
    assert raw_image(conn, image_id)["status"] == "active"
    assert run_module("glance_image", {"name": name, "status": "deactivated"}, check=True)["changed"]
    assert raw_image(conn, image_id)["status"] == "active"
    result = run_module("glance_image", {"name": name, "status": "deactivated"}, diff=True)
    assert result["changed"] and result["diff"]["after"]["status"] == "deactivated"
    assert raw_image(conn, image_id)["status"] == "deactivated"
    assert not run_module("glance_image", {"name": name, "status": "deactivated"})["changed"]
    result = run_module("glance_image", {"name": name, "status": "active", "min_ram": 128})
    assert result["changed"] and result["image"]["status"] == "active"
    assert (raw_image(conn, image_id)["status"], raw_image(conn, image_id)["min_ram"]) == ("active", 128)

    # create-only attributes never drift silently
    result = run_module("glance_image", {"name": name, "disk_format": "qcow2"})
    assert result["failed"] and "disk_format" in result["msg"] and "raw" in result["msg"] and "qcow2" in result["msg"]


def test_duplicate_names_fail_and_list_ids(run_module, sdk, prefix):
    conn = sdk("demo")
    name = prefix + "dup"
    ids = sorted(conn.image.create_image(name=name, allow_duplicates=True).id for dummy in range(2))
    result = run_module("glance_image", {"name": name, "min_disk": 1})
    assert result["failed"]
    assert all(image_id in result["msg"] for image_id in ids), result["msg"]
    assert len(images_named(conn, name)) == 2, "no third image may be created"
    assert all(raw_image(conn, image_id)["min_disk"] == 0 for image_id in ids)


def test_hidden_image_is_found_by_name(run_module, sdk, prefix):
    name = prefix + "hidden"
    run_module("glance_image", {"name": name, "hidden": True})
    result = run_module("glance_image", {"name": name, "hidden": True})
    assert not result["changed"] and len(images_named(sdk("demo"), name)) == 1


def test_other_projects_private_image_is_not_found(run_module, sdk, prefix):
    demo = sdk("demo")
    image = demo.image.create_image(name=prefix + "private", visibility="private", allow_duplicates=True)
    result = run_module("glance_image", {"id": image.id, "state": "absent"}, cloud="alt")
    assert not result["changed"] and not result["failed"]
    assert raw_image(demo, image.id) is not None
    result = run_module("glance_image", {"id": image.id, "name": "stolen"}, cloud="alt")
    assert result["failed"] and image.id in result["msg"], result
    assert raw_image(demo, image.id)["name"] == prefix + "private"


def test_bad_values_fail_before_any_call(run_module, sdk, prefix):
    name = prefix + "bad"
    cases = [
        ({"name": name, "disk_format": "floppy"}, ["disk_format", "floppy"]),
        ({"name": name, "visibility": "everyone"}, ["visibility"]),
        ({"name": name, "min_ram": -1}, ["min_ram"]),
        ({"name": name, "properties": {"min_disk": 1}}, ["min_disk option"]),
        ({"name": name, "properties": {"os_hash_value": "x"}}, ["set by Glance"]),
        ({"name": name, "status": "deactivated"}, ["no data", "glance_image_data"]),
    ]
    for (args, words), result in zip(cases, run_module.many("glance_image", [args for args, dummy in cases])):
        assert result["failed"], args
        assert all(word in result["msg"] for word in words), (args, result["msg"])
    assert images_named(sdk("demo"), name) == []


def test_properties_are_checked_against_glances_definitions(run_module, sdk, prefix):
    """The local cloud loads Glance's metadata definitions (glance-manage db_load_metadefs); a member reads them.
    Each kind of finding (a value outside the allowed ones, a misspelt key, the wrong type) in each mode."""
    name = prefix + "props"
    # (not hw_video_ram for the wrong type: openstacksdk 1.0's Image resource cannot list an image whose
    # hw_video_ram is not an integer, which the fixtures' clean-up would meet)
    typos = {"hw_disk_bus": "scsii", "hw_disk_buss": "virtio", "sw_database_mysql_listen_port": "lots"}
    findings = [
        "hw_disk_bus='scsii' is not one of the values allowed: scsi, virtio",
        "hw_disk_buss is not a property Glance defines; did you mean hw_disk_bus?",
        "sw_database_mysql_listen_port='lots' is not an integer",
    ]
    strict, strict_check, warned, off = run_module.many(
        "glance_image",
        [
            {"name": name + "-strict", "properties": typos, "validate_properties": "strict"},
            {"name": name + "-strict", "properties": typos, "validate_properties": "strict", "_check": True},
            {"name": name + "-warn", "properties": typos},  # warn is the default
            {"name": name + "-off", "properties": typos, "validate_properties": "off"},
        ],
    )
    for refused in (strict, strict_check):
        assert refused["failed"] and "validate_properties=strict" in refused["msg"], refused
        assert all(finding in refused["msg"] for finding in findings), refused["msg"]
    assert images_named(sdk("demo"), name + "-strict") == []  # strict wrote nothing
    # warn writes, and gives each finding as a warning (ansible-core 2.19 reports a warning as the text of a
    # WarningSummary, earlier ones as the text alone)
    assert warned["changed"] and not warned["failed"], warned
    warnings = [str(warning) for warning in warned.get("warnings", [])]
    for finding in findings:
        assert len([w for w in warnings if "image %s-warn: %s" % (name, finding) in w]) == 1, (finding, warnings)
    assert off["changed"] and not any("scsii" in str(warning) for warning in off.get("warnings", []))
    for suffix in ("-warn", "-off"):
        (image,) = images_named(sdk("demo"), name + suffix)
        raw = raw_image(sdk("demo"), image.id)
        assert raw["hw_disk_bus"] == "scsii" and raw["sw_database_mysql_listen_port"] == "lots"


def test_auth_dict_password_never_appears(run_module, cloud_secrets, clouds_yaml, prefix):
    config = json.loads(open(clouds_yaml).read())["clouds"]["demo"]
    args = {"name": prefix + "auth", "auth": config["auth"], "region_name": config["region_name"]}
    result = run_module("glance_image", args, cloud=None, diff=True)
    assert result["changed"] and not result["failed"], result
    bad = dict(config["auth"], password="wrong-" + cloud_secrets["demo"])
    result = run_module("glance_image", {"name": prefix + "auth", "auth": bad}, cloud=None)
    assert result["failed"] and "401" in result["msg"], result["msg"]
    # A cloud dict carries its secrets too: they are masked like the auth option.
    result = run_module("glance_image", {"name": prefix + "auth", "cloud": config}, cloud=None)
    assert not result["failed"] and not result["changed"], result
    for output in OUTPUT_LOG:
        assert cloud_secrets["demo"] not in output


def test_references_by_name_and_admin_owner(run_module, sdk, prefix):
    demo = sdk("demo")
    kernel = run_module("glance_image", {"name": prefix + "kernel", "disk_format": "aki", "container_format": "aki"})
    ramdisk = run_module("glance_image", {"name": prefix + "ramdisk", "disk_format": "ari", "container_format": "ari"})
    args = {
        "name": prefix + "ami",
        "disk_format": "ami",
        "container_format": "ami",
        "kernel_id": prefix + "kernel",
        "ramdisk_id": ramdisk["image"]["id"],
    }
    result = run_module("glance_image", args)
    assert result["changed"], result
    raw = raw_image(demo, result["image"]["id"])
    assert (raw["kernel_id"], raw["ramdisk_id"]) == (kernel["image"]["id"], ramdisk["image"]["id"])
    assert not run_module("glance_image", args)["changed"]

    # The admin creates an image for demo by project name, and finds it again by name in that project.
    owned = {"name": prefix + "owned", "owner": "demo", "visibility": "private"}
    result = run_module("glance_image", owned, cloud="admin")
    assert result["changed"] and raw_image(demo, result["image"]["id"])["owner"] == demo.current_project_id
    assert not run_module("glance_image", owned, cloud="admin")["changed"]
