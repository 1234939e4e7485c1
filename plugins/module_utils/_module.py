# -*- coding: utf-8 -*-
# Copyright: Contributors to the osimages.glance collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal use only: this file is not part of the collection's public API.
"""LocalModule: the base every module of this collection stands on (GlanceModule, in _glance_module, adds the cloud).

It imports nothing that talks to a cloud, so that the modules which work on local files only (disk_image,
disk_image_boot, disk_image_fetch) never load openstacksdk.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import traceback

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.osimages.glance.plugins.module_utils._errors import ModuleError
from ansible_collections.osimages.glance.plugins.module_utils._secrets import mask_secrets


class LocalModule(object):
    """The base of every module: subclasses declare ``argument_spec`` and ``module_kwargs`` and implement ``run()``.

    ``run()`` returns the result dict and raises ModuleError on failure; this class is the only place that calls
    ``exit_json``/``fail_json``. Modules that work on local files only (disk_image, disk_image_boot) use it as it
    is; GlanceModule adds the cloud.
    """

    module_name = None  # e.g. "glance_image", for messages
    argument_spec = {}
    module_kwargs = {}

    def __init__(self):
        kwargs = dict(supports_check_mode=True)
        kwargs.update(self.module_kwargs)
        self.ansible = AnsibleModule(argument_spec=self.full_spec(), **kwargs)
        self.params = self.ansible.params
        self.check_mode = self.ansible.check_mode
        self.secrets = set()

    def full_spec(self):
        return dict(self.argument_spec)

    def run(self):
        raise NotImplementedError

    def warnings(self):
        """Warnings gathered while running, reported whether the module succeeds or fails."""
        return []

    def _report(self):
        for warning in self.warnings():
            self.ansible.warn(mask_secrets(warning, self.secrets))

    def __call__(self):
        try:
            result = self.run()
        except ModuleError as exc:
            self._report()
            details = dict(exc.details)
            details.setdefault("exception", traceback.format_exc())
            self.ansible.fail_json(**mask_secrets(dict(details, msg=exc.msg), self.secrets))
        except Exception as exc:  # a bug of ours: still one readable line, with the traceback attached
            self._report()
            self.ansible.fail_json(
                **mask_secrets(
                    dict(
                        msg="osimages.glance.%s failed unexpectedly: %s: %s"
                        % (self.module_name, type(exc).__name__, exc),
                        exception=traceback.format_exc(),
                    ),
                    self.secrets,
                )
            )
        self._report()
        self.ansible.exit_json(**mask_secrets(result, self.secrets))
