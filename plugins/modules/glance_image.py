#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Contributors to the osimages.glance collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: glance_image
short_description: Manage the metadata lifecycle of an OpenStack image
version_added: 0.1.0
description:
  - Create, update, share, hide, protect, deactivate, reactivate and delete an image in OpenStack Glance
    (Images API v2).
  - Only the options you set are managed. An option left unset leaves the image's value as it is.
  - Image data is handled by M(osimages.glance.glance_image_data); this module never uploads bytes.
author:
  - osimages.glance contributors (@osimages)
options:
  name:
    description:
      - The image name. Without O(id) it identifies the image among the images owned by the project
        (or by O(owner)), hidden ones included.
      - Glance does not keep names unique. When the name matches several images the task fails and lists
        their IDs; it never guesses and never creates another one.
      - With O(id), a different name renames the image.
    type: str
  id:
    description:
      - The image ID. It wins over O(name).
      - When no image has this ID and O(state=present), the image is created with this ID.
    type: str
  id_from:
    description:
      - Derive the image ID from this text (a UUID5) instead of giving O(id). Every run with the same text
        derives the same ID, so parallel runs that create the same image race for one ID and Glance keeps
        exactly one image; the losers update it like any existing image.
      - Glance never reuses the ID of a deleted image. When the derived ID belongs to a deleted image, the next
        ID of the same deterministic sequence is used, so the image can be created again after a deletion.
      - Use a text that is unique in the cloud, such as the project ID, the name and a version.
      - Without O(id) or O(id_from), a new image gets an ID derived from its owner and O(name) in the same way,
        so parallel runs creating the same name also end with one image.
    type: str
  state:
    description:
      - V(present) creates or updates the image, V(absent) deletes it.
      - Deleting a protected image fails unless the same task sets O(protected=false).
    type: str
    choices: [present, absent]
    default: present
  status:
    description:
      - V(deactivated) deactivates the image (its data can no longer be downloaded or booted);
        V(active) reactivates it. Unset leaves it as it is.
      - Glance only activates and deactivates images that have data.
    type: str
    choices: [active, deactivated]
  disk_format:
    description:
      - The format of the disk. Cannot be changed once the image has data.
    type: str
    choices: [ami, ari, aki, vhd, vhdx, vmdk, raw, qcow2, vdi, iso, ploop]
  container_format:
    description:
      - The container format. Cannot be changed once the image has data.
    type: str
    choices: [ami, ari, aki, bare, ovf, ova, docker, compressed]
  visibility:
    description:
      - Who can see the image. V(public) usually needs the admin role.
      - Glance creates images as V(shared) when this is not set.
    type: str
    choices: [public, private, shared, community]
  protected:
    description:
      - Whether the image is protected from deletion.
    type: bool
    aliases: [is_protected]
  hidden:
    description:
      - Whether the image is hidden from the default image list (C(os_hidden)).
    type: bool
    aliases: [is_hidden]
  min_disk:
    description:
      - Minimum disk size in GiB needed to boot the image.
    type: int
  min_ram:
    description:
      - Minimum RAM in MiB needed to boot the image.
    type: int
  kernel_id:
    description:
      - Name or ID of the kernel image an AMI-style image boots with.
    type: str
  ramdisk_id:
    description:
      - Name or ID of the ramdisk image an AMI-style image boots with.
    type: str
  owner:
    description:
      - Name or ID of the project that owns the image. Changing it usually needs the admin role.
      - Without O(id), O(name) is looked up among this project's images.
    type: str
  tags:
    description:
      - The image's tags. When not set, tags are not managed.
      - With O(purge_tags=true), the image ends up with exactly these tags, so V([]) removes all of them.
        With O(purge_tags=false), these tags are added and others are kept.
    type: list
    elements: str
  purge_tags:
    description:
      - Whether to remove tags that are not in O(tags). Ignored when O(tags) is not set.
    type: bool
    default: true
  properties:
    description:
      - Extra properties of the image, such as C(os_distro) or C(hw_disk_bus). When not set, properties are not
        managed.
      - Glance stores values as strings, so they are compared as strings; V(true) is stored as C(True).
      - Image attributes such as C(min_disk) are rejected here; use their own options.
      - Properties that Glance sets itself (C(os_hash_*), C(os_glance_*), C(stores), ...) cannot be managed and
        are never removed.
    type: dict
  purge_properties:
    description:
      - Whether to remove extra properties that are not in O(properties). Ignored when O(properties) is not set.
      - Properties whose names start with C(owner_specified.) are written by openstacksdk and never removed.
    type: bool
    default: true
  members:
    description:
      - Names or IDs of the projects the image is shared with. The image must have O(visibility=shared).
      - New members start as C(pending) until they accept the image with O(member_status).
    type: list
    elements: str
  purge_members:
    description:
      - Whether to stop sharing with projects that are not in O(members). Ignored when O(members) is not set.
    type: bool
    default: true
  member_status:
    description:
      - Used by a project the image is shared with, to V(accepted), V(rejected) or reset to V(pending) its own
        membership. Needs O(id).
    type: str
    choices: [accepted, rejected, pending]
