#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Contributors to the osimages.glance collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: glance_image_info
short_description: Query OpenStack images with server-side filters
version_added: 0.1.0
description:
  - Look up one image by ID, every image with a given name, or the images that match a set of filters.
  - Every filter is applied by Glance itself, and pages are fetched one at a time, only until O(limit) is
    reached, so a query costs the same whether the cloud holds a hundred images or a hundred thousand.
  - Finding nothing is not an error; RV(images) is then empty.
author:
  - osimages.glance contributors (@osimages)
options:
  image:
    description:
      - An image ID or name. An ID is looked up directly (O(filters) do not apply to it).
      - Names are not unique in Glance, so a name returns every image with that name that also matches O(filters).
    type: str
  filters:
    description:
      - Glance list filters, applied by the server. One key a line below; an unknown key fails the task and lists
        the supported ones.
      - 'C(name), C(status), C(disk_format), C(container_format): exact matches.'
      - 'C(visibility): V(public), V(private), V(shared), V(community), or V(all).'
      - 'C(owner): a project name or ID.'
      - 'C(member_status): V(pending), V(accepted), V(rejected) or V(all), for images shared with this
        project.'
      - 'C(tag): a list of tags; every one must match.'
      - 'C(hidden): hidden images are left out unless this is V(true); V(any) lists the visible images, then
        the hidden ones, each part in O(sort) order (added in 0.2.0).'
      - 'C(protected): V(true) or V(false).'
      - 'C(size_min), C(size_max): bounds in bytes.'
      - 'C(created_at), C(updated_at): with Glance''s operators, for example C(gte:2026-01-01T00:00:00Z).'
      - 'C(properties): a dict of extra properties that must match.'
    type: dict
    default: {}
  sort:
    description:
      - Glance's sort syntax, for example V(name:asc,created_at:desc).
    type: str
  limit:
    description:
      - Return at most this many images. No page beyond them is fetched.
    type: int
  scs_audit:
    description:
      - Audit the images found against the SCS image metadata standard (scs-0102), without changing anything.
        For the managed images of a project, filter on their tag (and set C(hidden=any) in O(filters) to include
        superseded versions).
      - 'Each image is checked for the properties the standard makes mandatory (C(architecture), C(os_distro),
        C(os_version), C(hw_disk_bus), C(image_build_date), C(image_original_user), C(image_source),
        C(image_description), C(replace_frequency), C(provided_until), C(uuid_validity), and the C(min_disk) and
        C(min_ram) attributes), missing or malformed. A visible image is also out of compliance when it was built
        longer ago than its C(replace_frequency) allows (C(monthly) is 31 days) or its C(provided_until) date has
        passed. A hidden image is a superseded version, old by design: only its properties are checked.'
      - V(report) adds RV(scs_audit) and RV(scs_audit_table). V(strict) also fails the task, naming every image
        that is out of compliance and why, with the same results.
    type: str
    choices: ["off", report, strict]
    default: "off"
    version_added: 0.2.0
  include_members:
    description:
      - Whether to read the members of each shared image (one more request per shared image).
    type: bool
    default: false
extends_documentation_fragment:
  - osimages.glance.most_recent
  - osimages.glance.connection
  - osimages.glance.attributes.INFO_MODULE
notes:
  - O(most_recent=true) returns at most one image, so it cannot be combined with O(sort) or O(limit). An O(image)
    given by ID is returned as it is.
seealso:
  - module: osimages.glance.glance_image
  - module: osimages.glance.glance_image_data
  - plugin: osimages.glance.glance_image_id
    plugin_type: lookup
"""

EXAMPLES = r"""
- name: Every image called debian-13
  osimages.glance.glance_image_info:
    cloud: mycloud
    image: debian-13

- name: The three newest active Debian images tagged golden
  osimages.glance.glance_image_info:
    cloud: mycloud
    filters:
      status: active
      tag: [golden]
      properties:
        os_distro: debian
    sort: created_at:desc
    limit: 3

- name: Images shared with this project that it has not accepted yet
  osimages.glance.glance_image_info:
    cloud: mycloud
    filters:
      visibility: shared
      member_status: pending

- name: Every version of a series, hidden or not, in one task
  osimages.glance.glance_image_info:
    cloud: mycloud
    filters:
      hidden: any
      properties:
        osimages_series: debian-13

- name: The newest active debian-13, hidden versions included
  osimages.glance.glance_image_info:
    cloud: mycloud
    image: debian-13
    filters:
      status: active
      hidden: any
    most_recent: true

- name: Audit the managed images of the project against the SCS standard, failing on any finding
  osimages.glance.glance_image_info:
    cloud: mycloud
    filters:
      tag: [managed_by_osimages]
      hidden: any
    scs_audit: strict

- name: Hidden images created this year
  osimages.glance.glance_image_info:
    cloud: mycloud
    filters:
      hidden: true
      created_at: gte:2026-01-01T00:00:00Z
"""

RETURN = r"""
project_id:
  description:
    - The ID of the project the query ran as. The role C(osimages.glance.image_publish) derives deterministic
      image IDs from it.
  returned: always
  type: str
  sample: 0a3e6d1f3b2c4a0f9e8d7c6b5a493827
