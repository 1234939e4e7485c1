"""The modules and image_publish against the local cloud served over HTTPS only (LOCALCLOUD_TLS=1).

A third local cloud, on its own ports and state folder, whose Keystone and Glance speak HTTPS with a
certificate signed by a throwaway CA that localcloud makes. It is stopped (not purged) at the end.
"""

import json
import os
import uuid

import openstack
import pytest

from harness import ExtraCloud

# Ports: free ones, chosen when it starts (localcloud's auto); its clouds.yaml names them.
TLS_CLOUD = ExtraCloud("cloud-tls", LOCALCLOUD_TLS="1")
# The transport does not vary with ansible-core or openstacksdk here: newest cell only, on a cloud of its own.
pytestmark = [pytest.mark.newest_only, pytest.mark.own_cloud]


@pytest.fixture(scope="module")
def tls_cloud():
    """(clouds.yaml without any CA setting, the test CA's PEM file)."""
    clouds_yaml = TLS_CLOUD.up()
    yield clouds_yaml, clouds_yaml.parent / "tls" / "ca.pem"
    TLS_CLOUD.down()


@pytest.fixture
def tls_sdk(tls_cloud):
    clouds_yaml, ca_cert = tls_cloud
    config = json.loads(clouds_yaml.read_text())["clouds"]["demo"]
    return openstack.connect(cacert=str(ca_cert), region_name=config["region_name"], **config["auth"])


def test_the_cloud_really_speaks_https(tls_sdk):
    assert tls_sdk.auth["auth_url"].startswith("https://127.0.0.1:")
    assert tls_sdk.image.get_endpoint().startswith("https://127.0.0.1:")


def test_every_module_works_with_the_test_ca(tls_cloud, tls_sdk, run_module, tmp_path):
    clouds_yaml, ca_cert = tls_cloud
    env = {"OS_CLIENT_CONFIG_FILE": str(clouds_yaml)}
    name = "tls-%s" % uuid.uuid4().hex[:6]
    tls = {"ca_cert": str(ca_cert)}
    image_args = dict(tls, name=name, disk_format="raw", container_format="bare", visibility="private")
    created = run_module("glance_image", image_args, env=env)
    assert created["changed"] and not created["failed"], created.get("msg")
    image_id = created["image"]["id"]
    try:
        src = tmp_path / "data.raw"
        src.write_bytes(os.urandom(3 * 1024 * 1024))
        uploaded = run_module("glance_image_data", dict(tls, image=image_id, src=str(src)), env=env)
        assert uploaded["changed"] and not uploaded["failed"], uploaded.get("msg")
        assert tls_sdk.image.get_image(image_id).status == "active"
        dest = tmp_path / "back.raw"
        downloaded = run_module("glance_image_data", dict(tls, image=image_id, dest=str(dest)), env=env)
        assert downloaded["changed"] and dest.read_bytes() == src.read_bytes()
        found = run_module("glance_image_info", dict(tls, image=name), env=env)
        assert [image["id"] for image in found["images"]] == [image_id]
        assert not run_module("glance_image", dict(tls, name=name, disk_format="raw"), env=env)["changed"]
    finally:
        deleted = run_module("glance_image", dict(tls, id=image_id, state="absent"), env=env)
    assert deleted["changed"] and tls_sdk.image.find_image(image_id) is None


def test_validate_certs_is_on_by_default_and_fails_clearly(tls_cloud, run_module):
    clouds_yaml, dummy = tls_cloud
    for module, args in [
        ("glance_image_info", {"image": "anything"}),
        ("glance_image", {"name": "never-made", "disk_format": "raw"}),
    ]:
        result = run_module(module, args, env={"OS_CLIENT_CONFIG_FILE": str(clouds_yaml)})
        assert result["failed"], result
        assert "CERTIFICATE_VERIFY_FAILED" in result["msg"] or "certificate verify failed" in result["msg"], result[
            "msg"
        ]
        assert "Traceback" not in result["msg"] and "validate_certs" not in " ".join(result.get("warnings", []))


def test_validate_certs_false_works_with_a_warning(tls_cloud, run_module):
    clouds_yaml, dummy = tls_cloud
    result = run_module(
        "glance_image_info",
        {"image": "anything", "validate_certs": False},
        env={"OS_CLIENT_CONFIG_FILE": str(clouds_yaml)},
    )
    assert not result["failed"] and result["images"] == [], result.get("msg")
    assert any("validate_certs is false" in warning for warning in result.get("warnings", [])), result


def test_image_publish_with_the_ca_in_clouds_yaml(tls_cloud, tls_sdk, run_playbook, fixture_image):
    """The way operators configure a private CA: `cacert` in clouds.yaml, nothing in the playbook."""
    clouds_yaml, ca_cert = tls_cloud
    clouds = json.loads(clouds_yaml.read_text())
    clouds["clouds"]["demo"]["cacert"] = str(ca_cert)
    # Beside the original and as private: it holds the passwords.
    with_ca = clouds_yaml.with_name("clouds-with-ca.yaml")
    with_ca.touch(mode=0o600)
    with_ca.write_text(json.dumps(clouds))
    name = "tls-publish-%s" % uuid.uuid4().hex[:6]
    variables = dict(
        image_publish_cloud="demo",
        image_publish_name=name,
        image_publish_version="1",
        image_publish_artifact={"path": str(fixture_image), "disk_format": "raw"},
    )
    result = run_playbook("publish.yml", variables, env={"OS_CLIENT_CONFIG_FILE": str(with_ca)})
    assert result.rc == 0, result.output[-3000:]
    image = tls_sdk.image.get_image(result.facts["image"]["id"])
    try:
        assert (image.name, image.status, image.visibility) == (name, "active", "private")
        assert image.properties["osimages_series"] == name
    finally:
        tls_sdk.image.delete_image(image.id)
