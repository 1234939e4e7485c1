# -*- coding: utf-8 -*-
# Copyright: Contributors to the osimages.glance collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal use only: this file is not part of the collection's public API.
"""LocalModule and GlanceModule: the bases every module of this collection stands on."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import traceback

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.osimages.glance.plugins.module_utils._connection import connection_spec
from ansible_collections.osimages.glance.plugins.module_utils._connection import mask_secrets
from ansible_collections.osimages.glance.plugins.module_utils._connection import open_connection
from ansible_collections.osimages.glance.plugins.module_utils._connection import secret_values
from ansible_collections.osimages.glance.plugins.module_utils._connection import url_secrets
from ansible_collections.osimages.glance.plugins.module_utils._connection import wait_spec
from ansible_collections.osimages.glance.plugins.module_utils._errors import ModuleError
from ansible_collections.osimages.glance.plugins.module_utils._images import ImageApi


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


class GlanceModule(LocalModule):
    """A module that talks to Glance: connection options, the ImageApi, retries reported as warnings, secrets masked.

    The connection is opened lazily, through ``connect`` (tests pass a fake).
    """

    # Modules that wait for Glance (uploads, imports) add wait/timeout with this default.
    wait_timeout = None

    def __init__(self, connect=None):
        super(GlanceModule, self).__init__()
        # A `cloud` dict may carry a password, and a `url` a password or a signature: they are masked in every
        # message, warning and result (text Glance sends back included), and in the logged invocation.
        self.secrets = secret_values(self.params.get("cloud")) | url_secrets(self.params.get("url"))
        self.ansible.no_log_values.update(self.secrets)
        self._connect = connect or open_connection
        self._api = None
        self.retries = []  # every ImageApi of the run (one per region) reports its retries here

    def full_spec(self):
        spec = connection_spec()
        if self.wait_timeout is not None:
            spec.update(wait_spec(self.wait_timeout))
        spec.update(self.argument_spec)
        return spec

    @property
    def api(self):
        """The ImageApi, connecting on first use."""
        if self._api is None:
            self._api = ImageApi(self._connect(self.params))
            self._api.retries = self.retries
            if self.params.get("validate_certs") is False:
                self.ansible.warn("validate_certs is false: the TLS certificates of the cloud are not checked")
        return self._api

    def api_in_region(self, region, interface=None):
        """An ImageApi for another region of the same cloud (the same credentials, a token of its own).

        Its retries are reported with the main ImageApi's, without opening that one.
        """
        params = dict(self.params, region_name=region)
        if interface:
            params["interface"] = interface
        api = ImageApi(self._connect(params))
        api.retries = self.retries
        return api

    def warnings(self):
        """Retries are bounded and never silent: each one becomes a warning."""
        return list(self.retries)
