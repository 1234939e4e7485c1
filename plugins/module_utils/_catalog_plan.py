# -*- coding: utf-8 -*-
# Copyright: Contributors to the osimages.glance collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal use only: this file is not part of the collection's public API.
"""The plan that reconciles a whole catalog with Glance, decided from facts alone.

Pure functions, no I/O. Inputs: the images ``_catalog.load_catalog`` returned, the images one listing of the
project returned (normalized by ``_reconcile.normalize``), and the run's options. Output: a ``CatalogPlan``
whose steps say, per Glance image, what happens and why, in an order that never shows two visible images
under one name: an image leaves a name before another one takes it.

How Glance images map to the catalog:

- an image is *managed* when it carries the managed tag and belongs to the project; nothing else is changed;
- its *series* is its ``osimages_series`` property (``image_name`` for images openstack-image-manager made) and
  its *version* is ``internal_version``, as openstack-image-manager sets it;
- ``multi: true``: the newest listed version carries the image's name, the others ``NAME (VERSION)``, hidden;
  ``multi: false``: every version is visible as ``NAME VERSION``, and there is no stable name.

An image with a kernel and a ramdisk (``_catalog.COMPANIONS``) comes after their companion series in the catalog:
each of its versions links the companions' images of the same version (``kernel_id``, ``ramdisk_id``). A new
version is created unlinked; its final step links it, and runs only once the companions hold their data.

Retention follows SCS ``uuid_validity`` (scs-0102): versions the catalog lists always stay; of the others, the
ones still valid stay, hidden (their UUID still boots), and the expired ones are deactivated, or deleted when
deletion is enabled. A protected image is never deleted, nor is a kernel or ramdisk that an image which stays
links; one that only an image deleted in the same run links is deleted after it (``CatalogPlan.runs``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.osimages.glance.plugins.module_utils._catalog import COMPANIONS
from ansible_collections.osimages.glance.plugins.module_utils._catalog import natural_key
from ansible_collections.osimages.glance.plugins.module_utils._catalog import versioned_name
from ansible_collections.osimages.glance.plugins.module_utils._errors import ValidationError
from ansible_collections.osimages.glance.plugins.module_utils._formats import UNINSPECTABLE_FORMATS
from ansible_collections.osimages.glance.plugins.module_utils._queries import derived_image_id
from ansible_collections.osimages.glance.plugins.module_utils._reconcile import desired_from_params
from ansible_collections.osimages.glance.plugins.module_utils._reconcile import has_changes
from ansible_collections.osimages.glance.plugins.module_utils._reconcile import make_plan
from ansible_collections.osimages.glance.plugins.module_utils._scs import parse_validity
from ansible_collections.osimages.glance.plugins.module_utils._signing import CERTIFICATE

SERIES_PROPERTY = "osimages_series"
# openstack-image-manager records the catalog name here; its images join a series through it.
OSISM_SERIES_PROPERTY = "image_name"
VERSION_PROPERTY = "internal_version"
DEFAULT_VALIDITY = "last-3"

# The steps of a plan, in the words the table shows.
CREATE = "create"  # register a new version, hidden and private, under its versioned name
UPLOAD = "upload"  # move its bytes (verified against Glance's hash)
PROMOTE = "promote"  # the version takes the image's name (multi) or becomes visible (not multi)
DEMOTE = "demote"  # the version leaves the image's name: versioned name, hidden
UPDATE = "update"  # metadata, visibility, status or sharing differ from the catalog
HIDE = "hide"  # superseded, still valid: hidden, bootable by ID
DEACTIVATE = "deactivate"  # superseded and expired (and deletion is off, or the image is protected)
DELETE = "delete"  # superseded and expired, deletion on
NOTHING = "nothing"

# Phases: every transfer first (they may run in parallel), then per image the metadata in this order.
TRANSFER, LEAVE_NAME, SETTLE, TAKE_NAME, RETIRE = range(5)
NO_DATA_STATUSES = ("queued", "uploading", "saving", "importing")
# Glance deletes an image in two transactions (glance/db/__init__.py, ImageRepo.remove): it sets the status
# "deleted" and purges the properties, then marks the row deleted. A listing in between (another host rolling
# back, say) sees the image with its tags and without its properties: it is gone, not a managed image that lost
# its series.
GONE_STATUSES = ("deleted", "pending_delete")
# The attributes that link an image to its companions' images.
LINK_FIELDS = tuple(field for dummy, dummy, field in COMPANIONS)
DEAD_STATUSES = ("killed", "deleted", "pending_delete")


class CatalogPlanError(ValidationError):
    """Facts in Glance that the catalog cannot be reconciled with, all of them."""

    def __init__(self, problems):
        self.problems = list(problems)
        lines = ["the catalog cannot be published as it is; nothing was changed in Glance:"]
        lines.extend("  - %s" % problem for problem in self.problems)
        super(CatalogPlanError, self).__init__("\n".join(lines))


class Step(object):
    """One action on one Glance image (or a new one), with its reason."""

    def __init__(
        self, phase, action, image, version, reason, image_id=None, name=None, params=None, source=None, seed=None
    ):
        self.phase = phase
        self.action = action
        self.image = image  # the catalog's name of the image (the series)
        self.version = version
        self.reason = reason
        self.image_id = image_id  # None until a new version is created (CREATE carries the ID it will take)
        self.name = name  # the Glance name the image has after this step
        self.params = params or {}  # glance_image options (CREATE, PROMOTE, DEMOTE, UPDATE, HIDE, DEACTIVATE)
        self.source = source  # UPLOAD: the version's url / artifact / checksum
        self.seed = seed  # CREATE: where further IDs derive from, when Glance keeps image_id for a deleted image

    @property
    def changes(self):
        return self.action != NOTHING

    def as_dict(self):
        return {
            "image": self.image,
            "version": self.version,
            "action": self.action,
            "reason": self.reason,
            "id": self.image_id,
            "name": self.name,
        }

    def __repr__(self):
        return "Step(%s %s %s: %s)" % (self.action, self.image, self.version, self.reason)


class CatalogPlan(object):
    def __init__(self, steps, companions=(), linked=()):
        self.companions = frozenset(companions)  # the series that hold another image's kernel or ramdisk
        self.linked = frozenset(linked)  # the IDs some image in Glance links as its kernel or ramdisk
        # Image by image, as they run; within an image, by phase (a name is left before it is taken).
        first_seen = {}
        for step in steps:
            first_seen.setdefault(step.image, len(first_seen))
        self.steps = sorted(steps, key=lambda step: (first_seen[step.image], step.phase))

    @property
    def changes(self):
        return any(step.changes for step in self.steps)

    def for_image(self, image):
        return [step for step in self.steps if step.image == image]

    def runs(self, names):
        """``(image, steps)`` in the order they run, for the images ``names`` (in catalog order).

        Image by image: a kernel and a ramdisk hold their new versions before the image that links them. The
        deletion of an image that another one links runs last, after every other step: by then the image that
        linked it is gone too, and a run that stops half-way leaves an unused kernel, never an image pointing at
        a deleted one.
        """

        def last(step):
            return step.action == DELETE and step.image_id in self.linked

        runs = [(name, [step for step in self.for_image(name) if not last(step)]) for name in names]
        runs += [(name, [step for step in self.for_image(name) if last(step)]) for name in names]
        return [(name, steps) for name, steps in runs if steps]

    def uploads_pending(self, images):
        """Whether a version of any of ``images`` still waits for its bytes."""
        return any(step.action == UPLOAD and step.image in images for step in self.steps)

    def as_list(self):
        return [step.as_dict() for step in self.steps]

    def published(self, images_by_id):
        """Each version the catalog lists, as the plan leaves it: its name, ID, hidden flag, min_disk, min_ram and
        properties (merged over the ones Glance holds, which the plan does not purge). What the SCS audit checks."""
        states = []
        for step in self.steps:
            if step.action in (CREATE, UPLOAD) or "properties" not in step.params or step.image in self.companions:
                continue  # a kernel or ramdisk is not an image users boot: the audit is the image's own
            held = images_by_id.get(step.image_id) or {}
            states.append(
                {
                    "name": step.name,
                    "id": step.image_id,
                    "hidden": step.params.get("hidden"),
                    "min_disk": step.params.get("min_disk"),
                    "min_ram": step.params.get("min_ram"),
                    "properties": dict(held.get("properties") or {}, **step.params["properties"]),
                }
            )
        return states

    def diff(self, images_by_id):
        """Diff mode: each image a step changes, as Glance holds it and as the plan leaves it (None: deleted)."""
        before, after = {}, {}
        for step in self.steps:
            if not step.changes or step.action == UPLOAD:
                continue
            key = "%s %s" % (step.image, step.version)
            current = images_by_id.get(step.image_id)
            if current is not None and key not in before:
                before[key] = _summary(current)
            if step.action == DELETE:
                after[key] = None
                continue
            state = dict(after.get(key) or before.get(key) or {"status": "queued"})
            state.update((field, step.params[field]) for field in _SUMMARY_FIELDS if field in step.params)
            if step.params.get("status"):
                state["status"] = step.params["status"]
            state.update(id=current["id"] if current else step.image_id)
            after[key] = state
        return {"before": before, "after": after}

    def table(self):
        """The plan as fixed-width text, for an approval step to show as it is."""
        rows = [("IMAGE", "VERSION", "ACTION", "REASON")]
        rows.extend((step.image, step.version or "-", step.action, step.reason) for step in self.steps)
        widths = [max(len(str(row[column])) for row in rows) for column in range(3)]
        return [
            "%-*s  %-*s  %-*s  %s" % (widths[0], row[0], widths[1], row[1], widths[2], row[2], row[3]) for row in rows
        ]


_SUMMARY_FIELDS = ("name", "visibility", "hidden", "min_disk", "min_ram", "tags")


def _summary(image):
    summary = dict((field, image[field]) for field in _SUMMARY_FIELDS)
    summary.update(id=image["id"], status=image["status"])
    return summary


def present(raws):
    """The images of a listing that Glance is not deleting (see GONE_STATUSES)."""
    return [raw for raw in raws if raw.get("status") not in GONE_STATUSES]


def series_of(image):
    properties = image["properties"]
    return properties.get(SERIES_PROPERTY) or properties.get(OSISM_SERIES_PROPERTY) or None


def is_managed(image, managed_tag, project_id):
    """Carries the managed tag (or, without one, the series property) and belongs to the project."""
    marked = managed_tag in image["tags"] if managed_tag else SERIES_PROPERTY in image["properties"]
    return marked and (project_id is None or image["owner"] == project_id)


def validity_keeps(validity, rank, today):
    """Whether a superseded version of ``rank`` (0 = the newest version of its series) is still valid."""
    kind, argument = validity
    if kind in ("forever", "notice"):
        return True
    if kind == "last":
        return rank < argument
    if kind == "date":
        return today <= argument
    return False


def describe_validity(validity):
    kind, argument = validity
    return kind if argument is None else ("last-%d" % argument if kind == "last" else str(argument))


def plan_catalog(
    catalog, glance_images, managed_tag, project_id, today, delete_retired=False, signing_certificate=None
):
    """The whole plan, or CatalogPlanError listing every fact that stands in its way.

    ``signing_certificate``: the catalog is signed with the key of this certificate (its UUID in Barbican); a version
    Glance holds that is not signed with it stops the run.
    """
    problems = []
    managed = [image for image in glance_images if is_managed(image, managed_tag, project_id)]
    by_series = {}
    for image in managed:
        by_series.setdefault(series_of(image), []).append(image)
    if None in by_series:
        ids = ", ".join(sorted(image["id"] for image in by_series.pop(None)))
        problems.append(
            "image(s) %s carry the managed tag %s but no %s property: set it, or remove the tag"
            % (ids, managed_tag, SERIES_PROPERTY)
        )

    _check_strangers(problems, catalog, glance_images, managed_tag, project_id)
    if signing_certificate:
        _check_signed(problems, catalog, by_series, signing_certificate)
    # A kernel or ramdisk that an image which stays links is not deleted (pinned). Which images stay is known only
    # once planned, and a pinned one may stay linking others in turn: plan again until no deletion is pinned.
    pinned = set()
    while True:
        found = list(problems)
        steps = _plan_series(found, catalog, by_series, managed_tag, project_id, today, delete_retired, pinned)
        deleted = set(step.image_id for step in steps if step.action == DELETE)
        held = _links(image for image in glance_images if image["id"] not in deleted) & deleted
        if not held:
            break
        pinned |= held
    if found:
        raise CatalogPlanError(found)
    companions = [image["name"] for image in catalog if image["companion_of"]]
    return CatalogPlan(steps, companions=companions, linked=_links(glance_images))


def _links(images):
    """The IDs ``images`` link as their kernel or ramdisk."""
    return set(image.get(field) for image in images for field in LINK_FIELDS if image.get(field))


def _plan_series(problems, catalog, by_series, managed_tag, project_id, today, delete_retired, pinned):
    """The steps of every series: the catalog's images, then the managed series it no longer lists."""
    steps = []
    published = set()
    planned_ids = {}  # (series, version) -> the image ID it has or takes, for the images that link to it
    for image in catalog:
        published.add(image["name"])
        series = by_series.get(image["name"], [])
        if image["enable"]:
            image_steps = _plan_image(
                problems, image, series, managed_tag, project_id, today, delete_retired, planned_ids, pinned
            )
            planned_ids.update(((step.image, step.version), step.image_id) for step in image_steps if step.image_id)
            steps.extend(image_steps)
        else:
            retention = Retention(image["validity"], today, delete_retired, image["keep_deactivated"], pinned)
            steps.extend(_retire_series(image["name"], series, retention, "the catalog disables it"))
    for series_name in sorted(set(by_series) - published):
        series = by_series[series_name]
        newest = max(series, key=_version_key)
        try:
            validity = parse_validity(newest["properties"].get("uuid_validity") or DEFAULT_VALIDITY)
        except ValueError:
            validity = None
        retention = Retention(validity, today, delete_retired, pinned=pinned)
        steps.extend(_retire_series(series_name, series, retention, "no longer in the catalog"))
    return steps


