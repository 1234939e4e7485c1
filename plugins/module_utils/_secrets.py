# -*- coding: utf-8 -*-
# Copyright: Contributors to the osimages.glance collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal use only: this file is not part of the collection's public API.
"""Secrets found in options and URLs, and masked wherever they could be printed (pure)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.module_utils.six.moves.urllib.parse import unquote
from ansible.module_utils.six.moves.urllib.parse import unquote_plus
from ansible.module_utils.six.moves.urllib.parse import urlsplit

# Keys of an auth dict whose values are secrets. `auth` itself is no_log, but
# `cloud` may also be a dict that carries an `auth` section.
_SECRET_AUTH_KEYS = ("password", "secret", "token", "passcode", "key")

# Query parameters that make a URL a credential: Swift temp URLs, S3 pre-signed URLs (SigV4 and SigV2), Azure
# shared access signatures and the like. Compared in lower case.
URL_SIGNATURE_PARAMETERS = (
    "temp_url_sig",
    "x-amz-signature",
    "x-amz-credential",
    "x-amz-security-token",
    "signature",
    "sig",
)
MASK = "********"


def secret_values(cloud):
    """The secret strings inside a ``cloud`` dict, so that they can be masked in output."""
    found = set()
    if not isinstance(cloud, dict):
        return found

    def walk(value, key=""):
        if isinstance(value, dict):
            for sub_key, sub_value in value.items():
                walk(sub_value, str(sub_key).lower())
        elif isinstance(value, str) and value and any(word in key for word in _SECRET_AUTH_KEYS):
            found.add(value)

    walk(cloud)
    return found


def url_secrets(url):
    """The parts of ``url`` that grant access, so that they can be masked in output: the password of its user
    info and the values of its signature parameters, each as written and percent-decoded."""
    found = set()
    if not url:
        return found
    parts = urlsplit(url)
    written = [parts.password] if parts.password else []
    for pair in parts.query.split("&"):
        name, dummy, value = pair.partition("=")
        if value and unquote_plus(name).lower() in URL_SIGNATURE_PARAMETERS:
            written.append(value)
    for value in written:
        found.update([value, unquote(value), unquote_plus(value)])
    return found


def redact_url(url):
    """``url`` with its secrets (see url_secrets) replaced by the mask: http://user:********@host/..."""
    return mask_secrets(url, url_secrets(url))


def mask_secrets(value, secrets):
    """``value`` (a string, or lists and dicts of them) with every secret replaced by the mask."""
    if not secrets:
        return value
    if isinstance(value, dict):
        return dict((key, mask_secrets(item, secrets)) for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return [mask_secrets(item, secrets) for item in value]
    if isinstance(value, str):
        for secret in sorted(secrets, key=len, reverse=True):  # longest first: one may contain another
            value = value.replace(secret, MASK)
    return value
