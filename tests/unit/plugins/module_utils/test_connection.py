"""Connection options -> openstack.connect() arguments, and secret masking."""

import re

import pytest

from ansible_collections.osimages.glance.plugins.module_utils import _connection
from ansible_collections.osimages.glance.plugins.module_utils._connection import MINIMUM_SDK_VERSION
from ansible_collections.osimages.glance.plugins.module_utils._connection import check_sdk
from ansible_collections.osimages.glance.plugins.module_utils._connection import connect_kwargs
from ansible_collections.osimages.glance.plugins.module_utils._connection import connection_spec
from ansible_collections.osimages.glance.plugins.module_utils._connection import mask_secrets
from ansible_collections.osimages.glance.plugins.module_utils._connection import redact_url
from ansible_collections.osimages.glance.plugins.module_utils._connection import secret_values
from ansible_collections.osimages.glance.plugins.module_utils._connection import url_secrets
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


def test_secret_values_of_a_cloud_dict():
    cloud = {
        "auth": {"username": "u", "password": "p1", "application_credential_secret": "s1", "token": "t1"},
        "key": "/path",
        "region_name": "r",
    }
    assert secret_values(cloud) == {"p1", "s1", "t1", "/path"}
    assert secret_values("name") == set()


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


@pytest.mark.parametrize(
    "url, redacted",
    [
        ("https://mirror.example/disk.qcow2", "https://mirror.example/disk.qcow2"),
        ("http://user:s3cret@host:8080/disk.raw", "http://user:********@host:8080/disk.raw"),
        ("http://user@host/disk.raw", "http://user@host/disk.raw"),  # no password, nothing to hide
        (
            "https://swift.example/v1/AUTH_p/c/o?temp_url_sig=da39a3ee&temp_url_expires=1767225600",
            "https://swift.example/v1/AUTH_p/c/o?temp_url_sig=********&temp_url_expires=1767225600",
        ),
        (
            "https://b.s3.example/o?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIA%2F20261202%2Fs3"
            "&X-Amz-Signature=0123abcd&X-Amz-Expires=300",
            "https://b.s3.example/o?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=********"
            "&X-Amz-Signature=********&X-Amz-Expires=300",
        ),
        ("https://blob.example/c/o?sv=2024&sig=abc%2Bdef%3D", "https://blob.example/c/o?sv=2024&sig=********"),
        ("https://x.example/o?Signature=zzz9", "https://x.example/o?Signature=********"),
    ],
)
def test_redact_url(url, redacted):
    assert redact_url(url) == redacted


def test_url_secrets_are_found_as_written_and_decoded():
    """Glance may echo the URL as sent or decoded: both forms are masked."""
    secrets = url_secrets("http://u:p%40ss@h/?sig=a%2Bb")
    assert {"p%40ss", "p@ss", "a%2Bb", "a+b"} <= secrets
    assert url_secrets(None) == set() and url_secrets("") == set()


def test_mask_secrets_walks_results():
    result = {"msg": "URI http://u:pw123@h/ refused", "warnings": ["retry pw123"], "n": 3, "ok": True, "x": None}
    masked = mask_secrets(result, {"pw123"})
    assert masked == {
        "msg": "URI http://u:********@h/ refused",
        "warnings": ["retry ********"],
        "n": 3,
        "ok": True,
        "x": None,
    }
    assert mask_secrets("abc", set()) == "abc"