def _version_key(image):
    return natural_key(image["properties"].get(VERSION_PROPERTY, "")), image.get("created_at") or ""


def visible_names(image):
    """The names an enabled catalog image shows (visible) in Glance."""
    if image["multi"]:
        return [image["name"]]
    return [versioned_name(image, version["version"]) for version in image["versions"] if not version["hidden"]]


def _check_strangers(problems, catalog, glance_images, managed_tag, project_id):
    """A visible image that holds a name the catalog shows, and is not one of its versions, stops the run."""
    marker = "the tag %s" % managed_tag if managed_tag else "the property %s" % SERIES_PROPERTY
    wanted = {}
    for image in catalog:
        if image["enable"]:
            for name in visible_names(image):
                wanted[name] = image["name"]
    for glance in glance_images:
        owner = wanted.get(glance["name"])
        if owner is None or glance["hidden"]:
            continue
        if not is_managed(glance, managed_tag, project_id):
            problems.append(
                "image %s (%s) already holds the name %r without being a version of it (it lacks %s, or belongs to "
                "another project): rename or hide it, or adopt it by setting %s=%s and %s%s"
                % (
                    glance["id"],
                    glance["status"],
                    glance["name"],
                    marker,
                    SERIES_PROPERTY,
                    owner,
                    VERSION_PROPERTY,
                    " and adding the tag" if managed_tag else "",
                )
            )
        elif series_of(glance) not in (owner, None):
            problems.append(
                "image %s holds the name %r but belongs to the series %r, not %r"
                % (glance["id"], glance["name"], series_of(glance), owner)
            )


