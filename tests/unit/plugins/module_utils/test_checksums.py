"""_checksums: ALGO:HEX as users write it (the checksum files upstreams publish are tested in test_latest)."""

import pytest

from ansible_collections.osimages.glance.plugins.module_utils._checksums import parse_checksum
from ansible_collections.osimages.glance.plugins.module_utils._errors import ValidationError


@pytest.mark.parametrize(
    "value, expected",
    [
        (None, None),
        ("sha256:" + "a" * 64, ("sha256", "a" * 64)),
        ("SHA512:" + "B" * 128, ("sha512", "b" * 128)),
        ("md5: " + "c" * 32, ("md5", "c" * 32)),
    ],
)
def test_parse_checksum(value, expected):
    assert parse_checksum(value) == expected


@pytest.mark.parametrize(
    "value, words",
    [
        ("a" * 64, "ALGO:HEX"),
        ("sha1:" + "a" * 40, "ALGO:HEX"),
        ("sha256:abc", "64 hexadecimal digits"),
        ("md5:" + "z" * 32, "32 hexadecimal digits"),
    ],
)
def test_bad_checksums(value, words):
    with pytest.raises(ValidationError, match=words):
        parse_checksum(value)
