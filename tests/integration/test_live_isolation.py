"""Isolation: project `alt` can neither read nor change project `demo`'s private images through any
module option, the lookup or image_publish. Secrets stay out of every output, -vvvv included.

Each case runs as `alt` against one private, active, hidden-or-not image of `demo`, and then checks
with plain openstacksdk that demo's image is exactly as it was.
"""

import json
import os
import uuid

import pytest

from harness import SECRETS
from harness import find_leaks
from harness import raw_image

# The fields that say whether an image was touched at all.
FINGERPRINT = (
    "name",
    "status",
    "visibility",
    "os_hidden",
    "protected",
    "tags",
    "min_ram",
    "min_disk",
    "os_hash_value",
    "updated_at",
    "owner",
)


def fingerprint(raw):
    return dict((key, raw.get(key)) for key in FINGERPRINT + ("secret_note",))


@pytest.fixture(scope="module")
def victim(sdk, tmp_path_factory):
    """A private, active image of demo, with a property alt must never see, and a hidden one."""
    demo = sdk("demo")
    name = "isolated-%s" % uuid.uuid4().hex[:6]
    data = tmp_path_factory.mktemp("victim") / "victim.raw"
    data.write_bytes(os.urandom(1024 * 1024))
    image = demo.image.create_image(
        name=name,
        filename=str(data),
        disk_format="raw",
        container_format="bare",
        visibility="private",
        allow_duplicates=True,
        wait=True,
        secret_note="demo only",
    )
    hidden = demo.image.post(
        "/images", json={"name": name + "-hidden", "visibility": "private", "os_hidden": True}
    ).json()
    yield {
        "id": image.id,
        "name": name,
        "hidden_id": hidden["id"],
        "hidden_name": name + "-hidden",
        "before": fingerprint(raw_image(demo, image.id)),
        "hidden_before": fingerprint(raw_image(demo, hidden["id"])),
    }
    demo.image.delete_image(image.id)
    demo.image.delete_image(hidden["id"])


@pytest.fixture
def untouched(victim, sdk):
    """After the test: demo's images are exactly as they were."""
    yield
    demo = sdk("demo")
    assert fingerprint(raw_image(demo, victim["id"])) == victim["before"]
    assert fingerprint(raw_image(demo, victim["hidden_id"])) == victim["hidden_before"]


WRITES = [
    ({"name": "stolen"}, "rename"),
    ({"tags": ["mine"]}, "tag"),
    ({"properties": {"secret_note": "alt was here"}}, "change a property"),
    ({"visibility": "public"}, "publish"),
    ({"protected": True}, "protect"),
    ({"hidden": True}, "hide"),
    ({"status": "deactivated"}, "deactivate"),
    ({"member_status": "accepted"}, "accept as a member"),
    ({"members": ["ALT_PROJECT_ID"], "visibility": "shared"}, "share with itself"),
]


@pytest.mark.usefixtures("untouched")
def test_glance_image_cannot_change_another_projects_image(run_module, sdk, victim):
    """Every write option, on both of demo's images: each call fails and names the image."""
    alt_project = sdk("alt").current_project_id
    cases = [
        (dict(change, members=[alt_project]) if "members" in change else change, what, image_id)
        for change, what in WRITES
        for image_id in (victim["id"], victim["hidden_id"])
    ]
    results = run_module.many(
        "glance_image", [dict(change, id=image_id) for change, dummy, image_id in cases], cloud="alt"
    )
    for (change, what, image_id), result in zip(cases, results):
        assert result["failed"], (what, result)
        assert image_id in result["msg"] and "Traceback" not in result["msg"], (what, result["msg"])


@pytest.mark.usefixtures("untouched")
def test_glance_image_cannot_delete_another_projects_image(run_module, victim):
    results = run_module.many(
        "glance_image",
        [{"id": image_id, "state": "absent"} for image_id in (victim["id"], victim["hidden_id"])],
        cloud="alt",
    )
    for result in results:
        assert not result["failed"] and not result["changed"], result  # absent from alt's point of view


@pytest.mark.usefixtures("untouched")
def test_a_name_reaches_only_the_own_project(run_module, sdk, victim):
    """By name, alt makes its own image: demo's, hidden or not, is neither found nor adopted."""
    results = run_module.many(
        "glance_image",
        [{"name": name, "tags": ["alt-own"]} for name in (victim["name"], victim["hidden_name"])],
        cloud="alt",
    )
    for result in results:
        assert result["changed"] and result["created"], result
        assert result["image"]["owner"] == sdk("alt").current_project_id
        assert result["image"]["id"] not in (victim["id"], victim["hidden_id"])
        sdk("alt").image.delete_image(result["image"]["id"])


