# -*- coding: utf-8 -*-
# Copyright: Contributors to the osimages.glance collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal use only: this file is not part of the collection's public API.
"""The one place that talks to Glance.

Calls go through the openstacksdk connection's image proxy (a keystoneauth
adapter: auth, catalog, TLS and token renewal come from openstacksdk), but we
send Glance's own JSON rather than going through the SDK's Image resource:
the resource hides the ``stores`` field, maps some extra properties to
attributes and, in some releases, sends booleans as strings.

Every helper names what it was doing; failures become GlanceError subclasses
carrying the HTTP status and request ID.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible_collections.osimages.glance.plugins.module_utils._errors import AmbiguousName
from ansible_collections.osimages.glance.plugins.module_utils._errors import Conflict
from ansible_collections.osimages.glance.plugins.module_utils._errors import Forbidden
from ansible_collections.osimages.glance.plugins.module_utils._errors import GlanceError
from ansible_collections.osimages.glance.plugins.module_utils._errors import NotFound
from ansible_collections.osimages.glance.plugins.module_utils._errors import TooLarge
from ansible_collections.osimages.glance.plugins.module_utils._errors import TransientError
from ansible_collections.osimages.glance.plugins.module_utils._errors import ValidationError
from ansible_collections.osimages.glance.plugins.module_utils._errors import WaitTimeout
from ansible_collections.osimages.glance.plugins.module_utils._errors import deactivated_data
from ansible_collections.osimages.glance.plugins.module_utils._queries import HIDDEN_ANY
from ansible_collections.osimages.glance.plugins.module_utils._queries import looks_like_id
from ansible_collections.osimages.glance.plugins.module_utils._queries import looks_like_uuid
from ansible_collections.osimages.glance.plugins.module_utils._queries import owned_by

try:
    from keystoneauth1 import exceptions as ksa_exceptions
    from openstack import exceptions as sdk_exceptions
except ImportError:  # reported by check_sdk() before any call is made
    ksa_exceptions = None
    sdk_exceptions = None

JSON_PATCH = "application/openstack-images-v2.1-json-patch"
# Glance's own maximum page size is 1000 by default; this keeps each page small.
PAGE_SIZE = 200

_STATUS_ERRORS = {403: Forbidden, 404: NotFound, 409: Conflict, 413: TooLarge}
# Answers worth another try: a proxy or Glance itself is restarting or overloaded.
TRANSIENT_STATUSES = (502, 503, 504)
# Seconds to wait before each retry of a call declared retryable; then the error stands.
RETRY_DELAYS = (1, 2, 4)

# How many images find_one lists for an ambiguous name.
AMBIGUITY_LIMIT = 10
# The sort keys that can pick the most recent of several images (Glance sorts by each of them).
MOST_RECENT_KEYS = ("created_at", "updated_at", "name")


def glance_now():
    """Now, in the form of Glance's task timestamps (UTC, ISO 8601), a second early for clock rounding."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() - 1))


def _describe(image):
    """'image NAME (ID)' for messages, from a raw Glance dict or an ID."""
    if isinstance(image, dict):
        if image.get("name"):
            return "image %s (%s)" % (image.get("name"), image.get("id"))
        return "image %s" % image.get("id")
    return "image %s" % image


