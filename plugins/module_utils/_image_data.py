# -*- coding: utf-8 -*-
# Copyright: Contributors to the osimages.glance collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal use only: this file is not part of the collection's public API.
"""The transfer engine of glance_image_data: one task's image data moved to, within or from Glance.

``ImageDataTask`` finds the image, plans (``_data_plan.plan_data``) and either previews the plan (check mode, or
nothing to do) or carries it out: an upload sent again after a cut (``send_with_retries``), a parallel upload
rejoined, an import waited for and verified against Glance's hash, the format and quota checked before any byte
moves, the data signed, a download verified as it arrives. The options reach it already checked, as a
``_data_plan.DataRequest``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import time

from ansible_collections.osimages.glance.plugins.module_utils._apply import apply_plan
from ansible_collections.osimages.glance.plugins.module_utils._apply import wait_for_import
from ansible_collections.osimages.glance.plugins.module_utils._data_plan import BUSY_STATUSES
from ansible_collections.osimages.glance.plugins.module_utils._data_plan import COPY
from ansible_collections.osimages.glance.plugins.module_utils._data_plan import DOWNLOAD
from ansible_collections.osimages.glance.plugins.module_utils._data_plan import GLANCE_IMPORT
from ansible_collections.osimages.glance.plugins.module_utils._data_plan import IMPORT_STAGED
from ansible_collections.osimages.glance.plugins.module_utils._data_plan import NOTHING
from ansible_collections.osimages.glance.plugins.module_utils._data_plan import STAGE_AND_IMPORT
from ansible_collections.osimages.glance.plugins.module_utils._data_plan import UPLOAD
from ansible_collections.osimages.glance.plugins.module_utils._data_plan import WAIT
from ansible_collections.osimages.glance.plugins.module_utils._data_plan import WEB_IMPORT
from ansible_collections.osimages.glance.plugins.module_utils._data_plan import latest_task
from ansible_collections.osimages.glance.plugins.module_utils._data_plan import needs_local_digest
from ansible_collections.osimages.glance.plugins.module_utils._data_plan import plan_data
from ansible_collections.osimages.glance.plugins.module_utils._data_plan import quota_shortfall
from ansible_collections.osimages.glance.plugins.module_utils._diskimage import UnsafeImageError
from ansible_collections.osimages.glance.plugins.module_utils._diskimage import format_mismatch
from ansible_collections.osimages.glance.plugins.module_utils._diskimage import inspect_file
from ansible_collections.osimages.glance.plugins.module_utils._errors import Conflict
from ansible_collections.osimages.glance.plugins.module_utils._errors import GlanceError
from ansible_collections.osimages.glance.plugins.module_utils._errors import NotFound
from ansible_collections.osimages.glance.plugins.module_utils._errors import TooLarge
from ansible_collections.osimages.glance.plugins.module_utils._errors import TransientError
from ansible_collections.osimages.glance.plugins.module_utils._errors import ValidationError
from ansible_collections.osimages.glance.plugins.module_utils._errors import WaitTimeout
from ansible_collections.osimages.glance.plugins.module_utils._formats import INSPECTABLE_FORMATS
from ansible_collections.osimages.glance.plugins.module_utils._formats import UNINSPECTABLE_FORMATS
from ansible_collections.osimages.glance.plugins.module_utils._images import glance_now
from ansible_collections.osimages.glance.plugins.module_utils._queries import HIDDEN_ANY
from ansible_collections.osimages.glance.plugins.module_utils._queries import owned_by
from ansible_collections.osimages.glance.plugins.module_utils._reconcile import desired_from_params
from ansible_collections.osimages.glance.plugins.module_utils._reconcile import has_changes
from ansible_collections.osimages.glance.plugins.module_utils._reconcile import make_plan
from ansible_collections.osimages.glance.plugins.module_utils._reconcile import normalize
from ansible_collections.osimages.glance.plugins.module_utils._signing import CERTIFICATE
from ansible_collections.osimages.glance.plugins.module_utils._signing import HASH_METHOD
from ansible_collections.osimages.glance.plugins.module_utils._signing import HASH_METHODS
from ansible_collections.osimages.glance.plugins.module_utils._signing import SIGNATURE_PROPERTIES
from ansible_collections.osimages.glance.plugins.module_utils._signing import load_signing_key
from ansible_collections.osimages.glance.plugins.module_utils._signing import sign_digest
from ansible_collections.osimages.glance.plugins.module_utils._signing import signature_properties
from ansible_collections.osimages.glance.plugins.module_utils._signing import verify_digest
from ansible_collections.osimages.glance.plugins.module_utils._transfer import ChecksumMismatch
from ansible_collections.osimages.glance.plugins.module_utils._transfer import Progress
from ansible_collections.osimages.glance.plugins.module_utils._transfer import Replay
from ansible_collections.osimages.glance.plugins.module_utils._transfer import UploadBody
from ansible_collections.osimages.glance.plugins.module_utils._transfer import download_to
from ansible_collections.osimages.glance.plugins.module_utils._transfer import hash_file
from ansible_collections.osimages.glance.plugins.module_utils._transfer import open_source
from ansible_collections.osimages.glance.plugins.module_utils._transfer import source_size

# Glance's default hashing algorithm: what a fresh upload is hashed with before Glance says otherwise.
DEFAULT_HASH_ALGO = "sha512"
# Seconds to wait for Glance to reset an image whose upload connection broke (it does so a moment later).
CUT_UPLOAD_SETTLE_SECONDS = 15
# Seconds between the attempts of a cut-short upload: Glance winds up the cut attempt meanwhile.
RETRY_PAUSE_SECONDS = 1


def check_local(params):
    """The local side of glance_image_data's options, before Glance is asked anything: dest and its folder, and
    the progress file (a bad path fails now, not mid-transfer)."""
    dest = params["dest"]
    if dest:
        if os.path.isdir(dest):
            raise ValidationError("dest %s is a directory; give the path of the file to write" % dest)
        folder = os.path.dirname(os.path.abspath(dest))
        if not os.path.isdir(folder):
            raise ValidationError("the folder of dest, %s, does not exist" % folder)
        if not os.access(folder, os.W_OK):
            raise ValidationError("the folder of dest, %s, is not writable by this user" % folder)
        if os.path.exists(dest) and not os.path.isfile(dest):
            raise ValidationError("dest %s exists and is not a regular file; give the path of a file" % dest)
    if params["progress_file"]:
        Progress(path=params["progress_file"]).write("starting")


class ImageDataTask(object):
    """One glance_image_data task against ``api`` (an ImageApi): ``prepare()`` finds and plans, then
    ``preview(plan, raw)`` or ``execute(plan, raw)`` returns the module's result.

    ``api_in_region(region, interface)`` opens another region's ImageApi (glance-download's source), ``warn``
    reports a warning, ``file_attributes(changed)`` applies dest's file attributes and says whether that changed
    anything.
    """

    def __init__(self, api, params, request, check_mode, diff, api_in_region, warn, file_attributes):
        self.api = api
        self.params = params
        self.method = request.method
        self.expected = request.expected
        self.src_is_stream = request.src_is_stream
        self.check_mode = check_mode
        self.diff = diff
        self.api_in_region = api_in_region
        self.warn = warn
        self.file_attributes = file_attributes
        self.digests = {}  # what was learnt of the local file: {algo: hex}
        self.source = None
        self.signature_check = None
        self.signing_key = None

    def prepare(self):
        """find -> plan: (the raw image, its DataPlan), with every check that can stop the task done first."""
        method = self.method
        raw = self._find(method)
        if method != "download":
            self._check_method_and_stores(method)
        self.source = self._find_source() if method == "glance-download" else None
        # Before planning, so that the pass that hashes an existing dest also gives the digest the signature signs.
        self.signature_check = self._signature_check(raw) if self.params["verify_signature"] else None
        plan = self._plan(raw, method)
        if plan.action == WAIT:
            if self.check_mode or not self.params["wait"]:
                raise ValidationError("%s: %s" % (_label(raw), plan.reason))
            raw = self.api.wait(
                raw,
                lambda image: self._plan(image, method).action != WAIT,
                self.params["timeout"],
                "the running upload",
            )
            plan = self._plan(raw, method)
        if plan.action in (UPLOAD, STAGE_AND_IMPORT):
            self._check_format(raw)
            self._check_quota(raw, method)
            if self.params["signing_key"]:  # read in check mode too: a wrong passphrase shows before the real run
                self.signing_key = load_signing_key(self.params["signing_key"], self.params["signing_key_passphrase"])
        if self.signature_check and plan.action == NOTHING:
            self._verify_local_signature(raw)  # dest already holds Glance's bytes: they must carry the signature
        return raw, plan

    def _check_method_and_stores(self, method):
        """Before any byte moves: the method is enabled here and the stores exist."""
        if method != "direct":
            enabled = self.api.import_methods()
            if method not in enabled:
                raise ValidationError(
                    "import method %s is not enabled on this Glance; enabled: %s"
                    % (method, ", ".join(enabled) or "none")
                )
        if self.params["stores"]:
            available = self.api.stores()
            unknown = sorted(set(self.params["stores"]) - set(available))
            if unknown:
                raise ValidationError(
                    "unknown store(s) %s; this Glance has: %s"
                    % (", ".join(unknown), ", ".join(available) or "no named stores")
                )

    # -- find and plan --------------------------------------------------------

    def _find(self, method):
        """Downloads look among the images this project can see, the rest among its own (hidden ones too)."""
        if method == "download":
            return self.api.find_one(self.params["image"], {"os_hidden": HIDDEN_ANY})
        return self.api.find_one(self.params["image"], owned_by(self.api.project_id))

    def _find_source(self):
        """glance-download's source image, found in its own region."""
        params = self.params
        self.source_api = self.api_in_region(params["source_region"], params["source_interface"])
        return self.source_api.find_one(params["source_image"], {"os_hidden": HIDDEN_ANY})

    def _plan(self, raw, method):
        image = normalize(raw)
        request = dict(
            source=normalize(self.source) if self.source else None,
            source_region=self.params["source_region"],
            method=method,
            stores=self._wanted_stores(method),
            wait=self.params["wait"],
            local_digest=self._local_digest(image, method),
            local_size=self._local_size(),
            local_stream=self.src_is_stream and method != "download",
            last_task=latest_task(self.api.import_tasks(raw)) if image["status"] == "importing" else None,
            # Only check mode predicts Glance's answer; otherwise the request goes out and Glance decides.
            admin=self.api.is_admin() if self.check_mode and image["status"] == "deactivated" else None,
        )
        return plan_data(image, request)

    def _wanted_stores(self, method):
        if method == "copy-image" and self.params["all_stores"]:
            return self.api.stores()
        return self.params["stores"] or []

    def _local_digest(self, image, method):
        """The local file's hash with the image's algorithm, read once, when the plan needs it."""
        if not needs_local_digest(image, method) or (method != "download" and self.src_is_stream):
            return None
        algo = image["hash_algo"] or DEFAULT_HASH_ALGO
        if algo not in self.digests:
            path = self.params["dest"] or self.params["src"]
            if method == "download" and not os.path.isfile(path):
                return None
            progress = Progress(path=self.params["progress_file"], action="hash")
            algos = [algo] + (self.signature_check[0] if method == "download" and self.signature_check else [])
            digests, dummy = hash_file(
                path, sorted(set(algos)), self.params["decompress"] and method != "download", progress
            )
            self.digests.update(digests)
        return self.digests[algo]

    def _local_size(self):
        src = self.params["src"]
        if not src or self.params["decompress"]:
            return None
        return source_size(src)

    # -- check mode and unchanged -------------------------------------------------

    def preview(self, plan, raw):
        """The result check mode reports, and the result when there is nothing to do."""
        method = self.method
        src = self.params["src"]
        if self.src_is_stream and (self.check_mode or plan.action == NOTHING):
            self.warn(
                "%s: src %s is a stream, which can only be read once: %s"
                % (
                    _label(raw),
                    src,
                    plan.reason
                    if plan.action == NOTHING
                    else "check mode does not read it, so its format, size and hash are not checked",
                )
            )
        elif self.check_mode and plan.changes and src:
            # What the upload would send, hashed; a checksum that does not match fails as the upload would.
            algos = [DEFAULT_HASH_ALGO] + ([self.expected[0]] if self.expected else [])
            digests, dummy = hash_file(src, algos, self.params["decompress"])
            self.digests.update(digests)
            self._check_expected(src)
        if plan.action == NOTHING and self.params["url"] and self.expected:
            self._verify_against_glance(raw, self.expected[0], self.expected[1], "the data at %s" % self.params["url"])
        if method == "download":
            return self._download_result(plan.changes, plan.before)
        return self._result(plan.changes, plan.before, plan.after, method, self.digests, Progress())

    def _check_expected(self, what):
        if self.expected and self.digests.get(self.expected[0]) not in (None, self.expected[1]):
            algo, wanted = self.expected
            raise ChecksumMismatch(
                "checksum mismatch for %s: expected %s:%s, the file hashes to %s:%s"
                % (what, algo, wanted, algo, self.digests[algo])
            )

    # -- execute ------------------------------------------------------------------

    def execute(self, plan, raw):
        """Carry out ``plan`` on ``raw``; the result."""
        method = self.method
        if plan.action == DOWNLOAD:
            return self._download(raw)
        since = glance_now()
        progress = Progress(path=self.params["progress_file"], action=method)
        if plan.action == COPY:
            missing = sorted(set(plan.after["stores"]) - set(plan.before["stores"])) or self._wanted_stores(method)
            self._start_import(raw, "copy-image", stores=missing)
            stores = missing
        elif plan.action == WEB_IMPORT:
            self._start_import(raw, "web-download", uri=self.params["url"], stores=self.params["stores"])
            stores = self.params["stores"]
        elif plan.action == GLANCE_IMPORT:
            remote = (self.params["source_region"], self.source["id"], self.params["source_interface"])
            self._start_import(raw, "glance-download", stores=self.params["stores"], remote=remote)
            stores = self.params["stores"]
        elif plan.action == IMPORT_STAGED:
            self._import_staged(raw)
            stores = self.params["stores"]
        else:
            if self.params["signing_key"]:
                raw = self._sign(raw)
            try:
                self._send_with_retries(raw, method, progress)
            except Conflict:
                # A parallel run started sending data first (Glance answers 409 once the image is no longer
                # queued, 410 when both passed that check): its upload is waited for, and its bytes compared with
                # ours.
                return self._rejoin(raw, method)
            stores = self.params["stores"]
        if not self.params["wait"]:
            after = normalize(self.api.get(raw["id"]))
            return self._result(True, plan.before, after, method, self.digests, progress)
        after_raw = self._wait_for_import(raw, since, stores, method)
        self._verify_after_import(after_raw, method)
        progress.write("done")
        return self._result(True, plan.before, normalize(after_raw), method, self.digests, progress)

    def _sign(self, raw):
        """Set the signature properties before any byte moves: Glance verifies the data against them as it arrives,
        and refuses data they do not sign. The digest to sign comes from the pass that hashes src for Glance."""
        params = self.params
        hash_method = params["signature_hash_method"]
        algos = sorted(set([HASH_METHODS[hash_method], DEFAULT_HASH_ALGO]))
        digests, dummy = hash_file(params["src"], algos, params["decompress"])
        self.digests.update(digests)
        key, key_type = self.signing_key
        signature = sign_digest(key, hash_method, bytes.fromhex(digests[HASH_METHODS[hash_method]]))
        properties = signature_properties(signature, hash_method, key_type, params["signing_certificate"])
        plan = make_plan(normalize(raw), desired_from_params({"properties": properties}), purge_properties=False)
        if has_changes(plan):
            apply_plan(self.api, raw, plan)
            raw = self.api.get(raw["id"])
        return raw

    def _rejoin(self, raw, method):
        before = normalize(raw)
        current = self.api.get(raw["id"])
        if current is None:
            raise NotFound("%s was deleted while this run was uploading to it" % _label(raw))
        plan = self._plan(current, method)
        if plan.action == WAIT:
            raw = self.api.wait(
                raw, lambda image: image["status"] not in BUSY_STATUSES, self.params["timeout"], "the running upload"
            )
            plan = self._plan(raw, method)
        if plan.action != NOTHING:
            raise GlanceError("%s: another run is moving data into it; run the task again" % _label(raw))
        return self._result(False, before, normalize(raw), method, self.digests, Progress())

    def _start_import(self, raw, method, uri=None, stores=None, remote=None):
        params = self.params
        self.api.start_import(
            raw,
            method,
            uri=uri,
            stores=stores,
            all_stores=params["all_stores"] if method != "copy-image" else None,
            all_stores_must_succeed=params["all_stores_must_succeed"],
            remote=remote,
        )

    def _import_staged(self, raw):
        """Import the data an earlier run staged, once src proved to be what the image should hold."""
        src = self.params["src"]
        algos = [DEFAULT_HASH_ALGO] + ([self.expected[0]] if self.expected else [])
        digests, dummy = hash_file(src, algos, self.params["decompress"])
        self.digests.update(digests)
        self._check_expected(src)
        self._start_import(raw, "glance-direct", stores=self.params["stores"])

    def _wait_for_import(self, raw, since, stores, method):
        try:
            return wait_for_import(self.api, raw, since, stores, self.params["timeout"], "the %s upload" % method)
        except WaitTimeout as exc:
            raise WaitTimeout(
                "%s. Glance does not resume an upload or import after it restarts: if it did, delete "
                "the image and upload again" % exc.msg,
                **exc.details,
            )

    def _verify_after_import(self, after_raw, method):
        algo = after_raw.get("os_hash_algo")
        if method == "glance-download":
            source = self.source
            what = "the source image %s (%s) in %s" % (source.get("name"), source["id"], self.params["source_region"])
            if algo != source.get("os_hash_algo"):
                raise GlanceError(
                    "cannot verify image %s (%s) against %s: the regions hash with %s and %s"
                    % (after_raw.get("name"), after_raw["id"], what, algo, source.get("os_hash_algo"))
                )
            self._verify_against_glance(after_raw, algo, source.get("os_hash_value"), what, deactivate=True)
            if self.expected:
                self._verify_against_glance(after_raw, self.expected[0], self.expected[1], "checksum", deactivate=True)
        elif algo in self.digests:
            self._verify_against_glance(after_raw, algo, self.digests[algo], self.params["src"], deactivate=True)
        elif method == "web-download" and self.expected:
            self._verify_against_glance(
                after_raw,
                self.expected[0],
                self.expected[1],
                "the data at %s" % self.params["url"],
                deactivate=True,
            )

    def _check_quota(self, raw, method):
        """Refuse src before any byte moves when Glance says the project's quota cannot hold it."""
        params = self.params
        size = self._local_size()
        problem = quota_shortfall(self.api.usage(), size, staged=method == "glance-direct")
        if problem:
            raise ValidationError(
                "cannot upload %s (%d bytes) to image %s (%s): %s; nothing was sent"
                % (params["src"], size, raw["name"], raw["id"], problem)
            )

    def _check_format(self, raw, stream=None):
        """Refuse src before any byte moves when it is not what the image declares, or references other files.

        Glance runs the same inspector on imports; this catches it for direct uploads too, and early. A stream
        src is inspected when it is sent, from ``stream`` (its first blocks, which are then sent too).
        """
        params = self.params
        disk_format = raw.get("disk_format")
        if self.src_is_stream and stream is None:
            return
        if params["skip_format_check"]:
            if disk_format in INSPECTABLE_FORMATS:
                raise ValidationError(
                    "skip_format_check is only for formats the inspector cannot read (%s); "
                    "image %s is %s, which is always checked"
                    % (", ".join(UNINSPECTABLE_FORMATS), raw["id"], disk_format)
                )
            return
        if disk_format is None:
            return  # Glance itself refuses data for an image without a disk_format
        if disk_format not in INSPECTABLE_FORMATS:
            raise ValidationError(
                "image %s is %s, a format the inspector cannot read; set skip_format_check: true "
                "to upload %s unchecked" % (raw["id"], disk_format, params["src"])
            )
        if stream is not None:
            found = inspect_file(params["src"], stream=stream)
        elif params["decompress"]:
            source, dummy = open_source(params["src"], True)
            with source:
                found = inspect_file(params["src"], stream=source)
        else:
            found = inspect_file(params["src"])
        mismatch = format_mismatch(params["src"], found["format"], disk_format)
        if mismatch:
            raise UnsafeImageError("%s (image %s)" % (mismatch, raw["id"]), detected_format=found["format"])

    def _send_with_retries(self, raw, method, progress):
        """Send src, again from byte 0 after a transient cut (see send_with_retries)."""
        # A stream is read once: what a cut upload consumed cannot be sent again.
        return send_with_retries(
            lambda: self._send(raw, method, progress),
            lambda: self._after_cut_upload(raw),
            0 if self.src_is_stream else self.params["retries"],
            self.api.retries,
            progress,
            self.src_is_stream,
        )

    def _send(self, raw, method, progress):
        """Stream src to Glance (PUT, or stage then import); keep the digests of what was sent."""
        params = self.params
        source, length = open_source(params["src"], params["decompress"])
        reader = source
        progress.total = length
        try:
            with source:
                if self.src_is_stream:
                    reader = Replay(source)
                    self._check_format(raw, stream=reader)
                    reader.replay()
                body = UploadBody(reader, length, [DEFAULT_HASH_ALGO], self.expected, progress, label=params["src"])
                if method == "direct":
                    stores = params["stores"] or [None]
                    self.api.upload(raw, body, store=stores[0])
                else:
                    self.api.stage(raw, body)
        except ChecksumMismatch:
            self._wait_until_queued(raw)
            raise
        except TooLarge as exc:
            self._wait_until_queued(raw)
            raise TooLarge(
                "%s. src %s holds %s bytes, more than Glance's image_size_cap or the project's storage "
                "quota allows (Glance does not say which); nothing was stored and the image is queued"
                % (exc.msg, params["src"], length if length is not None else "an unknown number of"),
                **exc.details,
            )
        self.digests.update(body.digests())
        if method == "glance-direct":
            self._start_import(raw, method, stores=params["stores"])

    def _after_cut_upload(self, raw):
        """What an upload whose connection broke left behind: queued, saving, gone or unknown.

        Glance resets an image to queued when the client goes away, a moment later; after its own restart it
        leaves the image saving for good.
        """
        try:
            return self.api.wait(
                raw,
                lambda image: image["status"] not in ("saving", "uploading") or image.get("size") is not None,
                CUT_UPLOAD_SETTLE_SECONDS,
                "Glance to discard the partial upload",
            )["status"]
        except NotFound:
            return "gone"
        except GlanceError:
            try:
                return (self.api.get(raw["id"]) or {}).get("status", "gone")
            except GlanceError:
                return "unknown"

    def _wait_until_queued(self, raw):
        """After a cut-short upload Glance resets the image to queued; wait so the caller sees that state."""
        try:
            self.api.wait(raw, lambda image: image["status"] == "queued", 60, "Glance to discard the partial upload")
        except GlanceError:
            pass

    def _verify_against_glance(self, raw, algo, digest, what, deactivate=False):
        glance_digest = raw.get("checksum") if algo == "md5" else raw.get("os_hash_value")
        if algo not in ("md5", raw.get("os_hash_algo")) or glance_digest == digest:
            return
        note = ""
        if deactivate and raw.get("status") == "active":
            self.api.deactivate(raw)
            note = "; the image was deactivated so that it cannot be booted, delete it and upload again"
        raise ChecksumMismatch(
            "Glance stored different bytes for image %s (%s) than %s: %s %s, expected %s%s"
            % (raw.get("name"), raw["id"], what, algo, glance_digest, digest, note)
        )

    # -- download -------------------------------------------------------------

    def _download(self, raw):
        params = self.params
        image = normalize(raw)
        algo = image["hash_algo"] or DEFAULT_HASH_ALGO
        progress = Progress(total=image["size"], path=params["progress_file"], action="download")
        digest = download_to(
            params["dest"],
            lambda offset: self.api.open_download(raw, offset),
            algo,
            raw.get("os_hash_value"),
            progress,
            params["retries"],
            self.api.retries,
            _label(raw),
            check=self.signature_check,
        )
        self.digests[algo] = digest
        progress.write("done")
        return self._download_result(True, image, progress)

    def _signature_check(self, raw):
        """(algos, judge) for download_to: the image's signature, checked against its certificate in Barbican over
        the bytes as they arrive. The certificate is fetched first, so that a missing one stops the task early."""
        missing = [name for name in SIGNATURE_PROPERTIES if not raw.get(name)]
        if missing:
            raise ValidationError("%s carries no signature to verify (it lacks %s)" % (_label(raw), ", ".join(missing)))
        if raw[HASH_METHOD] not in HASH_METHODS:
            raise ValidationError(
                "%s names the hash method %r, which Glance does not verify" % (_label(raw), raw[HASH_METHOD])
            )
        certificate = self.api.signing_certificate(raw[CERTIFICATE])
        algo = HASH_METHODS[raw[HASH_METHOD]]
        return [algo], lambda digests: verify_digest(certificate, raw, bytes.fromhex(digests[algo]))

    def _verify_local_signature(self, raw):
        """dest already holds the image's data (the plan compared its hash, taken with the signature's digest)."""
        problem = self.signature_check[1](self.digests)
        if problem:
            raise ValidationError("dest %s holds the data of %s, but %s" % (self.params["dest"], _label(raw), problem))

    def _download_result(self, changed, image, progress=None):
        dest = self.params["dest"]
        if os.path.exists(dest):
            changed = self.file_attributes(changed)
        result = self._result(changed, image, image, "download", self.digests, progress or Progress())
        result["dest"] = dest
        return result

    # -- result ---------------------------------------------------------------

    def _result(self, changed, before, after, method, digests, progress):
        result = dict(changed=changed, image=after, method=method, retries=len(self.api.retries))
        result.update(progress.summary())
        if not changed:
            result.update(bytes=0, seconds=0.0, throughput_mib_s=0.0)
        algo = after.get("hash_algo") or DEFAULT_HASH_ALGO
        if algo in digests:
            result.update(hash_algo=algo, hash_value=digests[algo])
        for key in ("src", "url"):
            if self.params[key]:
                result[key] = self.params[key]
        if self.diff:
            result["diff"] = {
                "before": {"status": before["status"], "stores": before["stores"]},
                "after": {"status": after["status"], "stores": after["stores"]},
            }
        return result