@pytest.mark.usefixtures("untouched")
def test_glance_image_info_reveals_nothing(run_module, sdk, victim):
    queries = [
        {"image": victim["id"]},
        {"image": victim["name"]},
        {"image": victim["hidden_id"]},
        {"image": victim["hidden_name"], "filters": {"hidden": "any"}},
        {"filters": {"visibility": "all", "hidden": "any", "name": victim["name"]}},
        {"filters": {"owner": sdk("demo").current_project_id, "hidden": "any"}},
        {"filters": {"properties": {"secret_note": "demo only"}, "visibility": "all"}},
    ]
    for query, result in zip(queries, run_module.many("glance_image_info", queries, cloud="alt")):
        assert not result["failed"] and result["images"] == [], (query, result)


@pytest.mark.usefixtures("untouched")
def test_glance_image_data_cannot_read_or_write(run_module, victim, tmp_path):
    src = tmp_path / "alt.raw"
    src.write_bytes(b"alt's bytes" * 1000)
    dest = tmp_path / "demo.raw"
    cases = [
        {"image": victim["id"], "dest": str(dest)},
        {"image": victim["name"], "dest": str(dest)},
        {"image": victim["hidden_id"], "src": str(src)},
        {"image": victim["name"], "src": str(src)},
        {"image": victim["id"], "method": "copy-image", "stores": ["cheap"]},
    ]
    for args, result in zip(cases, run_module.many("glance_image_data", cases, cloud="alt")):
        assert result["failed"] and "not found" in result["msg"], (args, result)
    assert not dest.exists()


@pytest.mark.usefixtures("untouched")
def test_the_lookup_finds_nothing(run_module, victim):
    expression = "msg={{ lookup('osimages.glance.glance_image_id', '%s', cloud='alt') }}" % victim["name"]
    result = run_module("ansible.builtin.debug", expression, cloud=None)
    assert result["failed"] and "no image named" in result["msg"], result


@pytest.mark.newest_only
@pytest.mark.usefixtures("untouched")
def test_image_publish_as_alt_keeps_to_its_own_project(run_playbook, sdk, victim, fixture_image):
    """alt publishes a series named like demo's image: demo's image is neither a stranger nor touched."""
    variables = dict(
        image_publish_cloud="alt",
        image_publish_name=victim["name"],
        image_publish_version="1",
        image_publish_artifact={"path": str(fixture_image), "disk_format": "raw"},
    )
    result = run_playbook("publish.yml", variables)
    assert result.rc == 0, result.output[-3000:]
    image = result.facts["image"]
    assert image["owner"] == sdk("alt").current_project_id and image["id"] != victim["id"]
    sdk("alt").image.delete_image(image["id"])


def test_application_credential_secret_and_vvvv_output(run_module, sdk, clouds_yaml):
    """An application credential works as `auth`, and at -vvvv nothing secret is printed, failing or not."""
    demo = sdk("demo")
    access = demo.session.auth.get_access(demo.session)
    # A demo token must hold member (and reader, which member implies), never more; say so if not.
    assert set(access.role_names) <= {"member", "reader"}, (access.user_id, access.project_id, access.role_names)
    # Name the role: left out, Keystone copies the token's roles, implied reader included, and then at times
    # (seen in CI) refuses reader as "no role assignment", since reader is implied, never assigned.
    credential = demo.identity.create_application_credential(
        user=demo.current_user_id, name="osimages-it-%s" % uuid.uuid4().hex[:6], roles=[{"name": "member"}]
    )
    SECRETS.add(credential.secret)
    auth_url = json.loads(open(clouds_yaml).read())["clouds"]["demo"]["auth"]["auth_url"]
    auth = {
        "auth_url": auth_url,
        "application_credential_id": credential.id,
        "application_credential_secret": credential.secret,
    }
    verbose = {"ANSIBLE_VERBOSITY": "4"}
    try:
        result = run_module(
            "glance_image_info",
            {"auth_type": "v3applicationcredential", "auth": auth, "image": "anything"},
            cloud=None,
            env=verbose,
        )
        assert not result["failed"] and result["images"] == [], result.get("msg")
        assert "ESTABLISH LOCAL CONNECTION" in result["_output"]  # really -vvvv
        bad = dict(auth, application_credential_secret=credential.secret[::-1])
        SECRETS.add(bad["application_credential_secret"])
        result = run_module(
            "glance_image_info",
            {"auth_type": "v3applicationcredential", "auth": bad, "image": "anything"},
            cloud=None,
            env=verbose,
        )
        assert result["failed"] and "401" in result["msg"], result.get("msg")
        assert find_leaks([("this test", result["_output"])], SECRETS) == []
    finally:
        demo.identity.delete_application_credential(demo.current_user_id, credential.id)


def test_the_leak_finder_finds_what_it_looks_for():
    token = "gAAAAA" + "x" * 120
    texts = [("a", "password=s3cret!"), ("b", "X-Auth-Token: " + token), ("c", "nothing here")]
    assert find_leaks(texts, {"s3cret!"}) == ["a: a secret", "b: a Keystone token"]
