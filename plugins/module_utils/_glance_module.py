# -*- coding: utf-8 -*-
# Copyright: Contributors to the osimages.glance collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal use only: this file is not part of the collection's public API.
"""GlanceModule: LocalModule with the connection options, a lazy ImageApi and Glance's property definitions."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import os
import time

from ansible_collections.osimages.glance.plugins.module_utils._connection import connection_spec
from ansible_collections.osimages.glance.plugins.module_utils._connection import open_connection
from ansible_collections.osimages.glance.plugins.module_utils._connection import wait_spec
from ansible_collections.osimages.glance.plugins.module_utils._errors import GlanceError
from ansible_collections.osimages.glance.plugins.module_utils._files import cache_dir
from ansible_collections.osimages.glance.plugins.module_utils._files import read_json
from ansible_collections.osimages.glance.plugins.module_utils._files import write_cache
from ansible_collections.osimages.glance.plugins.module_utils._images import ImageApi
from ansible_collections.osimages.glance.plugins.module_utils._module import LocalModule
from ansible_collections.osimages.glance.plugins.module_utils._properties import IMAGE_RESOURCE_TYPE
from ansible_collections.osimages.glance.plugins.module_utils._properties import VALIDATION_MODES
from ansible_collections.osimages.glance.plugins.module_utils._properties import check_properties
from ansible_collections.osimages.glance.plugins.module_utils._properties import definitions_fingerprint
from ansible_collections.osimages.glance.plugins.module_utils._properties import definitions_from
from ansible_collections.osimages.glance.plugins.module_utils._properties import enforce
from ansible_collections.osimages.glance.plugins.module_utils._secrets import secret_values
from ansible_collections.osimages.glance.plugins.module_utils._secrets import url_secrets

# Glance's property definitions are kept on disk between tasks. For this many seconds after they were last found
# current, a task uses them as they are; after that, it pays one request (the namespace list, which says whether
# they changed: Glance answers it in about half a second). The image schema in them, which that list does not
# cover, is read again after DEFINITIONS_MAX_AGE.
DEFINITIONS_FRESH = 600
DEFINITIONS_MAX_AGE = 24 * 3600


class GlanceModule(LocalModule):
    """A module that talks to Glance: connection options, the ImageApi, retries reported as warnings, secrets masked.

    The connection is opened lazily, through ``connect`` (tests pass a fake).
    """

    # Modules that wait for Glance (uploads, imports) add wait/timeout with this default.
    wait_timeout = None
    # Modules that set image properties add validate_properties (see check_properties).
    validates_properties = False

    def __init__(self, connect=None):
        super(GlanceModule, self).__init__()
        # A `cloud` dict may carry a password, and a `url` a password or a signature: they are masked in every
        # message, warning and result (text Glance sends back included), and in the logged invocation.
        self.secrets = secret_values(self.params.get("cloud")) | url_secrets(self.params.get("url"))
        self.ansible.no_log_values.update(self.secrets)
        self._connect = connect or open_connection
        self._api = None
        self.retries = []  # every ImageApi of the run (one per region) reports its retries here
        self.findings = []  # validate_properties=warn: what Glance's definitions refuse
        self._definitions = None

    def full_spec(self):
        spec = connection_spec()
        if self.wait_timeout is not None:
            spec.update(wait_spec(self.wait_timeout))
        if self.validates_properties:
            spec["validate_properties"] = dict(type="str", choices=list(VALIDATION_MODES), default="warn")
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

    def check_properties(self, properties_of):
        """Check the properties of each ``(what, properties)`` against Glance's definitions, before anything is
        written, as validate_properties says: fail with every finding (strict), or warn of each one (warn)."""
        mode = self.params["validate_properties"]
        wanted = [(what, properties) for what, properties in properties_of if properties]
        if mode == "off" or not wanted:
            return
        try:
            definitions = self.property_definitions()
        except GlanceError as exc:
            if mode == "strict":
                raise
            self.findings.append("the properties were not checked against Glance's definitions: %s" % exc.msg)
            return
        lines = [
            "%s: %s" % (what, message)
            for what, properties in wanted
            for message in check_properties(properties, definitions)
        ]
        self.findings.extend(enforce(lines, mode))

    def property_definitions(self):
        """Glance's definitions of image properties (see _properties.definitions_from), read once per task."""
        if self._definitions is not None:
            return self._definitions
        path = _definitions_cache(self.api.http.get_endpoint())
        cached, now = _read_json(path), time.time()
        if cached.get("definitions") is not None and 0 <= now - cached.get("checked", 0) < DEFINITIONS_FRESH:
            self._definitions = cached["definitions"]
            return self._definitions
        summaries = self.api.metadef_namespaces(IMAGE_RESOURCE_TYPE)
        fingerprint = definitions_fingerprint(summaries)
        if cached.get("fingerprint") == fingerprint and 0 <= now - cached.get("saved", 0) < DEFINITIONS_MAX_AGE:
            self._definitions = cached["definitions"]
            write_cache(path, dict(cached, checked=now))
            return self._definitions
        namespaces = [self.api.metadef_namespace(summary["namespace"], IMAGE_RESOURCE_TYPE) for summary in summaries]
        self._definitions = definitions_from(namespaces, self.api.image_schema())
        write_cache(path, dict(fingerprint=fingerprint, saved=now, checked=now, definitions=self._definitions))
        return self._definitions

    def warnings(self):
        """Retries are bounded and never silent: each one becomes a warning; so does each property finding."""
        return list(self.retries) + list(self.findings)


def _definitions_cache(endpoint):
    """Where the definitions of the Glance at ``endpoint`` are kept between tasks."""
    key = hashlib.sha256(str(endpoint).encode("utf-8")).hexdigest()[:16]
    return os.path.join(cache_dir(), "property-definitions-%s.json" % key)


def _read_json(path):
    """The JSON object in ``path``, or {} when there is none to read (the cache is only ever a shortcut)."""
    return read_json(path) or {}
