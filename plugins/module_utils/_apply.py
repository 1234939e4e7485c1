# -*- coding: utf-8 -*-
# Copyright: Contributors to the osimages.glance collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal use only: this file is not part of the collection's public API.
"""Carrying out a metadata plan: the API calls that _reconcile.make_plan asks for, in a safe order.

The plan is decided in _reconcile (pure); the HTTP calls are ImageApi's (_images). This is the order between
them, and the rollback of an image created by a run that then failed.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.osimages.glance.plugins.module_utils._errors import Conflict
from ansible_collections.osimages.glance.plugins.module_utils._errors import GlanceError
from ansible_collections.osimages.glance.plugins.module_utils._errors import IdTaken
from ansible_collections.osimages.glance.plugins.module_utils._queries import json_patch


def apply_plan(api, image, plan):
    """Carry out a plan from _reconcile.make_plan, in a safe order; return the raw image's ID.

    Order: create, reactivate, attributes and properties (one JSON patch), tags,
    members, own membership, deactivate, delete. When a step after a create
    fails, the new image is deleted so that no half-made image is left behind.
    """
    created = False
    if plan["create"] is not None:
        try:
            image = api.create(plan["create"])
        except Conflict as exc:
            if "id" in plan["create"]:
                raise IdTaken(
                    "Failed to create image %s with ID %s: an image with that ID already exists, but this "
                    "project cannot see it" % (plan["create"].get("name"), plan["create"]["id"]),
                    **exc.details,
                )
            raise
        created = True
    try:
        if plan["status_action"] == "reactivate":
            api.reactivate(image)
        if plan["patch"]:
            api.patch(image, json_patch(plan["patch"]))
        for tag in plan["add_tags"]:
            api.add_tag(image, tag)
        for tag in plan["remove_tags"]:
            api.remove_tag(image, tag)
        for project_id in plan["add_members"]:
            api.add_member(image, project_id)
        for project_id in plan["remove_members"]:
            api.remove_member(image, project_id)
        if plan["member_status"]:
            api.set_member_status(image, api.project_id, plan["member_status"])
        if plan["status_action"] == "deactivate":
            api.deactivate(image)
        if plan["delete"]:
            api.delete(image)
    except GlanceError as exc:
        if created:
            api.delete(image)
            exc.msg += "; the new image %s was deleted again" % image["id"]
        raise
    return image["id"]
