"""The package manifest (_packages): dpkg's status file and DIB's dpkg manifest, read into one canonical form."""

import hashlib
import json
import random

import pytest

from ansible_collections.osimages.glance.plugins.module_utils import _packages as packages
from ansible_collections.osimages.glance.plugins.module_utils._errors import ValidationError

STATUS = """Package: base-files
Status: install ok installed
Priority: required
Architecture: amd64
Version: 12.4+deb12u8
Description: Debian base system miscellaneous files
 This package contains the basic filesystem hierarchy.
 .
 Status: not a field, a continuation line

Package: old-kernel
Status: deinstall ok config-files
Architecture: amd64
Version: 6.1.0-1

Package: libc6
Status: install ok installed
Multi-Arch: same
Architecture: amd64
Version: 2.36-9+deb12u9
Conffiles:
 /etc/ld.so.conf.d/x86_64-linux-gnu.conf d4e7a7b88a71b5ffd9e2644e71a0cfab

Package: tzdata
Status: install ok installed
Architecture: all
Version: 2025b-0+deb12u1
"""

DIB = json.dumps(
    {
        "packages": [
            {"package": "libc6:amd64", "arch": "amd64", "version": "2.36-9+deb12u9", "status": "ii "},
            {"package": "base-files", "arch": "amd64", "version": "12.4+deb12u8", "status": "ii "},
            {"package": "old-kernel", "arch": "amd64", "version": "6.1.0-1", "status": "rc "},
            {"package": "tzdata", "arch": "all", "version": "2025b-0+deb12u1", "status": "ii "},
        ]
    }
)

INSTALLED = [
    {"name": "base-files", "version": "12.4+deb12u8", "architecture": "amd64"},
    {"name": "libc6", "version": "2.36-9+deb12u9", "architecture": "amd64"},
    {"name": "tzdata", "version": "2025b-0+deb12u1", "architecture": "all"},
]


@pytest.mark.parametrize("text", [STATUS, DIB], ids=["dpkg status", "dib manifest"])
def test_both_sources_give_the_installed_packages_and_the_same_manifest(text):
    found = packages.read_packages(text, "the source")
    assert sorted(found, key=lambda p: p["name"]) == INSTALLED  # removed-but-configured packages are not installed
    data = packages.manifest_bytes(found)
    assert json.loads(data) == {"packages": INSTALLED}
    summary = packages.summary("/a.packages.json", data)
    assert summary == {"path": "/a.packages.json", "sha256": hashlib.sha256(data).hexdigest(), "count": 3}


def test_the_manifest_does_not_depend_on_the_order_or_repeats():
    shuffled = list(INSTALLED) * 2
    random.Random(7).shuffle(shuffled)
    assert packages.manifest_bytes(shuffled) == packages.manifest_bytes(INSTALLED)
    other = INSTALLED[:2] + [dict(INSTALLED[2], version="2025c-0+deb12u1")]
    assert packages.manifest_bytes(other) != packages.manifest_bytes(INSTALLED)


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "lists no installed package"),
        ("Package: gone\nStatus: deinstall ok config-files\n", "lists no installed package"),
        ('{"not": "a manifest"}', "not a diskimage-builder dpkg manifest"),
        ("{broken json", "not a diskimage-builder dpkg manifest"),
    ],
)
def test_what_is_not_a_package_list_is_refused(text, message):
    with pytest.raises(ValidationError, match=message):
        packages.read_packages(text, "packages_from /x")
