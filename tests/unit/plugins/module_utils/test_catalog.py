"""Reading a catalog in openstack-image-manager's format: defaults, the names it gives, and every problem at once."""

import datetime

import pytest

from ansible_collections.osimages.glance.plugins.module_utils._catalog import CatalogError
from ansible_collections.osimages.glance.plugins.module_utils._catalog import load_catalog
from ansible_collections.osimages.glance.plugins.module_utils._catalog import natural_key
from ansible_collections.osimages.glance.plugins.module_utils._catalog import versioned_name
from ansible_collections.osimages.glance.plugins.module_utils._scs import parse_validity

SHA256 = "a" * 64


def entry(**changes):
    """One image as openstack-image-manager's documentation writes it (our own test data, loopback URLs)."""
    image = {
        "name": "Debian 13",
        "format": "qcow2",
        "login": "debian",
        "min_disk": 2,
        "min_ram": 512,
        "status": "active",
        "visibility": "public",
        "multi": True,
        "meta": {"architecture": "x86_64", "os_distro": "debian", "uuid_validity": "last-3"},
        "tags": [],
        "versions": [
            {
                "version": "20260101",
                "url": "http://127.0.0.1:8080/debian-13-20260101.qcow2",
                "checksum": "sha256:" + SHA256,
                "build_date": datetime.date(2026, 1, 1),
            }
        ],
    }
    image.update(changes)
    return image


def load(*images, **document):
    return load_catalog([("images/debian.yml", dict({"images": list(images)}, **document))])


def problems_of(*images, **document):
    with pytest.raises(CatalogError) as caught:
        load(*images, **document)
    return caught.value.problems


def test_a_catalog_written_for_openstack_image_manager_reads_with_its_defaults():
    minimal = entry()
    for key in ("min_disk", "min_ram", "multi", "meta", "tags"):
        minimal.pop(key)
    (image,) = load(minimal)
    assert image["multi"] is True and image["enable"] is True and image["separator"] == " "
    assert (image["min_disk"], image["min_ram"], image["tags"], image["meta"]) == (0, 0, [], {})
    assert image["versions"][0]["checksum"] == "sha256:" + SHA256
    assert image["versions"][0]["build_date"] == datetime.date(2026, 1, 1)
    assert image["origin"] == "images/debian.yml"
    assert image["method"] == "direct" and image["container_format"] == "bare"


def test_versions_come_out_in_natural_order():
    versions = [{"version": v, "url": "http://127.0.0.1/x-%s.img" % v} for v in ("1.10", "1.9", "1.2")]
    (image,) = load(entry(versions=versions, meta={}))
    assert [v["version"] for v in image["versions"]] == ["1.2", "1.9", "1.10"]


@pytest.mark.parametrize(
    "multi, separator, expected",
    [(True, " ", "Debian 13 (20260101)"), (False, " ", "Debian 13 20260101"), (False, "-", "Debian 13-20260101")],
)
def test_versioned_names_follow_openstack_image_manager(multi, separator, expected):
    (image,) = load(entry(multi=multi, separator=separator))
    assert versioned_name(image, "20260101") == expected


@pytest.mark.parametrize(
    "value, expected",
    [
        ("none", ("none", None)),
        ("forever", ("forever", None)),
        ("notice", ("notice", None)),
        ("last-3", ("last", 3)),
        ("2027-06-30", ("date", datetime.date(2027, 6, 30))),
        (datetime.date(2027, 6, 30), ("date", datetime.date(2027, 6, 30))),
    ],
)
def test_uuid_validity_forms(value, expected):
    assert parse_validity(value) == expected


@pytest.mark.parametrize("value", ["last-0", "last-", "sometimes", "2027-13-01", "30.06.2027"])
def test_uuid_validity_refuses_what_scs_does_not_define(value):
    with pytest.raises(ValueError):
        parse_validity(value)


def test_natural_key_orders_numbers_as_numbers():
    assert sorted(["10", "9", "1.10", "1.9"], key=natural_key) == ["1.9", "1.10", "9", "10"]


def test_a_version_may_name_a_local_artifact_instead_of_a_url():
    artifact = {"path": "/tmp/build/debian.qcow2", "sha512": "b" * 128, "disk_format": "qcow2", "extra": 1}
    (image,) = load(entry(versions=[{"version": "1", "artifact": artifact}], meta={}))
    assert image["versions"][0]["artifact"] == {
        "path": "/tmp/build/debian.qcow2",
        "sha512": "b" * 128,
        "disk_format": "qcow2",
    }


