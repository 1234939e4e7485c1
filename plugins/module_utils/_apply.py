# -*- coding: utf-8 -*-
# Copyright: Contributors to the osimages.glance collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal use only: this file is not part of the collection's public API.
"""Carrying out a metadata plan: the API calls that _reconcile.make_plan asks for, in a safe order, and the steps
of a catalog plan (_catalog_plan), each of which is such a plan.

The plan is decided in _reconcile (pure); the HTTP calls are ImageApi's (_images). This is the order between
them, and the rollback of an image created by a run that then failed.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.osimages.glance.plugins.module_utils._catalog_plan import CREATE
from ansible_collections.osimages.glance.plugins.module_utils._catalog_plan import DELETE
from ansible_collections.osimages.glance.plugins.module_utils._catalog_plan import SERIES_PROPERTY
from ansible_collections.osimages.glance.plugins.module_utils._catalog_plan import VERSION_PROPERTY
from ansible_collections.osimages.glance.plugins.module_utils._data_plan import import_outcome
from ansible_collections.osimages.glance.plugins.module_utils._errors import Conflict
from ansible_collections.osimages.glance.plugins.module_utils._errors import GlanceError
from ansible_collections.osimages.glance.plugins.module_utils._errors import IdTaken
from ansible_collections.osimages.glance.plugins.module_utils._queries import DERIVED_ID_ATTEMPTS
from ansible_collections.osimages.glance.plugins.module_utils._queries import derived_image_id
from ansible_collections.osimages.glance.plugins.module_utils._queries import json_patch
from ansible_collections.osimages.glance.plugins.module_utils._reconcile import desired_from_params
from ansible_collections.osimages.glance.plugins.module_utils._reconcile import has_changes
from ansible_collections.osimages.glance.plugins.module_utils._reconcile import make_plan
from ansible_collections.osimages.glance.plugins.module_utils._reconcile import normalize


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


def apply_catalog_step(api, step, raw, members=None):
    """Carry out one metadata step of a catalog plan (_catalog_plan) on the image ``raw``; return the raw image.

    CREATE registers the new version under the step's ID, or the next free ID derived from its seed when Glance
    keeps that one for a deleted image. The other steps reconcile the image with the step's options, as
    glance_image would. UPLOAD is not carried out here: bytes move in glance_image_data.
    """
    options = dict(step.params)
    status = options.pop("status", None)
    desired = desired_from_params(options)
    if step.action == CREATE:
        return _create_version(api, step, desired)
    if step.action == DELETE:
        api.delete(raw)
        return None
    current = normalize(raw, members)
    plan = make_plan(current, desired, status=status, purge_properties=False)
    if has_changes(plan):
        apply_plan(api, raw, plan)
        raw = api.get(raw["id"])
    return raw


def _create_version(api, step, desired):
    candidates = (
        [step.image_id] if step.seed is None else [derived_image_id(step.seed, g) for g in range(DERIVED_ID_ATTEMPTS)]
    )
    for image_id in candidates:
        plan = make_plan(None, dict(desired, attrs=dict(desired["attrs"], id=image_id)))
        try:
            apply_plan(api, None, plan)
        except IdTaken:
            raw = api.get(image_id)
            # A parallel run registered this very version a moment ago: carry on with it.
            if raw is not None and raw.get(SERIES_PROPERTY) == step.image and raw.get(VERSION_PROPERTY) == step.version:
                return raw
            continue
        return api.get(image_id)
    raise GlanceError(
        "no free image ID for version %s of %s after %d tries" % (step.version, step.image, len(candidates))
    )


def wait_for_import(api, image, since, stores, timeout, what):
    """Wait until the upload or import of ``image`` that started at ``since`` (glance_now()) has reached
    ``stores``; return the raw image. Fails early when Glance reports the import failed (_data_plan.import_outcome
    reads Glance's import tasks, asked only while the image is not settled)."""

    def finished(raw):
        unsettled = raw["status"] != "active" or raw.get("os_glance_failed_import")
        return import_outcome(raw, api.import_tasks(raw) if unsettled else [], since, stores)

    return api.wait(image, finished, timeout, what)
