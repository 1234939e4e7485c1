# -*- coding: utf-8 -*-
# Copyright: Contributors to the osimages.glance collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # The image lookups that can take the most recent of several matches.
    DOCUMENTATION = r"""
options:
  most_recent:
    description:
      - When several images match, take only the one that sorts last by O(most_recent_key) (the newest, by
        default), as Terraform's image data source does with C(most_recent). Glance sorts, so this costs one
        request whatever the number of matches.
    type: bool
    default: false
    version_added: 0.2.0
  most_recent_key:
    description:
      - What O(most_recent=true) sorts by. V(name) suits versioned names such as C(debian-13-20261201).
    type: str
    choices: [created_at, updated_at, name]
    default: created_at
    version_added: 0.2.0
"""