def _check_signed(problems, catalog, by_series, certificate):
    """In a signed catalog, every version Glance holds data for carries a signature with the catalog's certificate
    (Glance verified it on upload), and no image lets Glance fetch its bytes where nothing here can sign them."""
    for image in catalog:
        if not image["enable"]:
            continue
        if image["method"] == "web-download":
            problems.append(
                "%s: method web-download lets Glance fetch the bytes, and nothing here can sign them; a signed "
                "catalog uploads them (method direct or glance-direct)" % image["name"]
            )
        listed = set(version["version"] for version in image["versions"])
        for glance in by_series.get(image["name"], []):
            version = glance["properties"].get(VERSION_PROPERTY)
            signed_with = glance["properties"].get(CERTIFICATE)  # Glance verified the signature on upload
            if (
                version not in listed
                or glance["status"] in NO_DATA_STATUSES + DEAD_STATUSES
                or signed_with == certificate
            ):
                continue
            problems.append(
                "%s: version %s is image %s, which is %s; a signed catalog publishes only versions signed with the "
                "certificate %s: publish it again as a new version, signed"
                % (
                    image["name"],
                    version,
                    glance["id"],
                    "signed with the certificate %s" % signed_with if signed_with else "not signed",
                    certificate,
                )
            )


def _wanted_properties(image, version, osism):
    """What every version carries, plus the series that ties them together.

    ``osism``: also what openstack-image-manager sets (``image_name``, a default ``image_description``). The
    SCS properties it derives (``image_source``, ``image_build_date``) give way to the same keys in ``meta``.
    """
    properties = dict(image["meta"])
    properties.update(version["meta"])
    properties[VERSION_PROPERTY] = version["version"]
    properties[SERIES_PROPERTY] = image["name"]
    if osism:
        properties.setdefault(OSISM_SERIES_PROPERTY, image["name"])
        properties.setdefault("image_description", version["image_description"] or image["name"])
    elif version["image_description"]:
        properties.setdefault("image_description", version["image_description"])
    if image["login"]:
        properties["image_original_user"] = image["login"]
    if version["source"] or version["url"]:
        properties.setdefault("image_source", version["source"] or version["url"])
    elif version["artifact"]:
        properties.setdefault("image_source", "file:%s" % os.path.basename(version["artifact"]["path"]))
    build_date = version["build_date"] or (version["artifact"] or {}).get("build_date")
    if build_date:
        properties.setdefault("image_build_date", str(build_date)[:10])
    if not image["multi"]:
        properties["os_version"] = version["version"]
    elif version["os_version"]:
        properties["os_version"] = version["os_version"]
    return properties