images:
  description:
    - The matching images, in Glance's order (or O(sort)'s), as the same dicts that M(osimages.glance.glance_image)
      returns in its RV(osimages.glance.glance_image#module:image).
    - C(members) is only filled for shared images when O(include_members=true).
  returned: always
  type: list
  elements: dict
  sample:
    - id: 6a1d8a52-8f0b-4d1b-a8c5-2b4c6b1b1e2f
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
      properties: {os_distro: debian}
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
scs_audit:
  description: One entry per image of RV(images), in the same order, with what the SCS audit found.
  returned: when O(scs_audit) is not V(off)
  type: list
  elements: dict
  contains:
    image:
      description: The image's name.
      type: str
    id:
      description: The image's ID.
      type: str
    version:
      description: The image's C(internal_version) property, or an empty string.
      type: str
    hidden:
      description: Whether the image is hidden (a superseded version, not checked for its age).
      type: bool
    missing:
      description: The mandatory properties (and attributes) the image lacks.
      type: list
      elements: str
    malformed:
      description: The mandatory properties whose value does not take the standard's form.
      type: list
      elements: dict
    outdated:
      description: Why a visible image is past its C(replace_frequency) or C(provided_until), if it is.
      type: list
      elements: str
    compliant:
      description: Whether the image has no finding.
      type: bool
  sample:
    - image: debian-13
      id: 6a1d8a52-8f0b-4d1b-a8c5-2b4c6b1b1e2f
      version: "20261101"
      hidden: false
      missing: [hw_disk_bus]
      malformed: []
      outdated: ["built 2026-11-01, 32 days ago: past its replace_frequency monthly (31 days)"]
      compliant: false
scs_audit_table:
  description: RV(scs_audit) as fixed-width text lines, one per image, for a job log.
  returned: when O(scs_audit) is not V(off)
  type: list
  elements: str
  sample:
    - "IMAGE      VERSION   ID                                    FINDINGS"
    - "debian-13  20261101  6a1d8a52-8f0b-4d1b-a8c5-2b4c6b1b1e2f  missing hw_disk_bus"
"""

import datetime

from ansible_collections.osimages.glance.plugins.module_utils._errors import ModuleError
from ansible_collections.osimages.glance.plugins.module_utils._errors import ValidationError
from ansible_collections.osimages.glance.plugins.module_utils._glance_module import GlanceModule
from ansible_collections.osimages.glance.plugins.module_utils._images import MOST_RECENT_KEYS
from ansible_collections.osimages.glance.plugins.module_utils._queries import image_query
from ansible_collections.osimages.glance.plugins.module_utils._queries import looks_like_uuid
from ansible_collections.osimages.glance.plugins.module_utils._reconcile import normalize
from ansible_collections.osimages.glance.plugins.module_utils._scs import AUDIT_MODES
from ansible_collections.osimages.glance.plugins.module_utils._scs import audit_images
from ansible_collections.osimages.glance.plugins.module_utils._scs import audit_result


class GlanceImageInfoModule(GlanceModule):
    module_name = "glance_image_info"
    argument_spec = dict(
        image=dict(type="str"),
        filters=dict(type="dict", default={}),
        sort=dict(type="str"),
        limit=dict(type="int"),
        most_recent=dict(type="bool", default=False),
        most_recent_key=dict(type="str", choices=list(MOST_RECENT_KEYS), default="created_at"),
        include_members=dict(type="bool", default=False),
        scs_audit=dict(type="str", choices=list(AUDIT_MODES), default="off"),
    )

    def run(self):
        params = self.params
        if params["most_recent"] and (params["sort"] or params["limit"] is not None):
            raise ValidationError(
                "most_recent picks one image by most_recent_key; it cannot be combined with sort or limit"
            )
        query = image_query(params["filters"], params["sort"])
        if params["limit"] is not None and params["limit"] < 1:
            return dict(changed=False, images=[])
        if "owner" in query:
            query["owner"] = self.api.resolve_project(query["owner"])

        if params["image"] and looks_like_uuid(params["image"]):
            found = self.api.get(params["image"])
            raws = [found] if found is not None else []
        else:
            if params["image"]:
                query["name"] = params["image"]
            if params["most_recent"]:
                newest = self.api.most_recent(query, params["most_recent_key"])
                raws = [newest] if newest is not None else []
            else:
                raws = self.api.iter_images(query, limit=params["limit"])
        images = [self._normalize(raw) for raw in raws]
        result = dict(changed=False, images=images, project_id=self.api.project_id)
        if params["scs_audit"] != "off":
            audit, failure = audit_result(audit_images(images, datetime.date.today()), params["scs_audit"])
            result.update(audit)
            if failure:
                raise ModuleError(failure, **result)
        return result

    def _normalize(self, raw):
        members = None
        if self.params["include_members"] and raw.get("visibility") == "shared":
            members = self.api.members(raw["id"])
        return normalize(raw, members)


def main():
    GlanceImageInfoModule()()


if __name__ == "__main__":
    main()
