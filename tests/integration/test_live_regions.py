"""Two regions of one cloud: a second Glance in RegionTwo of the same Keystone (localcloud's LOCALCLOUD_REGIONS=2).

glance_image_data's glance-download: RegionTwo's Glance fetches an image from RegionOne's, server-side, with the
user's token, and the module checks the result against the source's hash. What the local cloud sets for it is in
docs/testing.md.
"""

import hashlib
import os
import shutil
import signal
import sys
import time
import uuid
from pathlib import Path

import openstack
import pytest

from harness import OUTPUT_LOG
from harness import ExtraCloud
from harness import new_image
from harness import raw_image
from harness import raw_publish_vars

# A cloud of its own, started once for this file; the regions do not vary with the matrix: newest cell only.
pytestmark = [pytest.mark.newest_only, pytest.mark.own_cloud]
REGIONS_CLOUD = ExtraCloud("cloud-regions", LOCALCLOUD_REGIONS="2")


@pytest.fixture(scope="module")
def regions_cloud():
    yield REGIONS_CLOUD.up()
    REGIONS_CLOUD.down()


@pytest.fixture
def regions(regions_cloud, monkeypatch):
    """(demo in RegionOne, demo in RegionTwo, module env); demo's images in both are removed after (this cloud's
    own cleanup: the ``prefix`` fixture cleans the main cloud)."""
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(regions_cloud))
    one = openstack.connect(cloud="demo", region_name="RegionOne")
    two = openstack.connect(cloud="demo", region_name="RegionTwo")
    yield one, two, {"OS_CLIENT_CONFIG_FILE": str(regions_cloud)}
    for conn in (one, two):
        for hidden in (False, True):
            for image in conn.image.images(owner=conn.current_project_id, is_hidden=hidden):
                conn.image.delete_image(image.id)


def uploaded(conn, name, data):
    image_id = new_image(conn, name)
    response = conn.image.put(
        "/images/%s/file" % image_id, data=data, headers={"Content-Type": "application/octet-stream"}
    )
    assert response.status_code == 204, response.text
    return raw_image(conn, image_id)


def test_the_second_region_is_its_own_glance(regions):
    one, two, dummy_env = regions
    assert one.image.get_endpoint() != two.image.get_endpoint()
    only_in_one = new_image(one, "only-in-one")
    assert raw_image(two, only_in_one) is None


def test_glance_download_copies_an_image_between_regions_and_checks_its_hash(regions, run_module):
    one, two, env = regions
    prefix = "regions-%s-" % uuid.uuid4().hex[:6]
    source = uploaded(one, prefix + "src", os.urandom(512 * 1024))
    target = new_image(two, prefix + "copy")
    options = {
        "image": target,
        "method": "glance-download",
        "source_region": "RegionOne",
        "source_image": source["name"],
        "region_name": "RegionTwo",
    }
    planned = run_module("glance_image_data", options, check=True, env=env)
    assert planned["changed"] and raw_image(two, target)["status"] == "queued", planned
    done, again = run_module.many("glance_image_data", [options, options], env=env)
    assert done["changed"] and not done["failed"], done
    copied = raw_image(two, target)
    assert copied["status"] == "active" and copied["os_hash_value"] == source["os_hash_value"]
    assert done["image"]["hash_value"] == source["os_hash_value"]
    assert not again["changed"] and not again["failed"], again


def test_glance_download_refuses_before_importing(regions, run_module):
    """A source that is not active, or formats that differ: a clear failure, and the target keeps no data."""
    one, two, env = regions
    prefix = "regions-%s-" % uuid.uuid4().hex[:6]
    empty_source = new_image(one, prefix + "empty")
    qcow2_target = new_image(two, prefix + "qcow2", disk_format="qcow2")
    target = new_image(two, prefix + "raw")
    source = uploaded(one, prefix + "src", os.urandom(64 * 1024))
    base = {"method": "glance-download", "source_region": "RegionOne", "region_name": "RegionTwo"}
    not_active, other_format, wrong_region = run_module.many(
        "glance_image_data",
        [
            dict(base, image=target, source_image=empty_source),
            dict(base, image=qcow2_target, source_image=source["id"]),
            dict(base, image=target, source_image=source["id"], source_region="RegionThree"),
        ],
        env=env,
    )
    assert not_active["failed"] and "needs an active source image" in not_active["msg"], not_active
    assert "in RegionOne is queued" in not_active["msg"]
    assert other_format["failed"] and "has disk_format qcow2, and the source" in other_format["msg"], other_format
    assert wrong_region["failed"] and "RegionThree" in wrong_region["msg"], wrong_region
    assert raw_image(two, target)["status"] == "queued" and raw_image(two, qcow2_target)["status"] == "queued"


