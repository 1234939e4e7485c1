"""The local cloud itself: every test identity authenticates and can manage an image."""

import os

import openstack
import pytest

# The local cloud, not our code: it does not vary with the matrix.
pytestmark = pytest.mark.newest_only


@pytest.mark.parametrize("cloud", ["demo", "alt", "admin"])
def test_each_identity_creates_and_deletes_an_image(sdk, cloud, prefix):
    conn = sdk(cloud)
    assert conn.current_project_id
    image = conn.image.create_image(
        name=prefix + cloud, disk_format="raw", container_format="bare", allow_duplicates=True
    )
    assert conn.image.get_image(image.id).owner == conn.current_project_id
    conn.image.delete_image(image.id)
    assert conn.image.find_image(image.id) is None


def test_awx_credential_file_needs_no_cloud_name(awx_clouds_yaml, prefix, monkeypatch):
    """AWX writes one cloud named devstack, with domain_name and no user_domain_name."""
    for name in [key for key in os.environ if key.startswith("OS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", awx_clouds_yaml)
    conn = openstack.connect()
    assert conn.config.name == "devstack"
    image = conn.image.create_image(name=prefix + "devstack", allow_duplicates=True)
    conn.image.delete_image(image.id)


def test_stores_and_import_methods(sdk):
    conn = sdk("demo")
    stores = conn.image.get("/info/stores").json()["stores"]
    assert sorted(store["id"] for store in stores) == ["cheap", "fast"]
    assert [store["id"] for store in stores if store.get("default")] == ["fast"]
    methods = conn.image.get("/info/import").json()["import-methods"]["value"]
    assert set(methods) >= {"glance-direct", "web-download", "copy-image"}