# One catalog with one mistake of each kind: every problem is reported, each with its file and image.
BROKEN = [
    ("unknown image key", entry(name="A", colour="blue"), "image 'A': unknown key(s): colour"),
    (
        "missing fields",
        {"name": "B", "versions": [{"version": "1", "url": "http://127.0.0.1/b"}]},
        "image 'B': missing required key(s): format, login, status, visibility",
    ),
    ("bad format", entry(name="C", format="qcow3"), "image 'C': format must be one of"),
    (
        "malformed checksum",
        entry(name="D", versions=[{"version": "1", "url": "http://127.0.0.1/d", "checksum": "sha256:abc"}]),
        "image 'D', version 1: checksum sha256 must be 64 hexadecimal digits",
    ),
    (
        "unknown version key",
        entry(name="E", versions=[{"version": "1", "url": "http://127.0.0.1/e", "sha": "x"}]),
        "image 'E', version 1: unknown key(s): sha",
    ),
    (
        "no source",
        entry(name="F", versions=[{"version": "1"}]),
        "image 'F', version 1: a version needs a url or an artifact",
    ),
    (
        "impossible retention",
        entry(
            name="G",
            meta={"uuid_validity": "last-1"},
            versions=[{"version": v, "url": "http://127.0.0.1/g%s" % v} for v in ("1", "2")],
        ),
        "image 'G': meta.uuid_validity last-1 keeps 1 version(s), but the catalog lists 2",
    ),
    (
        "bad validity",
        entry(name="H", meta={"uuid_validity": "last-0"}),
        "image 'H': meta.uuid_validity: last-0 keeps no version",
    ),
    (
        "latest without a checksum file",
        entry(name="I", versions=[{"version": "latest", "url": "http://127.0.0.1/i"}]),
        "image 'I', version latest: version latest needs checksums_url",
    ),
    ("members without sharing", entry(name="J", members=["p1"]), "image 'J': members are only for visibility shared"),
    (
        "half of latest_url",
        entry(name="K", latest_url="http://127.0.0.1/k"),
        "latest_url and latest_checksum_url go together",
    ),
    (
        "the same version twice",
        entry(name="L", versions=[{"version": "1", "url": "http://127.0.0.1/l"}] * 2),
        "image 'L': version 1 is listed twice",
    ),
    ("duplicate name", entry(name="A"), "the name 'A' (its name) is also taken by images/debian.yml, image 'A'"),
    (
        "a versioned name that is another image's name",
        entry(name="M (1)", versions=[{"version": "2", "url": "http://127.0.0.1/m2"}]),
        "image 'M': the name 'M (1)' (version 1) is also taken by images/debian.yml, image 'M (1)' (its name)",
    ),
    (
        "replace_frequency",
        entry(name="N", meta={"replace_frequency": "hourly"}),
        "meta.replace_frequency must be one of",
    ),
    (
        "not a URL",
        entry(name="O", versions=[{"version": "1", "url": "debian.qcow2"}]),
        "url must be an http(s), ftp(s)",
    ),
    ("a negative keep_deactivated", entry(name="P", keep_deactivated=-1), "keep_deactivated must be a whole number"),
    ("a versioned_name without {version}", entry(name="Q", versioned_name="{name}-v"), "versioned_name is a template"),
    ("a versioned_name with a stray key", entry(name="R", versioned_name="{nme}-{version}"), "versioned_name is a"),
]


def test_every_problem_is_reported_at_once_with_its_file_and_image():
    images = [image for dummy, image, dummy in BROKEN] + [
        entry(name="M", versions=[{"version": "1", "url": "http://127.0.0.1/m"}])
    ]
    problems = problems_of(*images)
    for label, dummy, expected in BROKEN:
        assert any(expected in problem for problem in problems), "%s: %r not in %s" % (label, expected, problems)
    assert all(problem.startswith("images/debian.yml") for problem in problems)
    # The duplicate 'A' clashes twice: its name and its versioned name.
    assert len(problems) == len(BROKEN) + 1


def test_a_file_without_an_images_list_is_one_problem():
    with pytest.raises(CatalogError) as caught:
        load_catalog([("a.yml", {"image": []}), ("b.yml", ["x"])])
    assert caught.value.problems == [
        "a.yml: a catalog file holds a mapping with an 'images' list",
        "b.yml: a catalog file holds a mapping with an 'images' list",
    ]
    assert "nothing was changed in Glance" in str(caught.value)


def test_names_must_be_unique_across_files():
    with pytest.raises(CatalogError) as caught:
        load_catalog([("a.yml", {"images": [entry()]}), ("b.yml", {"images": [entry()]})])
    assert caught.value.problems == [
        "b.yml, image 'Debian 13': the name 'Debian 13' (its name) is also taken by a.yml, image 'Debian 13' "
        "(its name)",
        "b.yml, image 'Debian 13': the name 'Debian 13 (20260101)' (version 20260101) is also taken by a.yml, image "
        "'Debian 13' (version 20260101)",
    ]


