#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Contributors to the osimages.glance collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: glance_info
short_description: What an OpenStack image service offers, before writing to it
version_added: 0.2.0
description:
  - Reads what a cloud's Glance offers and allows, so that a playbook can branch on it before it publishes
    anything, rather than failing half-way on a cloud that lacks an import method, a store or quota.
  - It returns Glance's API versions, its import methods, its stores (with their type and settings when the caller
    may see them), the project's quota usage, and optionally the image schema.
  - The import methods, the stores and the quota usage are read by the same code that the data module's own checks
    use before an upload or import, so a playbook sees what M(osimages.glance.glance_image_data) will see.
author:
  - osimages.glance contributors (@osimages)
options:
  include_schema:
    description:
      - Whether to return Glance's JSON schema of an image as RV(image_schema) (one more request).
    type: bool
    default: false
extends_documentation_fragment:
  - osimages.glance.connection
  - osimages.glance.attributes.INFO_MODULE
seealso:
  - module: osimages.glance.glance_image_data
  - module: osimages.glance.glance_image_info
  - name: Glance's discovery API
    description: The Images API's C(/v2/info) calls.
    link: https://docs.openstack.org/api-ref/image/v2/#image-service-info-discovery
"""

EXAMPLES = r"""
- name: Read what the cloud's Glance offers
  osimages.glance.glance_info:
    cloud: mycloud
  register: glance

- name: Import by URL where the cloud allows it, else upload from here
  osimages.glance.glance_image_data:
    cloud: mycloud
    image: debian-13
    url: "{{ image_url if 'web-download' in glance.import_methods else omit }}"
    src: "{{ omit if 'web-download' in glance.import_methods else local_file }}"
    method: "{{ 'web-download' if 'web-download' in glance.import_methods else 'direct' }}"

- name: Stop before publishing when the project's image quota is nearly used up
  ansible.builtin.assert:
    that: >-
      glance.usage.image_size_total is not defined
      or glance.usage.image_size_total.limit < 0
      or glance.usage.image_size_total.limit - glance.usage.image_size_total.usage >= 20480
    fail_msg: Less than 20 GiB of image quota is left

- name: Copy to every store but the default one
  osimages.glance.glance_image_data:
    cloud: mycloud
    image: debian-13
    method: copy-image
    stores: "{{ glance.stores | rejectattr('default') | map(attribute='id') | list }}"
"""

RETURN = r"""
project_id:
  description: The ID of the project the connection is scoped to.
  returned: always
  type: str
  sample: 0a3e6d1f3b2c4a0f9e8d7c6b5a493827
admin:
  description:
    - Whether the token holds the C(admin) role, which Glance's default policy treats as an administrator (for
      example, to download deactivated images or to read the stores' details).
  returned: always
  type: bool
  sample: false
api_versions:
  description: The Images API versions Glance offers, oldest first, with their status.
  returned: always
  type: list
  elements: dict
  contains:
    version:
      description: The version, for example C(2.15).
      type: str
    status:
      description: C(CURRENT), C(SUPPORTED) or C(DEPRECATED), as Glance says.
      type: str
  sample: [{version: "2.16", status: SUPPORTED}, {version: "2.17", status: CURRENT}]
api_version:
  description: The newest version Glance offers (the C(CURRENT) one, when Glance marks one).
  returned: always
  type: str
  sample: "2.17"
import_methods:
  description:
    - The interoperable import methods Glance enables, such as C(glance-direct), C(web-download), C(copy-image)
      and C(glance-download). Direct upload (a C(PUT) of the data) is not one of them and is always possible.
  returned: always
  type: list
  elements: str
  sample: [glance-direct, web-download, copy-image]
multi_store:
  description: Whether Glance runs with several named stores (RV(stores) lists them).
  returned: always
  type: bool
  sample: true
default_store:
  description: The ID of the store that data goes to when no store is named, or null without named stores.
  returned: always
  type: str
  sample: fast
stores:
  description:
    - The named stores, empty when Glance has a single, unnamed one.
    - C(type), C(properties) and C(weight) are there for an admin (RV(admin)), whom Glance's default policy lets
      read the stores' details.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: The store's ID, as O(osimages.glance.glance_image_data#module:stores) takes it.
      type: str
    description:
      description: The operator's description of the store.
      type: str
    default:
      description: Whether this is the default store.
      type: bool
    type:
      description: The store's driver, such as C(file), C(rbd), C(swift) or C(http).
      type: str
    properties:
      description: The store's settings that Glance shows, which vary with the driver.
      type: dict
    weight:
      description: The store's weight, which orders the locations of an image.
      type: int
  sample: [{id: fast, description: SSD-backed, default: true}, {id: cheap, description: HDD-backed, default: false}]
usage:
  description:
    - The project's image quota as Glance enforces it (Keystone unified limits), keyed by limit name, such as
      C(image_size_total) (MiB), C(image_stage_total) (MiB), C(image_count_total) and C(image_count_uploading).
      Each holds C(limit) and C(usage); a C(limit) of -1 means unlimited.
    - Empty when the cloud does not enforce image quotas.
  returned: always
  type: dict
  sample: {image_size_total: {limit: 51200, usage: 20480}, image_count_total: {limit: 100, usage: 12}}
image_schema:
  description: Glance's JSON schema of an image, which includes the properties the cloud's operator declared.
  returned: when O(include_schema=true)
  type: dict
"""

from ansible_collections.osimages.glance.plugins.module_utils._glance_module import GlanceModule


class GlanceInfoModule(GlanceModule):
    module_name = "glance_info"
    argument_spec = dict(include_schema=dict(type="bool", default=False))

    def run(self):
        api = self.api
        admin = api.is_admin()
        versions = api.api_versions()
        current = [entry["version"] for entry in versions if entry["status"] == "CURRENT"]
        stores = api.store_list(detailed=admin)
        result = dict(
            changed=False,
            project_id=api.project_id,
            admin=admin,
            api_versions=versions,
            api_version=(current or [entry["version"] for entry in versions] or [None])[-1],
            import_methods=api.import_methods(),
            multi_store=bool(stores),
            default_store=next((store["id"] for store in stores if store["default"]), None),
            stores=stores,
            usage=api.usage(),
        )
        if self.params["include_schema"]:
            result["image_schema"] = api.image_schema()
        return result


def main():
    GlanceInfoModule()()


if __name__ == "__main__":
    main()
