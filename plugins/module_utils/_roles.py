# -*- coding: utf-8 -*-
# Copyright: Contributors to the osimages.glance collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal use only: this file is not part of the collection's public API.
"""What the roles would otherwise compute in Jinja, as pure functions behind the collection's filter plugins
(plugins/filter/roles.py): image_build's needed commands, image_publish's catalog entry, and catalog_publish's
bookkeeping of its transfers (which failed and why, where each download landed)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import re

# What each part of a build runs, by role variable: (the condition's name, the commands).
_ALWAYS = ["qemu-img"]
_BACKEND_COMMANDS = {
    ("rootfs", None): ["mmdebstrap", "mkfs.ext4"],
    ("dib", "vm"): ["kpartx", "dmsetup", "sudo", "debootstrap"],
    ("dib", "baremetal"): ["sudo", "debootstrap"],
}


def build_commands(backend, dib_type=None, customize=False, boot_test=False, cloud_init=False):
    """The commands image_build needs on its host for a build with these settings, in the order it runs them."""
    commands = list(_ALWAYS)
    commands += _BACKEND_COMMANDS.get((backend, dib_type if backend == "dib" else None), [])
    if customize:
        commands.append("virt-customize")
    if boot_test:
        commands.append("qemu-system-x86_64")
        if cloud_init:
            commands.append("cloud-localds")
    return commands


def _int(value):
    """Jinja's ``int`` filter: 0 for what is not a number."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _file_date(mtime):
    return datetime.datetime.fromtimestamp(_int(mtime), tz=datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def publish_version(artifact, version, file_mtime):
    """The version image_publish publishes: ``version`` when given, else the artifact's build date (or, lacking
    one, the file's modification time) in digits, T and Z: ``2026-12-07T10:00:00Z`` -> ``20261207T100000Z``."""
    if version not in (None, ""):
        return str(version)
    return re.sub("[^0-9TZ]", "", artifact.get("build_date") or _file_date(file_mtime))


def publish_entry(artifact, options):
    """image_publish's publication as a catalog of one image: the catalog entry for ``artifact`` (image_build's
    fact) with the role's ``options`` (name, version, description, original_user, properties, tags, visibility,
    members, min_ram, method, stores, keep, keep_deactivated, kernel_and_ramdisk, and the artifact file's
    ``file_mtime`` and ``file_sha512`` from stat, used when the artifact does not carry them)."""
    file_date = _file_date(options.get("file_mtime"))
    version = publish_version(artifact, options.get("version"), options.get("file_mtime"))
    sha512 = artifact.get("sha512") or options.get("file_sha512")
    if options["method"] == "web-download":  # Glance fetches the artifact's URL itself
        source = {"url": artifact.get("url", ""), "checksum": "sha512:%s" % sha512}
    else:
        source = {"artifact": {"path": artifact["path"], "sha512": sha512}}
    if options.get("kernel_and_ramdisk"):  # published with the image as companion images (see _catalog.py)
        source["kernel"] = {"artifact": {"path": artifact.get("kernel")}}
        source["ramdisk"] = {"artifact": {"path": artifact.get("initrd")}}
    packages = artifact.get("packages") or {}
    stamp = {
        "image_build_date": artifact.get("build_date") or file_date,
        "image_source": artifact.get("source") or artifact["path"],
        "image_description": options.get("description") or "",
        # The build's package manifest (image_build's rootfs and dib backends): a digest and a count.
        "osimages_packages_sha256": packages.get("sha256", ""),
        "osimages_packages_count": str(packages.get("count", "")),
    }
    properties = dict(options.get("properties") or {})
    properties["uuid_validity"] = "last-%d" % (_int(options.get("keep")) + 1)
    return {
        "name": options["name"],
        "format": artifact["disk_format"],
        "container_format": artifact.get("container_format", "bare"),
        "login": options.get("original_user") or "",
        "status": "active",
        "visibility": options["visibility"],
        "members": list(options.get("members") or []),
        "multi": True,
        "versioned_name": "{name}-{version}",
        "separator": "-",
        "min_disk": _int(artifact.get("min_disk", 0)),
        "min_ram": _int(options.get("min_ram")),
        "method": options["method"],
        "stores": list(options.get("stores") or []),
        "tags": list(options.get("tags") or []),
        "meta": properties,
        "keep_deactivated": _int(options.get("keep_deactivated")),
        "versions": [dict(source, version=version, meta=dict((k, v) for k, v in stamp.items() if v != ""))],
    }


def _transfer_of(result):
    """The transfer a loop result was for: its loop item, through the loop of async jobs that started it."""
    item = result
    while isinstance(item, dict) and "key" not in item and item.get("ansible_loop_var") in item:
        item = item[item["ansible_loop_var"]]
    return item if isinstance(item, dict) and "key" in item else None


def transfer_errors(results, default="the transfer failed"):
    """{transfer key: message} of the failed results of a loop over glance_catalog's transfers (or over the async
    jobs such a loop started)."""
    errors = {}
    for result in results or []:
        transfer = _transfer_of(result)
        if transfer is not None and result.get("failed"):
            errors[transfer["key"]] = result.get("msg") or default
    return errors


def transfer_paths(results):
    """{transfer key: path} of the downloads that succeeded, from a loop of disk_image_fetch over transfers."""
    paths = {}
    for result in results or []:
        transfer = _transfer_of(result)
        if transfer is not None and not result.get("failed") and not result.get("skipped") and result.get("path"):
            paths[transfer["key"]] = result["path"]
    return paths


# The connection options a role may override (each also in the modules' connection_spec).
ROLE_CONNECTION_OPTIONS = ("cloud", "region_name", "interface", "ca_cert")


def connection_overrides(options):
    """The connection options a role was given (``options``: option name to the role variable's value), without the
    unset ones (None or empty): the role sets these as module_defaults of its modules, over the play's own.

    Only what was given: a key with an empty or omitted value would hide the play's module_defaults for the group
    (ansible-core drops an omitted argument together with its default)."""
    unknown = sorted(set(options) - set(ROLE_CONNECTION_OPTIONS))
    if unknown:
        raise ValueError("not a connection option a role overrides: %s" % ", ".join(unknown))
    return dict((key, value) for key, value in options.items() if value not in (None, ""))
