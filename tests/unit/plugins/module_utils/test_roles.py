"""_roles: what the roles decide through the collection's filters, as tables."""

import pytest

from ansible_collections.osimages.glance.plugins.module_utils._roles import build_commands
from ansible_collections.osimages.glance.plugins.module_utils._roles import connection_overrides
from ansible_collections.osimages.glance.plugins.module_utils._roles import publish_entry
from ansible_collections.osimages.glance.plugins.module_utils._roles import publish_version
from ansible_collections.osimages.glance.plugins.module_utils._roles import transfer_errors
from ansible_collections.osimages.glance.plugins.module_utils._roles import transfer_paths

SHA512 = "ab" * 64
# 2026-12-07T10:00:00Z
MTIME = 1796637600


@pytest.mark.parametrize(
    "args, commands",
    [
        (("file",), ["qemu-img"]),
        (("url", "vm"), ["qemu-img"]),
        (("rootfs",), ["qemu-img", "mmdebstrap", "mkfs.ext4"]),
        (("dib", "vm"), ["qemu-img", "kpartx", "dmsetup", "sudo", "debootstrap"]),
        (("dib", "baremetal"), ["qemu-img", "sudo", "debootstrap"]),
        (("file", None, True), ["qemu-img", "virt-customize"]),
        (("file", None, False, True), ["qemu-img", "qemu-system-x86_64"]),
        (("file", None, False, True, True), ["qemu-img", "qemu-system-x86_64", "cloud-localds"]),
        (("file", None, False, False, True), ["qemu-img"]),  # a seed without a boot test is never made
    ],
)
def test_build_commands(args, commands):
    assert build_commands(*args) == commands


@pytest.mark.parametrize(
    "artifact, version, expected",
    [
        ({}, "7", "7"),
        ({}, 2, "2"),
        ({"build_date": "2026-12-01T08:30:00Z"}, "", "20261201T083000Z"),
        ({"build_date": "2026-12-01T08:30:00Z"}, None, "20261201T083000Z"),
        ({}, "", "20261207T100000Z"),  # no build date: the file's modification time
        ({"build_date": ""}, "", "20261207T100000Z"),
    ],
)
def test_publish_version(artifact, version, expected):
    assert publish_version(artifact, version, MTIME) == expected


OPTIONS = dict(
    name="Debian 13",
    version="",
    description="",
    original_user="debian",
    properties={"os_distro": "debian"},
    tags=["debian"],
    visibility="public",
    members=[],
    min_ram="512",
    method="direct",
    stores=[],
    keep=1,
    keep_deactivated="1",
    kernel_and_ramdisk=False,
    file_mtime=MTIME,
    file_sha512="",
)
ARTIFACT = dict(
    path="/srv/debian.qcow2",
    disk_format="qcow2",
    sha512=SHA512,
    min_disk=3,
    build_date="2026-12-01T08:30:00Z",
    source="https://cloud.debian.org/debian.qcow2",
)


def test_publish_entry_of_a_built_artifact():
    entry = publish_entry(ARTIFACT, OPTIONS)
    assert entry == {
        "name": "Debian 13",
        "format": "qcow2",
        "container_format": "bare",
        "login": "debian",
        "status": "active",
        "visibility": "public",
        "members": [],
        "multi": True,
        "versioned_name": "{name}-{version}",
        "separator": "-",
        "min_disk": 3,
        "min_ram": 512,
        "method": "direct",
        "stores": [],
        "tags": ["debian"],
        "meta": {"os_distro": "debian", "uuid_validity": "last-2"},
        "keep_deactivated": 1,
        "versions": [
            {
                "artifact": {"path": "/srv/debian.qcow2", "sha512": SHA512},
                "version": "20261201T083000Z",
                "meta": {
                    "image_build_date": "2026-12-01T08:30:00Z",
                    "image_source": "https://cloud.debian.org/debian.qcow2",
                },
            }
        ],
    }
    assert OPTIONS["properties"] == {"os_distro": "debian"}, "the caller's properties are not changed"


