# -*- coding: utf-8 -*-
# Copyright: Contributors to the osimages.glance collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal use only: this file is not part of the collection's public API.
"""What requests to Glance say, shaped from plain values (pure, no I/O): list queries from filters, JSON patches
from a plan's operations, and image IDs (recognised, or derived from a seed). _images.py sends them."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import uuid

from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.osimages.glance.plugins.module_utils._errors import ValidationError

# Filter name -> Glance list query parameter (GET /v2/images).
LIST_FILTERS = {
    "name": "name",
    "status": "status",
    "visibility": "visibility",
    "owner": "owner",
    "member_status": "member_status",
    "tag": "tag",
    "hidden": "os_hidden",
    "protected": "protected",
    "disk_format": "disk_format",
    "container_format": "container_format",
    "size_min": "size_min",
    "size_max": "size_max",
    "created_at": "created_at",
    "updated_at": "updated_at",
    "properties": None,  # each extra property becomes its own parameter
}
# filters.hidden value that lists hidden and visible images together (Glance itself lists one kind per query).
HIDDEN_ANY = "any"


def image_query(filters, sort=None):
    """Glance list parameters for the info module's ``filters`` and ``sort`` (pure; raises ValidationError).

    Every filter is applied by Glance itself, so nothing is filtered on the client.
    """
    filters = dict(filters or {})
    unknown = sorted(set(filters) - set(LIST_FILTERS))
    if unknown:
        raise ValidationError(
            "unknown filter(s) %s; supported filters: %s" % (", ".join(unknown), ", ".join(sorted(LIST_FILTERS)))
        )
    query = {}
    for key, value in filters.items():
        if value is None:
            continue
        if key == "properties":
            if not isinstance(value, dict):
                raise ValidationError("filters.properties must be a dict of extra properties")
            for prop, prop_value in value.items():
                if prop in LIST_FILTERS.values() or prop in LIST_FILTERS:
                    raise ValidationError("filters.properties.%s is a filter of its own; use filters.%s" % (prop, prop))
                query[str(prop)] = str(prop_value)
        elif key == "tag":
            tags = value if isinstance(value, list) else [value]
            query["tag"] = [str(tag) for tag in tags]  # repeated parameter: every tag must match
        elif key == "hidden" and str(value).lower() == HIDDEN_ANY:
            query["os_hidden"] = HIDDEN_ANY
        elif key in ("hidden", "protected"):
            try:
                query[LIST_FILTERS[key]] = "true" if boolean(value) else "false"
            except TypeError:
                raise ValidationError("filters.%s must be a boolean, got %r" % (key, value))
        elif isinstance(value, (dict, list)):
            raise ValidationError("filters.%s must be a single value" % key)
        else:
            query[LIST_FILTERS[key]] = str(value)
    if sort:
        query["sort"] = sort
    return query


def owned_by(owner, name=None):
    """The query for ``owner``'s images (hidden ones included), optionally only those called ``name``."""
    query = {"owner": owner, "visibility": "all", "os_hidden": HIDDEN_ANY}
    if name is not None:
        query["name"] = name
    return query


def looks_like_id(value):
    """Whether ``value`` looks like an OpenStack ID (32 hex digits, dashes or not)."""
    text = str(value).replace("-", "")
    return len(text) == 32 and all(c in "0123456789abcdef" for c in text.lower())


# The namespace of IDs derived with glance_image's id_from option (a fixed, random UUID).
DERIVED_ID_NAMESPACE = uuid.UUID("5b0c5f4e-2f0a-4e43-9a55-6e2a3c1d7f10")
# Glance never reuses the ID of a deleted image: after this many deleted generations, give up.
DERIVED_ID_ATTEMPTS = 50


def derived_image_id(seed, generation=0):
    """The ID of generation ``generation`` of the image identified by ``seed`` (pure, a UUID5).

    Every run that derives from the same seed walks the same sequence, so parallel creators race
    for the same ID and Glance keeps exactly one image; a deleted generation moves all of them on.
    """
    text = seed if generation == 0 else "%s#%d" % (seed, generation)
    return str(uuid.uuid5(DERIVED_ID_NAMESPACE, text))


def looks_like_uuid(value):
    return looks_like_id(value) and str(value).count("-") == 4


def json_patch(operations):
    """Glance JSON-patch documents from a plan's (op, field, value) tuples."""
    document = []
    for op, field, value in operations:
        entry = {"op": op, "path": "/" + field.replace("~", "~0").replace("/", "~1")}
        if op != "remove":
            entry["value"] = value
        document.append(entry)
    return document


def names_query(names):
    """The query for the visible images, of any owner and visibility, called one of ``names`` (Glance's ``in:``)."""
    quoted = ",".join('"%s"' % name.replace("\\", "\\\\").replace('"', '\\"') for name in names)
    return {"name": "in:" + quoted, "visibility": "all"}
