"""Two regions of one cloud: a second Glance in RegionTwo of the same Keystone (localcloud's LOCALCLOUD_REGIONS=2).

glance_image_data's glance-download: RegionTwo's Glance fetches an image from RegionOne's, server-side, with the
user's token, and the module checks the result against the source's hash. What the local cloud sets for it is in
docs/testing.md.
"""

import os
import uuid

import openstack
import pytest

from harness import ExtraCloud
from harness import new_image
from harness import raw_image

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