def send_with_retries(send, after_cut, retries, retry_log, progress, src_is_stream=False):
    """Call ``send()``; a transfer cut by a transient fault (a reset, HTTP 500 for the broken body, 502/503/504)
    starts again from byte 0 once Glance has discarded the partial data (``after_cut()`` says what the cut left:
    queued, saving, uploading, gone, unknown), up to ``retries`` times, each noted in ``retry_log``.

    A Conflict on the first attempt is another run sending first: it is raised for the caller to rejoin that run.
    """
    attempt = conflicts = 0
    while True:
        try:
            return send()
        except GlanceError as exc:
            if isinstance(exc, Conflict):  # another upload had the image first, or our own cut attempt did
                if attempt == 0:
                    raise  # another run is sending: the caller rejoins it
                # Or Glance is still winding up the attempt it saw cut: once the image is queued again, the
                # same attempt goes again.
                conflicts += 1
                if conflicts > retries or after_cut() != "queued":
                    raise
            else:
                # Glance answers 500 to an upload whose connection broke under it, when the answer gets out.
                if not isinstance(exc, TransientError) and exc.details.get("status_code") != 500:
                    raise
                left = after_cut()
                if attempt >= retries or left != "queued":
                    outcome = CUT_UPLOAD_OUTCOMES.get(left, "The image is now %s" % left)
                    if src_is_stream and left == "queued":
                        outcome += "; src is a stream, so this task could not send it again"
                    raise TransientError("%s. %s" % (exc.msg, outcome), **exc.details)
                attempt += 1
                retry_log.append(
                    "%s; Glance discarded the partial data, so the upload starts again from byte 0 "
                    "(retry %d of %d)" % (exc.msg, attempt, retries)
                )
        progress.restart()
        time.sleep(RETRY_PAUSE_SECONDS)


# What a cut-short upload left, as _after_cut_upload says it, for the error message.
CUT_UPLOAD_OUTCOMES = {
    "queued": "Glance discarded the partial data and the image is queued: run the task again",
    "saving": "The image is left saving: Glance stopped during the upload and will not finish it, so delete the "
    "image and upload again",
    "uploading": "The data is staged but its import did not start: run the task again, and it imports the staged data",
    "gone": "The image is gone",
    "unknown": "Glance did not answer afterwards, so the state of the image is unknown",
}


def _label(raw):
    return "image %s (%s)" % (raw.get("name"), raw["id"])
