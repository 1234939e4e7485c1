# -*- coding: utf-8 -*-
# Copyright: Contributors to the osimages.glance collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal use only: this file is not part of the collection's public API.
"""Local disk image files: real format, safety, qemu-img commands, build manifests.

The format and safety checks use oslo.utils' ``format_inspector``, the code Glance itself runs
on uploaded data. They run before qemu-img ever opens a file: ``qemu-img convert`` follows a
qcow2 backing file or a VMDK extent and would copy a host file into the output.
Functions here that decide things are pure; those that run commands take a ``run`` callable
with AnsibleModule.run_command's signature.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.osimages.glance.plugins.module_utils._errors import DiskImageError
from ansible_collections.osimages.glance.plugins.module_utils._errors import ValidationError
from ansible_collections.osimages.glance.plugins.module_utils._files import read_json
from ansible_collections.osimages.glance.plugins.module_utils._files import write_json
from ansible_collections.osimages.glance.plugins.module_utils._formats import CONVERTIBLE_FORMATS
from ansible_collections.osimages.glance.plugins.module_utils._formats import INSPECTOR_TO_DISK_FORMAT
from ansible_collections.osimages.glance.plugins.module_utils._formats import QEMU_FORMATS

FORMAT_INSPECTOR_REQUIREMENT = "oslo.utils[image-inspection]>=7.3.0"
GIB = 1024**3
QEMU_IMG_CHECK_NOT_SUPPORTED = 63
QEMU_IMG_CHECK_LEAKS = 3


class UnsafeImageError(DiskImageError):
    """The file references other files or is not what it claims to be."""


def has_format_inspector():
    try:
        format_inspector()
    except ValidationError:
        return False
    return True


def format_inspector(path=None):
    """oslo.utils' format_inspector, imported on first use.

    Its package imports oslo_utils.strutils, whose regular expressions cost about 0.13 s of CPU to compile:
    downloads and runs with nothing to send never pay it.
    """
    try:
        from oslo_utils.imageutils import format_inspector as inspector
    except ImportError:
        raise ValidationError(
            "inspecting %s needs the Python library %s on the host running the module"
            % (path or "a disk image", FORMAT_INSPECTOR_REQUIREMENT)
        )
    return inspector


def _detect(stream, inspector_module):
    """Feed the stream to every inspector until they agree (as detect_file_format does for a file)."""
    wrapper = inspector_module.InspectWrapper(stream)
    try:
        while wrapper.read(4096):
            if wrapper.format:
                return wrapper.format
    finally:
        wrapper.close()
    return wrapper.format


def inspect_file(path, stream=None):
    """Return {format, virtual_size} of a local image file; raise UnsafeImageError when it is unsafe.

    ``stream`` reads the image instead of the file itself (a decompressing reader); only the
    first blocks are read. A file no inspector recognises is raw, as Glance treats it.
    """
    inspectors = format_inspector(path)
    try:
        if stream is None:
            with open(path, "rb") as handle:
                inspector = _detect(handle, inspectors)
        else:
            inspector = _detect(stream, inspectors)
    except inspectors.ImageFormatError as exc:
        raise UnsafeImageError("refusing %s: its format cannot be determined safely (%s)" % (path, exc))
    except (IOError, OSError) as exc:
        raise ValidationError("cannot read %s: %s" % (path, exc))
    name = inspector.NAME if inspector is not None else "raw"
    try:
        if inspector is not None:
            inspector.safety_check()
    except inspectors.SafetyCheckFailed as exc:
        reasons = "; ".join("%s: %s" % (check, failure) for check, failure in sorted(exc.failures.items()))
        raise UnsafeImageError(
            "refusing %s (%s): it failed the safety checks Glance runs: %s" % (path, name, reasons),
            detected_format=name,
        )
    except inspectors.ImageFormatError as exc:
        raise UnsafeImageError("refusing %s (%s): %s" % (path, name, exc), detected_format=name)
    disk_format = INSPECTOR_TO_DISK_FORMAT.get(name, name)
    # The inspector stops reading early; a raw disk's virtual size is the whole file.
    if disk_format in ("raw", "iso"):
        virtual_size = os.path.getsize(path) if stream is None else None
    else:
        virtual_size = inspector.virtual_size
    return dict(format=disk_format, virtual_size=virtual_size)


def format_mismatch(path, detected, declared):
    """The error message when a file's real format is not the declared one (pure), else None."""
    if declared is None or detected == declared:
        return None
    return "%s is %s, not %s as declared; refusing it before anything reads it as %s" % (
        path,
        detected,
        declared,
        declared,
    )


