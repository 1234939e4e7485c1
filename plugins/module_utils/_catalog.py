# -*- coding: utf-8 -*-
# Copyright: Contributors to the osimages.glance collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal use only: this file is not part of the collection's public API.
"""An image catalog, read and checked as a whole before anything touches Glance.

The format is openstack-image-manager's (OSISM): YAML documents with a top-level ``images:`` list, each image
with ``name``, ``format``, ``login``, ``status``, ``visibility``, ``multi``, ``meta``, ``tags``, ``versions`` and
optionally ``latest_url`` / ``latest_checksum_url``. A catalog written for that tool reads here unchanged, with
the same meaning. This collection adds a few keys of its own (``members``, ``stores``, ``method``,
``container_format``, and a version's ``artifact``, ``kernel`` and ``ramdisk``), listed in ``OUR_IMAGE_KEYS`` and
``OUR_VERSION_KEYS``.

An image whose versions name a ``kernel`` and a ``ramdisk`` (an Ironic partition image, or one Nova boots with its
own kernel) comes out as three images: a companion series for each (``aki`` and ``ari``), listed before it, with
its versions, visibility and retention, and the image itself, which the planner links to them (``kernel_id`` and
``ramdisk_id``) version by version.

Pure functions, no I/O: the caller parses the files and passes ``(origin, document)`` pairs. ``load_catalog``
returns the normalized images or raises ``CatalogError`` listing every problem, each with its origin and image.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import re

from ansible_collections.osimages.glance.plugins.module_utils._checksums import parse_checksum
from ansible_collections.osimages.glance.plugins.module_utils._errors import ValidationError
from ansible_collections.osimages.glance.plugins.module_utils._reconcile import CONTAINER_FORMATS
from ansible_collections.osimages.glance.plugins.module_utils._reconcile import DISK_FORMATS
from ansible_collections.osimages.glance.plugins.module_utils._reconcile import VISIBILITIES
from ansible_collections.osimages.glance.plugins.module_utils._scs import REPLACE_FREQUENCIES
from ansible_collections.osimages.glance.plugins.module_utils._scs import parse_date
from ansible_collections.osimages.glance.plugins.module_utils._scs import parse_provided_until
from ansible_collections.osimages.glance.plugins.module_utils._scs import parse_validity

# openstack-image-manager's keys, and what an image gets when it leaves an optional one out.
OSISM_IMAGE_DEFAULTS = {
    "enable": True,
    "keep": False,
    "latest_checksum_url": None,
    "latest_url": None,
    "meta": {},
    "min_disk": 0,
    "min_ram": 0,
    "multi": True,
    "password": None,
    "separator": " ",
    "shortname": None,
    "tags": [],
}
# The keys openstack-image-manager itself refuses to go without.
REQUIRED_IMAGE_KEYS = ("name", "format", "login", "status", "visibility", "versions")
OUR_IMAGE_DEFAULTS = {
    "container_format": "bare",
    # Of the versions uuid_validity lets expire, how many (newest first) stay deactivated before deletion.
    "keep_deactivated": None,
    "members": [],
    "method": "direct",
    "stores": [],
    # The name of a version that is not the current one, as a template of {name} and {version}.
    "versioned_name": None,
}
OSISM_VERSION_KEYS = (
    "build_date",
    "checksum",
    "checksum_url",
    "checksums_url",
    "hidden",
    "id",
    "image_description",
    "meta",
    "mirror_url",
    "os_version",
    "source",
    "url",
    "version",
    "visibility",
)
# ``artifact``: a local file instead of a URL, such as image_build's image_build_artifact fact. ``kernel`` and
# ``ramdisk``: where the version's kernel and ramdisk come from, each a mapping of COMPANION_SOURCE_KEYS.
OUR_VERSION_KEYS = ("artifact", "kernel", "ramdisk")
OUR_IMAGE_KEYS = tuple(OUR_IMAGE_DEFAULTS)
IMAGE_KEYS = frozenset(REQUIRED_IMAGE_KEYS) | frozenset(OSISM_IMAGE_DEFAULTS) | frozenset(OUR_IMAGE_KEYS)
VERSION_KEYS = frozenset(OSISM_VERSION_KEYS) | frozenset(OUR_VERSION_KEYS)
ARTIFACT_KEYS = frozenset(("path", "sha512", "size", "disk_format", "container_format", "min_disk", "build_date"))
# A version's kernel and ramdisk: (version key, the companion's disk and container format, the linking attribute).
COMPANIONS = (("kernel", "aki", "kernel_id"), ("ramdisk", "ari", "ramdisk_id"))
COMPANION_SOURCE_KEYS = frozenset(("url", "mirror_url", "checksum", "artifact"))

STATUSES = ("active", "deactivated")
METHODS = ("direct", "glance-direct", "web-download")
URL_PATTERN = re.compile(r"^(https?|ftps?)://\w")
FILE_URL_PATTERN = re.compile(r"^file:(///)?\w")
# A version that follows upstream's moving "latest" file; resolved to a dated version before planning.
LATEST = "latest"


class CatalogError(ValidationError):
    """Every problem found in a catalog, in one error."""

    def __init__(self, problems):
        self.problems = list(problems)
        lines = ["the catalog has %d problem(s); nothing was changed in Glance:" % len(self.problems)]
        lines.extend("  - %s" % problem for problem in self.problems)
        super(CatalogError, self).__init__("\n".join(lines))


class _Problems(object):
    """Collects problems, each prefixed with where it was found."""

    def __init__(self):
        self.items = []

    def add(self, where, message, *args):
        self.items.append("%s: %s" % (where, message % args if args else message))


def natural_key(version):
    """Sort key that puts 1.10 after 1.9 and 20260102 after 20251231, as openstack-image-manager does."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", str(version)) if part]


