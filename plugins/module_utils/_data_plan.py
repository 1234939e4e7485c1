# -*- coding: utf-8 -*-
# Copyright: Contributors to the osimages.glance collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal use only: this file is not part of the collection's public API.
"""What glance_image_data does with an image's data, decided from facts alone: the data plan.

Pure functions, no I/O. The module gathers the facts (the image, the options, the local file's hash), asks
``plan_data``, stops there in check mode (the plan's ``after`` is the preview, for diff mode too), and otherwise
carries out the plan's action. The same functions judge an import while it runs (``import_outcome``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from collections import namedtuple

from ansible_collections.osimages.glance.plugins.module_utils._checksums import parse_checksum
from ansible_collections.osimages.glance.plugins.module_utils._errors import GlanceError
from ansible_collections.osimages.glance.plugins.module_utils._errors import ValidationError
from ansible_collections.osimages.glance.plugins.module_utils._errors import deactivated_data

MIB = 1024 * 1024

# The actions of a plan.
NOTHING = "nothing"  # the data already is where it should be
WAIT = "wait"  # another run moves data into the image: wait for it, then plan again
UPLOAD = "upload"  # PUT the file (method direct)
STAGE_AND_IMPORT = "stage-and-import"  # PUT it to the staging area, then the glance-direct import
IMPORT_STAGED = "import-staged"  # an earlier run staged the data and stopped there: import it
WEB_IMPORT = "web-import"  # Glance fetches the URL (web-download)
GLANCE_IMPORT = "glance-import"  # Glance fetches the image from another region's Glance (glance-download)
COPY = "copy"  # copy-image into the stores that lack the data
DOWNLOAD = "download"  # write the data to a local file

# What a plan does to the image's status when it runs to the end.
SENDS_DATA = (UPLOAD, STAGE_AND_IMPORT, IMPORT_STAGED, WEB_IMPORT, GLANCE_IMPORT)
# Glance statuses in which an upload or import is still running.
BUSY_STATUSES = ("saving", "importing", "uploading")
# The create-only fields Glance needs before it takes data.
FORMAT_FIELDS = ("disk_format", "container_format")


class DataPlan(object):
    """One action, the image before it, the image as it will be after it (the preview), and why."""

    def __init__(self, action, before, after=None, reason=""):
        self.action = action
        self.before = before
        self.after = before if after is None else after
        self.reason = reason

    @property
    def changes(self):
        return self.action not in (NOTHING, WAIT)

    def __repr__(self):
        return "DataPlan(%s: %s)" % (self.action, self.reason)


class DataRequest(namedtuple("DataRequest", "method expected src_is_stream")):
    """What a glance_image_data task asks for, once its options are checked: the method (``download`` for dest),
    the expected checksum as (algo, hex) or None, and whether src is a stream (read once)."""


def data_request(params, src_kind=None):
    """The DataRequest of glance_image_data's options (``params``), or ValidationError naming the option that does
    not fit. ``src_kind`` is what src is on disk (_transfer.source_kind: file, stream), None without src."""
    method = _method(params)
    expected = parse_checksum(params["checksum"])
    src_is_stream = src_kind == "stream"
    if method == "direct" and params["stores"] and len(params["stores"]) > 1:
        raise ValidationError("method direct writes to one store; use glance-direct to import into several")
    if method == "direct" and params["all_stores"]:
        raise ValidationError("all_stores needs an import method (glance-direct, web-download or copy-image)")
    if params["retries"] < 0:
        raise ValidationError("retries must be 0 or more, got %d" % params["retries"])
    if method in ("web-download", "glance-download") and expected and expected[0] not in ("sha512", "md5"):
        raise ValidationError(
            "with %s, checksum can only be checked as sha512 or md5, the hashes Glance computes" % method
        )
    if params["signing_key"] and (method not in ("direct", "glance-direct") or src_is_stream):
        raise ValidationError(
            "signing_key signs the data this task uploads from src, a file (it is read once to sign, and again "
            "to send); with %s there is none" % ("a stream src" if src_is_stream else method)
        )
    if params["verify_signature"] and method != "download":
        raise ValidationError("verify_signature checks a download (dest); Glance itself verifies uploads")
    return DataRequest(method, expected, src_is_stream)


def _method(params):
    """The method the options ask for: ``download`` for dest, else method, or the one src or url implies."""
    if params["dest"]:
        if params["method"]:
            raise ValidationError("method does not apply to a download (dest)")
        return "download"
    method = params["method"] or ("web-download" if params["url"] else "direct" if params["src"] else None)
    if method is None:
        raise ValidationError("give src to upload, url to import from the web, dest to download, or method: copy-image")
    if method == "copy-image" and (params["src"] or params["url"]):
        raise ValidationError("method copy-image copies data Glance already has; src and url do not apply")
    if method in ("direct", "glance-direct") and params["url"]:
        raise ValidationError("url goes with method web-download; %s uploads src" % method)
    if method == "web-download" and params["src"]:
        raise ValidationError("src goes with method direct or glance-direct, not web-download")
    if method == "glance-download" and (params["src"] or params["url"]):
        raise ValidationError("method glance-download takes source_region and source_image; src and url do not apply")
    if method != "glance-download" and (params["source_region"] or params["source_image"]):
        raise ValidationError("source_region and source_image go with method glance-download")
    return method


def label(image):
    return "image %s (%s)" % (image.get("name"), image["id"])


def needs_local_digest(image, method):
    """Whether the local file must be hashed before planning: only its hash tells "same data" from "different"."""
    if method == "download":
        return image["status"] in ("active", "deactivated")
    return method in ("direct", "glance-direct") and image["status"] in ("active", "deactivated")


def plan_data(image, request):
    """The plan for ``image`` (normalised) and ``request``, a dict of:

    - ``method``: direct, glance-direct, web-download, glance-download, copy-image or download;
    - ``stores``: the stores asked for (copy-image: every store it must reach);
    - ``wait``: whether the task waits for Glance to finish;
    - ``local_digest``: the hash of src or dest with the image's algorithm, when it was read (else None);
    - ``local_size``: the size of src in bytes, when known (else None);
    - ``local_stream``: whether src is a stream (a FIFO, a character device), which can only be read once;
    - ``last_task``: Glance's latest import task of the image (a dict with ``status`` and ``message``), or None;
    - ``admin``: whether Glance treats the user as an admin; None when not known (then Glance decides);
    - ``source``, ``source_region``: glance-download's source image (normalised) and the region it is in.

    Raises ValidationError (or Forbidden) when the image cannot do what is asked.
    """
    method = request["method"]
    if method == "download":
        return _plan_download(image, request)
    if method == "copy-image":
        return _plan_copy(image, request)
    if method == "glance-download":
        return _plan_glance_download(image, request)
    return _plan_upload(image, request)


def _plan_upload(image, request):
    method, status = request["method"], image["status"]
    if status == "queued":
        missing = [field for field in FORMAT_FIELDS if not image[field]]
        if missing:
            raise ValidationError(
                "%s has no %s; set it with osimages.glance.glance_image before uploading data"
                % (label(image), " or ".join(missing))
            )
        action = {
            "direct": UPLOAD,
            "glance-direct": STAGE_AND_IMPORT,
            "web-download": WEB_IMPORT,
            "glance-download": GLANCE_IMPORT,
        }[method]
        return DataPlan(action, image, _after_import(image, request), "the image has no data yet")
    if status == "uploading" and image["size"] is not None:
        return _plan_staged(image, request)
    if status == "importing" and (request.get("last_task") or {}).get("status") == "failure":
        raise GlanceError(
            "%s is stuck importing: its last import failed (%s) and Glance does not start another while the "
            "image is importing; delete the image and upload again"
            % (label(image), request["last_task"].get("message") or "no reason given")
        )
    if status in BUSY_STATUSES:
        return DataPlan(WAIT, image, reason="another upload or import is running (%s)" % status)
    if status in ("active", "deactivated"):
        digest = request.get("local_digest")
        if request.get("local_stream"):
            return DataPlan(
                NOTHING, image, reason="it was not compared with the image's data, which is immutable and already there"
            )
        if digest is None or digest == image["hash_value"]:
            return DataPlan(NOTHING, image, reason="the image holds this data")
        raise ValidationError(
            "image data is immutable; publish a new image: %s already holds different data (%s %s, the file "
            "hashes to %s)" % (label(image), image["hash_algo"], image["hash_value"], digest)
        )
    if status == "killed":
        raise ValidationError("%s is killed: an earlier upload failed; delete it and create it again" % label(image))
    raise ValidationError("%s cannot take data while it is %s" % (label(image), status))


def _plan_staged(image, request):
    """The image is ``uploading`` with a size: an earlier run staged its data and never started the import."""
    if request["method"] in ("web-download", "glance-download"):
        raise ValidationError(
            "%s holds %d staged bytes that were never imported, and %s needs an image without data; "
            "import them with src and method glance-direct, or delete the image"
            % (label(image), image["size"], request["method"])
        )
    size = request.get("local_size")
    if size is not None and size != image["size"]:
        raise ValidationError(
            "%s holds %d staged bytes that were never imported, but src has %d bytes: that is other data, and "
            "Glance cannot discard staged data; delete the image and create it again"
            % (label(image), image["size"], size)
        )
    return DataPlan(
        IMPORT_STAGED,
        image,
        _after_import(image, dict(request, method="glance-direct")),
        "%d bytes were staged by an earlier run that did not start the import" % image["size"],
    )


def _plan_glance_download(image, request):
    """glance-download: the target takes the source's data, which must be active; the same hash is "nothing"."""
    source, region = request["source"], request["source_region"]
    where = "%s in %s" % (label(source), region)
    if source["status"] != "active":
        raise ValidationError("glance-download needs an active source image; %s is %s" % (where, source["status"]))
    differing = [field for field in FORMAT_FIELDS if image[field] and image[field] != source[field]]
    if differing:
        raise ValidationError(
            "%s has %s, and the source %s has %s: glance-download takes the source's formats, so create the "
            "image with them"
            % (
                label(image),
                ", ".join("%s %s" % (field, image[field]) for field in differing),
                where,
                ", ".join("%s %s" % (field, source[field]) for field in differing),
            )
        )
    if image["status"] in ("active", "deactivated"):
        if (image["hash_algo"], image["hash_value"]) == (source["hash_algo"], source["hash_value"]):
            return DataPlan(NOTHING, image, reason="the image holds the data of the source %s" % where)
        raise ValidationError(
            "image data is immutable; publish a new image: %s already holds different data (%s %s) than the "
            "source %s (%s %s)"
            % (label(image), image["hash_algo"], image["hash_value"], where, source["hash_algo"], source["hash_value"])
        )
    return _plan_upload(image, request)


