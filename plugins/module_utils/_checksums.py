# -*- coding: utf-8 -*-
# Copyright: Contributors to the osimages.glance collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal use only: this file is not part of the collection's public API.
"""Checksums as users write them (``ALGO:HEX``) and as upstreams publish them in checksum files (pure).

Both the generic downloader (_fetch) and the catalog (_catalog, _latest, glance_catalog) take them from here.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import re

from ansible_collections.osimages.glance.plugins.module_utils._errors import ValidationError

CHECKSUM_ALGORITHMS = ("sha256", "sha512", "md5")
# A digest's length tells its algorithm when the file does not say it.
ALGORITHM_BY_LENGTH = {32: "md5", 64: "sha256", 128: "sha512"}
_HEX = r"[0-9A-Fa-f]{32,128}"
# GNU coreutils: "HEX  NAME" (text mode) or "HEX *NAME" (binary mode).
_GNU_LINE = re.compile(r"^(%s)\s+\*?(.+?)\s*$" % _HEX)
# BSD / --tag style, as Fedora's CHECKSUM files: "SHA256 (NAME) = HEX".
_TAGGED_LINE = re.compile(r"^([A-Za-z0-9-]+)\s*\((.+)\)\s*=\s*(%s)\s*$" % _HEX)
_BARE = re.compile(r"^(%s)(\s+\S.*)?$" % _HEX)


def parse_checksum(value):
    """'ALGO:HEX' -> (algo, hex), validated; None -> None."""
    if value is None:
        return None
    algo, sep, digest = value.partition(":")
    algo = algo.strip().lower()
    digest = digest.strip().lower()
    if not sep or algo not in CHECKSUM_ALGORITHMS:
        raise ValidationError(
            "checksum must look like ALGO:HEX with ALGO one of %s, got %r" % (", ".join(CHECKSUM_ALGORITHMS), value)
        )
    expected_length = hashlib.new(algo).digest_size * 2
    if len(digest) != expected_length or any(c not in "0123456789abcdef" for c in digest):
        raise ValidationError("checksum %s must be %d hexadecimal digits" % (algo, expected_length))
    return algo, digest


def _algorithm(name, digest):
    algo = (name or ALGORITHM_BY_LENGTH.get(len(digest), "")).lower().replace("-", "")
    if algo not in CHECKSUM_ALGORITHMS or len(digest) != {"md5": 32, "sha256": 64, "sha512": 128}[algo]:
        return None
    return algo


def _basename(name):
    return name.strip().replace("\\", "/").rsplit("/", 1)[-1]


def _lines(text):
    """The lines that carry checksums: comments, blank lines and an OpenPGP clearsign wrapper left out."""
    in_signature = False
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("-----BEGIN PGP SIGNATURE"):
            in_signature = True
        elif line.startswith("-----END PGP SIGNATURE"):
            in_signature = False
        elif line and not in_signature and not line.startswith(("#", "-----", "Hash:")):
            yield line


def parse_checksum_file(text, filename, where="the checksum file"):
    """The ``ALGO:HEX`` that a checksum file gives ``filename`` (a base name).

    Shapes: ``HEX  NAME``, ``HEX *NAME``, ``ALGO (NAME) = HEX``, and a file holding one bare ``HEX`` (a
    sidecar file, which names no file). Names match by their base name. When a file lists the name with several
    algorithms, the strongest one wins. Raises ValidationError saying what the file holds instead.
    """
    found = {}
    names = []
    bare = []
    for line in _lines(text):
        tagged = _TAGGED_LINE.match(line)
        gnu = None if tagged else _GNU_LINE.match(line)
        if tagged or gnu:
            algo_name, name, digest = tagged.groups() if tagged else (None,) + gnu.groups()[::-1]
            name = _basename(name)
            names.append(name)
            algo = _algorithm(algo_name, digest)
            if name == filename and algo:
                found[algo] = digest.lower()
        elif _BARE.match(line):
            bare.append(_BARE.match(line).group(1))
    for algo in ("sha512", "sha256", "md5"):
        if algo in found:
            return "%s:%s" % (algo, found[algo])
    if not names and len(bare) == 1 and _algorithm(None, bare[0]):
        return "%s:%s" % (_algorithm(None, bare[0]), bare[0].lower())
    if filename in names:
        raise ValidationError("%s lists %s, but not with an md5, sha256 or sha512 digest" % (where, filename))
    if names:
        shown = ", ".join(sorted(set(names))[:5]) + (", ..." if len(set(names)) > 5 else "")
        raise ValidationError("%s does not list %s (it lists %s)" % (where, filename, shown))
    raise ValidationError(
        "%s holds no checksum in a known shape (HEX  NAME, HEX *NAME, ALGO (NAME) = HEX, or one bare HEX)" % where
    )


def url_filename(url):
    """The base name of a URL's path: what a checksum file calls the file."""
    path = url.split("?", 1)[0].split("#", 1)[0]
    return path.rstrip("/").rsplit("/", 1)[-1]