def versioned_name(image, version):
    """The name a version of ``image`` carries when it is not the current one (or always, when not multi)."""
    if image.get("versioned_name"):
        return image["versioned_name"].format(name=image["name"], version=version)
    if image["multi"]:
        return "%s%s(%s)" % (image["name"], image["separator"], version)
    return "%s%s%s" % (image["name"], image["separator"], version)


def load_catalog(documents):
    """Check and normalize a catalog given as ``[(origin, document), ...]``; return its images.

    ``origin`` names where the document came from (a file name), for the messages. Images with
    ``enable: false`` are returned too, flagged: the planner retires what they left in Glance.
    Raises CatalogError with every problem found.
    """
    problems = _Problems()
    images = []
    for origin, document in documents:
        if not isinstance(document, dict) or not isinstance(document.get("images"), list):
            problems.add(origin, "a catalog file holds a mapping with an 'images' list")
            continue
        if not document["images"]:
            problems.add(origin, "the 'images' list is empty")
        unknown = sorted(set(document) - {"images"})
        if unknown:
            problems.add(origin, "unknown top-level key(s): %s", ", ".join(unknown))
        for index, raw in enumerate(document["images"]):
            image = _check_image(problems, origin, index, raw)
            if image is not None:
                images.extend(_with_companions(image))
    _check_names(problems, images)
    if problems.items:
        raise CatalogError(problems.items)
    return images