def _wanted_tags(image, managed_tag):
    """The catalog's tags; with a managed tag, also that tag and ``os:<os_distro>``, as openstack-image-manager."""
    tags = set(image["tags"])
    if managed_tag:
        tags.add(managed_tag)
        if image["meta"].get("os_distro"):
            tags.add("os:%s" % image["meta"]["os_distro"])
    return sorted(tags)


def _expected_sha512(version):
    artifact = version["artifact"] or {}
    if artifact.get("sha512"):
        return artifact["sha512"].lower()
    checksum = version["checksum"] or ""
    return checksum.partition(":")[2] if checksum.startswith("sha512:") else None


def _plan_image(problems, image, series, managed_tag, project_id, today, delete_retired, planned_ids, pinned):
    name = image["name"]
    by_version = {}
    for glance in series:
        by_version.setdefault(glance["properties"].get(VERSION_PROPERTY), []).append(glance)
    for version, holders in sorted(by_version.items(), key=lambda item: natural_key(item[0] or "")):
        if len(holders) > 1:
            problems.append(
                "%s: version %s is held by %d images (%s); delete all but one"
                % (name, version, len(holders), ", ".join(sorted(glance["id"] for glance in holders)))
            )
    listed = [version["version"] for version in image["versions"]]
    newest = listed[-1] if listed else None
    steps = []
    for version in image["versions"]:
        holders = by_version.get(version["version"], [])
        current = holders[0] if len(holders) == 1 else None
        links = dict(
            (field, planned_ids[(companion, version["version"])])
            for field, companion in image["companions"].items()
            if (companion, version["version"]) in planned_ids
        )
        steps.extend(_plan_version(problems, image, version, current, newest, managed_tag, project_id, links))

    # Versions in Glance the catalog no longer lists: newest first, ranked among all versions of the series.
    everything = sorted(set(listed) | set(v for v in by_version if v), key=natural_key, reverse=True)
    retention = Retention(image["validity"], today, delete_retired, image["keep_deactivated"], pinned)
    superseded = [v for v in by_version if v not in listed and len(by_version[v]) == 1]
    for version in sorted(superseded, key=lambda v: natural_key(v or ""), reverse=True):
        rank = everything.index(version) if version in everything else len(everything)
        glance = by_version[version][0]
        steps.append(_retire(name, glance, versioned_name(image, version), retention, rank, "superseded"))
    return steps