class ImageApi(object):
    """Glance Images v2 calls. Methods take and return plain dicts."""

    def __init__(self, conn, retry_delays=RETRY_DELAYS):
        self.conn = conn
        self._http = None
        self.retry_delays = retry_delays
        self.retries = []  # one line per retry, reported to the user as warnings

    @property
    def http(self):
        """The image service's adapter; finding it in the catalog is the first call that can fail."""
        if self._http is None:
            try:
                self._http = self.conn.image
                # Retries happen in request(), declared per call and reported; the adapter's own
                # silent retries of 503 would hide them and double the waiting.
                self._http.status_code_retries = 0
            except (sdk_exceptions.SDKException, ksa_exceptions.ClientException) as exc:
                raise GlanceError("Failed to find the image service (Glance) of the cloud: %s" % exc)
        return self._http

    # -- plumbing ---------------------------------------------------------

    def request(self, action, method, url, retry=False, **kwargs):
        """Send a request; raise GlanceError('Failed to <action>: ...') on failure.

        With ``retry`` (only for calls that are safe to repeat), transient failures - a refused or
        reset connection, HTTP 502/503/504 - are retried after each of ``retry_delays`` seconds.
        """
        delays = list(self.retry_delays) if retry else []
        while True:
            try:
                return self._request_once(action, method, url, **kwargs)
            except TransientError as exc:
                if not delays:
                    raise
                delay = delays.pop(0)
                self.retries.append("%s; retrying in %d s" % (exc.msg, delay))
                time.sleep(delay)

    def _request_once(self, action, method, url, **kwargs):
        try:
            response = self.http.request(url, method, **kwargs)
            sdk_exceptions.raise_from_response(response)
            return response
        except sdk_exceptions.HttpException as exc:
            status = exc.status_code
            error = TransientError if status in TRANSIENT_STATUSES else _STATUS_ERRORS.get(status, GlanceError)
            details = (exc.details or "").strip() or exc.response.reason
            raise error(
                "Failed to %s: Glance answered HTTP %s: %s" % (action, status, details),
                status_code=status,
                request_id=exc.request_id,
            )
        except (ksa_exceptions.ConnectFailure, ksa_exceptions.UnknownConnectionError) as exc:
            raise TransientError("Failed to %s: the connection to Glance failed: %s" % (action, exc))
        except ksa_exceptions.Unauthorized as exc:
            raise GlanceError("Failed to %s: Keystone refused the credentials: %s" % (action, exc), status_code=401)
        except (sdk_exceptions.SDKException, ksa_exceptions.ClientException) as exc:
            raise GlanceError("Failed to %s: %s" % (action, exc))

    @property
    def project_id(self):
        """The project the connection is scoped to."""
        try:
            return self.conn.current_project_id
        except (sdk_exceptions.SDKException, ksa_exceptions.ClientException) as exc:
            raise GlanceError("Failed to authenticate: %s" % exc)

    # -- reading -----------------------------------------------------------

    def get(self, image_id):
        """The raw image, or None when Glance answers 404 (also for another project's private image)."""
        try:
            return self.request("get " + _describe(image_id), "GET", "/images/%s" % image_id, retry=True).json()
        except NotFound:
            return None

    def iter_images(self, query, limit=None):
        """Yield raw images page by page, following Glance's ``next`` links.

        Only one page is held at a time, and no page past ``limit`` is fetched.
        ``os_hidden=any`` yields the visible images, then the hidden ones: Glance
        lists only one of the two kinds per query.
        """
        if query.get("os_hidden") != HIDDEN_ANY:
            yield from self._iter_pages(query, limit)
            return
        returned = 0
        for hidden in ("false", "true"):
            if limit and returned >= limit:
                return
            for image in self._iter_pages(dict(query, os_hidden=hidden), limit - returned if limit else None):
                yield image
                returned += 1

    def _iter_pages(self, query, limit):
        return self._paged("list images", "/images", "images", query, limit)

    def _paged(self, action, url, key, query, limit=None):
        """Yield the ``key`` entries of a Glance listing page by page, following its ``next`` links, and stop once
        ``limit`` are out."""
        params = dict(query)
        params["limit"] = min(limit, PAGE_SIZE) if limit else PAGE_SIZE
        returned = 0
        while url:
            body = self.request(action, "GET", url, params=params, retry=True).json()
            params = None  # the next link already carries the query
            for entry in body.get(key, []):
                yield entry
                returned += 1
                if limit and returned >= limit:
                    return
            url = body.get("next")
            # `next` is absolute from the API root ("/v2/images?marker=..."), the adapter is rooted at /v2.
            if url and url.startswith("/v2/"):
                url = url[3:]

    def most_recent(self, query, key):
        """The image that sorts last by ``key`` among those ``query`` selects, or None: Glance sorts, and one image
        comes back (one per kind with ``os_hidden=any``, which Glance lists in two queries)."""
        if key not in MOST_RECENT_KEYS:
            raise ValidationError("most_recent sorts by one of %s, not %r" % (", ".join(MOST_RECENT_KEYS), key))
        query = dict(query, sort="%s:desc" % key)
        kinds = [query]
        if query.get("os_hidden") == HIDDEN_ANY:
            kinds = [dict(query, os_hidden=hidden) for hidden in ("false", "true")]
        candidates = [image for kind in kinds for image in self._iter_pages(kind, 1)]
        return max(candidates, key=lambda image: image.get(key) or "", default=None)

    def find_one(self, ref, query=None, by_id=True, missing_ok=False, most_recent=None):
        """The one image that ``ref`` names among those ``query`` selects (see image_query); every module and the
        lookup find images through here.

        ``ref`` is an ID (when ``by_id`` and it looks like one) or a name. Raises NotFound, or returns None with
        ``missing_ok``; raises AmbiguousName, listing the IDs, when several images carry the name, unless
        ``most_recent`` names a sort key (see MOST_RECENT_KEYS): then the image that sorts last by it wins.
        """
        if by_id and looks_like_uuid(ref):
            raw = self.get(ref)
            if raw is not None:
                return raw
        query = dict(query or {}, name=ref)
        if most_recent:
            newest = self.most_recent(query, most_recent)
            found = [newest] if newest else []
        else:
            # Two are enough to know the name is ambiguous; a few more make the message useful.
            found = list(self.iter_images(query, limit=AMBIGUITY_LIMIT))
        if len(found) == 1:
            return found[0]
        if not found:
            if missing_ok:
                return None
            where = ", ".join("%s=%s" % item for item in sorted(query.items()) if item[0] != "name")
            raise NotFound(
                "image %r was not found: no image %snamed %r matches %s"
                % (ref, "with that ID or " if by_id and looks_like_uuid(ref) else "", ref, where or "(no filters)")
            )
        ids = sorted(image["id"] for image in found)
        raise AmbiguousName(
            "%s images are named %r: %s. Glance does not keep names unique; give the ID of the one to use, or "
            "filters that leave one"
            % ("%d or more" % len(ids) if len(ids) == AMBIGUITY_LIMIT else len(ids), ref, ", ".join(ids)),
            image_ids=ids,
        )

    def members(self, image_id):
        """The members of a shared image, or None when this project may not list them (a consumer)."""
        try:
            body = self.request(
                "list members of " + _describe(image_id), "GET", "/images/%s/members" % image_id, retry=True
            ).json()
        except Forbidden:
            return None
        return body.get("members", [])

    def member(self, image_id, project_id):
        """This project's membership of a shared image, or None."""
        try:
            return self.request(
                "get membership of project %s in %s" % (project_id, _describe(image_id)),
                "GET",
                "/images/%s/members/%s" % (image_id, project_id),
                retry=True,
            ).json()
        except NotFound:
            return None

    # -- writing -----------------------------------------------------------

    def create(self, attrs):
        return self.request("create image %s" % attrs.get("name"), "POST", "/images", json=attrs).json()

    def patch(self, image, operations):
        return self.request(
            "update " + _describe(image),
            "PATCH",
            "/images/%s" % image["id"],
            json=operations,
            headers={"Content-Type": JSON_PATCH},
            retry=True,
        ).json()

    def add_tag(self, image, tag):
        self.request(
            "add tag %r to %s" % (tag, _describe(image)), "PUT", "/images/%s/tags/%s" % (image["id"], tag), retry=True
        )

    def remove_tag(self, image, tag):
        try:
            self.request(
                "remove tag %r from %s" % (tag, _describe(image)),
                "DELETE",
                "/images/%s/tags/%s" % (image["id"], tag),
                retry=True,
            )
        except NotFound:
            pass

    def add_member(self, image, project_id):
        self.request(
            "share %s with project %s" % (_describe(image), project_id),
            "POST",
            "/images/%s/members" % image["id"],
            json={"member": project_id},
        )

    def remove_member(self, image, project_id):
        try:
            self.request(
                "stop sharing %s with project %s" % (_describe(image), project_id),
                "DELETE",
                "/images/%s/members/%s" % (image["id"], project_id),
                retry=True,
            )
        except NotFound:
            pass

    def set_member_status(self, image, project_id, status):
        self.request(
            "set membership of project %s in %s to %s" % (project_id, _describe(image), status),
            "PUT",
            "/images/%s/members/%s" % (image["id"], project_id),
            json={"status": status},
        )

    def deactivate(self, image):
        self.request(
            "deactivate " + _describe(image), "POST", "/images/%s/actions/deactivate" % image["id"], retry=True
        )

    def reactivate(self, image):
        self.request(
            "reactivate " + _describe(image), "POST", "/images/%s/actions/reactivate" % image["id"], retry=True
        )

    def delete(self, image):
        """Delete; an image that is already gone is not an error."""
        try:
            self.request("delete " + _describe(image), "DELETE", "/images/%s" % image["id"], retry=True)
        except NotFound:
            pass

    # -- data ---------------------------------------------------------------

    def import_methods(self):
        body = self.request("read the import methods of this Glance", "GET", "/info/import", retry=True).json()
        return body.get("import-methods", {}).get("value", [])

    def stores(self):
        """The store IDs of a multi-store Glance ([] when it has a single, unnamed store)."""
        return [store["id"] for store in self.store_list()]

    def store_list(self, detailed=False):
        """The stores of a multi-store Glance as it describes them, ``default`` as a boolean ([] when it has a
        single, unnamed store). ``detailed`` adds each store's type and settings (``/info/stores/detail``, which
        Glance's default policy keeps for admins)."""
        url = "/info/stores/detail" if detailed else "/info/stores"
        try:
            body = self.request("read the stores of this Glance", "GET", url, retry=True).json()
        except NotFound:
            return []
        return [
            dict(store, default=str(store.get("default", "")).lower() == "true") for store in body.get("stores", [])
        ]

    def api_versions(self):
        """The Images API versions this Glance offers, oldest first: [{"version": "2.15", "status": "CURRENT"}, ...].

        keystoneauth's version discovery reads them (and caches them for the session)."""
        try:
            found = self.http.get_all_version_data(interface=self.http.interface, region_name=self.http.region_name)
        except (sdk_exceptions.SDKException, ksa_exceptions.ClientException) as exc:
            raise GlanceError("Failed to read the API versions of this Glance: %s" % exc)
        versions = {}
        for interfaces in found.values():
            for services in interfaces.values():
                for data in services.get("image", []):
                    versions[data["version"]] = (data.get("raw_status") or data.get("status") or "").upper()
        ordered = sorted(versions, key=lambda version: tuple(int(part) for part in version.split(".")))
        return [{"version": version, "status": versions[version]} for version in ordered]

    def metadef_namespaces(self, resource_type):
        """The metadata definitions' namespaces that apply to ``resource_type``, as summaries (no properties)."""
        query = {"resource_types": resource_type}
        return list(self._paged("list Glance's metadata definitions", "/metadefs/namespaces", "namespaces", query))

    def metadef_namespace(self, namespace, resource_type):
        """One namespace of the metadata definitions with its properties and objects, named as they apply to
        ``resource_type`` (Glance adds the association's prefix)."""
        return self.request(
            "read Glance's metadata definitions of %s" % namespace,
            "GET",
            "/metadefs/namespaces/%s" % namespace,
            params={"resource_type": resource_type},
            retry=True,
        ).json()

    def image_schema(self):
        """Glance's JSON schema of an image (``/v2/schemas/image``): its core attributes and the properties the
        cloud's operator declared."""
        return self.request("read the image schema of this Glance", "GET", "/schemas/image", retry=True).json()

    def usage(self):
        """Glance's quota usage (``/v2/info/usage``): empty unless the cloud enforces Keystone unified limits."""
        try:
            return (
                self.request("read the project's image quota usage", "GET", "/info/usage", retry=True)
                .json()
                .get("usage")
                or {}
            )
        except NotFound:  # Glance before Yoga
            return {}

    def upload(self, image, body, store=None):
        """PUT the data (direct upload). ``body`` is streamed; see _transfer.UploadBody.

        Raises Conflict when another upload had the image first (see _send_data)."""
        headers = {"Content-Type": "application/octet-stream"}
        if store:
            headers["X-Image-Meta-Store"] = store
        self._send_data("upload data to " + _describe(image), "/images/%s/file" % image["id"], body, headers)

    def stage(self, image, body):
        """PUT the data into the staging area, for the glance-direct import method; Conflict as upload()."""
        self._send_data(
            "stage data for " + _describe(image),
            "/images/%s/stage" % image["id"],
            body,
            {"Content-Type": "application/octet-stream"},
        )

    def _send_data(self, action, url, body, headers):
        """PUT image data. Glance discards the data and answers 409 when the image was no longer queued (another
        upload had it first), and 410 "could not be found after upload" when another upload moved it out of
        queued between Glance's check and its own status update, or took it back to queued: both are a Conflict.
        (A 410 on an image that was really deleted is a Conflict too; whoever rejoins finds it gone.)"""
        try:
            self.request(action, "PUT", url, data=_request_body(body), headers=headers)
        except GlanceError as exc:
            if exc.details.get("status_code") == 410:
                raise Conflict(exc.msg, **exc.details)
            raise

    def start_import(
        self, image, method, uri=None, stores=None, all_stores=None, all_stores_must_succeed=None, remote=None
    ):
        """POST the import; ``remote`` is glance-download's (region, image ID, service interface)."""
        request = {"method": {"name": method}}
        if uri:
            request["method"]["uri"] = uri
        if remote:
            region, image_id, interface = remote
            request["method"].update(glance_region=region, glance_image_id=image_id, glance_service_interface=interface)
        if stores:
            request["stores"] = list(stores)
        if all_stores is not None:
            request["all_stores"] = all_stores
        if all_stores_must_succeed is not None:
            request["all_stores_must_succeed"] = all_stores_must_succeed
        retries_before = len(self.retries)
        try:
            self.request(
                "start the %s import of %s" % (method, _describe(image)),
                "POST",
                "/images/%s/import" % image["id"],
                json=request,
                retry=True,
            )
        except Conflict:
            # After a retry, 409 means the attempt whose answer was lost started the import.
            if len(self.retries) == retries_before:
                raise

    def import_tasks(self, image):
        """Glance's import tasks for the image (GET /v2/images/{id}/tasks, API 2.12+); [] where unsupported."""
        try:
            body = self.request(
                "read the import tasks of " + _describe(image), "GET", "/images/%s/tasks" % image["id"], retry=True
            ).json()
        except (NotFound, Forbidden):
            return []
        return body.get("tasks", [])

    def open_download(self, image, offset=0):
        """The streaming response for the image's data from byte ``offset`` on; the caller iterates and closes it.

        A non-admin asking for a deactivated image's data gets Glance's 403 as _errors.deactivated_data.
        """
        headers = {"Range": "bytes=%d-" % offset} if offset else None
        try:
            return self.request(
                "download " + _describe(image),
                "GET",
                "/images/%s/file" % image["id"],
                stream=True,
                retry=True,
                headers=headers,
            )
        except Forbidden:
            if image.get("status") == "deactivated":
                raise deactivated_data(_describe(image))
            raise

    def is_admin(self):
        """Whether Glance's default policy treats this user as an admin (the token holds the admin role)."""
        try:
            access = self.conn.session.auth.get_access(self.conn.session)
        except (sdk_exceptions.SDKException, ksa_exceptions.ClientException) as exc:
            raise GlanceError("Failed to authenticate: %s" % exc)
        return "admin" in (getattr(access, "role_names", None) or [])

    def wait(self, image, until, timeout, what):
        """Poll the image until ``until(raw)`` returns True; return the raw image.

        ``until`` may raise GlanceError to stop early (an import that failed).
        """
        deadline = time.time() + timeout
        delay = 0.5
        while True:
            raw = self.get(image["id"])
            if raw is None:
                raise NotFound("%s was deleted while waiting for %s" % (_describe(image), what))
            if until(raw):
                return raw
            if time.time() >= deadline:
                raise WaitTimeout(
                    "timed out after %ss waiting for %s of %s (status %s)"
                    % (timeout, what, _describe(raw), raw.get("status"))
                )
            time.sleep(delay)
            delay = min(delay * 1.5, 5)

    # -- name resolution ----------------------------------------------------

    def resolve_project(self, name_or_id):
        """A project ID from a name or ID. Members cannot list projects, so IDs pass through on 403."""
        try:
            project = self.conn.identity.find_project(name_or_id, ignore_missing=True)
        except sdk_exceptions.ForbiddenException:
            if looks_like_id(name_or_id):
                return name_or_id
            raise GlanceError(
                "Failed to resolve project %r: Keystone does not let this user look up projects; "
                "give the project ID instead" % name_or_id
            )
        except (sdk_exceptions.SDKException, ksa_exceptions.ClientException) as exc:
            raise GlanceError("Failed to resolve project %r: %s" % (name_or_id, exc))
        if project is None:
            if looks_like_id(name_or_id):
                return name_or_id
            raise NotFound("Failed to resolve project %r: no such project" % name_or_id)
        return project.id

    def signing_certificate(self, certificate_id):
        """The PEM text of the image-signing certificate the Key Manager (Barbican) holds as ``certificate_id``."""
        what = "Failed to fetch the signing certificate %s from the Key Manager (Barbican)" % certificate_id
        try:
            payload = self.conn.key_manager.get_secret(certificate_id).payload
        except sdk_exceptions.NotFoundException:
            raise NotFound("%s: there is no such secret, or this project may not read it" % what)
        except (sdk_exceptions.SDKException, ksa_exceptions.ClientException) as exc:
            raise GlanceError("%s: %s" % (what, exc))
        if not payload:
            raise GlanceError("%s: the secret holds no payload" % what)
        return payload if isinstance(payload, bytes) else payload.encode("utf-8")

    def resolve_image_id(self, name_or_id, owner):
        """An image ID from a name or ID (for kernel_id and ramdisk_id): the owner's image first, else any visible."""
        image = self.find_one(name_or_id, owned_by(owner), missing_ok=True) or self.find_one(name_or_id)
        return image["id"]


def _request_body(body):
    """What requests should send for an UploadBody.

    A known length goes out with Content-Length; an unknown one (decompressing
    on the fly) as a generator, which requests sends chunked. requests would
    also chunk a zero-length iterable, so an empty source is read (and
    checked) here and sent as empty bytes.
    """
    if body.length is None:
        return iter(body)
    if body.length == 0:
        for dummy in body:
            pass
        return b""
    return body