def _check_image(problems, origin, index, raw):
    if not isinstance(raw, dict):
        problems.add("%s, image #%d" % (origin, index + 1), "an image is a mapping")
        return None
    where = "%s, image %r" % (origin, raw.get("name", "#%d" % (index + 1)))
    unknown = sorted(set(raw) - IMAGE_KEYS)
    if unknown:
        problems.add(where, "unknown key(s): %s", ", ".join(unknown))
    missing = [key for key in REQUIRED_IMAGE_KEYS if key not in raw]
    if missing:
        problems.add(where, "missing required key(s): %s", ", ".join(missing))
    image = dict(OSISM_IMAGE_DEFAULTS)
    image.update(OUR_IMAGE_DEFAULTS)
    image.update((key, value) for key, value in raw.items() if key in IMAGE_KEYS and value is not None)
    image["origin"] = origin
    if not isinstance(image.get("name"), str) or not image.get("name", "").strip():
        if "name" in raw:
            problems.add(where, "name must be a non-empty string")
        return None

    _check_choice(problems, where, image, "format", DISK_FORMATS)
    _check_choice(problems, where, image, "container_format", CONTAINER_FORMATS)
    _check_choice(problems, where, image, "status", STATUSES)
    _check_choice(problems, where, image, "visibility", VISIBILITIES)
    _check_choice(problems, where, image, "method", METHODS)
    for key in ("multi", "enable", "keep"):
        if not isinstance(image[key], bool):
            problems.add(where, "%s must be true or false, not %r", key, image[key])
    for key in ("min_disk", "min_ram"):
        if isinstance(image[key], bool) or not isinstance(image[key], int) or image[key] < 0:
            problems.add(where, "%s must be a whole number >= 0, not %r", key, image[key])
    for key in ("tags", "members", "stores"):
        if not isinstance(image[key], list) or not all(isinstance(item, str) and item for item in image[key]):
            problems.add(where, "%s must be a list of non-empty strings", key)
            image[key] = []
    if image["members"] and image.get("visibility") != "shared":
        problems.add(where, "members are only for visibility shared, not %s", image.get("visibility"))
    if not isinstance(image["meta"], dict):
        problems.add(where, "meta must be a mapping of image properties")
        image["meta"] = {}
    image["meta"] = _check_meta(problems, where, image["meta"])
    keep = image["keep_deactivated"]
    if keep is not None and (isinstance(keep, bool) or not isinstance(keep, int) or keep < 0):
        problems.add(where, "keep_deactivated must be a whole number >= 0, not %r", keep)
        image["keep_deactivated"] = None
    _check_template(problems, where, image)
    if bool(image["latest_url"]) != bool(image["latest_checksum_url"]):
        problems.add(where, "latest_url and latest_checksum_url go together")
    for key in ("latest_url", "latest_checksum_url"):
        if image[key] and not URL_PATTERN.match(str(image[key])):
            problems.add(where, "%s must be an http(s) or ftp(s) URL", key)

    image["validity"] = None
    if "uuid_validity" in image["meta"]:
        try:
            image["validity"] = parse_validity(image["meta"]["uuid_validity"])
        except ValueError as exc:
            problems.add(where, "meta.uuid_validity: %s", exc)

    versions = raw.get("versions")
    if not isinstance(versions, list):
        if "versions" in raw:
            problems.add(where, "versions must be a list")
        versions = []
    image["versions"] = []
    seen = set()
    for position, version in enumerate(versions):
        checked = _check_version(problems, where, position, version, image)
        if checked is None:
            continue
        if checked["version"] in seen:
            problems.add(where, "version %s is listed twice", checked["version"])
        seen.add(checked["version"])
        image["versions"].append(checked)
    if not versions and not image["latest_url"] and image["enable"]:
        problems.add(where, "an enabled image needs at least one version, or latest_url")
    image["versions"].sort(key=lambda item: natural_key(item["version"]))
    _check_retention(problems, where, image)
    _check_companions(problems, where, image)
    return image


def _check_companions(problems, where, image):
    """A kernel or ramdisk is versioned with the image: every version names one, or none does."""
    for key, dummy, dummy in COMPANIONS:
        having = [version["version"] for version in image["versions"] if version[key]]
        if having and len(having) < len(image["versions"]):
            lacking = [version["version"] for version in image["versions"] if not version[key]]
            problems.add(
                where,
                "%s is given for version(s) %s but not %s: every version needs one, or none",
                key,
                ", ".join(having),
                ", ".join(lacking),
            )
        if having and (image["latest_url"] or LATEST in having):
            problems.add(where, "a %s cannot follow an upstream latest file; list dated versions", key)
    if any(version["kernel"] for version in image["versions"]) != any(
        version["ramdisk"] for version in image["versions"]
    ):
        problems.add(where, "kernel and ramdisk go together: Ironic and Nova boot a kernel with its ramdisk")


def companion_name(image, key):
    """The name of the companion series that holds an image's kernel or ramdisk (``Debian 13 kernel``)."""
    return "%s%s%s" % (image["name"], image["separator"], key)


def _with_companions(image):
    """The image, after a companion image for its kernel and one for its ramdisk when its versions name them.

    A companion follows the image: the same versions, visibility, sharing, status and retention, always hidden
    (it boots nothing alone), with no properties of the image's own but its ``uuid_validity``.
    """
    image["companions"], image["companion_of"] = {}, None
    if not image["versions"] or not all(version["kernel"] and version["ramdisk"] for version in image["versions"]):
        return [image]  # none, or a catalog problem _check_companions reported
    found = []
    for key, disk_format, field in COMPANIONS:
        sources = [version[key] for version in image["versions"]]
        companion = dict(
            image,
            name=companion_name(image, key),
            format=disk_format,
            container_format=disk_format,
            login=None,
            tags=[],
            min_disk=0,
            min_ram=0,
            meta=dict((k, v) for k, v in image["meta"].items() if k == "uuid_validity"),
            method=image["method"] if image["method"] != "web-download" or all(s["url"] for s in sources) else "direct",
            companions={},
            companion_of=image["name"],
            versions=[_companion_version(version, version[key]) for version in image["versions"]],
        )
        image["companions"][field] = companion["name"]
        found.append(companion)
    return found + [image]


