# -*- coding: utf-8 -*-
# Copyright: Contributors to the osimages.glance collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The filters the collection's roles decide with: each is a pure function of module_utils/_roles.py, tested as a
table there, so that no role computes in Jinja. Their documentation is in the YAML file of each filter's name."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.osimages.glance.plugins.module_utils._roles import build_commands
from ansible_collections.osimages.glance.plugins.module_utils._roles import connection_overrides
from ansible_collections.osimages.glance.plugins.module_utils._roles import publish_entry
from ansible_collections.osimages.glance.plugins.module_utils._roles import transfer_errors
from ansible_collections.osimages.glance.plugins.module_utils._roles import transfer_paths


class FilterModule(object):
    def filters(self):
        return {
            "build_commands": build_commands,
            "connection_overrides": connection_overrides,
            "publish_entry": publish_entry,
            "transfer_errors": transfer_errors,
            "transfer_paths": transfer_paths,
        }