def _plan_version(problems, image, version, current, newest, managed_tag, project_id, links):
    """The steps of one listed version: create and upload when Glance lacks it, then its final state.

    ``links``: the IDs of this version's kernel and ramdisk images, as kernel_id and ramdisk_id.
    """
    name = image["name"]
    number = version["version"]
    takes_name = image["multi"] and number == newest
    hidden = version["hidden"] if version["hidden"] is not None else (image["multi"] and not takes_name)
    final = {
        "name": name if takes_name else versioned_name(image, number),
        "visibility": version["visibility"] or image["visibility"],
        "hidden": hidden,
        "min_disk": image["min_disk"],
        "min_ram": image["min_ram"],
        "properties": _wanted_properties(image, version, osism=bool(managed_tag)),
        "tags": _wanted_tags(image, managed_tag),
    }
    final.update(links)
    if final["visibility"] == "shared":
        final["members"] = image["members"]
    steps = []
    expected = _expected_sha512(version)
    if current is None:
        # Derived IDs: parallel runs publishing the same version race for one ID, and Glance keeps one image.
        seed = None if version["id"] else "osimages.glance.catalog/%s/%s/%s" % (project_id, name, number)
        image_id = version["id"] or derived_image_id(seed)
        created = dict(final, name=versioned_name(image, number), visibility="private", hidden=True)
        for field in ("members",) + LINK_FIELDS:  # linked when promoted, once the kernel and ramdisk hold data
            created.pop(field, None)
        created.update(disk_format=image["format"], container_format=image["container_format"])
        steps.append(
            Step(TRANSFER, CREATE, name, number, "not in Glance", image_id, created["name"], created, seed=seed)
        )
        steps.append(_upload(image, version, image_id, expected, "new version"))
        action, reason = (PROMOTE, "the newest version takes the name") if takes_name else (UPDATE, "published")
        phase = TAKE_NAME if takes_name else SETTLE
        steps.append(
            Step(phase, action, name, number, reason, image_id, final["name"], dict(final, status=image["status"]))
        )
        return steps

    if current["status"] in DEAD_STATUSES:
        problems.append(
            "%s: version %s is image %s, which Glance left %s; delete it, and the next run publishes it again"
            % (name, number, current["id"], current["status"])
        )
        return steps
    if current["status"] in NO_DATA_STATUSES:
        steps.append(
            _upload(image, version, current["id"], expected, "Glance holds no data for it (%s)" % current["status"])
        )
    elif expected and current["hash_algo"] == "sha512" and current["hash_value"] != expected:
        problems.append(
            "%s: version %s already exists as image %s with different data (Glance holds sha512 %s..., the source is "
            "%s...); image data is immutable: publish it as a new version"
            % (name, number, current["id"], current["hash_value"][:16], expected[:16])
        )
        return steps
    status = image["status"] if current["status"] not in NO_DATA_STATUSES else None
    try:
        changes = has_changes(
            make_plan(current, desired_from_params(final), status=status, purge_properties=False, purge_members=True)
        )
    except ValidationError as exc:
        problems.append("%s: version %s (%s): %s" % (name, number, current["id"], exc))
        return steps
    if takes_name and current["name"] != name:
        action, phase, reason = PROMOTE, TAKE_NAME, "the newest version takes the name"
    elif changes:
        action, phase, reason = UPDATE, SETTLE, "differs from the catalog"
    else:
        action, phase, reason = NOTHING, SETTLE, "up to date"
    if current["name"] == name and image["multi"] and not takes_name:
        action, phase, reason = DEMOTE, LEAVE_NAME, "a newer version takes the name"
    steps.append(Step(phase, action, name, number, reason, current["id"], final["name"], dict(final, status=status)))
    return steps


