"""Connection options -> openstack.connect() arguments."""

import re

import pytest

from ansible_collections.osimages.glance.plugins.module_utils import _connection
from ansible_collections.osimages.glance.plugins.module_utils._connection import MINIMUM_SDK_VERSION
from ansible_collections.osimages.glance.plugins.module_utils._connection import check_sdk
from ansible_collections.osimages.glance.plugins.module_utils._connection import connect_kwargs
from ansible_collections.osimages.glance.plugins.module_utils._connection import connection_spec
from ansible_collections.osimages.glance.plugins.module_utils._errors import GlanceError
from ansible_collections.osimages.glance.plugins.module_utils._errors import ValidationError


def params(**values):
    base = dict.fromkeys(connection_spec())
    base.update(values)
    return base


def test_unset_options_are_not_passed():
    assert connect_kwargs(params()) == {}


def test_cloud_name_and_overrides():
    got = connect_kwargs(params(cloud="prod", region_name="r2", validate_certs=False, ca_cert="/ca", api_timeout=5))
    assert got == {"cloud": "prod", "region_name": "r2", "verify": False, "cacert": "/ca", "api_timeout": 5}


def test_cloud_dict_is_merged_with_options():
    cloud = {"auth": {"auth_url": "http://k"}, "region_name": "r1"}
    got = connect_kwargs(params(cloud=cloud, region_name="r2", client_cert="/c", client_key="/k"))
    assert got == {"auth": {"auth_url": "http://k"}, "region_name": "r2", "cert": "/c", "key": "/k"}
    assert cloud["region_name"] == "r1"


def test_cloud_of_another_type_is_refused():
    with pytest.raises(ValidationError, match="cloud must be"):
        connect_kwargs(params(cloud=["x"]))


def test_auth_and_client_key_are_no_log():
    spec = connection_spec()
    assert spec["auth"]["no_log"] and spec["client_key"]["no_log"]
    assert "default" not in spec["cloud"], "cloud must stay optional with no default, for AWX"


def test_sdk_version_is_reported():
    from openstack import version

    assert check_sdk() == version.__version__


def test_an_sdk_older_than_the_minimum_is_refused(monkeypatch):
    from openstack import version

    monkeypatch.setattr(version, "__version__", "0.62.0")
    with pytest.raises(
        GlanceError, match=r"needs openstacksdk >= %s, but 0\.62\.0 is installed" % re.escape(MINIMUM_SDK_VERSION)
    ):
        check_sdk()


def test_a_missing_sdk_is_reported_as_a_missing_library(monkeypatch):
    monkeypatch.setattr(_connection, "openstack", None)
    with pytest.raises(GlanceError, match="openstacksdk"):
        check_sdk()
