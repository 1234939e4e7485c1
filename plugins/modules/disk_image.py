#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Contributors to the osimages.glance collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: disk_image
short_description: Verify a local disk image file and convert it into a checked artifact
version_added: 0.1.0
description:
  - Detects the real format of O(src) with oslo.utils' C(format_inspector), the code Glance itself runs, and
    refuses a qcow2 with a backing file or an external data-file, a VMDK whose extents point outside the file,
    and any file whose format differs from O(format), before C(qemu-img) opens it.
  - Runs C(qemu-img check), converts to O(dest_format) when O(dest) is given, and compares the result with its
    source using C(qemu-img compare). The conversion is written beside O(dest) and moved into place only once it
    has been compared, so O(dest) never holds a partial file.
  - A manifest of every input (the source's SHA-512, the target format, the compression and O(inputs)) is kept
    next to O(dest) as C(<dest>.manifest.json). When it matches and O(dest) is unchanged, nothing is rebuilt.
  - Works on the host the task runs on; it does not talk to any cloud.
  - In check mode nothing is written. A O(src) that does not exist yet is taken as one an earlier step of the
    run would have made, and the artifact is predicted from the options (RV(artifact.path), RV(artifact.disk_format),
    RV(artifact.source)), with C(changed=true).
author:
  - osimages.glance contributors (@osimages)
options:
  src:
    description:
      - The disk image file to verify (and convert).
    type: path
    required: true
  format:
    description:
      - The format O(src) must be, as a Glance C(disk_format). Unset means whatever the inspector finds.
    type: str
    choices: [raw, qcow2, vhd, vhdx, vmdk, vdi, iso]
  dest:
    description:
      - Where to write the converted artifact. Unset means O(src) itself is the artifact.
    type: path
  dest_format:
    description:
      - The format to convert to. Defaults to the format of O(src).
      - A VHD is written as a dynamic VHD with its exact virtual size.
    type: str
    choices: [raw, qcow2, vmdk, vhd, vhdx]
  compression:
    description:
      - Compress the clusters of a qcow2 artifact. V(zstd) is several times faster than V(zlib); V(zlib) is
        readable by older qemu releases.
    type: str
    choices: [none, zlib, zstd]
    default: none
  inputs:
    description:
      - Further build inputs to record in the manifest (elements, variables, backend version...). A change to any
        of them rebuilds the artifact.
    type: dict
    default: {}
  source:
    description:
      - Where the image came from (a URL, a build description), recorded as the artifact's C(source).
      - Defaults to O(src).
    type: str
  force:
    description:
      - Rebuild even when the manifest matches.
    type: bool
    default: false
  packages_from:
    description:
      - What lists the packages installed in the image - a dpkg status file (C(var/lib/dpkg/status) of the tree the
        image was made from) or diskimage-builder's dpkg manifest (C(<image>.d/dib-manifests/dib-manifest-dpkg-*)).
      - The installed packages' name, version and architecture are written, sorted, as JSON next to the artifact
        (C(<artifact>.packages.json)), so that two builds from the same inputs write the same file, and the
        artifact names it (RV(artifact.packages)).
    type: path
    version_added: 0.2.0
extends_documentation_fragment:
  - osimages.glance.attributes.LOCAL_MODULE
requirements:
  - oslo.utils[image-inspection] >= 7.3.0 (Python, on the host running the task)
  - qemu-img (Debian package qemu-utils)
notes:
  - The role C(osimages.glance.image_build) runs this module as its verification step; its RV(artifact) is the
    role's C(image_build_artifact) fact.
seealso:
  - module: osimages.glance.disk_image_boot
  - module: osimages.glance.glance_image_data
"""

EXAMPLES = r"""
- name: Check a downloaded cloud image and convert it to zstd-compressed qcow2
  osimages.glance.disk_image:
    src: /var/cache/images/debian-13-genericcloud-amd64.qcow2
    format: qcow2
    dest: /srv/artifacts/debian-13.qcow2
    dest_format: qcow2
    compression: zstd
    source: https://cloud.debian.org/images/cloud/trixie/latest/debian-13-genericcloud-amd64.qcow2
  register: debian

- name: Only verify a local raw image (nothing is written)
  osimages.glance.disk_image:
    src: /srv/artifacts/appliance.raw
    format: raw
"""

RETURN = r"""
artifact:
  description: The verified artifact, ready for M(osimages.glance.glance_image_data).
  returned: always
  type: dict
  contains:
    path:
      description: The artifact file.
      type: str
    disk_format:
      description: Its Glance C(disk_format).
      type: str
    qemu_format:
      description:
        - The name C(qemu-img -f) takes for its format (V(vpc) for a VHD, which must be named to be read), for
          tools that open the artifact after this module, such as the role C(osimages.glance.image_build)'s
          virt-customize step.
      type: str
      version_added: 0.2.0
    container_format:
      description: Its Glance C(container_format) (always V(bare)).
      type: str
    size:
      description: Its size in bytes (null in check mode before it exists).
      type: int
    virtual_size:
      description: The size of the disk it holds, in bytes.
      type: int
    min_disk:
      description: The virtual size in GiB, rounded up, for Glance's C(min_disk).
      type: int
    sha512:
      description: Its SHA-512, hex (null in check mode before it exists).
      type: str
    source:
      description: O(source), or O(src).
      type: str
    source_sha512:
      description: The SHA-512 of O(src).
      type: str
    build_date:
      description: When the artifact was made (UTC, ISO 8601); kept from the manifest while nothing is rebuilt.
      type: str
    packages:
      description: The package manifest written from O(packages_from); absent without it.
      type: dict
      version_added: 0.2.0
      contains:
        path:
          description: The manifest file, C(<artifact>.packages.json).
          type: str
        sha256:
          description: Its SHA-256, hex.
          type: str
        count:
          description: How many packages it lists.
          type: int
  sample:
    path: /srv/artifacts/debian-13.qcow2
    disk_format: qcow2
    qemu_format: qcow2
    container_format: bare
    size: 352321536
    virtual_size: 3221225472
    min_disk: 3
    sha512: 9b71d224bd62f3785d96d46ad3ea3d73319bfbc2890caadae2dff72519673ca7...
    source: https://cloud.debian.org/images/cloud/trixie/latest/debian-13-genericcloud-amd64.qcow2
    source_sha512: 3f1c6a1e...
    build_date: "2026-11-27T15:00:00Z"
detected_format:
  description: The real format of O(src), as found by the inspector.
  returned: always
  type: str
  sample: qcow2
warnings_from_check:
  description: What C(qemu-img check) reported that is worth knowing but not fatal (leaked clusters).
  returned: always
  type: list
  elements: str
  sample: []
"""

import datetime
import os

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.osimages.glance.plugins.module_utils import _diskimage as diskimage
from ansible_collections.osimages.glance.plugins.module_utils import _packages as packages
from ansible_collections.osimages.glance.plugins.module_utils._errors import ValidationError
from ansible_collections.osimages.glance.plugins.module_utils._files import write_atomically
from ansible_collections.osimages.glance.plugins.module_utils._formats import CONVERTIBLE_FORMATS
from ansible_collections.osimages.glance.plugins.module_utils._formats import INSPECTABLE_FORMATS
from ansible_collections.osimages.glance.plugins.module_utils._formats import QEMU_FORMATS
from ansible_collections.osimages.glance.plugins.module_utils._module import LocalModule
from ansible_collections.osimages.glance.plugins.module_utils._transfer import hash_file


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def sha512_of(path):
    digests, dummy = hash_file(path, ["sha512"])
    return digests["sha512"]


class DiskImageModule(LocalModule):
    module_name = "disk_image"
    argument_spec = dict(
        src=dict(type="path", required=True),
        format=dict(type="str", choices=list(INSPECTABLE_FORMATS)),
        dest=dict(type="path"),
        dest_format=dict(type="str", choices=list(CONVERTIBLE_FORMATS)),
        compression=dict(type="str", choices=["none", "zlib", "zstd"], default="none"),
        inputs=dict(type="dict", default={}),
        source=dict(type="str"),
        force=dict(type="bool", default=False),
        packages_from=dict(type="path"),
    )

    def run(self):
        """find (inspect src) -> plan -> (check mode stops here) -> convert -> result."""
        params = self.params
        if not diskimage.has_format_inspector():
            raise ValidationError(missing_required_lib(diskimage.FORMAT_INSPECTOR_REQUIREMENT))
        src = params["src"]
        if not os.path.isfile(src):
            if self.check_mode:  # an earlier step of a check-mode run would have made it
                return self._predicted()
            raise ValidationError("the disk image %s does not exist or is not a file" % src)
        found, warnings = self._inspect(src)
        source_sha512 = sha512_of(src)
        plan = self._plan(src, found, source_sha512)
        packages_plan = self._package_manifest(plan.path) if params["packages_from"] else None
        built = None if self.check_mode else self._execute(plan, src, found, packages_plan)
        result = self._result(plan, found, source_sha512, built)
        result.update(detected_format=found["format"], warnings_from_check=warnings)
        if packages_plan:
            path, data, changed = packages_plan
            result["artifact"]["packages"] = packages.summary(path, data)
            result["changed"] = result["changed"] or changed
        return result

    def _inspect(self, src):
        """src's real format and virtual size, refused when unsafe or not the declared format; qemu-img check."""
        found = diskimage.inspect_file(src)
        mismatch = diskimage.format_mismatch(src, found["format"], self.params["format"])
        if mismatch:
            raise diskimage.UnsafeImageError(mismatch, detected_format=found["format"])
        warnings = diskimage.qemu_img_check(self.ansible.run_command, src, found["format"])
        for warning in warnings:
            self.ansible.warn(warning)
        return found, warnings

    def _plan(self, src, found, source_sha512):
        params = self.params
        dest = params["dest"]
        wanted = dict(
            source_sha512=source_sha512,
            disk_format=params["dest_format"] or found["format"],
            compression=params["compression"],
            inputs=params["inputs"],
            source=params["source"] or src,
        )
        apart = dest is not None and os.path.abspath(dest) != os.path.abspath(src)
        recorded = diskimage.read_manifest(dest) if apart else None
        dest_sha512 = sha512_of(dest) if apart and os.path.isfile(dest) else None
        return diskimage.plan_artifact(
            src, found["format"], dest, params["dest_format"], wanted, recorded, dest_sha512, params["force"]
        )

    def _execute(self, plan, src, found, packages_plan):
        """Convert (and compare) into plan.path and record the manifest, then write the package manifest. Returns
        the new artifact's (sha512, build_date), or None when nothing was converted."""
        built = None
        if plan.changes:
            parent = os.path.dirname(os.path.abspath(plan.path))
            if not os.path.isdir(parent):
                os.makedirs(parent)
            diskimage.convert_and_compare(
                self.ansible.run_command, src, found["format"], plan.path, plan.disk_format, self.params["compression"]
            )
            built = sha512_of(plan.path), utc_now()
            diskimage.write_manifest(plan.path, dict(plan.wanted, artifact_sha512=built[0], build_date=built[1]))
        if packages_plan and packages_plan[2]:
            path, data, dummy = packages_plan
            try:
                write_atomically(path, data, mode=0o644)
            except (IOError, OSError) as exc:
                raise ValidationError("cannot write the package manifest %s: %s" % (path, exc.strerror or exc))
        return built

    def _result(self, plan, found, source_sha512, built):
        """The artifact as the plan leaves it: as built, as it stands, or (check mode) as it would be built."""
        if plan.action == diskimage.USE_SOURCE:
            sha512, build_date = source_sha512, self._file_date(plan.path)
        elif plan.action == diskimage.UP_TO_DATE:
            sha512, build_date = plan.recorded.get("artifact_sha512"), plan.recorded.get("build_date")
        else:
            sha512, build_date = built or (None, None)
        artifact = self._artifact(plan.path, dict(found, format=plan.disk_format), sha512, source_sha512, build_date)
        if plan.changes and not built:
            artifact["size"] = None
        result = dict(changed=plan.changes, artifact=artifact)
        if plan.changes:
            result["diff"] = plan.diff(build_date or "(now)")
        return result

    def _predicted(self):
        """Check mode, with a src that an earlier step would have made: the artifact as far as the options say."""
        params = self.params
        path = params["dest"] or params["src"]
        disk_format = params["dest_format"] or params["format"]
        artifact = dict(
            path=path,
            disk_format=disk_format,
            qemu_format=QEMU_FORMATS.get(disk_format),
            container_format="bare",
            source=params["source"] or params["src"],
        )
        return dict(changed=True, artifact=artifact, msg="%s does not exist yet (check mode)" % params["src"])

    def _package_manifest(self, artifact_path):
        """(the package manifest's path, its bytes, whether the file on disk differs) from packages_from."""
        source = self.params["packages_from"]
        try:
            with open(source, "rb") as handle:
                text = handle.read().decode("utf-8", "replace")
        except (IOError, OSError) as exc:
            raise ValidationError("cannot read packages_from %s: %s" % (source, exc.strerror or exc))
        data = packages.manifest_bytes(packages.read_packages(text, "packages_from %s" % source))
        path = artifact_path + ".packages.json"
        try:
            with open(path, "rb") as handle:
                changed = handle.read() != data
        except (IOError, OSError):
            changed = True
        return path, data, changed

    def _artifact(self, path, found, sha512, source_sha512, build_date):
        return dict(
            path=path,
            disk_format=found["format"],
            qemu_format=QEMU_FORMATS.get(found["format"]),
            container_format="bare",
            size=os.path.getsize(path) if os.path.exists(path) else None,
            virtual_size=found["virtual_size"],
            min_disk=diskimage.min_disk_gib(found["virtual_size"]),
            sha512=sha512,
            source=self.params["source"] or self.params["src"],
            source_sha512=source_sha512,
            build_date=build_date,
        )

    @staticmethod
    def _file_date(path):
        modified = datetime.datetime.fromtimestamp(os.path.getmtime(path), datetime.timezone.utc)
        return modified.strftime("%Y-%m-%dT%H:%M:%SZ")


def main():
    DiskImageModule()()


if __name__ == "__main__":
    main()