def _after_import(image, request):
    stores = request.get("stores") or image["stores"]
    return dict(image, status="active" if request.get("wait", True) else "importing", stores=sorted(stores))


def _plan_copy(image, request):
    if image["status"] != "active":
        raise ValidationError("copy-image needs an active image; %s is %s" % (label(image), image["status"]))
    wanted = request.get("stores") or []
    if not wanted:
        raise ValidationError("copy-image needs stores or all_stores: true")
    missing = sorted(set(wanted) - set(image["stores"]))
    if not missing:
        return DataPlan(NOTHING, image, reason="every store holds the data")
    after = dict(image, stores=sorted(set(image["stores"]) | set(missing))) if request.get("wait", True) else image
    return DataPlan(COPY, image, after, "the data is missing from %s" % ", ".join(missing))


def _plan_download(image, request):
    status = image["status"]
    if status == "deactivated" and request.get("admin") is False:
        raise deactivated_data(label(image))
    if status not in ("active", "deactivated"):
        raise ValidationError("%s has no data to download (status %s)" % (label(image), status))
    digest = request.get("local_digest")
    if digest is not None and digest == image["hash_value"]:
        return DataPlan(NOTHING, image, reason="dest holds this data")
    return DataPlan(DOWNLOAD, image, reason="dest does not hold this data")