extends_documentation_fragment:
  - osimages.glance.connection
  - osimages.glance.properties
  - osimages.glance.attributes
notes:
  - O(disk_format) and O(container_format) can be set while the image is C(queued) (has no data); after that a
    different value fails the task instead of being ignored.
  - Setting O(owner) and O(visibility=public) are admin operations under Glance's default policy.
seealso:
  - module: osimages.glance.glance_image_info
  - module: osimages.glance.glance_image_data
"""

EXAMPLES = r"""
- name: Create a private image, ready for its data
  osimages.glance.glance_image:
    cloud: mycloud
    name: debian-13-20261101
    disk_format: qcow2
    container_format: bare
    visibility: private
    min_disk: 4
    tags: [debian, golden]
    properties:
      os_distro: debian
      os_version: "13"
      hw_disk_bus: scsi

- name: Add a tag and leave the others in place
  osimages.glance.glance_image:
    cloud: mycloud
    name: debian-13-20261101
    tags: [approved]
    purge_tags: false

- name: Rename an image by ID
  osimages.glance.glance_image:
    cloud: mycloud
    id: 6a1d8a52-8f0b-4d1b-a8c5-2b4c6b1b1e2f
    name: debian-13

- name: Share an image with two projects
  osimages.glance.glance_image:
    cloud: mycloud
    name: debian-13
    visibility: shared
    members: [team-a, team-b]

- name: Accept an image shared with this project
  osimages.glance.glance_image:
    cloud: team-a
    id: 6a1d8a52-8f0b-4d1b-a8c5-2b4c6b1b1e2f
    member_status: accepted

- name: Deactivate an image that must no longer boot
  osimages.glance.glance_image:
    cloud: mycloud
    name: debian-13-20260101
    status: deactivated

- name: Delete a protected image
  osimages.glance.glance_image:
    cloud: mycloud
    name: debian-13-20250101
    protected: false
    state: absent
"""

RETURN = r"""
created:
  description:
    - Whether this run created the image. A run that lost a creation race to a parallel run (see O(id_from))
      reports V(false) and updates the winner's image instead.
  returned: always
  type: bool
  sample: false
image:
  description:
    - The image after the task; in check mode, the image as it would be. Not returned once deleted.
  returned: when O(state=present)
  type: dict
  contains:
    checksum:
      description: MD5 of the data, as computed by Glance (legacy).
      type: str
    container_format:
      description: The container format.
      type: str
    created_at:
      description: When the image was created.
      type: str
    disk_format:
      description: The disk format.
      type: str
    hash_algo:
      description: The algorithm of RV(image.hash_value) (C(os_hash_algo)), usually C(sha512).
      type: str
    hash_value:
      description: The hash of the data computed by Glance (C(os_hash_value)).
      type: str
    hidden:
      description: Whether the image is hidden from the default list (C(os_hidden)).
      type: bool
    id:
      description: The image ID; null for an image that check mode would create.
      type: str
    kernel_id:
      description: ID of the kernel image, if any.
      type: str
    members:
      description: The projects a shared image is shared with, sorted by project ID. Empty for other images.
      type: list
      elements: dict
      contains:
        project_id:
          description: The member project.
          type: str
        status:
          description: C(pending), C(accepted) or C(rejected).
          type: str
    min_disk:
      description: Minimum disk size in GiB.
      type: int
    min_ram:
      description: Minimum RAM in MiB.
      type: int
    name:
      description: The image name.
      type: str
    owner:
      description: ID of the owning project.
      type: str
    properties:
      description: Extra properties, as strings.
      type: dict
    protected:
      description: Whether the image is protected from deletion.
      type: bool
    ramdisk_id:
      description: ID of the ramdisk image, if any.
      type: str
    size:
      description: Size of the data in bytes; null while the image has no data.
      type: int
    status:
      description: C(queued), C(saving), C(importing), C(active), C(deactivated), C(killed) or C(deleted).
      type: str
    stores:
      description: The stores that hold the data, sorted.
      type: list
      elements: str
    tags:
      description: The tags, sorted.
      type: list
      elements: str
    updated_at:
      description: When the image was last updated.
      type: str
    virtual_size:
      description: Virtual size of the disk in bytes, when Glance knows it.
      type: int
    visibility:
      description: C(public), C(private), C(shared) or C(community).
      type: str
  sample:
    id: 6a1d8a52-8f0b-4d1b-a8c5-2b4c6b1b1e2f
    name: debian-13
    status: active
    visibility: private
    protected: false
    hidden: false
    min_disk: 4
    min_ram: 0
    kernel_id: null
    ramdisk_id: null
    owner: 0a3e6d1f3b2c4a0f9e8d7c6b5a493827
    tags: [debian, golden]
    properties: {os_distro: debian, os_version: "13"}
    disk_format: qcow2
    container_format: bare
    size: 352321536
    virtual_size: 4294967296
    checksum: 8d3b8c6e1f0a2b4c5d6e7f8091a2b3c4
    hash_algo: sha512
    hash_value: 3f1c...e9a2
    stores: [fast]
    created_at: "2026-11-01T10:00:00Z"
    updated_at: "2026-11-01T10:02:00Z"
    members: []