def _upload(image, version, image_id, expected, reason):
    source = {
        "url": version["mirror_url"] or version["url"],
        "artifact": version["artifact"],
        "checksum": version["checksum"] or ("sha512:%s" % expected if expected else None),
        "method": image["method"],
        "stores": image["stores"],
        # Kernels and ramdisks: no inspector reads them; Glance takes their bytes as they are.
        "skip_format_check": image["format"] in UNINSPECTABLE_FORMATS,
    }
    return Step(TRANSFER, UPLOAD, image["name"], version["version"], reason, image_id, source=source)


class Retention(object):
    """How long superseded versions stay: valid (hidden), then deactivated, then deleted when deletion is on.

    ``keep_deactivated``: of the expired versions, newest first, how many stay deactivated (None: no limit when
    deletion is off, none when it is on).
    """

    def __init__(self, validity, today, delete_retired, keep_deactivated=None, pinned=()):
        self.validity = validity or parse_validity(DEFAULT_VALIDITY)
        self.today = today
        self.delete_retired = delete_retired
        self.keep_deactivated = keep_deactivated
        self.pinned = pinned  # IDs never deleted: an image that stays links them
        self.expired = 0  # expired versions met so far, newest first

    def rule(self):
        rule = "uuid_validity %s" % describe_validity(self.validity)
        if self.keep_deactivated is not None:
            rule += ", keep_deactivated %d" % self.keep_deactivated
        return rule

    def verdict(self, rank):
        """ "valid", "deactivate" or "delete" for the version of ``rank``; call newest first."""
        if validity_keeps(self.validity, rank, self.today):
            return "valid"
        self.expired += 1
        if not self.delete_retired:
            return "deactivate"
        kept = self.keep_deactivated or 0
        return "deactivate" if self.expired <= kept else "delete"


