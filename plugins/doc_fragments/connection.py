# -*- coding: utf-8 -*-
# Copyright: Contributors to the osimages.glance collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # Connection options, named as in openstack.cloud so that module_defaults can be shared.
    DOCUMENTATION = r"""
options:
  cloud:
    description:
      - The name of a cloud in C(clouds.yaml), or a dict of cloud settings in C(clouds.yaml) form.
      - When not set, openstacksdk picks the cloud the usual way, from C(OS_CLOUD), the environment, or the only
        cloud in the file named by C(OS_CLIENT_CONFIG_FILE). That is how the OpenStack credential of
        AWX and Automation Controller works, so leave this unset there.
      - Secrets inside a dict given here are masked in the task output.
    type: raw
  auth:
    description:
      - Authentication settings (C(auth_url), C(username), C(password), C(project_name), ...), merged over
        what O(cloud) provides.
    type: dict
  auth_type:
    description:
      - The keystoneauth plugin to use, such as C(password), C(token) or C(v3applicationcredential).
    type: str
  region_name:
    description:
      - The region whose image endpoint is used.
    type: str
  interface:
    description:
      - Which endpoint of the catalog to use. When not set, the cloud configuration decides (C(public) by default).
    type: str
    choices: [admin, internal, public]
    aliases: [endpoint_type]
  validate_certs:
    description:
      - Whether to check the cloud's TLS certificates. When not set, the cloud configuration decides, which
        means V(true) unless it says otherwise. Setting V(false) gives a warning.
    type: bool
    aliases: [verify]
  ca_cert:
    description:
      - A CA bundle to check the cloud's certificates against.
    type: path
    aliases: [cacert]
  client_cert:
    description:
      - A client certificate for TLS client authentication.
    type: path
    aliases: [cert]
  client_key:
    description:
      - The private key of O(client_cert).
    type: path
    aliases: [key]
  api_timeout:
    description:
      - Seconds to wait for each HTTP response from the cloud.
    type: int
requirements:
  - python >= 3.9
  - openstacksdk >= 1.0.0
notes:
  - The task runs where the module runs, usually the controller with C(delegate_to) or C(connection) set to
    localhost; openstacksdk must be installed there.
"""

    # For modules that wait for Glance to finish an operation.
    WAIT = r"""
options:
  wait:
    description:
      - Whether to wait for Glance to finish the operation before returning. Each module documents its own
        O(timeout).
    type: bool
    default: true
"""