def managed(conn, tag):
    """{(series, version): Glance's JSON} of the images with the managed tag, hidden ones too."""
    found = {}
    for hidden in ("false", "true"):
        for image in conn.image.get("/images", params={"tag": tag, "os_hidden": hidden}).json()["images"]:
            found[(image["osimages_series"], image["internal_version"])] = image
    return found


def entry(name, versions):
    return {
        "name": name,
        "format": "raw",
        "login": "root",
        "status": "active",
        "visibility": "private",
        "meta": {"uuid_validity": "last-2"},
        "versions": [{"version": version, "artifact": str(path)} for version, path in versions],
    }


def test_a_catalog_is_published_into_both_regions_and_promoted_all_or_nothing(regions, run_playbook, tmp_path):
    one, two, env = regions
    tag = "regions-%s" % uuid.uuid4().hex[:6]
    a, b = tag + "-A", tag + "-B"
    files = {}
    for name in ("a1", "a2", "b1", "b2"):
        files[name] = tmp_path / (name + ".raw")
        files[name].write_bytes(os.urandom(128 * 1024 + len(files)))

    def publish(catalog, check=False):
        extra = dict(
            catalog_publish_cloud="demo",
            catalog_publish_images=catalog,
            catalog_publish_managed_tag=tag,
            catalog_publish_regions=["RegionOne", "RegionTwo"],
        )
        return run_playbook("catalog.yml", extra, check=check, env=env)

    # First publication: the bytes go to RegionOne, RegionTwo imports them from there, both promote.
    first = publish([entry(a, [("1", files["a1"])]), entry(b, [("1", files["b1"])])])
    assert first.rc == 0, first.output
    in_one, in_two = managed(one, tag), managed(two, tag)
    assert sorted(in_one) == sorted(in_two) == [(a, "1"), (b, "1")]
    for key in in_one:
        assert in_one[key]["status"] == in_two[key]["status"] == "active"
        assert in_one[key]["os_hash_value"] == in_two[key]["os_hash_value"]
        assert in_one[key]["name"] == in_two[key]["name"] == key[0] and not in_two[key]["os_hidden"]
    assert "glance-download" in first.output

    # Nothing changes on a second run, in either region.
    again = publish([entry(a, [("1", files["a1"])]), entry(b, [("1", files["b1"])])])
    assert again.rc == 0 and again.changed == 0, again.output

    # Check mode shows the plan per region and changes nothing.
    rotated = [entry(a, [("2", files["a2"])]), entry(b, [("2", files["b2"])])]
    planned = publish(rotated, check=True)
    assert planned.rc == 0, planned.output
    regions_planned = set(step["region"] for step in planned.facts["plan"])
    assert regions_planned == {"RegionOne", "RegionTwo"}
    assert "REGION RegionTwo" in planned.facts["plan_table"]
    assert managed(one, tag) == in_one and managed(two, tag) == in_two

    # A's version 2 cannot be imported into RegionTwo (an image of it with another disk_format waits there):
    # A is rolled back in both regions and keeps version 1 everywhere; B goes on to version 2 in both.
    blocker = new_image(
        two,
        a + " (2)",
        disk_format="qcow2",
        os_hidden=True,
        tags=[tag],
        osimages_series=a,
        internal_version="2",
    )
    broken = publish(rotated)
    assert broken.rc != 0 and "1 of 2 catalog image(s) could not be published" in broken.output
    assert "RegionTwo" in broken.output and "has disk_format qcow2" in broken.output
    in_one, in_two = managed(one, tag), managed(two, tag)
    for found in (in_one, in_two):
        assert (a, "2") not in found and found[(a, "1")]["name"] == a and not found[(a, "1")]["os_hidden"]
        assert found[(b, "2")]["name"] == b and found[(b, "1")]["os_hidden"]
    assert raw_image(two, blocker) is None  # the version it stood for was rolled back with the others


