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

import re

from ansible_collections.osimages.glance.plugins.module_utils._catalog import LATEST
from ansible_collections.osimages.glance.plugins.module_utils._catalog import natural_key
from ansible_collections.osimages.glance.plugins.module_utils._errors import ValidationError
from ansible_collections.osimages.glance.plugins.module_utils._transfer import CHECKSUM_ALGORITHMS

SOURCE_CHECKSUM_PROPERTY = "osimages_source_checksum"
# A digest's length tells its algorithm when the file does not say it.
ALGORITHM_BY_LENGTH = {32: "md5", 64: "sha256", 128: "sha512"}
_HEX = r"[0-9A-Fa-f]{32,128}"
# GNU coreutils: "HEX  NAME" (text mode) or "HEX *NAME" (binary mode).
_GNU_LINE = re.compile(r"^(%s)\s+\*?(.+?)\s*$" % _HEX)
# BSD / --tag style, as Fedora's CHECKSUM files: "SHA256 (NAME) = HEX".
_TAGGED_LINE = re.compile(r"^([A-Za-z0-9-]+)\s*\((.+)\)\s*=\s*(%s)\s*$" % _HEX)
_BARE = re.compile(r"^(%s)(\s+\S.*)?$" % _HEX)


def _algorithm(name, digest):
    algo = (name or ALGORITHM_BY_LENGTH.get(len(digest), "")).lower().replace("-", "")
    if algo not in CHECKSUM_ALGORITHMS or len(digest) != {"md5": 32, "sha256": 64, "sha512": 128}[algo]:
        return None
    return algo


def _basename(name):
    return name.strip().replace("\\", "/").rsplit("/", 1)[-1]


def _lines(text):
    """The lines that carry checksums: comments, blank lines and an OpenPGP clearsign wrapper left out."""
    in_signature = False
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("-----BEGIN PGP SIGNATURE"):
            in_signature = True
        elif line.startswith("-----END PGP SIGNATURE"):
            in_signature = False
        elif line and not in_signature and not line.startswith(("#", "-----", "Hash:")):
            yield line


def parse_checksum_file(text, filename, where="the checksum file"):
    """The ``ALGO:HEX`` that a checksum file gives ``filename`` (a base name).

    Shapes: ``HEX  NAME``, ``HEX *NAME``, ``ALGO (NAME) = HEX``, and a file holding one bare ``HEX`` (a
    sidecar file, which names no file). Names match by their base name. When a file lists the name with several
    algorithms, the strongest one wins. Raises ValidationError saying what the file holds instead.
    """
    found = {}
    names = []
    bare = []
    for line in _lines(text):
        tagged = _TAGGED_LINE.match(line)
        gnu = None if tagged else _GNU_LINE.match(line)
        if tagged or gnu:
            algo_name, name, digest = tagged.groups() if tagged else (None,) + gnu.groups()[::-1]
            name = _basename(name)
            names.append(name)
            algo = _algorithm(algo_name, digest)
            if name == filename and algo:
                found[algo] = digest.lower()
        elif _BARE.match(line):
            bare.append(_BARE.match(line).group(1))
    for algo in ("sha512", "sha256", "md5"):
        if algo in found:
            return "%s:%s" % (algo, found[algo])
    if not names and len(bare) == 1 and _algorithm(None, bare[0]):
        return "%s:%s" % (_algorithm(None, bare[0]), bare[0].lower())
    if filename in names:
        raise ValidationError("%s lists %s, but not with an md5, sha256 or sha512 digest" % (where, filename))
    if names:
        shown = ", ".join(sorted(set(names))[:5]) + (", ..." if len(set(names)) > 5 else "")
        raise ValidationError("%s does not list %s (it lists %s)" % (where, filename, shown))
    raise ValidationError(
        "%s holds no checksum in a known shape (HEX  NAME, HEX *NAME, ALGO (NAME) = HEX, or one bare HEX)" % where
    )


def url_filename(url):
    """The base name of a URL's path: what a checksum file calls the file."""
    path = url.split("?", 1)[0].split("#", 1)[0]
    return path.rstrip("/").rsplit("/", 1)[-1]


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
