"""Pure parts of _diskimage: qemu-img argv, manifests, min_disk, format checks."""

import pytest

from ansible_collections.osimages.glance.plugins.module_utils import _diskimage as diskimage
from ansible_collections.osimages.glance.plugins.module_utils._errors import ValidationError


@pytest.mark.parametrize(
    "dest_format,compression,expected_tail",
    [
        ("qcow2", "zstd", ["-O", "qcow2", "-c", "-o", "compression_type=zstd"]),
        ("qcow2", "zlib", ["-O", "qcow2", "-c"]),
        ("qcow2", "none", ["-O", "qcow2"]),
        ("vhd", "none", ["-O", "vpc", "-o", "subformat=dynamic,force_size=on"]),
        ("vhdx", "none", ["-O", "vhdx"]),
        ("raw", "none", ["-O", "raw"]),
    ],
)
def test_convert_command(dest_format, compression, expected_tail):
    argv = diskimage.convert_command("in", "raw", "out", dest_format, compression)
    assert argv[:5] == ["qemu-img", "convert", "-q", "-f", "raw"]
    assert argv[5:-2] == expected_tail
    assert argv[-2:] == ["in", "out"]


def test_a_fixed_vhd_source_is_read_as_vpc():
    assert diskimage.convert_command("in", "vhd", "out", "raw")[3:5] == ["-f", "vpc"]


def test_compression_is_qcow2_only():
    with pytest.raises(ValidationError, match="qcow2 only"):
        diskimage.convert_command("in", "raw", "out", "vmdk", "zstd")


def test_unknown_target_format_is_refused():
    with pytest.raises(ValidationError, match="cannot convert to iso"):
        diskimage.convert_command("in", "raw", "out", "iso")


@pytest.mark.parametrize("virtual_size,gib", [(1, 1), (1 << 30, 1), ((1 << 30) + 1, 2), (10 << 30, 10), (0, 1)])
def test_min_disk_rounds_up(virtual_size, gib):
    assert diskimage.min_disk_gib(virtual_size) == gib


def test_format_mismatch():
    assert diskimage.format_mismatch("f", "qcow2", None) is None
    assert diskimage.format_mismatch("f", "qcow2", "qcow2") is None
    assert "f is qcow2, not raw as declared" in diskimage.format_mismatch("f", "qcow2", "raw")


WANTED = dict(source_sha512="a" * 128, disk_format="qcow2", compression="zstd", inputs={"x": 1}, source="s")


@pytest.mark.parametrize(
    "recorded,artifact_sha512,current",
    [
        (dict(WANTED, artifact_sha512="b"), "b", True),
        (dict(WANTED, artifact_sha512="b"), "c", False),  # the artifact was changed on disk
        (dict(WANTED, artifact_sha512="b"), None, False),  # the artifact is gone
        (dict(WANTED, artifact_sha512="b", inputs={"x": 2}), "b", False),  # an input changed
        (dict(WANTED, artifact_sha512="b", compression="zlib"), "b", False),
        (None, "b", False),
    ],
)
def test_manifest_is_current(recorded, artifact_sha512, current):
    assert diskimage.manifest_is_current(recorded, WANTED, artifact_sha512) is current


@pytest.mark.parametrize(
    "dest, dest_format, recorded, dest_sha512, force, action, path, disk_format",
    [
        (None, None, None, None, False, diskimage.USE_SOURCE, "/s/a.raw", "raw"),
        ("/s/a.raw", "raw", None, None, False, diskimage.USE_SOURCE, "/s/a.raw", "raw"),
        ("/d/a.qcow2", "qcow2", None, None, False, diskimage.CONVERT, "/d/a.qcow2", "qcow2"),
        ("/d/a.raw", None, None, None, False, diskimage.CONVERT, "/d/a.raw", "raw"),  # a copy, in the source's format
        (
            "/d/a.qcow2",
            "qcow2",
            dict(WANTED, artifact_sha512="b"),
            "b",
            False,
            diskimage.UP_TO_DATE,
            "/d/a.qcow2",
            "qcow2",
        ),
        ("/d/a.qcow2", "qcow2", dict(WANTED, artifact_sha512="b"), "b", True, diskimage.CONVERT, "/d/a.qcow2", "qcow2"),
        (
            "/d/a.qcow2",
            "qcow2",
            dict(WANTED, artifact_sha512="b"),
            "c",
            False,
            diskimage.CONVERT,
            "/d/a.qcow2",
            "qcow2",
        ),
    ],
)
def test_plan_artifact(dest, dest_format, recorded, dest_sha512, force, action, path, disk_format):
    plan = diskimage.plan_artifact("/s/a.raw", "raw", dest, dest_format, WANTED, recorded, dest_sha512, force)
    assert (plan.action, plan.path, plan.disk_format, plan.changes) == (action, path, disk_format, action == "convert")


def test_plan_artifact_refuses_a_conversion_without_dest():
    with pytest.raises(ValidationError, match="converting /s/a.raw to qcow2 needs a dest"):
        diskimage.plan_artifact("/s/a.raw", "raw", None, "qcow2", WANTED, None, None)
