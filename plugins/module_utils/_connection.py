# -*- coding: utf-8 -*-
# Copyright: Contributors to the osimages.glance collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal use only: this file is not part of the collection's public API.
"""Connection options and the openstacksdk connection built from them."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import traceback

from ansible.module_utils.basic import missing_required_lib
from ansible.module_utils.compat.version import LooseVersion

from ansible_collections.osimages.glance.plugins.module_utils._errors import GlanceError
from ansible_collections.osimages.glance.plugins.module_utils._errors import ValidationError

MINIMUM_SDK_VERSION = "1.0.0"

SDK_IMPORT_ERROR = None
try:
    import openstack

    # openstack.version is not imported by `import openstack`; reading it
    # without this import is what broke openstack.cloud 2.5 on openstacksdk 4.15+.
    from openstack import version as sdk_version
except ImportError:
    openstack = None
    sdk_version = None
    SDK_IMPORT_ERROR = traceback.format_exc()

# Option name -> openstack.connect() keyword.
_CONNECT_KWARGS = {
    "auth": "auth",
    "auth_type": "auth_type",
    "region_name": "region_name",
    "interface": "interface",
    "validate_certs": "verify",
    "ca_cert": "cacert",
    "client_cert": "cert",
    "client_key": "key",
    "api_timeout": "api_timeout",
}


def connection_spec():
    """Argument spec of the connection options, shared by every module."""
    return dict(
        cloud=dict(type="raw"),
        auth=dict(type="dict", no_log=True),
        auth_type=dict(type="str"),
        region_name=dict(type="str"),
        interface=dict(type="str", choices=["admin", "internal", "public"], aliases=["endpoint_type"]),
        validate_certs=dict(type="bool", aliases=["verify"]),
        ca_cert=dict(type="path", aliases=["cacert"]),
        client_cert=dict(type="path", aliases=["cert"]),
        client_key=dict(type="path", no_log=True, aliases=["key"]),
        api_timeout=dict(type="int"),
    )


def wait_spec(default_timeout=180):
    """Argument spec of ``wait`` and ``timeout``, for modules that wait on Glance."""
    return dict(
        wait=dict(type="bool", default=True),
        timeout=dict(type="int", default=default_timeout),
    )


def check_sdk():
    """Raise GlanceError unless a recent enough openstacksdk is importable."""
    if openstack is None:
        raise GlanceError(missing_required_lib("openstacksdk"), exception=SDK_IMPORT_ERROR)
    installed = sdk_version.__version__
    if LooseVersion(installed) < LooseVersion(MINIMUM_SDK_VERSION):
        raise GlanceError(
            "osimages.glance needs openstacksdk >= %s, but %s is installed" % (MINIMUM_SDK_VERSION, installed)
        )
    return installed


def connect_kwargs(params):
    """The openstack.connect() arguments for the module parameters (pure)."""
    kwargs = dict((sdk_key, params.get(option)) for option, sdk_key in _CONNECT_KWARGS.items())
    kwargs = dict((key, value) for key, value in kwargs.items() if value is not None)
    cloud = params.get("cloud")
    if isinstance(cloud, dict):
        merged = dict(cloud)
        merged.update(kwargs)
        return merged
    if cloud is not None and not isinstance(cloud, str):
        raise ValidationError("cloud must be the name of a cloud in clouds.yaml or a dict of cloud settings")
    if cloud:
        kwargs["cloud"] = cloud
    return kwargs


def open_connection(params):
    """Build an openstacksdk Connection. Nothing is sent to the cloud until the first call."""
    check_sdk()
    kwargs = connect_kwargs(params)
    try:
        return openstack.connect(app_name="osimages.glance", **kwargs)
    except openstack.exceptions.ConfigException as exc:
        raise GlanceError("Failed to load the cloud configuration: %s" % exc)