def test_publish_entry_of_a_plain_file_takes_what_stat_says():
    artifact = dict(path="/srv/x.raw", disk_format="raw", container_format="ovf")
    entry = publish_entry(artifact, dict(OPTIONS, file_sha512=SHA512, version="5", description="mine"))
    version = entry["versions"][0]
    assert (entry["container_format"], entry["min_disk"], version["version"]) == ("ovf", 0, "5")
    assert version["artifact"] == {"path": "/srv/x.raw", "sha512": SHA512}
    assert version["meta"] == {
        "image_build_date": "2026-12-07T10:00:00Z",
        "image_source": "/srv/x.raw",
        "image_description": "mine",
    }


def test_publish_entry_with_web_download_packages_and_boot_files():
    artifact = dict(
        ARTIFACT,
        url="http://mirror/debian.qcow2",
        kernel="/srv/vmlinuz",
        initrd="/srv/initrd.img",
        packages={"sha256": "cd" * 32, "count": 312},
    )
    entry = publish_entry(artifact, dict(OPTIONS, method="web-download", kernel_and_ramdisk=True, keep=0))
    version = entry["versions"][0]
    assert version["url"] == "http://mirror/debian.qcow2" and version["checksum"] == "sha512:" + SHA512
    assert "artifact" not in version
    assert version["kernel"] == {"artifact": {"path": "/srv/vmlinuz"}}
    assert version["ramdisk"] == {"artifact": {"path": "/srv/initrd.img"}}
    assert version["meta"]["osimages_packages_sha256"] == "cd" * 32
    assert version["meta"]["osimages_packages_count"] == "312"
    assert entry["meta"]["uuid_validity"] == "last-1"


TRANSFER_A = {"key": "RegionOne/a", "image": "A"}
TRANSFER_B = {"key": "RegionOne/b", "image": "B"}


def loop_result(transfer, **result):
    return dict(result, __t=transfer, ansible_loop_var="__t")


def job_result(transfer, **result):
    """A result of async_status looping over the jobs that a loop over transfers started."""
    return dict(result, __job=loop_result(transfer, ansible_job_id="1"), ansible_loop_var="__job")


@pytest.mark.parametrize(
    "results, errors",
    [
        ([], {}),
        (None, {}),
        ([loop_result(TRANSFER_A, failed=False, path="/c/a")], {}),
        ([loop_result(TRANSFER_A, failed=True, msg="HTTP 404")], {"RegionOne/a": "HTTP 404"}),
        (
            [job_result(TRANSFER_A, failed=True), job_result(TRANSFER_B, failed=True, msg="checksum mismatch")],
            {"RegionOne/a": "the transfer failed", "RegionOne/b": "checksum mismatch"},
        ),
        ([job_result(TRANSFER_A, failed=False, finished=1)], {}),
    ],
)
def test_transfer_errors(results, errors):
    assert transfer_errors(results) == errors


def test_transfer_paths():
    results = [
        loop_result(TRANSFER_A, failed=False, path="/cache/a.qcow2"),
        loop_result(TRANSFER_B, failed=True, msg="HTTP 404"),
        {"skipped": True, "__t": {"key": "RegionOne/c"}, "ansible_loop_var": "__t"},
    ]
    assert transfer_paths(results) == {"RegionOne/a": "/cache/a.qcow2"}


@pytest.mark.parametrize(
    "given, overrides",
    [
        ({"cloud": "", "region_name": None, "interface": "", "ca_cert": ""}, {}),
        ({"cloud": "prod", "interface": "internal"}, {"cloud": "prod", "interface": "internal"}),
        ({"cloud": {"auth": {"auth_url": "http://k"}}}, {"cloud": {"auth": {"auth_url": "http://k"}}}),
    ],
)
def test_connection_overrides_keep_only_what_the_role_was_given(given, overrides):
    assert connection_overrides(given) == overrides


def test_connection_overrides_know_only_connection_options():
    with pytest.raises(ValueError, match="not a connection option a role overrides: password"):
        connection_overrides({"cloud": "x", "password": "y"})
