# -*- coding: utf-8 -*-
# Copyright: Contributors to the osimages.glance collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal use only: this file is not part of the collection's public API.
"""Upstream's moving "latest" files, resolved to a catalog version, and the checksum files that name them.

Upstreams publish a cloud image under a name that moves (``.../current/debian-13-genericcloud-amd64.qcow2``),
next to a checksum file. A catalog follows such a file with ``latest_url`` + ``latest_checksum_url`` on the image,
or with a version called ``latest`` (``url`` + ``checksums_url`` or ``checksum_url``), as openstack-image-manager
does. Before planning, each one becomes an ordinary version:

- its checksum is read from the checksum file, in any of the shapes upstreams publish (``parse_checksum_file``);
- a version the catalog lists with that same checksum already *is* it; otherwise a version in Glance that
  recorded the checksum (property ``osimages_source_checksum``) is; otherwise it is new, and takes the date of
  the upstream file (``Last-Modified``), made unique within the series.

So a run that finds the upstream file unchanged plans nothing, and a new upstream file becomes a new version
that the planner rotates in like any other. Pure functions: the caller passes a ``fetch`` object that does the
HTTP reads.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


from ansible_collections.osimages.glance.plugins.module_utils._catalog import LATEST
from ansible_collections.osimages.glance.plugins.module_utils._catalog import natural_key

SOURCE_CHECKSUM_PROPERTY = "osimages_source_checksum"


def latest_entry(image):
    """(index, url, checksum file URL) of the version an image follows upstream by, or None.

    A version called ``latest`` wins over the image's ``latest_url``; it falls back on ``latest_checksum_url``
    for its checksum file. ``index`` is None when the version comes from ``latest_url`` alone.
    """
    for index, version in enumerate(image["versions"]):
        if version["version"] == LATEST:
            return index, version["url"], version["checksums_url"] or image["latest_checksum_url"]
    if image["latest_url"]:
        return None, image["latest_url"], image["latest_checksum_url"]
    return None


def resolve_latest(image, checksum, modified, series_images, version_property):
    """``image`` with its latest entry replaced by the version ``checksum`` resolves to (see the module doc).

    ``modified`` returns the upstream file's date (a ``datetime.date``); it is asked only when the version is
    new. ``series_images`` are the normalized Glance images of the image's series. Returns a new image dict;
    ``image`` is not changed.
    """
    index, url, checksums_url = latest_entry(image)
    versions = [dict(version) for position, version in enumerate(image["versions"]) if position != index]
    if any(version["checksum"] == checksum for version in versions):
        return dict(image, versions=versions)  # the catalog lists it already, under its own version
    taken = set(version["version"] for version in versions)
    taken.update(glance["properties"].get(version_property) for glance in series_images)
    number = None
    for glance in sorted(series_images, key=lambda item: item.get("created_at") or ""):
        if glance["properties"].get(SOURCE_CHECKSUM_PROPERTY) == checksum:
            number = glance["properties"].get(version_property)
    build_date = None
    if not number:
        build_date = modified()
        number = base = build_date.strftime("%Y%m%d")
        suffix = 1
        while number in taken:
            number = "%s.%d" % (base, suffix)
            suffix += 1
    template = image["versions"][index] if index is not None else {}
    resolved = {
        "version": number,
        "url": url,
        "mirror_url": template.get("mirror_url"),
        "checksum": checksum,
        "checksums_url": checksums_url,
        "artifact": None,
        "build_date": template.get("build_date") or build_date,
        "visibility": template.get("visibility"),
        "hidden": template.get("hidden"),
        "os_version": template.get("os_version"),
        "id": None,
        "source": template.get("source"),
        "image_description": template.get("image_description"),
        "meta": dict(template.get("meta") or {}, **{SOURCE_CHECKSUM_PROPERTY: checksum}),
    }
    versions.append(resolved)
    versions.sort(key=lambda version: natural_key(version["version"]))
    return dict(image, versions=versions)