def _retire_series(series_name, series, retention, why):
    """Every version of a series the catalog does not publish (any more)."""
    ordered = sorted(series, key=_version_key, reverse=True)
    return [_retire(series_name, glance, glance["name"], retention, rank, why) for rank, glance in enumerate(ordered)]


def _retire(series_name, glance, name, retention, rank, why):
    """One version that is no longer published: hidden while valid, then deactivated, then (if enabled) deleted."""
    version = glance["properties"].get(VERSION_PROPERTY)
    rule = retention.rule()
    params = {"name": name, "hidden": True}
    verdict = retention.verdict(rank)
    if verdict == "valid":
        if glance["name"] != name:
            action, phase = DEMOTE, LEAVE_NAME
        else:
            action, phase = (NOTHING if glance["hidden"] else HIDE), RETIRE
        return Step(
            phase, action, series_name, version, "%s, still valid (%s)" % (why, rule), glance["id"], name, params
        )
    if verdict != "delete":
        kept = "kept deactivated" if retention.delete_retired else "deletion is off"
    elif glance["protected"]:
        kept = "protected, so never deleted"
    elif glance["id"] in retention.pinned:
        kept = "not deleted while an image that stays links it"
    else:
        return Step(RETIRE, DELETE, series_name, version, "%s, expired (%s)" % (why, rule), glance["id"], None)
    reason = "%s, expired (%s); %s" % (why, rule, kept)
    done = glance["status"] == "deactivated" and glance["hidden"] and glance["name"] == name
    params["status"] = "deactivated" if glance["status"] in ("active", "deactivated") else None
    leaves_name = glance["name"] == series_name and name != series_name
    action = NOTHING if done else DEACTIVATE
    phase = LEAVE_NAME if leaves_name else RETIRE
    return Step(phase, action, series_name, version, reason, glance["id"], name, params)
