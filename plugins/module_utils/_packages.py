# -*- coding: utf-8 -*-
# Copyright: Contributors to the osimages.glance collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal use only: this file is not part of the collection's public API.
"""The packages installed in a built image, as a manifest that two builds from the same inputs write alike.

Read from what the builders leave: dpkg's status file (``var/lib/dpkg/status`` of an mmdebstrap tree) or
diskimage-builder's dpkg manifest (``<image>.d/dib-manifests/dib-manifest-dpkg-<image>``, JSON). The manifest is
the installed packages' name, version and architecture, sorted, as canonical JSON. Pure functions.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json

from ansible_collections.osimages.glance.plugins.module_utils._errors import ValidationError

# The image properties publication records (see roles/image_publish).
COUNT_PROPERTY = "osimages_packages_count"
SHA256_PROPERTY = "osimages_packages_sha256"


def from_dpkg_status(text):
    """The installed packages of a dpkg status file: [{name, version, architecture}]."""
    packages = []
    for stanza in text.split("\n\n"):
        fields = {}
        key = None
        for line in stanza.splitlines():
            if line[:1] in (" ", "\t"):
                continue  # a continuation line (Description, Conffiles): not needed
            key, sep, value = line.partition(":")
            if sep:
                fields[key.strip().lower()] = value.strip()
        if fields.get("package") and fields.get("status", "").split()[-1:] == ["installed"]:
            packages.append(
                dict(
                    name=fields["package"],
                    version=fields.get("version", ""),
                    architecture=fields.get("architecture", ""),
                )
            )
    return packages


def from_dib_manifest(text):
    """The installed packages of diskimage-builder's dpkg manifest ({"packages": [{package, arch, version,
    status}]}, status ``ii`` for installed); ``package`` may carry ``:arch``."""
    try:
        entries = json.loads(text)["packages"]
    except (ValueError, KeyError, TypeError):
        raise ValidationError("not a diskimage-builder dpkg manifest (JSON with a list 'packages')")
    return [
        dict(name=entry["package"].split(":")[0], version=entry.get("version", ""), architecture=entry.get("arch", ""))
        for entry in entries
        if isinstance(entry, dict) and entry.get("package") and entry.get("status", "ii").strip() == "ii"
    ]


def read_packages(text, where):
    """The installed packages in ``text``: a DIB manifest (JSON) or a dpkg status file; ValidationError when it is
    neither, or lists none."""
    packages = from_dib_manifest(text) if text.lstrip().startswith("{") else from_dpkg_status(text)
    if not packages:
        raise ValidationError("%s lists no installed package: is it a dpkg status file or a DIB dpkg manifest?" % where)
    return packages


def manifest_bytes(packages):
    """The manifest as canonical JSON bytes: sorted, without duplicates, so that the same packages give the same
    bytes (and the same sha256) whatever order they were listed in."""
    unique = sorted(set((p["name"], p["version"], p["architecture"]) for p in packages))
    rows = [dict(name=name, version=version, architecture=arch) for name, version, arch in unique]
    return (json.dumps({"packages": rows}, indent=1, sort_keys=True) + "\n").encode("utf-8")


def summary(path, data):
    """What the artifact says of its manifest: where, its sha256 and how many packages."""
    return dict(path=path, sha256=hashlib.sha256(data).hexdigest(), count=len(json.loads(data)["packages"]))
