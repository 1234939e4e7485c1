"""Checksum files in the shapes upstreams publish, and upstream "latest" files resolved to catalog versions."""

import datetime

import pytest

from ansible_collections.osimages.glance.plugins.module_utils._catalog import load_catalog
from ansible_collections.osimages.glance.plugins.module_utils._checksums import parse_checksum_file
from ansible_collections.osimages.glance.plugins.module_utils._checksums import url_filename
from ansible_collections.osimages.glance.plugins.module_utils._errors import ValidationError
from ansible_collections.osimages.glance.plugins.module_utils._latest import SOURCE_CHECKSUM_PROPERTY
from ansible_collections.osimages.glance.plugins.module_utils._latest import latest_entry
from ansible_collections.osimages.glance.plugins.module_utils._latest import resolve_latest

SHA256 = "ab" * 32
SHA512 = "cd" * 64
MD5 = "ef" * 16
NAME = "debian-13-genericcloud-amd64.qcow2"

SHAPES = [
    ("GNU text mode", "%s  %s\n%s  other.qcow2\n" % (SHA256, NAME, "00" * 32), "sha256:" + SHA256),
    ("GNU binary mode", "%s *%s\n" % (SHA512, NAME), "sha512:" + SHA512),
    ("a path before the name", "%s  ./images/%s\n" % (SHA256, NAME), "sha256:" + SHA256),
    ("BSD tag, as Fedora's CHECKSUM", "# comment\nSHA256 (%s) = %s\n" % (NAME, SHA256), "sha256:" + SHA256),
    ("BSD tag, upper-case hex", "SHA512 (%s) = %s\n" % (NAME, SHA512.upper()), "sha512:" + SHA512),
    ("a bare digest (a sidecar file)", "%s\n" % SHA512, "sha512:" + SHA512),
    ("a bare md5 sidecar", MD5, "md5:" + MD5),
    (
        "a clearsigned sidecar: the signature block is not read as a second digest",
        "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n%s\n"
        "-----BEGIN PGP SIGNATURE-----\n\n%s\n-----END PGP SIGNATURE-----\n" % (SHA512, "ab" * 32),
        "sha512:" + SHA512,
    ),
    (
        "the strongest of several algorithms wins",
        "MD5 (%s) = %s\nSHA512 (%s) = %s\nSHA256 (%s) = %s\n" % (NAME, MD5, NAME, SHA512, NAME, SHA256),
        "sha512:" + SHA512,
    ),
]


@pytest.mark.parametrize("text, expected", [case[1:] for case in SHAPES], ids=[case[0] for case in SHAPES])
def test_a_checksum_file_gives_the_digest_of_the_named_file(text, expected):
    assert parse_checksum_file(text, NAME) == expected


REFUSALS = [
    (
        "the name is missing",
        "%s  other.qcow2\n%s  third.img\n" % (SHA256, SHA512),
        "does not list %s (it lists other.qcow2, third.img)" % NAME,
    ),
    ("listed with sha1 only", "SHA1 (%s) = %s\n" % (NAME, "aa" * 20), "lists %s, but not with an md5" % NAME),
    ("no known shape", "<html>not found</html>\n", "holds no checksum in a known shape"),
    ("two bare digests name no file", "%s\n%s\n" % (SHA256, SHA512), "holds no checksum in a known shape"),
]


@pytest.mark.parametrize("text, message", [case[1:] for case in REFUSALS], ids=[case[0] for case in REFUSALS])
def test_a_checksum_file_without_the_file_says_what_it_holds(text, message):
    with pytest.raises(ValidationError) as raised:
        parse_checksum_file(text, NAME, "SUMS")
    assert message in raised.value.msg and raised.value.msg.startswith("SUMS ")


def test_url_filename_ignores_queries_and_fragments():
    assert url_filename("http://127.0.0.1:8000/current/%s?x=1#y" % NAME) == NAME


def image(versions=(), **changes):
    entry = {
        "name": "Debian 13",
        "format": "qcow2",
        "login": "debian",
        "status": "active",
        "visibility": "public",
        "versions": list(versions),
    }
    entry.update(changes)
    return load_catalog([("debian.yml", {"images": [entry]})])[0]