def test_a_region_that_is_down_stops_the_publication_before_anything_changes(
    regions, regions_cloud, run_playbook, tmp_path
):
    one, two, env = regions
    tag = "regions-%s" % uuid.uuid4().hex[:6]
    artifact = tmp_path / "c1.raw"
    artifact.write_bytes(os.urandom(64 * 1024))
    pid = int((regions_cloud.parent / "run" / "glance2.pid").read_text())
    os.killpg(pid, signal.SIGTERM)
    try:
        for dummy in range(100):
            if raw_glance_down(two):
                break
            time.sleep(0.2)
        extra = dict(
            catalog_publish_cloud="demo",
            catalog_publish_images=[entry(tag + "-C", [("1", artifact)])],
            catalog_publish_managed_tag=tag,
            catalog_publish_regions=["RegionOne", "RegionTwo"],
        )
        result = run_playbook("catalog.yml", extra, env=env)
        assert result.rc != 0
        assert "RegionTwo: Failed to find the image service" in result.output, result.output
        assert "nothing was changed in any region" in result.output
        assert managed(one, tag) == {}
    finally:
        REGIONS_CLOUD.up()  # starts RegionTwo's Glance again


def raw_glance_down(conn):
    try:
        conn.image.get("/images", params={"limit": 1})
    except Exception:  # noqa: BLE001 - any failure to connect means it is down
        return True
    return False


def test_image_publish_takes_the_regions_too(regions, run_playbook, tmp_path):
    one, two, env = regions
    name = "regions-%s-P" % uuid.uuid4().hex[:6]
    artifact = tmp_path / "p1.raw"
    artifact.write_bytes(os.urandom(64 * 1024))
    extra = raw_publish_vars(name, artifact, image_publish_regions=["RegionOne", "RegionTwo"])
    result = run_playbook("publish.yml", extra, env=env)
    assert result.rc == 0, result.output
    copies = [list(conn.image.images(name=name)) for conn in (one, two)]
    assert [len(found) for found in copies] == [1, 1]
    assert copies[0][0].hash_value == copies[1][0].hash_value and copies[1][0].status == "active"


HOST_REGIONS = {"region-one": "RegionOne", "region-two": "RegionTwo"}
FIRST_CALL = "Check the catalog, plan, and register the new versions"
SECOND_CALL = "Promote what arrived, roll back what did not, and retire"


def awx_job(tmp_path, regions_cloud, extravars, name):
    """Run playbooks/region_hosts.yml as AWX runs a job: through ansible-runner, an inventory with one host per
    region, forks 2, and the credential's clouds.yaml (cloud ``devstack``) given by environment alone."""
    import ansible_runner  # the newest cell's tool chain has it; imported here so the oldest cell can collect

    private = tmp_path / name
    (private / "project").mkdir(parents=True)
    (private / "inventory").mkdir()
    shutil.copy(Path(__file__).parent / "playbooks" / "region_hosts.yml", private / "project")
    hosts = "".join("%s catalog_publish_region=%s\n" % pair for pair in HOST_REGIONS.items())
    (private / "inventory" / "hosts").write_text(
        "[regions]\n%s[regions:vars]\nansible_python_interpreter=%s\n" % (hosts, sys.executable)
    )
    envvars = {"OS_CLIENT_CONFIG_FILE": str(regions_cloud.with_name("clouds-awx.yaml")), "ANSIBLE_NOCOLOR": "1"}
    runner = ansible_runner.run(
        private_data_dir=str(private),
        playbook="region_hosts.yml",
        extravars=dict(extravars, catalog_publish_cloud="devstack"),
        envvars=envvars,
        forks=2,
        quiet=True,
    )
    runner.output = runner.stdout.read()
    OUTPUT_LOG.append(runner.output)
    return runner, list(runner.events)


def results_of(events, task):
    """{host: module result, with ``failed`` as the event says} of a task's ok or failed events."""
    return {
        event["event_data"]["host"]: dict(event["event_data"]["res"], failed=event["event"] == "runner_on_failed")
        for event in events
        if event["event"] in ("runner_on_ok", "runner_on_failed") and event["event_data"].get("task") == task
    }


