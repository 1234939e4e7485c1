# -*- coding: utf-8 -*-
# Copyright: Contributors to the osimages.glance collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal use only: this file is not part of the collection's public API.
"""Local files written whole or not at all: manifests, cache records, the definitions cache."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import tempfile


def cache_dir():
    """Where the collection keeps what it may read again in a later task: the user's cache folder."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "osimages.glance")


def write_atomically(path, data, mode=None):
    """Write ``data`` (bytes) to ``path`` through a temporary file beside it, renamed over it: a reader sees the old
    file or the new one, never a part. ``mode`` None keeps the temporary file's 0600. Raises OSError; the temporary
    file never stays behind."""
    handle, partial = tempfile.mkstemp(
        dir=os.path.dirname(os.path.abspath(path)), prefix=".%s." % os.path.basename(path), suffix=".partial"
    )
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        if mode is not None:
            os.chmod(partial, mode)
        os.rename(partial, path)
    except BaseException:
        if os.path.exists(partial):
            os.unlink(partial)
        raise


def read_json(path):
    """The JSON object in ``path``, or None when there is none to read (missing, unreadable, not an object)."""
    try:
        with open(path) as handle:
            found = json.load(handle)
    except (IOError, OSError, ValueError):
        return None
    return found if isinstance(found, dict) else None


def write_json(path, value, mode=None):
    """``value`` as JSON (sorted keys, indented) in ``path``, whole or not at all; raises OSError."""
    write_atomically(path, (json.dumps(value, indent=2, sort_keys=True) + "\n").encode("utf-8"), mode)


def write_cache(path, value):
    """``value`` as JSON in the cache file ``path`` (its folder made first), whole or not at all. A cache is only ever
    a shortcut, so one that cannot be written is not an error."""
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        write_json(path, value)
    except OSError:
        pass
