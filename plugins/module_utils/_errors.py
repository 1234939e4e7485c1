# -*- coding: utf-8 -*-
# Copyright: Contributors to the osimages.glance collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal use only: this file is not part of the collection's public API.
"""The collection's exception family.

API and planning code raise these; ``LocalModule`` is the single place that
turns them into ``fail_json``. ``details`` holds what Glance told us (HTTP
status, request ID) and is passed through to the task result.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleError(Exception):
    """Something the user should read: what was being done, to what, and why."""

    def __init__(self, msg, **details):
        super(ModuleError, self).__init__(msg)
        self.msg = msg
        self.details = dict((key, value) for key, value in details.items() if value is not None)


class ValidationError(ModuleError):
    """Bad input, detected before the work (or the API call) it is for."""


class DiskImageError(ModuleError):
    """A local disk image is unusable, or a tool working on it (qemu-img, qemu) failed."""


class GlanceError(ModuleError):
    """Glance (or Keystone, on the way to it) refused, failed or answered something unexpected."""


class NotFound(GlanceError):
    """Glance answered 404, or no image matches."""


class AmbiguousName(GlanceError):
    """Several images carry the name that was meant to name one."""


class Forbidden(GlanceError):
    """Glance (or its policy) answered 403."""


class Conflict(GlanceError):
    """Glance answered 409: the image is in a state that does not allow the call."""


class WaitTimeout(GlanceError):
    """The image did not reach the awaited state in time."""


class TooLarge(GlanceError):
    """Glance answered 413: the data is over its image_size_cap or the project's storage quota."""


class IdTaken(Conflict):
    """Creating an image with a given ID failed: another project's or a deleted image holds it."""


class TransientError(GlanceError):
    """A failure worth retrying: connection refused or reset, HTTP 502/503/504."""


class ImmutableAttributeError(GlanceError):
    """A create-only attribute differs on an existing image."""


def deactivated_data(what):
    """What a non-admin gets for the data of a deactivated image (``what`` names it): Glance's 403, said plainly."""
    return Forbidden(
        "%s is deactivated: Glance lets only admins download its data; reactivate it, or download as an admin" % what,
        status_code=403,
    )