def test_a_disabled_image_needs_no_versions():
    (image,) = load(entry(enable=False, versions=[]))
    assert image["enable"] is False and image["versions"] == []


def baremetal(version="20260101", **sources):
    """A version with a kernel and a ramdisk, each from a URL by default."""
    base = "http://127.0.0.1:8080/%s" % version
    found = {
        "version": version,
        "url": base + ".qcow2",
        "checksum": "sha256:" + SHA256,
        "kernel": {"url": base + ".vmlinuz", "checksum": "sha256:" + "b" * 64},
        "ramdisk": {"artifact": {"path": "/srv/build/%s.initrd" % version, "sha512": "c" * 128}},
    }
    found.update(sources)
    return found


def test_a_kernel_and_a_ramdisk_become_companion_series_listed_before_their_image():
    kernel, ramdisk, image = load(entry(versions=[baremetal("2"), baremetal("1")], visibility="shared", members=["p"]))
    assert [kernel["name"], ramdisk["name"], image["name"]] == ["Debian 13 kernel", "Debian 13 ramdisk", "Debian 13"]
    assert image["companions"] == {"kernel_id": "Debian 13 kernel", "ramdisk_id": "Debian 13 ramdisk"}
    assert image["companion_of"] is None and kernel["companion_of"] == ramdisk["companion_of"] == "Debian 13"
    assert (kernel["format"], kernel["container_format"], ramdisk["format"], ramdisk["container_format"]) == (
        "aki",
        "aki",
        "ari",
        "ari",
    )
    # Versioned, shared, rotated and retired with the image; hidden, with none of its properties but uuid_validity.
    assert [v["version"] for v in kernel["versions"]] == ["1", "2"] == [v["version"] for v in image["versions"]]
    assert kernel["visibility"] == "shared" and kernel["members"] == ["p"] and kernel["validity"] == image["validity"]
    assert kernel["meta"] == {"uuid_validity": "last-3"} and kernel["tags"] == [] and kernel["login"] is None
    assert all(v["hidden"] is True for v in kernel["versions"] + ramdisk["versions"])
    first = kernel["versions"][0]
    assert (first["url"], first["checksum"], first["artifact"]) == (
        "http://127.0.0.1:8080/1.vmlinuz",
        "sha256:" + "b" * 64,
        None,
    )
    assert ramdisk["versions"][0]["url"] is None and ramdisk["versions"][0]["artifact"]["path"] == "/srv/build/1.initrd"
    assert image["versions"][0]["kernel"]["url"] == first["url"]  # the image keeps what it was given


def test_an_image_without_a_kernel_has_no_companions():
    (image,) = load(entry())
    assert image["companions"] == {} and image["companion_of"] is None


BROKEN_COMPANIONS = [
    (
        "a kernel for one version only",
        [baremetal("2"), {"version": "1", "url": "http://127.0.0.1/1"}],
        "kernel is given",
    ),
    ("a kernel without a ramdisk", [baremetal(ramdisk=None)], "kernel and ramdisk go together"),
    ("a url and an artifact", [baremetal(kernel={"url": "http://127.0.0.1/k", "artifact": "/k"})], "a url or an"),
    ("neither", [baremetal(kernel={"checksum": "sha256:" + SHA256})], "kernel: a url or an artifact, one of them"),
    ("an unknown key", [baremetal(kernel={"url": "http://127.0.0.1/k", "meta": {}})], "kernel: unknown key(s): meta"),
    (
        "a malformed checksum",
        [baremetal(ramdisk={"url": "http://127.0.0.1/r", "checksum": "md5:1"})],
        "ramdisk: checks",
    ),
    ("not a mapping", [baremetal(kernel="http://127.0.0.1/k")], "kernel: a mapping with a url"),
    ("not a URL", [baremetal(kernel={"url": "vmlinuz"})], "kernel: url must be an http(s), ftp(s) or file: URL"),
]


@pytest.mark.parametrize(
    "versions, expected", [case[1:] for case in BROKEN_COMPANIONS], ids=[c[0] for c in BROKEN_COMPANIONS]
)
def test_a_kernel_or_ramdisk_given_wrong_is_a_catalog_problem(versions, expected):
    problems = problems_of(entry(versions=versions))
    assert any(expected in problem for problem in problems), problems


def test_a_companion_name_taken_by_another_image_is_a_catalog_problem():
    problems = problems_of(entry(versions=[baremetal()]), entry(name="Debian 13 kernel"))
    assert any("the name 'Debian 13 kernel' (its name) is also taken" in problem for problem in problems), problems