LATEST_URL = "http://127.0.0.1/current/" + NAME
SUMS_URL = "http://127.0.0.1/current/SHA256SUMS"
DATE = datetime.date(2026, 11, 30)


def glance(version, checksum=None, created="2026-11-01T00:00:00Z"):
    properties = {"internal_version": version, "osimages_series": "Debian 13"}
    if checksum:
        properties[SOURCE_CHECKSUM_PROPERTY] = checksum
    return {"id": "id-" + version, "properties": properties, "created_at": created}


def never():
    raise AssertionError("the upstream file's date was asked, though the version is known")


def test_latest_url_becomes_a_new_version_named_after_the_upstream_date():
    followed = image(latest_url=LATEST_URL, latest_checksum_url=SUMS_URL)
    assert latest_entry(followed) == (None, LATEST_URL, SUMS_URL)
    resolved = resolve_latest(followed, "sha256:" + SHA256, lambda: DATE, [glance("20261001")], "internal_version")
    (version,) = resolved["versions"]
    assert (version["version"], version["url"], version["checksum"]) == ("20261130", LATEST_URL, "sha256:" + SHA256)
    assert version["build_date"] == DATE and version["meta"] == {SOURCE_CHECKSUM_PROPERTY: "sha256:" + SHA256}
    assert followed["versions"] == []  # the catalog itself is not changed


def test_an_unchanged_upstream_file_resolves_to_the_version_that_recorded_it():
    followed = image(latest_url=LATEST_URL, latest_checksum_url=SUMS_URL)
    series = [glance("20261001", "sha256:" + "11" * 32), glance("20261115", "sha256:" + SHA256, "2026-11-15")]
    resolved = resolve_latest(followed, "sha256:" + SHA256, never, series, "internal_version")
    assert [version["version"] for version in resolved["versions"]] == ["20261115"]


def test_a_listed_version_with_the_same_checksum_is_the_latest_one():
    listed = {"version": "20261120", "url": "http://127.0.0.1/x.qcow2", "checksum": "sha256:" + SHA256}
    followed = image([listed], latest_url=LATEST_URL, latest_checksum_url=SUMS_URL)
    resolved = resolve_latest(followed, "sha256:" + SHA256, never, [], "internal_version")
    assert [(version["version"], version["url"]) for version in resolved["versions"]] == [
        ("20261120", "http://127.0.0.1/x.qcow2")
    ]


def test_a_new_upstream_file_on_a_day_already_taken_gets_a_suffix_and_sorts_last():
    listed = {"version": "20261130", "url": "http://127.0.0.1/x.qcow2", "checksum": "sha256:" + "22" * 32}
    followed = image([listed], latest_url=LATEST_URL, latest_checksum_url=SUMS_URL)
    series = [glance("20261130.1", "sha256:" + "33" * 32)]
    resolved = resolve_latest(followed, "sha256:" + SHA256, lambda: DATE, series, "internal_version")
    assert [version["version"] for version in resolved["versions"]] == ["20261130", "20261130.2"]


def test_a_version_called_latest_keeps_its_own_settings_and_falls_back_on_the_image_checksum_file():
    entry = {"version": "latest", "url": LATEST_URL, "hidden": False, "meta": {"os_version": "13"}}
    followed = image([entry], latest_checksum_url=SUMS_URL, latest_url=LATEST_URL)
    assert latest_entry(followed) == (0, LATEST_URL, SUMS_URL)
    (version,) = resolve_latest(followed, "md5:" + MD5, lambda: DATE, [], "internal_version")["versions"]
    assert (version["version"], version["hidden"], version["meta"]["os_version"]) == ("20261130", False, "13")


def test_checksum_url_is_read_like_checksums_url_and_the_two_together_are_refused():
    entry = {"version": "latest", "url": LATEST_URL, "checksum_url": SUMS_URL + ".sha512"}
    assert latest_entry(image([entry])) == (0, LATEST_URL, SUMS_URL + ".sha512")
    with pytest.raises(ValidationError) as raised:
        image([dict(entry, checksums_url=SUMS_URL)])
    assert "checksums_url and checksum_url are two ways to say one thing" in raised.value.msg