def test_an_awx_job_with_one_host_per_region_publishes_promotes_and_rolls_back_together(
    regions, regions_cloud, tmp_path, monkeypatch
):
    one, two, dummy_env = regions
    for variable in [key for key in os.environ if key.startswith("OS_")]:
        monkeypatch.delenv(variable)  # AWX gives the job the credential's clouds.yaml, and nothing else
    tag = "regions-%s" % uuid.uuid4().hex[:6]
    name = tag + "-J"
    files = {}
    for version in ("1", "2"):
        files[version] = tmp_path / ("j%s.raw" % version)
        files[version].write_bytes(os.urandom(96 * 1024 + int(version)))

    def job(version, label):
        image = entry(name, [(version, files[version])])
        # A catalog checksum of another algorithm than Glance's: RegionOne's upload checks it, RegionTwo's import
        # is checked against RegionOne's hash.
        image["versions"][0]["checksum"] = "sha256:" + hashlib.sha256(files[version].read_bytes()).hexdigest()
        extravars = dict(catalog_publish_images=[image], catalog_publish_managed_tag=tag)
        return awx_job(tmp_path, regions_cloud, extravars, label)

    runner, events = job("1", "first")
    assert runner.status == "successful" and runner.rc == 0, runner.output
    # forks 2: both hosts started the first call before either ended it.
    # Some events (verbose output, warnings) carry no event_data.
    first_task = [event for event in events if event.get("event_data", {}).get("task") == FIRST_CALL]
    starts = [event["counter"] for event in first_task if event["event"] == "runner_on_start"]
    ends = [event["counter"] for event in first_task if event["event"] == "runner_on_ok"]
    assert len(starts) == 2 and max(starts) < min(ends), first_task
    # Each host plans and reports its own region; RegionOne takes the bytes, RegionTwo imports them.
    planned = results_of(events, FIRST_CALL)
    assert {host: set(step["region"] for step in result["plan"]) for host, result in planned.items()} == {
        host: {region} for host, region in HOST_REGIONS.items()
    }
    assert [t["method"] for t in planned["region-one"]["transfers"]] == ["direct"]
    assert [(t["method"], t["source_region"]) for t in planned["region-two"]["transfers"]] == [
        ("glance-download", "RegionOne")
    ]
    promoted = results_of(events, SECOND_CALL)
    assert sorted(promoted) == ["region-one", "region-two"]
    assert all(result["changed"] and not result["failed"] for result in promoted.values()), promoted
    in_one, in_two = managed(one, tag), managed(two, tag)
    assert in_one[(name, "1")]["name"] == in_two[(name, "1")]["name"] == name
    assert in_one[(name, "1")]["os_hash_value"] == in_two[(name, "1")]["os_hash_value"]

    # The same job again: nothing changes on either host.
    runner, events = job("1", "again")
    assert runner.status == "successful" and runner.stats["changed"] == {}, runner.output

    # Version 2 cannot be imported into RegionTwo (an image of it with another disk_format waits there): both
    # hosts fail, each rolls version 2 back in its own region, and version 1 stays current in both.
    blocker = new_image(
        two, name + " (2)", disk_format="qcow2", os_hidden=True, tags=[tag], osimages_series=name, internal_version="2"
    )
    runner, events = job("2", "broken")
    assert runner.status == "failed", runner.output
    rolled_back = results_of(events, SECOND_CALL)
    assert sorted(rolled_back) == ["region-one", "region-two"]
    for host, result in rolled_back.items():
        # RegionOne's host reads RegionTwo's transfer error, or, when RegionTwo's host has already rolled back,
        # finds version 2 without data there: either way it names RegionTwo and rolls back its own region.
        assert result["failed"] and "%s: RegionTwo: " % name in result["msg"], (host, result)
        assert "The new image was deleted again (%s: " % HOST_REGIONS[host] in result["msg"], (host, result)
    assert "has disk_format qcow2" in rolled_back["region-two"]["msg"]
    for found in (managed(one, tag), managed(two, tag)):
        assert (name, "2") not in found and found[(name, "1")]["name"] == name, found
    assert raw_image(two, blocker) is None