def min_disk_gib(virtual_size):
    """Glance's min_disk for a virtual size in bytes: GiB, rounded up (pure)."""
    return max(1, -(-int(virtual_size) // GIB))


def convert_command(src, src_format, dest, dest_format, compression="none"):
    """The qemu-img convert argv (pure).

    VHD is qemu's ``vpc``: it must be named explicitly to read a fixed VHD, and written with
    ``force_size`` so the virtual size is exact instead of rounded to the VHD geometry.
    """
    if dest_format not in CONVERTIBLE_FORMATS:
        raise ValidationError("cannot convert to %s; supported: %s" % (dest_format, ", ".join(CONVERTIBLE_FORMATS)))
    if compression not in ("none", None) and dest_format != "qcow2":
        raise ValidationError("compression %s applies to qcow2 only, not %s" % (compression, dest_format))
    argv = ["qemu-img", "convert", "-q", "-f", QEMU_FORMATS[src_format], "-O", QEMU_FORMATS[dest_format]]
    if dest_format == "qcow2" and compression == "zstd":
        argv += ["-c", "-o", "compression_type=zstd"]
    elif dest_format == "qcow2" and compression == "zlib":
        argv += ["-c"]
    elif dest_format == "vhd":
        argv += ["-o", "subformat=dynamic,force_size=on"]
    return argv + [src, dest]


def compare_command(src, src_format, dest, dest_format):
    return ["qemu-img", "compare", "-q", "-f", QEMU_FORMATS[src_format], "-F", QEMU_FORMATS[dest_format], src, dest]


def check_command(path, disk_format):
    return ["qemu-img", "check", "-q", "-f", QEMU_FORMATS[disk_format], path]


def qemu_img_check(run, path, disk_format):
    """Run qemu-img check; return warnings. Raises DiskImageError on corruption."""
    rc, out, err = run(check_command(path, disk_format))
    if rc in (0, QEMU_IMG_CHECK_NOT_SUPPORTED):
        return []
    if rc == QEMU_IMG_CHECK_LEAKS:
        return ["qemu-img check found leaked clusters in %s (harmless, but the image wastes space)" % path]
    raise DiskImageError(
        "qemu-img check reports %s (%s) as damaged (exit %d): %s" % (path, disk_format, rc, (err or out).strip())
    )


def convert_and_compare(run, src, src_format, dest, dest_format, compression="none"):
    """Convert src to a temporary file beside dest, compare the two, then move it into place."""
    temporary = "%s.partial" % dest
    try:
        rc, out, err = run(convert_command(src, src_format, temporary, dest_format, compression))
        if rc != 0:
            raise DiskImageError(
                "qemu-img convert of %s (%s) to %s failed (exit %d): %s"
                % (src, src_format, dest_format, rc, (err or out).strip())
            )
        rc, out, err = run(compare_command(src, src_format, temporary, dest_format))
        if rc != 0:
            raise DiskImageError(
                "qemu-img compare: the %s conversion of %s differs from its source (exit %d): %s"
                % (dest_format, src, rc, (err or out).strip())
            )
        os.rename(temporary, dest)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def manifest_path(artifact_path):
    return "%s.manifest.json" % artifact_path


def read_manifest(artifact_path):
    return read_json(manifest_path(artifact_path))


def write_manifest(artifact_path, manifest):
    write_json(manifest_path(artifact_path), manifest, mode=0o644)


def manifest_is_current(recorded, wanted, artifact_sha512):
    """True when the artifact on disk was built from exactly the wanted inputs (pure).

    ``wanted`` holds every input (source digest, target format, compression, caller inputs);
    the recorded manifest must hold the same and the artifact's own digest must be unchanged.
    """
    if not recorded or artifact_sha512 is None:
        return False
    if recorded.get("artifact_sha512") != artifact_sha512:
        return False
    return all(recorded.get(key) == value for key, value in wanted.items())


class ArtifactPlan(object):
    """What disk_image does with a verified source (pure): ``action`` is USE_SOURCE (the source is the artifact),
    UP_TO_DATE (dest was built from exactly these inputs) or CONVERT; ``wanted`` holds the inputs the manifest
    records."""

    def __init__(self, action, path, disk_format, wanted, recorded):
        self.action = action
        self.path = path
        self.disk_format = disk_format
        self.wanted = wanted
        self.recorded = recorded

    @property
    def changes(self):
        return self.action == CONVERT

    def diff(self, build_date="(now)"):
        return dict(before=self.recorded or {}, after=dict(self.wanted, build_date=build_date))


USE_SOURCE = "use-source"
UP_TO_DATE = "up-to-date"
CONVERT = "convert"


def plan_artifact(src, detected, dest, dest_format, wanted, recorded, dest_sha512, force=False):
    """The ArtifactPlan for ``src`` (of format ``detected``) and ``dest`` (None: src is the artifact) (pure).

    ``wanted`` is every input the manifest must hold (see manifest_is_current), ``recorded`` the manifest beside
    dest and ``dest_sha512`` its digest (None when dest does not exist)."""
    if dest is None or os.path.abspath(dest) == os.path.abspath(src):
        if dest_format not in (None, detected):
            raise ValidationError("converting %s to %s needs a dest" % (src, dest_format))
        return ArtifactPlan(USE_SOURCE, src, detected, wanted, recorded)
    disk_format = dest_format or detected
    if not force and manifest_is_current(recorded, wanted, dest_sha512):
        return ArtifactPlan(UP_TO_DATE, dest, disk_format, wanted, recorded)
    return ArtifactPlan(CONVERT, dest, disk_format, wanted, recorded)
