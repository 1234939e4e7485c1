"""catalog_publish and glance_catalog against the real local cloud: a catalog's whole life in Glance."""

import datetime
import hashlib
import os

import pytest
import yaml

from harness import file_server
from harness import new_image
from harness import raw_image
from harness import sha512_file


def series(conn, tag):
    """{(series, version): Glance's JSON} for every image carrying the catalog's managed tag (hidden ones too)."""
    found = {}
    for hidden in ("false", "true"):
        body = conn.image.get("/images", params={"tag": tag, "os_hidden": hidden, "limit": 1000}).json()
        for image in body["images"]:
            found[(image["osimages_series"], image["internal_version"])] = image
    return found


def image(name, versions, multi=True, validity="last-2", **changes):
    entry = {
        "name": name,
        "format": "raw",
        "login": "root",
        "min_disk": 1,
        "min_ram": 128,
        "status": "active",
        "visibility": "private",
        "multi": multi,
        "meta": {"os_distro": "busybox", "uuid_validity": validity, "replace_frequency": "monthly"},
        "tags": ["ci"],
        "versions": versions,
    }
    entry.update(changes)
    return entry


@pytest.fixture
def sources(tmp_path):
    """Three small distinct raw files, and their sha256 / sha512."""
    files = {}
    for name in ("a1", "a2", "b1", "b2", "c1"):
        path = tmp_path / ("%s.raw" % name)
        path.write_bytes(os.urandom(256 * 1024 + len(files)))
        files[name] = {"path": str(path), "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
        files[name]["sha512"] = sha512_file(path)
    return files


@pytest.mark.newest_only
@pytest.mark.long(120)
def test_a_catalog_publishes_rotates_retires_and_rolls_back(run_playbook, prefix, sdk, sources, tmp_path):
    conn = sdk("demo")
    tag = prefix + "managed"
    a, b, c = prefix + "A", prefix + "B", prefix + "C"
    hits = []
    with file_server(tmp_path, hits) as base:

        def url(name):
            return "%s/%s.raw" % (base, name)

        catalog = [
            image(
                a, [{"version": "1", "artifact": {"path": sources["a1"]["path"], "sha512": sources["a1"]["sha512"]}}]
            ),
            image(
                b,
                [
                    {"version": "1", "artifact": sources["b1"]["path"]},
                    {"version": "2", "url": url("b2"), "checksum": "sha256:" + sources["b2"]["sha256"]},
                ],
                multi=False,
                validity="none",
            ),
            image(
                c,
                [{"version": "1", "url": url("c1"), "checksum": "sha256:" + sources["c1"]["sha256"]}],
                validity="none",
            ),
        ]
        catalog_file = tmp_path / "images.yml"
        catalog_file.write_text(yaml.safe_dump({"images": catalog[1:]}))

        def publish(images, files=(str(catalog_file),), check=False, **variables):
            extra = dict(
                catalog_publish_cloud="demo",
                catalog_publish_images=images,
                catalog_publish_files=list(files),
                catalog_publish_managed_tag=tag,
                catalog_publish_cache_dir=str(tmp_path / "cache"),
                **variables,
            )
            return run_playbook("catalog.yml", extra, check=check)

        # Check mode shows the whole plan and changes nothing.
        planned = publish(catalog[:1], check=True)
        assert planned.rc == 0, planned.output
        assert series(conn, tag) == {}
        actions = [(step["image"], step["version"], step["action"]) for step in planned.facts["plan"]]
        assert [step for step in actions if step[0] == a] == [
            (a, "1", "create"),
            (a, "1", "upload"),
            (a, "1", "promote"),
        ]
        assert len(actions) == 3 + 6 + 3
        assert any("IMAGE" in line and "REASON" in line for line in planned.facts["plan_table"])

        # The first publication: every version created, uploaded, verified and shown under its name.
        first = publish(catalog[:1])
        assert first.rc == 0, first.output
        found = series(conn, tag)
        assert sorted(found) == [(a, "1"), (b, "1"), (b, "2"), (c, "1")]
        current_a = found[(a, "1")]
        assert (current_a["name"], current_a["os_hidden"], current_a["status"]) == (a, False, "active")
        assert current_a["os_hash_value"] == sources["a1"]["sha512"]
        assert sorted(current_a["tags"]) == sorted(["ci", "os:busybox", tag])
        assert (current_a["min_disk"], current_a["min_ram"], current_a["image_original_user"]) == (1, 128, "root")
        assert current_a["uuid_validity"] == "last-2" and current_a["replace_frequency"] == "monthly"
        assert [found[(b, v)]["name"] for v in "12"] == [b + " 1", b + " 2"]  # multi: false, all visible
        assert not found[(b, "1")]["os_hidden"] and not found[(b, "2")]["os_hidden"]
        assert found[(b, "2")]["os_hash_value"] == sources["b2"]["sha512"]
        assert found[(b, "2")]["image_source"] == url("b2")
        assert found[(c, "1")]["name"] == c and found[(c, "1")]["os_hash_value"] == sources["c1"]["sha512"]
        downloads = len(hits)

        # A second run changes nothing, in one module process, and downloads nothing.
        again = publish(catalog[:1])
        assert again.rc == 0 and again.changed == 0, again.output
        assert again.facts["plan"] and all(step["action"] == "nothing" for step in again.facts["plan"])
        assert series(conn, tag) == found and len(hits) == downloads

        # A new version of A rotates the old one out of the name; C leaves the catalog and is retired.
        catalog[0]["versions"] = [{"version": "2", "artifact": sources["a2"]["path"]}]
        catalog_file.write_text(yaml.safe_dump({"images": [catalog[1]]}))
        rotated = publish(catalog[:1])
        assert rotated.rc == 0, rotated.output
        now = series(conn, tag)
        assert (now[(a, "2")]["name"], now[(a, "2")]["os_hidden"]) == (a, False)
        assert (now[(a, "1")]["name"], now[(a, "1")]["os_hidden"], now[(a, "1")]["status"]) == (
            a + " (1)",
            True,
            "active",
        )
        assert now[(c, "1")]["status"] == "deactivated" and now[(c, "1")]["os_hidden"]  # deletion is off
        assert [image["id"] for image in conn.image.images(name=a)] == [now[(a, "2")]["id"]]

        # A source whose checksum does not match: that image's new version is rolled back, the others complete.
        catalog[1]["versions"].append({"version": "3", "url": url("b1"), "checksum": "sha256:" + "0" * 64})
        catalog_file.write_text(yaml.safe_dump({"images": [catalog[1]]}))
        catalog[0]["min_ram"] = 256
        broken = publish(catalog[:1], catalog_publish_delete_retired=True)
        assert broken.rc != 0
        assert "1 of 2 catalog image(s) could not be published" in broken.output and b in broken.output
        after = series(conn, tag)
        assert (b, "3") not in after and [after[(b, v)]["status"] for v in "12"] == ["active", "active"]
        assert after[(a, "2")]["min_ram"] == 256  # A went on
        assert (c, "1") not in after  # C's expired version was deleted this time


def test_a_stranger_holding_a_name_stops_the_run_before_anything_changes(run_module, prefix, sdk, sources):
    conn = sdk("demo")
    tag = prefix + "managed"
    stranger = new_image(conn, prefix + "D")
    catalog = [
        image(prefix + "D", [{"version": "1", "artifact": sources["a1"]["path"]}]),
        image(prefix + "E", [{"version": "1", "artifact": sources["a2"]["path"]}]),
    ]
    result = run_module("glance_catalog", {"catalog": catalog, "managed_tag": tag})
    assert result["failed"] and "nothing was changed in Glance" in result["msg"]
    assert (
        "image %s (queued) already holds the name %r without being a version of it" % (stranger, prefix + "D")
        in result["msg"]
    )
    assert series(conn, tag) == {}
    assert raw_image(conn, stranger)["tags"] == []

    # A catalog with errors is refused whole, before Glance is asked anything, with every problem listed.
    broken = [dict(catalog[1], format="qcow3"), dict(catalog[1], name=prefix + "F", versions=[{"version": "1"}])]
    result = run_module("glance_catalog", {"catalog": broken, "managed_tag": tag})
    assert result["failed"] and "the catalog has 2 problem(s)" in result["msg"], result
    assert "image %r: format must be one of" % (prefix + "E") in result["msg"]
    assert "image %r, version 1: a version needs a url or an artifact" % (prefix + "F") in result["msg"]

    # Properties that Glance's definitions refuse stop a strict run before anything changes, with every finding.
    typos = dict(catalog[1], meta=dict(catalog[1]["meta"], hw_disk_bus="scsii"))
    typos["versions"] = [dict(typos["versions"][0], meta={"hw_rng_modle": "virtio"})]
    result = run_module("glance_catalog", {"catalog": [typos], "managed_tag": tag, "validate_properties": "strict"})
    assert result["failed"] and "validate_properties=strict" in result["msg"], result
    assert "catalog image %s: hw_disk_bus='scsii' is not one of the values allowed" % (prefix + "E") in result["msg"]
    assert (
        "catalog image %s, version 1: hw_rng_modle is not a property Glance defines; did you mean hw_rng_model?"
        % (prefix + "E")
        in result["msg"]
    )
    assert series(conn, tag) == {}


@pytest.mark.newest_only
@pytest.mark.long(60)
def test_latest_url_follows_a_moving_upstream_file_through_its_checksum_file(run_playbook, prefix, sdk, tmp_path):
    """An upstream "latest" file resolves to a dated version; unchanged, nothing happens; changed, it rotates in."""
    conn = sdk("demo")
    tag = prefix + "managed"
    name = prefix + "L"
    upstream = tmp_path / "upstream" / "current"
    upstream.mkdir(parents=True)
    moving = upstream / "busybox-latest.raw"
    hits = []

    def release(data, day, sums):
        moving.write_bytes(data)
        stamp = datetime.datetime(2026, 11, day, 12, tzinfo=datetime.timezone.utc).timestamp()
        os.utime(moving, (stamp, stamp))
        (upstream / "SUMS").write_text(sums(hashlib.sha256(data).hexdigest()))

    with file_server(tmp_path / "upstream", hits) as base:
        entry = image(name, [], latest_url=base + "/current/busybox-latest.raw")
        entry["latest_checksum_url"] = base + "/current/SUMS"
        extra = dict(
            catalog_publish_cloud="demo",
            catalog_publish_images=[entry],
            catalog_publish_managed_tag=tag,
            catalog_publish_cache_dir=str(tmp_path / "cache"),
        )
        # GNU shape, beside another file's line.
        first_bytes = os.urandom(128 * 1024)
        release(first_bytes, 20, lambda hex_: "%s  other.raw\n%s *busybox-latest.raw\n" % ("0" * 64, hex_))
        first = run_playbook("catalog.yml", extra)
        assert first.rc == 0, first.output
        found = series(conn, tag)
        assert sorted(found) == [(name, "20261120")]
        current = found[(name, "20261120")]
        assert (current["name"], current["os_hidden"], current["status"]) == (name, False, "active")
        assert current["os_hash_value"] == hashlib.sha512(first_bytes).hexdigest()
        assert current["osimages_source_checksum"] == "sha256:" + hashlib.sha256(first_bytes).hexdigest()
        assert current["image_build_date"] == "2026-11-20"

        # The upstream file did not change: only the checksum file is read, and nothing changes.
        del hits[:]
        again = run_playbook("catalog.yml", extra)
        assert again.rc == 0 and again.changed == 0, again.output
        assert set(hits) == {"/current/SUMS"} and series(conn, tag) == found

        # A new upstream file (BSD-tagged checksum file) becomes a new version and takes the name.
        second_bytes = os.urandom(128 * 1024 + 1)
        release(second_bytes, 25, lambda hex_: "SHA256 (busybox-latest.raw) = %s\n" % hex_)
        moved = run_playbook("catalog.yml", extra)
        assert moved.rc == 0, moved.output
        now = series(conn, tag)
        assert (now[(name, "20261125")]["name"], now[(name, "20261125")]["os_hidden"]) == (name, False)
        assert now[(name, "20261125")]["os_hash_value"] == hashlib.sha512(second_bytes).hexdigest()
        assert (now[(name, "20261120")]["name"], now[(name, "20261120")]["os_hidden"]) == (name + " (20261120)", True)


@pytest.mark.newest_only
@pytest.mark.long(90)
def test_a_kernel_and_ramdisk_publish_link_roll_back_and_retire_with_their_image(run_playbook, prefix, sdk, tmp_path):
    """Ironic's three images: aki and ari companions, linked by kernel_id / ramdisk_id, versioned as one."""
    conn = sdk("demo")
    tag, name = prefix + "managed", prefix + "Bare"
    files = {}
    for key in ("disk1", "kernel1", "ramdisk1", "disk2", "kernel2", "ramdisk2"):
        path = tmp_path / key
        path.write_bytes(os.urandom(128 * 1024 + len(files)))
        files[key] = {"path": str(path), "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
    with file_server(tmp_path) as base:

        def version(number, boot_files=True, ramdisk_checksum=None):
            found = {"version": number, "artifact": files["disk%s" % number]["path"]}
            kernel = "kernel%s" % number
            if boot_files:
                found["kernel"] = {"url": "%s/%s" % (base, kernel), "checksum": "sha256:" + files[kernel]["sha256"]}
                found["ramdisk"] = (
                    {"artifact": files["ramdisk%s" % number]["path"]}
                    if ramdisk_checksum is None
                    else {"url": "%s/ramdisk%s" % (base, number), "checksum": ramdisk_checksum}
                )
            return found

        def publish(versions, **variables):
            extra = dict(
                catalog_publish_cloud="demo",
                catalog_publish_images=[image(name, versions, validity="none")],
                catalog_publish_managed_tag=tag,
                catalog_publish_cache_dir=str(tmp_path / "cache"),
                **variables,
            )
            return run_playbook("catalog.yml", extra)

        def linked(found, number):
            disk, kernel, ramdisk = (found[(series, number)] for series in (name, name + " kernel", name + " ramdisk"))
            assert (kernel["disk_format"], kernel["container_format"]) == ("aki", "aki")
            assert (ramdisk["disk_format"], ramdisk["container_format"]) == ("ari", "ari")
            assert (disk["kernel_id"], disk["ramdisk_id"]) == (kernel["id"], ramdisk["id"])
            assert kernel["os_hash_value"] == sha512_file(tmp_path / ("kernel%s" % number))
            assert kernel["status"] == ramdisk["status"] == disk["status"] == "active"
            assert (disk["name"], disk["os_hidden"]) == (name, False)
            assert (kernel["name"], kernel["os_hidden"], ramdisk["name"], ramdisk["os_hidden"]) == (
                name + " kernel",
                True,
                name + " ramdisk",
                True,
            )
            return disk, kernel, ramdisk

        plain = publish([version("1", boot_files=False)])
        assert plain.rc == 0, plain.output
        before = series(conn, tag)

        # The version gains a kernel and a ramdisk, and the ramdisk does not match its checksum: the kernel that
        # did arrive is deleted again, and the image is not linked to it, not even for a moment.
        broken = publish([version("1", ramdisk_checksum="sha256:" + "0" * 64)])
        assert broken.rc != 0 and "as %s ramdisk failed with it" % name in broken.output, broken.output
        assert series(conn, tag) == before and "kernel_id" not in before[(name, "1")]

        # Published again, the kernel walks past the ID Glance keeps for the deleted one, and the image links it.
        fixed = publish([version("1")])
        assert fixed.rc == 0, fixed.output
        found = series(conn, tag)
        assert sorted(found) == [(name, "1"), (name + " kernel", "1"), (name + " ramdisk", "1")]
        disk, kernel, ramdisk = linked(found, "1")
        assert disk["id"] == before[(name, "1")]["id"]
        again = publish([version("1")])
        assert again.rc == 0 and again.changed == 0, again.output

        # A new version of the three, with uuid_validity none and deletion on. Version 1 of the image is protected,
        # so it stays, deactivated, and so do the kernel and ramdisk it links, although they are not protected.
        conn.image.update_image(disk["id"], is_protected=True)
        rotated = publish([version("2")], catalog_publish_delete_retired=True)
        assert rotated.rc == 0, rotated.output
        now = series(conn, tag)
        linked(now, "2")
        for kept in (disk, kernel, ramdisk):
            assert raw_image(conn, kept["id"])["status"] == "deactivated", rotated.output
        # Unprotected, version 1 of each is deleted by the next run.
        conn.image.update_image(disk["id"], is_protected=False)
        cleared = publish([version("2")], catalog_publish_delete_retired=True)
        assert cleared.rc == 0, cleared.output
        assert sorted(series(conn, tag)) == [(name, "2"), (name + " kernel", "2"), (name + " ramdisk", "2")]
        for gone in (disk, kernel, ramdisk):
            assert raw_image(conn, gone["id"]) is None


def test_the_second_call_rolls_back_only_the_versions_the_first_call_handed_out(run_module, prefix, sdk, sources):
    """A new version another publication registered a moment ago (queued, hidden) is not this run's to roll back."""
    conn = sdk("demo")
    tag = prefix + "managed"
    name = prefix + "P"
    entry = image(name, [{"version": "1", "artifact": sources["a1"]["path"]}])
    theirs = new_image(
        conn,
        name + " (2)",
        os_hidden=True,
        tags=[tag],
        osimages_series=name,
        internal_version="2",
    )
    options = {"catalog": [entry], "managed_tag": tag, "after_transfers": True}
    kept = run_module("glance_catalog", dict(options, transferred=[]))
    assert raw_image(conn, theirs)["status"] == "queued", kept
    # Without the list, every new version without data counts as this run's, as before.
    swept = run_module("glance_catalog", options)
    assert raw_image(conn, theirs) is None, swept


def test_scs_audit_of_a_catalog_plan_stops_a_strict_run_before_anything_changes(run_module, prefix, sdk, sources):
    conn = sdk("demo")
    tag = prefix + "managed"
    scs = {
        "architecture": "x86_64",
        "os_version": "1.36",
        "hw_disk_bus": "scsi",
        "image_source": "https://busybox.net/",
        "image_description": "https://busybox.net/about.html",
        "provided_until": "none",
    }
    today = str(datetime.date.today())
    complete = image(prefix + "G", [{"version": "1", "artifact": sources["a1"]["path"], "build_date": today}])
    complete["meta"].update(scs)
    incomplete = image(prefix + "H", [{"version": "1", "artifact": sources["a2"]["path"], "build_date": today}])
    options = {"catalog": [complete, incomplete], "managed_tag": tag}
    report, strict = run_module.many(
        "glance_catalog", [dict(options, scs_audit="report", _check=True), dict(options, scs_audit="strict")]
    )
    assert not report["failed"], report
    rows = {row["image"]: row for row in report["scs_audit"]}
    assert rows[prefix + "G"]["compliant"] and rows[prefix + "G"]["version"] == "1", rows
    # the busybox catalog entry lacks what scs-0102 wants beyond the catalog's own properties
    assert rows[prefix + "H"]["missing"] == ["architecture", "os_version", "hw_disk_bus", "provided_until"]
    assert report["scs_audit_table"][0].split() == ["IMAGE", "VERSION", "ID", "FINDINGS"]
    assert strict["failed"] and "1 of 2 image(s) do not comply" in strict["msg"], strict
    assert prefix + "H 1: missing architecture" in strict["msg"] and "nothing was changed in Glance" in strict["msg"]
    assert series(conn, tag) == {}
