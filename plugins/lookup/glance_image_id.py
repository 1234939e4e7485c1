# -*- coding: utf-8 -*-
# Copyright: Contributors to the osimages.glance collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: glance_image_id
short_description: Resolve an image name to exactly one image ID
version_added: 0.1.0
description:
  - Returns the ID of the one image with the given name that also matches O(filters), for use where a task needs
    an image ID, such as booting a server.
  - Fails when no image matches. When more than one matches, it fails listing the IDs it found, unless
    O(most_recent=true) says which one to take.
  - Hidden images are left out unless O(filters) has C(hidden=true).
author:
  - osimages.glance contributors (@osimages)
options:
  _terms:
    description: The image name (one or more; one ID is returned for each).
    required: true
    type: list
    elements: str
  filters:
    description:
      - Server-side filters, as in M(osimages.glance.glance_image_info), for example C(status) or C(tag).
    type: dict
    default: {}
  cloud:
    description:
      - The name of a cloud in C(clouds.yaml), or a dict of cloud settings.
      - When not set, openstacksdk picks the cloud from C(OS_CLOUD) or the only cloud of C(OS_CLIENT_CONFIG_FILE).
    type: raw
  auth:
    description: Authentication settings, merged over what O(cloud) provides.
    type: dict
  auth_type:
    description: The keystoneauth plugin to use.
    type: str
  region_name:
    description: The region whose image endpoint is used.
    type: str
  interface:
    description: Which endpoint of the catalog to use.
    type: str
    choices: [admin, internal, public]
  validate_certs:
    description: Whether to check the cloud's TLS certificates. When not set, the cloud configuration decides.
    type: bool
  ca_cert:
    description: A CA bundle to check the cloud's certificates against.
    type: path
  client_cert:
    description: A client certificate for TLS client authentication.
    type: path
  client_key:
    description: The private key of O(client_cert).
    type: path
  api_timeout:
    description: Seconds to wait for each HTTP response from the cloud.
    type: int
extends_documentation_fragment:
  - osimages.glance.most_recent
requirements:
  - openstacksdk >= 1.0.0 on the controller
seealso:
  - module: osimages.glance.glance_image_info
"""

EXAMPLES = r"""
- name: Boot from the current debian-13 image
  ansible.builtin.debug:
    msg: "{{ lookup('osimages.glance.glance_image_id', 'debian-13', cloud='mycloud') }}"

- name: The newest active debian-13, when a pipeline keeps several under the same name
  ansible.builtin.debug:
    msg: "{{ lookup('osimages.glance.glance_image_id', 'debian-13', filters={'status': 'active'}, most_recent=true) }}"

- name: Only an active image tagged golden will do
  ansible.builtin.debug:
    msg: "{{ lookup('osimages.glance.glance_image_id', 'debian-13', filters={'status': 'active', 'tag': ['golden']}) }}"
"""

RETURN = r"""
_raw:
  description: One image ID for each name.
  type: list
  elements: str
"""

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

from ansible_collections.osimages.glance.plugins.module_utils._connection import connection_spec
from ansible_collections.osimages.glance.plugins.module_utils._connection import open_connection
from ansible_collections.osimages.glance.plugins.module_utils._errors import ModuleError
from ansible_collections.osimages.glance.plugins.module_utils._images import ImageApi
from ansible_collections.osimages.glance.plugins.module_utils._queries import image_query


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        params = dict((option, self.get_option(option)) for option in connection_spec())
        try:
            base_query = image_query(self.get_option("filters"))
            api = ImageApi(open_connection(params))
            most_recent = self.get_option("most_recent_key") if self.get_option("most_recent") else None
            return [api.find_one(name, base_query, by_id=False, most_recent=most_recent)["id"] for name in terms]
        except ModuleError as exc:
            raise AnsibleLookupError(exc.msg)