def quota_shortfall(usage, size, staged=False):
    """Why ``size`` more bytes would not fit the project's image quota, or None when they fit or nobody knows.

    ``usage`` is Glance's ``/v2/info/usage`` (Keystone unified limits: limits and usage in MiB, -1 for no
    limit; empty when the cloud does not enforce them). A glance-direct upload also fills the staging quota.
    """
    if size is None:
        return None
    needed = -(-size // MIB)
    for key, what in [("image_size_total", "image storage")] + ([("image_stage_total", "staging")] if staged else []):
        quota = (usage or {}).get(key) or {}
        limit, used = quota.get("limit"), quota.get("usage")
        if isinstance(limit, int) and isinstance(used, int) and 0 <= limit < used + needed:
            return "the project's %s quota is %d MiB with %d MiB in use, so %d MiB more do not fit" % (
                what,
                limit,
                used,
                needed,
            )
    return None


def latest_task(tasks, since=None):
    """The newest of Glance's import tasks (created at or after ``since``, an ISO 8601 time), or None."""
    recent = [task for task in tasks if since is None or task.get("created_at", "") >= since]
    return max(recent, key=lambda task: task.get("created_at", "")) if recent else None


def import_outcome(raw, tasks, since, stores):
    """Whether an upload or import that started at ``since`` is over: True when it succeeded, False while it
    runs; GlanceError when it failed.

    ``raw`` is Glance's JSON for the image, ``tasks`` its import tasks and ``stores`` the stores it must reach.
    Glance runs imports as tasks: the image stays queued until the task picks it up, so "queued" alone is not
    a failure. A failed task, a store listed in os_glance_failed_import, or a missing store after all tasks
    ended is.
    """
    name = "image %s (%s)" % (raw.get("name"), raw["id"])
    recent = [task for task in tasks if task.get("created_at", "") >= since]
    messages = [task["message"] for task in recent if task.get("message")]
    note = ": %s" % messages[-1] if messages else ""
    failed = raw.get("os_glance_failed_import")
    if failed:
        raise GlanceError("Glance failed to import %s into store(s) %s%s" % (name, failed, note))
    present = set((raw.get("stores") or "").split(",")) - set([""])
    if raw["status"] == "active" and not raw.get("os_glance_importing_to_stores") and set(stores or []) <= present:
        return True
    if raw["status"] == "killed":
        raise GlanceError("Glance killed %s during the import%s" % (name, note))
    failures = [task for task in recent if task.get("status") == "failure"]
    if failures:
        raise GlanceError("Glance failed to import %s: %s" % (name, failures[-1].get("message") or "no reason given"))
    if recent and all(task.get("status") == "success" for task in recent) and raw["status"] == "queued":
        raise GlanceError("Glance finished the import of %s but the image is still queued" % name)
    return False