def _companion_version(version, source):
    companion = dict(version, checksums_url=None, hidden=True, os_version=None, id=None, source=None, meta={})
    companion.update(image_description=None, kernel=None, ramdisk=None)
    companion.update(source)
    return companion


def _check_template(problems, where, image):
    template = image["versioned_name"]
    if template is None:
        return
    try:
        ok = isinstance(template, str) and "{version}" in template and bool(template.format(name="n", version="v"))
    except (KeyError, IndexError, ValueError):
        ok = False  # a placeholder other than {name} and {version}, or a stray brace
    if not ok:
        problems.add(where, "versioned_name is a template with {version} (and {name}), such as '{name}-{version}'")
        image["versioned_name"] = None


def _check_choice(problems, where, image, key, choices):
    if key in image and image[key] not in choices:
        problems.add(where, "%s must be one of %s, not %r", key, ", ".join(choices), image[key])


def _check_meta(problems, where, meta):
    """Image properties: scalars, as Glance stores strings. The SCS keys are checked for their forms."""
    checked = {}
    for key, value in meta.items():
        if isinstance(value, (dict, list)):
            problems.add(where, "meta.%s must be a single value, not a %s", key, type(value).__name__)
            continue
        checked[str(key)] = value
    frequency = checked.get("replace_frequency")
    if frequency is not None and frequency not in REPLACE_FREQUENCIES:
        problems.add(
            where, "meta.replace_frequency must be one of %s, not %r", ", ".join(REPLACE_FREQUENCIES), frequency
        )
    until = checked.get("provided_until")
    if until is not None and not isinstance(until, datetime.date):
        try:
            parse_provided_until(until)
        except ValueError as exc:
            problems.add(where, "meta.provided_until: %s", exc)
    return checked


def _check_version(problems, where, position, raw, image):
    if not isinstance(raw, dict) or "version" not in raw:
        problems.add(where, "versions[%d] must be a mapping with a version", position)
        return None
    name = str(raw["version"]).strip()
    here = "%s, version %s" % (where, name)
    if not name or not re.match(r"^[A-Za-z0-9._+:~-]+$", name):
        problems.add(here, "a version holds letters, digits and ._+:~- only")
    unknown = sorted(set(raw) - VERSION_KEYS)
    if unknown:
        problems.add(here, "unknown key(s): %s", ", ".join(unknown))
    version = {
        "version": name,
        "url": raw.get("url"),
        "mirror_url": raw.get("mirror_url"),
        # checksum_url (a sidecar with one bare digest) reads like a checksums file that names no file.
        "checksums_url": raw.get("checksums_url") or raw.get("checksum_url"),
        "artifact": raw.get("artifact"),
        "build_date": None,
        "visibility": raw.get("visibility"),
        "hidden": raw.get("hidden"),
        "os_version": raw.get("os_version"),
        "id": raw.get("id"),
        "source": raw.get("source"),
        "image_description": raw.get("image_description"),
        "meta": {},
    }
    if raw.get("meta") is not None:
        if isinstance(raw["meta"], dict):
            version["meta"] = _check_meta(problems, here, raw["meta"])
        else:
            problems.add(here, "meta must be a mapping of image properties")

    if version["url"] is None and version["artifact"] is None:
        problems.add(here, "a version needs a url or an artifact")
    if version["url"] is not None and version["artifact"] is not None:
        problems.add(here, "a version has a url or an artifact, not both")
    _check_source_urls(problems, here, version)
    if raw.get("checksums_url") and raw.get("checksum_url"):
        problems.add(here, "checksums_url and checksum_url are two ways to say one thing: give one")
    if version["checksums_url"] is not None and not URL_PATTERN.match(str(version["checksums_url"])):
        problems.add(here, "checksums_url must be an http(s) or ftp(s) URL")
    if name == LATEST and not (version["checksums_url"] or image["latest_checksum_url"]):
        problems.add(here, "version latest needs checksums_url: without it a new upstream file goes unnoticed")
    if name == LATEST and version["url"] is not None and not URL_PATTERN.match(str(version["url"])):
        problems.add(here, "version latest follows an http(s) or ftp(s) url, not %r", version["url"])
    version["checksum"] = _check_checksum(problems, here, raw.get("checksum"))
    if version["artifact"] is not None:
        version["artifact"] = _check_artifact(problems, here, version["artifact"])
    for key, dummy, dummy in COMPANIONS:
        version[key] = _check_companion_source(problems, here, key, raw.get(key)) if raw.get(key) else None
    if raw.get("build_date") is not None:
        value = raw["build_date"]
        if isinstance(value, datetime.datetime):
            value = value.date()
        if not isinstance(value, datetime.date):
            try:
                value = parse_date(str(value)[:10])
            except ValueError as exc:
                problems.add(here, "build_date: %s", exc)
                value = None
        version["build_date"] = value
    if version["visibility"] is not None and version["visibility"] not in VISIBILITIES:
        problems.add(here, "visibility must be one of %s", ", ".join(VISIBILITIES))
    if version["hidden"] is not None and not isinstance(version["hidden"], bool):
        problems.add(here, "hidden must be true or false")
    if version["id"] is not None and not re.match(r"^[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$", str(version["id"])):
        problems.add(here, "id must be a lower-case UUID")
    return version