"""

from ansible_collections.osimages.glance.plugins.module_utils._apply import apply_plan
from ansible_collections.osimages.glance.plugins.module_utils._errors import GlanceError
from ansible_collections.osimages.glance.plugins.module_utils._errors import IdTaken
from ansible_collections.osimages.glance.plugins.module_utils._glance_module import GlanceModule
from ansible_collections.osimages.glance.plugins.module_utils._queries import DERIVED_ID_ATTEMPTS
from ansible_collections.osimages.glance.plugins.module_utils._queries import derived_image_id
from ansible_collections.osimages.glance.plugins.module_utils._queries import owned_by
from ansible_collections.osimages.glance.plugins.module_utils._reconcile import CONTAINER_FORMATS
from ansible_collections.osimages.glance.plugins.module_utils._reconcile import DISK_FORMATS
from ansible_collections.osimages.glance.plugins.module_utils._reconcile import MEMBER_STATUSES
from ansible_collections.osimages.glance.plugins.module_utils._reconcile import VISIBILITIES
from ansible_collections.osimages.glance.plugins.module_utils._reconcile import desired_from_params
from ansible_collections.osimages.glance.plugins.module_utils._reconcile import has_changes
from ansible_collections.osimages.glance.plugins.module_utils._reconcile import make_diff
from ansible_collections.osimages.glance.plugins.module_utils._reconcile import make_plan
from ansible_collections.osimages.glance.plugins.module_utils._reconcile import normalize
from ansible_collections.osimages.glance.plugins.module_utils._reconcile import preview


class GlanceImageModule(GlanceModule):
    module_name = "glance_image"
    validates_properties = True
    argument_spec = dict(
        name=dict(type="str"),
        id=dict(type="str"),
        id_from=dict(type="str"),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        status=dict(type="str", choices=["active", "deactivated"]),
        disk_format=dict(type="str", choices=DISK_FORMATS),
        container_format=dict(type="str", choices=CONTAINER_FORMATS),
        visibility=dict(type="str", choices=VISIBILITIES),
        protected=dict(type="bool", aliases=["is_protected"]),
        hidden=dict(type="bool", aliases=["is_hidden"]),
        min_disk=dict(type="int"),
        min_ram=dict(type="int"),
        kernel_id=dict(type="str"),
        ramdisk_id=dict(type="str"),
        owner=dict(type="str"),
        tags=dict(type="list", elements="str"),
        purge_tags=dict(type="bool", default=True),
        properties=dict(type="dict"),
        purge_properties=dict(type="bool", default=True),
        members=dict(type="list", elements="str"),
        purge_members=dict(type="bool", default=True),
        member_status=dict(type="str", choices=MEMBER_STATUSES),
    )
    module_kwargs = dict(
        required_one_of=[("name", "id", "id_from")],
        mutually_exclusive=[("id", "id_from")],
        required_by={"member_status": "id"},
    )

    def run(self):
        params = self.params
        # Validate everything that needs no server before the first API call.
        desired = desired_from_params(params)
        self.check_properties(
            [("image %s" % (params["name"] or params["id"] or params["id_from"]), desired["properties"])]
        )
        self._resolve_references(desired)
        if params["id"]:
            return self._reconcile(desired, params["id"])
        if params["id_from"]:
            return self._reconcile_derived(desired, params["id_from"], lambda raw: True)
        raw = self._find(desired, None)
        if raw is not None or params["state"] != "present" or self.check_mode:
            return self._reconcile(desired, None, raw)
        # A new image gets an ID derived from its owner and name: parallel runs creating the same
        # name race for one ID, and Glance keeps exactly one image (see id_from).
        seed = "osimages.glance.glance_image/%s/%s" % (self._scope_owner(desired), params["name"])
        return self._reconcile_derived(desired, seed, lambda raw: raw.get("name") == params["name"])

    def _reconcile_derived(self, desired, seed, is_this_image):
        """Reconcile the image whose ID derives from ``seed``, walking past IDs that Glance will not give."""
        for generation in range(DERIVED_ID_ATTEMPTS):
            image_id = derived_image_id(seed, generation)
            raw = self.api.get(image_id)
            if raw is not None and not is_this_image(raw):
                continue  # an image made from this seed before, since renamed: not this one
            try:
                return self._reconcile(dict(desired, attrs=dict(desired["attrs"])), image_id, raw)
            except IdTaken:
                # Another run created it a moment ago (carry on with it, as an update), or a deleted
                # image holds the ID for ever (move on to the next generation).
                raw = self.api.get(image_id)
                if raw is not None and is_this_image(raw):
                    return self._reconcile(dict(desired, attrs=dict(desired["attrs"])), image_id, raw)
        raise GlanceError("no free image ID derived from %r after %d generations" % (seed, DERIVED_ID_ATTEMPTS))

    def _reconcile(self, desired, image_id, raw=False):
        """Plan and apply for the image with ``image_id`` (or found by name); ``raw`` if already read."""
        params = self.params
        if raw is False:
            raw = self._find(desired, image_id)
        current = self._current(raw)
        if raw is None and params["state"] == "present" and not params["name"]:
            raise GlanceError("image %s was not found; give name to create it" % image_id)
        if raw is None and image_id and params["state"] == "present":
            desired["attrs"]["id"] = image_id
        membership = None
        if params["member_status"] and raw is not None:
            membership = self.api.member(raw["id"], self.api.project_id)

        plan = make_plan(
            current,
            desired,
            state=params["state"],
            status=params["status"],
            member_status=params["member_status"],
            membership=membership,
            purge_tags=params["purge_tags"],
            purge_properties=params["purge_properties"],
            purge_members=params["purge_members"],
        )
        changed = has_changes(plan)
        after = preview(current, plan, self.api.project_id if plan["create"] else None)
        if changed and not self.check_mode:
            image_id = apply_plan(self.api, raw, plan)
            after = None if plan["delete"] else self._current(self.api.get(image_id))

        # Only the run that created an image may roll it back (image_publish relies on this).
        result = dict(changed=changed, created=bool(plan["create"] is not None and changed and not self.check_mode))
        if after is not None:
            result["image"] = after
        if self.ansible._diff:
            result["diff"] = make_diff(current, after, desired, params["status"], params["purge_properties"])
        return result

    def _resolve_references(self, desired):
        """Turn project and image names into the IDs Glance stores."""
        attrs = desired["attrs"]
        if "owner" in attrs:
            attrs["owner"] = self.api.resolve_project(attrs["owner"])
        for option in ("kernel_id", "ramdisk_id"):
            if option in attrs:
                attrs[option] = self.api.resolve_image_id(attrs[option], self._scope_owner(desired))
        if desired["members"]:
            desired["members"] = sorted(set(self.api.resolve_project(member) for member in desired["members"]))

    def _scope_owner(self, desired):
        return desired["attrs"].get("owner") or self.api.project_id

    def _find(self, desired, image_id):
        """The raw image the task is about, or None. Fails on an ambiguous name."""
        params = self.params
        if image_id:
            return self.api.get(image_id)
        return self.api.find_one(params["name"], owned_by(self._scope_owner(desired)), by_id=False, missing_ok=True)

    def _current(self, raw):
        """The normalised image, with its members when it is shared."""
        if raw is None:
            return None
        members = None
        if raw.get("visibility") == "shared":
            members = self.api.members(raw["id"])
        return normalize(raw, members)


def main():
    GlanceImageModule()()


if __name__ == "__main__":
    main()
