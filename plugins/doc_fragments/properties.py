# -*- coding: utf-8 -*-
# Copyright: Contributors to the osimages.glance collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # The modules that set image properties check them against Glance's definitions.
    DOCUMENTATION = r"""
options:
  validate_properties:
    description:
      - How the image properties this task sets are checked against Glance's own definitions before anything is
        written. The definitions are Glance's metadata definitions catalog (C(/v2/metadefs), the properties that
        Nova and other services read, such as C(hw_disk_bus), with their allowed values and types) and the image
        schema (C(/v2/schemas/image), the image's attributes and the properties the operator declared).
      - 'Three things are findings: a value outside a definition''s allowed values (naming them), a value of the
        wrong type (a word where an integer belongs), and an unknown key within a small edit distance of a defined
        one (C(hw_disk_buss): "did you mean hw_disk_bus?").'
      - V(strict) fails the task with every finding before anything is written; V(warn) gives each finding as a
        warning and carries on; V(off) reads no definitions.
      - A key that no definition names and that resembles none is left alone, as Glance allows any property. A
        cloud that has not loaded its metadata definitions (C(glance-manage db_load_metadefs)) is checked against
        the image schema only.
      - The definitions are read once per task and kept under C(~/.cache/osimages.glance) (or
        C($XDG_CACHE_HOME/osimages.glance)) between tasks. For ten minutes after they were last found current, a
        task uses them without a request; after that, one request tells whether Glance's namespaces changed (a
        definition loaded in Glance is therefore seen within ten minutes). They are read in full again when the
        namespaces change, and after a day.
    type: str
    choices: [strict, warn, "off"]
    default: warn
    version_added: 0.2.0
"""
