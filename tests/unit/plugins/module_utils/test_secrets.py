"""_secrets: the secrets of a cloud dict and of URLs, and masking them wherever output could show them."""

import pytest

from ansible_collections.osimages.glance.plugins.module_utils._secrets import mask_secrets
from ansible_collections.osimages.glance.plugins.module_utils._secrets import redact_url
from ansible_collections.osimages.glance.plugins.module_utils._secrets import secret_values
from ansible_collections.osimages.glance.plugins.module_utils._secrets import url_secrets


def test_secret_values_of_a_cloud_dict():
    cloud = {
        "auth": {"username": "u", "password": "p1", "application_credential_secret": "s1", "token": "t1"},
        "key": "/path",
        "region_name": "r",
    }
    assert secret_values(cloud) == {"p1", "s1", "t1", "/path"}
    assert secret_values("name") == set()


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
