# -*- coding: utf-8 -*-
# Copyright: Contributors to the osimages.glance collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal use only: this file is not part of the collection's public API.
"""Pure idempotency logic: normalise, plan, preview and diff.

Nothing here talks to Glance or to Ansible. Functions take plain dicts and
return plain dicts, so check mode, diff mode and the real run all come out of
the same plan, and every rule is unit-testable with tables.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

from ansible_collections.osimages.glance.plugins.module_utils._errors import ImmutableAttributeError
from ansible_collections.osimages.glance.plugins.module_utils._errors import ValidationError

DISK_FORMATS = ["ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop"]
CONTAINER_FORMATS = ["ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed"]
VISIBILITIES = ["public", "private", "shared", "community"]
MEMBER_STATUSES = ["accepted", "rejected", "pending"]

# Option name -> Glance field, for the mutable attributes an option manages.
MUTABLE_ATTRIBUTES = {
    "name": "name",
    "visibility": "visibility",
    "protected": "protected",
    "hidden": "os_hidden",
    "min_disk": "min_disk",
    "min_ram": "min_ram",
    "kernel_id": "kernel_id",
    "ramdisk_id": "ramdisk_id",
    "owner": "owner",
}
# Settable only while the image is queued (before it has data).
CREATE_ONLY = ("disk_format", "container_format")
# kernel_id and ramdisk_id are extra properties to Glance: they may be absent, so they need "add".
_OPTIONAL_FIELDS = ("kernel_id", "ramdisk_id")

# Fields Glance owns or reports: never part of `properties`, never purged.
SERVER_FIELDS = frozenset(
    [
        "id",
        "status",
        "checksum",
        "size",
        "virtual_size",
        "created_at",
        "updated_at",
        "file",
        "schema",
        "self",
        "direct_url",
        "locations",
        "stores",
        "os_hash_algo",
        "os_hash_value",
        "tags",
        "disk_format",
        "container_format",
        "os_hidden",
        "deleted",
        "deleted_at",
    ]
)
SERVER_PREFIXES = ("os_glance_", "os_hash_")
# Written by openstacksdk's create_image for its own idempotency: shown, but never purged.
PURGE_EXEMPT_PREFIXES = ("owner_specified.",)
# Keys that look like properties but belong to an option.
_PROPERTY_TO_OPTION = dict((glance, option) for option, glance in MUTABLE_ATTRIBUTES.items())
_PROPERTY_TO_OPTION.update(
    {
        "disk_format": "disk_format",
        "container_format": "container_format",
        "os_hidden": "hidden",
        "tags": "tags",
        "hidden": "hidden",
        "is_protected": "protected",
    }
)

MAX_TAG_LENGTH = 255


def _is_server_field(key):
    return key in SERVER_FIELDS or key.startswith(SERVER_PREFIXES)


def normalize(raw, members=None):
    """The image as this collection returns it, keyed by option names.

    ``raw`` is Glance's JSON for one image; ``members`` its member list (or None).
    """
    if raw is None:
        return None
    properties = dict(
        (key, value)
        for key, value in raw.items()
        if not _is_server_field(key) and key not in MUTABLE_ATTRIBUTES.values()
    )
    stores = raw.get("stores")
    return {
        "id": raw.get("id"),
        "name": raw.get("name"),
        "status": raw.get("status"),
        "visibility": raw.get("visibility"),
        "protected": bool(raw.get("protected", False)),
        "hidden": bool(raw.get("os_hidden", False)),
        "min_disk": raw.get("min_disk") or 0,
        "min_ram": raw.get("min_ram") or 0,
        "kernel_id": raw.get("kernel_id"),
        "ramdisk_id": raw.get("ramdisk_id"),
        "owner": raw.get("owner"),
        "tags": sorted(raw.get("tags") or []),
        "properties": properties,
        "disk_format": raw.get("disk_format"),
        "container_format": raw.get("container_format"),
        "size": raw.get("size"),
        "virtual_size": raw.get("virtual_size"),
        "checksum": raw.get("checksum"),
        "hash_algo": raw.get("os_hash_algo"),
        "hash_value": raw.get("os_hash_value"),
        "stores": sorted(stores.split(",")) if stores else [],
        "created_at": raw.get("created_at"),
        "updated_at": raw.get("updated_at"),
        "members": normalize_members(members),
    }


def normalize_members(members):
    return sorted(
        ({"project_id": m["member_id"], "status": m["status"]} for m in members or []),
        key=lambda member: member["project_id"],
    )


def property_value(value):
    """Glance stores extra properties as strings; this is the string it will store."""
    if isinstance(value, (dict, list, tuple, set)):
        raise ValueError("must be a string, number or boolean")
    if value is None:
        raise ValueError("must not be null")
    return str(value)


def desired_from_params(params):
    """What the task asks for, validated, with unset options left out.

    ``params`` must already hold resolved IDs for owner, kernel_id, ramdisk_id
    and members. Raises ValidationError before any API call is made.
    """
    attrs = {}
    for option in list(MUTABLE_ATTRIBUTES) + list(CREATE_ONLY):
        if params.get(option) is not None:
            attrs[option] = params[option]
    for option in ("min_disk", "min_ram"):
        if option in attrs and attrs[option] < 0:
            raise ValidationError("%s must be 0 or more, got %s" % (option, attrs[option]))
    for option, choices in (
        ("disk_format", DISK_FORMATS),
        ("container_format", CONTAINER_FORMATS),
        ("visibility", VISIBILITIES),
    ):
        if option in attrs and attrs[option] not in choices:
            raise ValidationError("%s must be one of %s, got %r" % (option, ", ".join(choices), attrs[option]))

    properties = None
    if params.get("properties") is not None:
        properties = {}
        for key, value in params["properties"].items():
            key = str(key)
            if key in _PROPERTY_TO_OPTION:
                raise ValidationError(
                    "properties.%s is an image attribute, not an extra property; use the %s option instead"
                    % (key, _PROPERTY_TO_OPTION[key])
                )
            if _is_server_field(key):
                raise ValidationError("properties.%s is set by Glance and cannot be managed" % key)
            try:
                properties[key] = property_value(value)
            except ValueError as exc:
                raise ValidationError("properties.%s %s" % (key, exc))

    tags = None
    if params.get("tags") is not None:
        tags = sorted(set(str(tag) for tag in params["tags"]))
        too_long = [tag for tag in tags if len(tag) > MAX_TAG_LENGTH or not tag]
        if too_long:
            raise ValidationError("tags must be 1 to %d characters long: %s" % (MAX_TAG_LENGTH, too_long))

    members = None
    if params.get("members") is not None:
        members = sorted(set(params["members"]))

    return {"attrs": attrs, "properties": properties, "tags": tags, "members": members}


def empty_plan():
    return {
        "create": None,  # Glance JSON for POST /v2/images
        "patch": [],  # (op, glance_field, value) for one JSON-patch request
        "add_tags": [],
        "remove_tags": [],
        "add_members": [],
        "remove_members": [],
        "status_action": None,  # "deactivate" | "reactivate"
        "member_status": None,  # new status of the caller's own membership
        "delete": False,
    }


def has_changes(plan):
    return any(plan[key] for key in plan)


def make_plan(
    current,
    desired,
    state="present",
    status=None,
    member_status=None,
    membership=None,
    purge_tags=True,
    purge_properties=True,
    purge_members=True,
):
    """What must change to turn ``current`` (normalised, or None) into ``desired``.

    ``membership`` is the caller's own member record of a shared image (for
    ``member_status``). Raises ValidationError or ImmutableAttributeError when
    the task cannot be carried out; never touches the network.
    """
    plan = empty_plan()
    attrs = desired["attrs"]

    if state == "absent":
        if current is None:
            return plan
        if current["protected"]:
            if attrs.get("protected") is not False:
                raise ValidationError(
                    "image %s (%s) is protected and was not deleted; to delete it, set protected: false "
                    "in the same task" % (current["name"], current["id"])
                )
            plan["patch"].append(("replace", "protected", False))
        plan["delete"] = True
        return plan

    if current is None:
        if status is not None:
            raise ValidationError(
                "cannot set status %s on a new image: it has no data yet, and Glance only activates or "
                "deactivates images that have data; upload it with osimages.glance.glance_image_data first" % status
            )
        if member_status is not None:
            raise ValidationError("member_status needs an existing image shared with this project (give its id)")
        if desired["members"] and attrs.get("visibility") != "shared":
            raise ValidationError("members can only be set on a shared image; add visibility: shared")
        body = dict((MUTABLE_ATTRIBUTES.get(option, option), value) for option, value in attrs.items())
        body.update(desired["properties"] or {})
        if desired["tags"]:
            body["tags"] = desired["tags"]
        plan["create"] = body
        plan["add_members"] = list(desired["members"] or [])
        return plan

    _plan_attributes(plan, current, attrs)
    _plan_properties(plan, current, desired["properties"], purge_properties)
    _plan_set(plan, "tags", current["tags"], desired["tags"], purge_tags)
    if desired["members"] is not None:
        final_visibility = attrs.get("visibility", current["visibility"])
        if final_visibility != "shared" and (desired["members"] or current["members"]):
            raise ValidationError(
                "members can only be managed on a shared image, and image %s (%s) would be %s; "
                "add visibility: shared" % (current["name"], current["id"], final_visibility)
            )
        current_ids = [member["project_id"] for member in current["members"]]
        _plan_set(plan, "members", current_ids, desired["members"], purge_members)
    _plan_status(plan, current, status)
    if member_status is not None:
        if membership is None:
            raise ValidationError(
                "image %s (%s) is not shared with this project, so its membership cannot be set to %s"
                % (current["name"], current["id"], member_status)
            )
        if membership["status"] != member_status:
            plan["member_status"] = member_status
    return plan


def _plan_attributes(plan, current, attrs):
    for option in CREATE_ONLY:
        wanted = attrs.get(option)
        if wanted is None or wanted == current[option]:
            continue
        if current[option] is None and current["status"] == "queued":
            plan["patch"].append(("replace", option, wanted))
            continue
        raise ImmutableAttributeError(
            "cannot change %s of existing image %s (%s) from %s to %s; create a new image instead"
            % (option, current["name"], current["id"], current[option], wanted)
        )
    for option, field in MUTABLE_ATTRIBUTES.items():
        if option not in attrs or attrs[option] == current[option]:
            continue
        op = "add" if option in _OPTIONAL_FIELDS and current[option] is None else "replace"
        plan["patch"].append((op, field, attrs[option]))


def _plan_properties(plan, current, wanted, purge):
    if wanted is None:
        return
    have = current["properties"]
    for key in sorted(wanted):
        if have.get(key) != wanted[key]:
            plan["patch"].append(("replace" if key in have else "add", key, wanted[key]))
    if purge:
        for key in sorted(set(have) - set(wanted)):
            if not key.startswith(PURGE_EXEMPT_PREFIXES):
                plan["patch"].append(("remove", key, None))


def _plan_set(plan, kind, have, wanted, purge):
    if wanted is None:
        return
    plan["add_" + kind] = sorted(set(wanted) - set(have))
    if purge:
        plan["remove_" + kind] = sorted(set(have) - set(wanted))


def _plan_status(plan, current, status):
    if status is None or status == current["status"]:
        return
    if status == "deactivated" and current["status"] == "active":
        plan["status_action"] = "deactivate"
    elif status == "active" and current["status"] == "deactivated":
        plan["status_action"] = "reactivate"
    elif current["status"] == "queued":
        raise ValidationError(
            "cannot set status %s on image %s (%s): it has no data yet (queued), and Glance only activates "
            "or deactivates images that have data" % (status, current["name"], current["id"])
        )
    else:
        raise ValidationError(
            "cannot set status %s on image %s (%s) while it is %s"
            % (status, current["name"], current["id"], current["status"])
        )


def preview(current, plan, project_id=None):
    """The image as it will be once ``plan`` is applied (None once deleted)."""
    if plan["delete"] or (current is None and plan["create"] is None):
        return None
    if plan["create"] is not None:
        raw = dict(plan["create"])
        raw.setdefault("status", "queued")
        raw.setdefault("visibility", "shared")  # Glance's default for new images
        raw.setdefault("owner", project_id)
        after = normalize(raw)
    else:
        after = copy.deepcopy(current)
    for op, field, value in plan["patch"]:
        option = _PROPERTY_TO_OPTION.get(field)
        if option in after and field not in after["properties"]:
            after[option] = value
        elif op == "remove":
            after["properties"].pop(field, None)
        else:
            after["properties"][field] = value
    after["tags"] = sorted((set(after["tags"]) | set(plan["add_tags"])) - set(plan["remove_tags"]))
    members = dict((m["project_id"], m["status"]) for m in after["members"])
    for member_id in plan["add_members"]:
        members[member_id] = "pending"
    for member_id in plan["remove_members"]:
        members.pop(member_id, None)
    after["members"] = [{"project_id": key, "status": members[key]} for key in sorted(members)]
    if plan["status_action"]:
        after["status"] = "deactivated" if plan["status_action"] == "deactivate" else "active"
    return after


def managed_view(image, desired, status=None, purge_properties=True):
    """Only the fields the task manages, for the diff."""
    if image is None:
        return {}
    view = {"id": image["id"], "name": image["name"]}
    for option in desired["attrs"]:
        view[option] = image[option]
    for option in ("tags", "members"):
        if desired[option] is not None:
            view[option] = image[option]
    if desired["properties"] is not None:
        props = image["properties"]
        if not purge_properties:
            props = dict((key, props[key]) for key in desired["properties"] if key in props)
        view["properties"] = props
    if status is not None:
        view["status"] = image["status"]
    return view


def make_diff(before, after, desired, status=None, purge_properties=True):
    return {
        "before": managed_view(before, desired, status, purge_properties),
        "after": managed_view(after, desired, status, purge_properties),
    }