def _check_source_urls(problems, where, source):
    for key in ("url", "mirror_url"):
        value = source[key]
        if value is not None and not (URL_PATTERN.match(str(value)) or FILE_URL_PATTERN.match(str(value))):
            problems.add(where, "%s must be an http(s), ftp(s) or file: URL, not %r", key, value)


def _check_checksum(problems, where, value):
    """``ALGO:HEX`` normalized, or None (also when malformed, with the problem recorded)."""
    if value is None:
        return None
    try:
        return "%s:%s" % parse_checksum(str(value))
    except ValidationError as exc:
        problems.add(where, exc.msg)
        return None


def _check_companion_source(problems, here, key, raw):
    """Where a version's kernel or ramdisk comes from: a url (with its checksum) or a local artifact."""
    where = "%s, %s" % (here, key)
    if not isinstance(raw, dict):
        problems.add(where, "a mapping with a url (and checksum) or an artifact")
        return None
    unknown = sorted(set(raw) - COMPANION_SOURCE_KEYS)
    if unknown:
        problems.add(where, "unknown key(s): %s", ", ".join(unknown))
    source = {"url": raw.get("url"), "mirror_url": raw.get("mirror_url"), "checksum": None, "artifact": None}
    if (source["url"] is None) == (raw.get("artifact") is None):
        problems.add(where, "a url or an artifact, one of them")
    _check_source_urls(problems, where, source)
    source["checksum"] = _check_checksum(problems, where, raw.get("checksum"))
    if raw.get("artifact") is not None:
        source["artifact"] = _check_artifact(problems, where, raw["artifact"])
    return source


def _check_artifact(problems, here, artifact):
    """A local file: a path, or a mapping like image_build's artifact fact (path, sha512, disk_format, ...)."""
    if isinstance(artifact, str):
        artifact = {"path": artifact}
    if not isinstance(artifact, dict) or not artifact.get("path"):
        problems.add(here, "artifact is a path, or a mapping with a path (such as image_build_artifact)")
        return None
    checked = dict((key, value) for key, value in artifact.items() if key in ARTIFACT_KEYS)
    if checked.get("sha512"):
        try:
            parse_checksum("sha512:%s" % checked["sha512"])
        except ValidationError as exc:
            problems.add(here, "artifact.%s", exc.msg)
    return checked


def _check_retention(problems, where, image):
    """Settings that cannot all hold: a catalog that lists more versions than its own validity keeps."""
    validity = image["validity"]
    if validity is None or not image["multi"]:
        return
    kind, argument = validity
    listed = len(image["versions"])
    if kind == "last" and listed > argument:
        problems.add(
            where,
            "meta.uuid_validity last-%d keeps %d version(s), but the catalog lists %d; list fewer or keep more",
            argument,
            argument,
            listed,
        )
    if kind == "none" and listed > 1:
        problems.add(where, "meta.uuid_validity none keeps no superseded version, but the catalog lists %d", listed)


def _check_names(problems, images):
    """Every name the catalog gives Glance belongs to one image and one version."""
    owners = {}
    for image in images:
        names = [(image["name"], "its name")]
        names.extend(
            (versioned_name(image, version["version"]), "version %s" % version["version"])
            for version in image["versions"]
        )
        for name, what in names:
            owner = owners.setdefault(name, (image, what))
            if owner[0] is not image:
                problems.add(
                    "%s, image %r" % (image["origin"], image["name"]),
                    "the name %r (%s) is also taken by %s, image %r (%s)",
                    name,
                    what,
                    owner[0]["origin"],
                    owner[0]["name"],
                    owner[1],
                )
