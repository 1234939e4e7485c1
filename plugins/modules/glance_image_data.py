#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Contributors to the osimages.glance collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: glance_image_data
short_description: Upload, import, copy and download the data of an OpenStack image
version_added: 0.1.0
description:
  - Puts bytes into an image that M(osimages.glance.glance_image) created, copies them to more stores, or
    downloads them to a local file.
  - Files are streamed and read exactly once; the hash is computed in the same pass and checked against the hash
    Glance computes itself (C(os_hash_value)), so nothing is read twice and memory does not grow with image size.
  - Image data is immutable in Glance. Uploading the same bytes again changes nothing; uploading different bytes
    into an active image fails, because the right thing is to publish a new image.
  - Limits are checked before any byte is sent where Glance tells them. On a cloud that enforces Keystone unified
    limits, the project's quota usage (C(/v2/info/usage)) is read first and a file that cannot fit is refused
    (since 0.2.0). Glance's C(image_size_cap) and the older C(user_storage_quota) are not published, so they show
    only when Glance refuses the data (HTTP 413); the task then fails with the size of O(src), and the image is
    left C(queued) with nothing stored.
author:
  - osimages.glance contributors (@osimages)
options:
  image:
    description:
      - Name or ID of the image. A name must match exactly one image; for uploads it is looked up among this
        project's images (hidden ones included), for downloads among the images this project can see.
    type: str
    required: true
  src:
    description:
      - A local file to upload. Mutually exclusive with O(url) and O(dest).
    type: path
  url:
    description:
      - An HTTP(S) URL for Glance to fetch the data from (the C(web-download) import method).
    type: str
  dest:
    description:
      - A local file to download the data to. It is written to a temporary file in the same folder, checked
        against Glance's hash, flushed to disk, then renamed, so O(dest) never holds a partial image.
      - When O(dest) already holds the same bytes, nothing is transferred.
    type: path
  method:
    description:
      - How data gets into Glance. V(direct) uploads with a single PUT; V(glance-direct) stages the data, then
        imports it; V(web-download) lets Glance fetch O(url); V(copy-image) copies an active image's data to more
        stores (an admin operation under Glance's default policy).
      - Defaults to V(direct) with O(src) and V(web-download) with O(url).
    type: str
    choices: [direct, glance-direct, web-download, copy-image]
  stores:
    description:
      - The stores to put the data in. V(direct) takes at most one. The stores must exist on this Glance.
    type: list
    elements: str
  all_stores:
    description:
      - Import into every store of this Glance (import methods only).
    type: bool
  all_stores_must_succeed:
    description:
      - Whether an import fails when one of the stores fails. Unset leaves Glance's default (V(true)).
    type: bool
  checksum:
    description:
      - The expected digest of the data, as C(ALGO:HEX) with C(sha256), C(sha512) or C(md5).
      - For O(src), it is checked while streaming, before the last byte is sent; on a mismatch the upload is cut
        short and the image keeps no data. With O(decompress), it is the digest of the decompressed bytes.
      - For O(url), only C(sha512) and C(md5) can be checked, against the hashes Glance computes.
    type: str
  skip_format_check:
    description:
      - Before any byte is sent, O(src) is read with oslo.utils' C(format_inspector), the inspector Glance itself
        runs. A file whose real format differs from the image's C(disk_format), or a qcow2 or VMDK file that
        references other files (a backing file, an external data-file, extents), is refused.
      - V(true) skips that check, and is only accepted for the formats the inspector cannot read (C(ami), C(ari),
        C(aki), C(ploop)); such images must set it.
    type: bool
    default: false
  decompress:
    description:
      - Decompress a O(src) ending in C(.gz), C(.bz2), C(.xz) or C(.zst) while streaming it, with no temporary
        copy. C(.zst) needs the Python package C(zstandard).
    type: bool
    default: false
  timeout:
    description:
      - How many seconds to wait for an upload, import or copy to finish when O(wait=true). The default suits
        multi-GiB images.
    type: int
    default: 3600
  progress_file:
    description:
      - A file that receives a JSON progress record (bytes, total, percent, throughput) about once a second
        during a transfer, for long transfers run as async tasks.
    type: path
requirements:
  - oslo.utils[image-inspection] >= 7.3.0, for uploads from O(src) (see O(skip_format_check))
extends_documentation_fragment:
  - osimages.glance.connection
  - osimages.glance.connection.WAIT
  - osimages.glance.attributes
  - ansible.builtin.files
notes:
  - With O(wait=false), imports return once Glance accepted them; the hash is then not checked.
seealso:
  - module: osimages.glance.glance_image
  - module: osimages.glance.glance_image_info
"""

EXAMPLES = r"""
- name: Register the image
  osimages.glance.glance_image:
    cloud: mycloud
    name: debian-13-20261101
    disk_format: qcow2
    container_format: bare

- name: Upload its data, checking the digest the build produced
  osimages.glance.glance_image_data:
    cloud: mycloud
    image: debian-13-20261101
    src: /srv/images/debian-13-20261101.qcow2
    checksum: "sha512:{{ build_sha512 }}"

- name: Find out what Glance made of it
  osimages.glance.glance_image_info:
    cloud: mycloud
    image: debian-13-20261101

- name: Let Glance fetch an upstream image into two stores
  osimages.glance.glance_image_data:
    cloud: mycloud
    image: upstream-cloud-image
    url: https://cloud.example.org/images/disk.qcow2
    stores: [fast, cheap]

- name: Stage and import a compressed raw image, decompressing on the fly
  osimages.glance.glance_image_data:
    cloud: mycloud
    image: appliance-raw
    src: /srv/images/appliance.raw.xz
    decompress: true
    method: glance-direct

- name: Copy an image to every store (admin)
  osimages.glance.glance_image_data:
    cloud: admin
    image: debian-13
    method: copy-image
    all_stores: true

- name: Download an image
  osimages.glance.glance_image_data:
    cloud: mycloud
    image: debian-13
    dest: /var/tmp/debian-13.qcow2
    mode: "0640"
"""

RETURN = r"""
image:
  description:
    - The image after the task, as M(osimages.glance.glance_image) returns it; in check mode, as it would be.
  returned: success
  type: dict
  sample: {id: 6a1d8a52-8f0b-4d1b-a8c5-2b4c6b1b1e2f, name: debian-13, status: active, stores: [fast]}
bytes:
  description: Bytes transferred (0 when nothing had to move).
  returned: success
  type: int
  sample: 352321536
seconds:
  description: Wall time of the transfer in seconds.
  returned: success
  type: float
  sample: 4.21
throughput_mib_s:
  description: Transfer speed in MiB per second.
  returned: success
  type: float
  sample: 79.8
hash_algo:
  description: The algorithm of RV(hash_value), the one Glance uses (usually C(sha512)).
  returned: when data was read, uploaded or downloaded
  type: str
  sample: sha512
hash_value:
  description: The hash of the bytes this task read or wrote, equal to Glance's C(os_hash_value).
  returned: when data was read, uploaded or downloaded
  type: str
  sample: 3f1c...e9a2
method:
  description: The method used, or C(download).
  returned: success
  type: str
  sample: direct
src:
  description: The uploaded file.
  returned: when O(src) was given
  type: str
  sample: /srv/images/debian-13.qcow2
dest:
  description: The downloaded file.
  returned: when O(dest) was given
  type: str
  sample: /var/tmp/debian-13.qcow2
"""

import os
import tempfile
import time

from ansible_collections.osimages.glance.plugins.module_utils._diskimage import INSPECTABLE_FORMATS
from ansible_collections.osimages.glance.plugins.module_utils._diskimage import UNINSPECTABLE_FORMATS
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
from ansible_collections.osimages.glance.plugins.module_utils._images import HIDDEN_ANY
from ansible_collections.osimages.glance.plugins.module_utils._images import looks_like_uuid
from ansible_collections.osimages.glance.plugins.module_utils._module import GlanceModule
from ansible_collections.osimages.glance.plugins.module_utils._reconcile import BUSY_STATUSES
from ansible_collections.osimages.glance.plugins.module_utils._reconcile import download_decision
from ansible_collections.osimages.glance.plugins.module_utils._reconcile import missing_stores
from ansible_collections.osimages.glance.plugins.module_utils._reconcile import normalize
from ansible_collections.osimages.glance.plugins.module_utils._reconcile import quota_shortfall
from ansible_collections.osimages.glance.plugins.module_utils._reconcile import upload_decision
from ansible_collections.osimages.glance.plugins.module_utils._transfer import DOWNLOAD_CHUNK_SIZE
from ansible_collections.osimages.glance.plugins.module_utils._transfer import BackgroundHasher
from ansible_collections.osimages.glance.plugins.module_utils._transfer import ChecksumMismatch
from ansible_collections.osimages.glance.plugins.module_utils._transfer import Progress
from ansible_collections.osimages.glance.plugins.module_utils._transfer import UploadBody
from ansible_collections.osimages.glance.plugins.module_utils._transfer import WriteBehind
from ansible_collections.osimages.glance.plugins.module_utils._transfer import check_source
from ansible_collections.osimages.glance.plugins.module_utils._transfer import hash_file
from ansible_collections.osimages.glance.plugins.module_utils._transfer import open_source
from ansible_collections.osimages.glance.plugins.module_utils._transfer import parse_checksum

# Glance's default hashing algorithm: what a fresh upload is hashed with before Glance says otherwise.
DEFAULT_HASH_ALGO = "sha512"
# Seconds to wait for Glance to reset an image whose upload connection broke (it does so a moment later).
CUT_UPLOAD_SETTLE_SECONDS = 15


class GlanceImageDataModule(GlanceModule):
    module_name = "glance_image_data"
    wait_timeout = 3600
    argument_spec = dict(
        image=dict(type="str", required=True),
        src=dict(type="path"),
        url=dict(type="str"),
        dest=dict(type="path"),
        method=dict(type="str", choices=["direct", "glance-direct", "web-download", "copy-image"]),
        stores=dict(type="list", elements="str"),
        all_stores=dict(type="bool"),
        all_stores_must_succeed=dict(type="bool"),
        checksum=dict(type="str"),
        decompress=dict(type="bool", default=False),
        progress_file=dict(type="path"),
        skip_format_check=dict(type="bool", default=False),
    )
    module_kwargs = dict(
        add_file_common_args=True,
        mutually_exclusive=[("src", "url", "dest"), ("stores", "all_stores")],
        required_if=[
            ("method", "direct", ("src",)),
            ("method", "glance-direct", ("src",)),
            ("method", "web-download", ("url",)),
        ],
    )

    def run(self):
        params = self.params
        method = self._method()
        expected = parse_checksum(params["checksum"])
        if params["src"]:
            check_source(params["src"])
        if method == "direct" and params["stores"] and len(params["stores"]) > 1:
            raise ValidationError("method direct writes to one store; use glance-direct to import into several")
        if method == "direct" and params["all_stores"]:
            raise ValidationError("all_stores needs an import method (glance-direct, web-download or copy-image)")
        if params["dest"]:
            self._check_dest()
        if method == "web-download" and expected and expected[0] not in ("sha512", "md5"):
            raise ValidationError("with url, checksum can only be checked as sha512 or md5, the hashes Glance computes")

        raw = self._find(upload=not params["dest"])
        if params["dest"]:
            return self._download(raw)
        self._check_method_and_stores(method)
        if method == "copy-image":
            return self._copy(raw)
        return self._upload(raw, method, expected)

    # -- options --------------------------------------------------------------

    def _method(self):
        params = self.params
        if params["dest"]:
            if params["method"]:
                raise ValidationError("method does not apply to a download (dest)")
            return "download"
        method = params["method"] or ("web-download" if params["url"] else "direct" if params["src"] else None)
        if method is None:
            raise ValidationError(
                "give src to upload, url to import from the web, dest to download, or method: copy-image"
            )
        if method == "copy-image" and (params["src"] or params["url"]):
            raise ValidationError("method copy-image copies data Glance already has; src and url do not apply")
        if method in ("direct", "glance-direct") and params["url"]:
            raise ValidationError("url goes with method web-download; %s uploads src" % method)
        if method == "web-download" and params["src"]:
            raise ValidationError("src goes with method direct or glance-direct, not web-download")
        return method

    def _check_dest(self):
        dest = self.params["dest"]
        if os.path.isdir(dest):
            raise ValidationError("dest %s is a directory; give the path of the file to write" % dest)
        folder = os.path.dirname(os.path.abspath(dest))
        if not os.path.isdir(folder):
            raise ValidationError("the folder of dest, %s, does not exist" % folder)
        if not os.access(folder, os.W_OK):
            raise ValidationError("the folder of dest, %s, is not writable by this user" % folder)

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

    # -- lookup ---------------------------------------------------------------

    def _find(self, upload):
        ref = self.params["image"]
        if looks_like_uuid(ref):
            raw = self.api.get(ref)
            matches = [raw] if raw else []
        elif upload:
            matches = self.api.find_by_name(ref, self.api.project_id)
        else:
            matches = list(self.api.iter_images({"name": ref, "os_hidden": HIDDEN_ANY}))
        if not matches:
            raise GlanceError("image %s was not found" % ref)
        if len(matches) > 1:
            raise GlanceError(
                "%d images are named %r: %s; give the ID of the one to use"
                % (len(matches), ref, ", ".join(sorted(image["id"] for image in matches)))
            )
        return matches[0]

    # -- upload and import ----------------------------------------------------

    def _upload(self, raw, method, expected, joined=False):
        params = self.params
        if raw["status"] in BUSY_STATUSES and params["wait"] and not self.check_mode:
            raw = self.api.wait(
                raw, lambda image: image["status"] not in BUSY_STATUSES, params["timeout"], "the running upload"
            )
        before = normalize(raw)
        if before["status"] in BUSY_STATUSES:
            raise ValidationError(
                "image %s (%s) is %s: another upload is running" % (raw["name"], raw["id"], raw["status"])
            )

        digests = {}
        progress = Progress(path=params["progress_file"], action=method)
        if before["status"] != "queued" and params["src"]:
            # Same bytes, or different ones? Read the file once, with Glance's algorithm.
            digests, dummy = hash_file(
                params["src"], [before["hash_algo"] or DEFAULT_HASH_ALGO], params["decompress"], progress
            )
        decision = upload_decision(before, digests.get(before["hash_algo"]))
        if decision == "unchanged":
            if params["url"] and expected:
                self._verify_against_glance(raw, expected[0], expected[1], "the data at %s" % params["url"])
            return self._result(False, before, before, method, digests, Progress())

        if params["src"]:
            self._check_format(raw)
            self._check_quota(raw, method)
        if self.check_mode:
            if params["src"]:
                digests, dummy = hash_file(
                    params["src"], [DEFAULT_HASH_ALGO] + ([expected[0]] if expected else []), params["decompress"]
                )
                if expected and digests[expected[0]] != expected[1]:
                    raise ChecksumMismatch(
                        "checksum mismatch for %s: expected %s:%s, the file hashes to %s:%s"
                        % (params["src"], expected[0], expected[1], expected[0], digests[expected[0]])
                    )
            after = dict(
                before,
                status="active" if params["wait"] else "importing",
                stores=sorted(params["stores"] or before["stores"]),
            )
            return self._result(True, before, after, method, digests, Progress())

        watcher = ImportWatcher(self.api, _glance_now(), params["stores"])
        if method == "web-download":
            self.api.start_import(
                raw,
                method,
                uri=params["url"],
                stores=params["stores"],
                all_stores=params["all_stores"],
                all_stores_must_succeed=params["all_stores_must_succeed"],
            )
        else:
            try:
                digests = self._send(raw, method, expected, progress)
            except Conflict:
                if joined:
                    raise
                # A parallel run started sending data first (Glance answers 409 once the image is no
                # longer queued): look again; its upload is waited for, and its bytes compared with ours.
                return self._upload(self.api.get(raw["id"]), method, expected, joined=True)
        if not params["wait"]:
            return self._result(True, before, normalize(self.api.get(raw["id"])), method, digests, progress)
        try:
            after_raw = self.api.wait(raw, watcher, params["timeout"], "the %s upload" % method)
        except WaitTimeout as exc:
            raise WaitTimeout(
                "%s. Glance does not resume an upload or import after it restarts: if it did, delete "
                "the image and upload again" % exc.msg,
                **exc.details,
            )
        algo = after_raw.get("os_hash_algo")
        if algo in digests:
            self._verify_against_glance(after_raw, algo, digests[algo], params["src"], deactivate=True)
        elif method == "web-download" and expected:
            self._verify_against_glance(
                after_raw, expected[0], expected[1], "the data at %s" % params["url"], deactivate=True
            )
        progress.write("done")
        return self._result(True, before, normalize(after_raw), method, digests, progress)

    def _check_quota(self, raw, method):
        """Refuse src before any byte moves when Glance says the project's quota cannot hold it."""
        params = self.params
        size = None if params["decompress"] else os.path.getsize(params["src"])
        problem = quota_shortfall(self.api.usage(), size, staged=method == "glance-direct")
        if problem:
            raise ValidationError(
                "cannot upload %s (%d bytes) to image %s (%s): %s; nothing was sent"
                % (params["src"], size, raw["name"], raw["id"], problem)
            )

    def _check_format(self, raw):
        """Refuse src before any byte moves when it is not what the image declares, or references other files.

        Glance runs the same inspector on imports; this catches it for direct uploads too, and early.
        """
        params = self.params
        disk_format = raw.get("disk_format")
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
        if params["decompress"]:
            source, dummy = open_source(params["src"], True)
            with source:
                found = inspect_file(params["src"], stream=source)
        else:
            found = inspect_file(params["src"])
        mismatch = format_mismatch(params["src"], found["format"], disk_format)
        if mismatch:
            raise UnsafeImageError("%s (image %s)" % (mismatch, raw["id"]), detected_format=found["format"])

    def _send(self, raw, method, expected, progress):
        """Stream src to Glance (PUT or stage, then import); return the digests of what was sent."""
        params = self.params
        source, length = open_source(params["src"], params["decompress"])
        progress.total = length
        body = UploadBody(source, length, [DEFAULT_HASH_ALGO], expected, progress, label=params["src"])
        try:
            with source:
                if method == "direct":
                    stores = params["stores"] or [None]
                    self.api.upload(raw, body, store=stores[0])
                else:
                    self.api.stage(raw, body)
        except ChecksumMismatch:
            self._wait_until_queued(raw)
            raise
        except TransientError as exc:  # the connection broke: say what the cut-short upload left behind
            raise TransientError("%s. %s" % (exc.msg, self._after_cut_upload(raw)), **exc.details)
        except TooLarge as exc:
            self._wait_until_queued(raw)
            raise TooLarge(
                "%s. src %s holds %s bytes, more than Glance's image_size_cap or the project's storage "
                "quota allows (Glance does not say which); nothing was stored and the image is queued"
                % (exc.msg, params["src"], length if length is not None else "an unknown number of"),
                **exc.details,
            )
        if method == "glance-direct":
            self.api.start_import(
                raw,
                method,
                stores=params["stores"],
                all_stores=params["all_stores"],
                all_stores_must_succeed=params["all_stores_must_succeed"],
            )
        return body.digests()

    def _after_cut_upload(self, raw):
        """What an upload whose connection broke left behind, for the error message.

        Glance resets an image to queued when the client goes away, a moment later; after its own restart it
        leaves the image saving for good.
        """
        try:
            status = self.api.wait(
                raw,
                lambda image: image["status"] != "saving",
                CUT_UPLOAD_SETTLE_SECONDS,
                "Glance to discard the partial upload",
            )["status"]
        except NotFound:
            return "The image is gone"
        except GlanceError:
            try:
                status = (self.api.get(raw["id"]) or {}).get("status", "deleted")
            except GlanceError:
                return "Glance did not answer afterwards, so the state of the image is unknown"
        if status == "queued":
            return "Glance discarded the partial data and the image is queued: run the task again"
        if status == "saving":
            return (
                "The image is left saving: Glance stopped during the upload and will not finish it, so delete "
                "the image and upload again"
            )
        return "The image is now %s" % status

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

    # -- copy-image ---------------------------------------------------------------

    def _copy(self, raw):
        params = self.params
        before = normalize(raw)
        if before["status"] != "active":
            raise ValidationError(
                "copy-image needs an active image; image %s (%s) is %s" % (raw["name"], raw["id"], raw["status"])
            )
        wanted = self.api.stores() if params["all_stores"] else (params["stores"] or [])
        if not wanted:
            raise ValidationError("copy-image needs stores or all_stores: true")
        missing = missing_stores(before, wanted)
        if not missing:
            return self._result(False, before, before, "copy-image", {}, Progress())
        if self.check_mode:
            return self._result(
                True,
                before,
                dict(before, stores=sorted(set(before["stores"]) | set(missing))),
                "copy-image",
                {},
                Progress(),
            )
        watcher = ImportWatcher(self.api, _glance_now(), missing)
        self.api.start_import(
            raw, "copy-image", stores=missing, all_stores_must_succeed=params["all_stores_must_succeed"]
        )
        after = before
        if params["wait"]:
            after_raw = self.api.wait(raw, watcher, params["timeout"], "copy-image")
            after = normalize(after_raw)
        return self._result(True, before, after, "copy-image", {}, Progress())

    # -- download -------------------------------------------------------------

    def _download(self, raw):
        params = self.params
        dest = params["dest"]
        image = normalize(raw)
        algo = image["hash_algo"] or DEFAULT_HASH_ALGO
        digests = {}
        if os.path.isfile(dest):
            digests, dummy = hash_file(dest, [algo])
        decision = download_decision(image, digests.get(algo))
        progress = Progress(total=image["size"], path=params["progress_file"], action="download")
        changed = decision == "download"
        if changed and not self.check_mode:
            digests = self._fetch(raw, dest, algo, progress)
        file_args = self.ansible.load_file_common_arguments(params, path=dest)
        if os.path.exists(dest):
            changed = self.ansible.set_fs_attributes_if_different(file_args, changed)
        result = self._result(changed, image, image, "download", digests, progress)
        result["dest"] = dest
        return result

    def _fetch(self, raw, dest, algo, progress):
        """Download into a temporary file beside dest, verify, fsync, rename. dest is never partial."""
        folder = os.path.dirname(os.path.abspath(dest))
        handle, tmp = tempfile.mkstemp(dir=folder, prefix=".%s." % os.path.basename(dest), suffix=".part")
        hasher = BackgroundHasher([algo])
        response = None
        try:
            response = self.api.open_download(raw)
            with os.fdopen(handle, "wb") as out:
                syncer = WriteBehind(out.fileno())
                try:
                    for chunk in response.iter_content(chunk_size=DOWNLOAD_CHUNK_SIZE):
                        hasher.feed(chunk)
                        out.write(chunk)
                        out.flush()  # hand the bytes to the kernel, so that WriteBehind can sync them
                        syncer.wrote(len(chunk))
                        progress.add(len(chunk))
                except BaseException:
                    syncer.finish(sync=False)
                    raise
                syncer.finish()
            digest = hasher.digests()[algo]
            if digest != raw.get("os_hash_value"):
                raise ChecksumMismatch(
                    "download of image %s (%s) does not match Glance's hash: got %s %s, Glance has %s; %s was left "
                    "as it was" % (raw.get("name"), raw["id"], algo, digest, raw.get("os_hash_value"), dest)
                )
            if os.path.exists(dest):
                # Keep the permissions of the file being replaced, as Ansible's file modules do.
                os.chmod(tmp, os.stat(dest).st_mode & 0o7777)
            os.rename(tmp, dest)
            progress.write("done")
            return {algo: digest}
        except Exception as exc:
            hasher.digests()
            if os.path.exists(tmp):
                os.unlink(tmp)
            if isinstance(exc, GlanceError):
                raise
            raise GlanceError(
                "Failed to download image %s (%s) to %s: %s; %s was left as it was"
                % (raw.get("name"), raw["id"], dest, exc, dest)
            )
        finally:
            if response is not None:
                response.close()

    # -- result ---------------------------------------------------------------

    def _result(self, changed, before, after, method, digests, progress):
        result = dict(changed=changed, image=after, method=method)
        result.update(progress.summary())
        if not changed:
            result.update(bytes=0, seconds=0.0, throughput_mib_s=0.0)
        algo = after.get("hash_algo") or DEFAULT_HASH_ALGO
        if algo in digests:
            result.update(hash_algo=algo, hash_value=digests[algo])
        for key in ("src", "url"):
            if self.params[key]:
                result[key] = self.params[key]
        if self.ansible._diff:
            result["diff"] = {
                "before": {"status": before["status"], "stores": before["stores"]},
                "after": {"status": after["status"], "stores": after["stores"]},
            }
        return result


class ImportWatcher(object):
    """Decides, poll by poll, whether an upload or import that started at ``since`` is over.

    Glance runs imports as tasks: the image stays queued until the task picks
    it up, so "queued" alone is not a failure. A failed task, a store listed in
    os_glance_failed_import, or a missing store after all tasks ended is.
    """

    def __init__(self, api, since, stores=None):
        self.api = api
        self.since = since
        self.stores = set(stores or [])

    def __call__(self, raw):
        label = "image %s (%s)" % (raw.get("name"), raw["id"])
        failed = raw.get("os_glance_failed_import")
        if failed:
            raise GlanceError("Glance failed to import %s into store(s) %s%s" % (label, failed, self._task_note(raw)))
        present = set((raw.get("stores") or "").split(",")) - set([""])
        if raw["status"] == "active" and not raw.get("os_glance_importing_to_stores") and self.stores <= present:
            return True
        if raw["status"] == "killed":
            raise GlanceError("Glance killed %s during the import%s" % (label, self._task_note(raw)))
        tasks = [task for task in self.api.import_tasks(raw) if task.get("created_at", "") >= self.since]
        failures = [task for task in tasks if task.get("status") == "failure"]
        if failures:
            raise GlanceError(
                "Glance failed to import %s: %s" % (label, failures[-1].get("message") or "no reason given")
            )
        if tasks and all(task.get("status") == "success" for task in tasks) and raw["status"] == "queued":
            raise GlanceError("Glance finished the import of %s but the image is still queued" % label)
        return False

    def _task_note(self, raw):
        messages = [
            task.get("message")
            for task in self.api.import_tasks(raw)
            if task.get("created_at", "") >= self.since and task.get("message")
        ]
        return ": %s" % messages[-1] if messages else ""


def _glance_now():
    """Now, in the form of Glance's task timestamps (UTC, ISO 8601), a second early for clock rounding."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() - 1))


def main():
    GlanceImageDataModule()()


if __name__ == "__main__":
    main()
