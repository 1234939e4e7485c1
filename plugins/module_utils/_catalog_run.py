# -*- coding: utf-8 -*-
# Copyright: Contributors to the osimages.glance collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal use only: this file is not part of the collection's public API.
"""The run of glance_catalog: a whole catalog published into one region or several.

``CatalogRun.publish`` reads every region before anything changes, plans each one (``_catalog_plan``), rolls back
what the transfers of a first call did not fill, carries out the steps image by image (``_apply``), and withdraws
the transfers of images that failed in any region. ``Region`` is one region's Glance and what the run learns of it;
``transfer_for`` says what the role hands glance_image_data for one new version.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime

from ansible_collections.osimages.glance.plugins.module_utils._apply import apply_catalog_step
from ansible_collections.osimages.glance.plugins.module_utils._catalog import LATEST
from ansible_collections.osimages.glance.plugins.module_utils._catalog_plan import CREATE
from ansible_collections.osimages.glance.plugins.module_utils._catalog_plan import DEACTIVATE
from ansible_collections.osimages.glance.plugins.module_utils._catalog_plan import DELETE
from ansible_collections.osimages.glance.plugins.module_utils._catalog_plan import NO_DATA_STATUSES
from ansible_collections.osimages.glance.plugins.module_utils._catalog_plan import SERIES_PROPERTY
from ansible_collections.osimages.glance.plugins.module_utils._catalog_plan import UPLOAD
from ansible_collections.osimages.glance.plugins.module_utils._catalog_plan import VERSION_PROPERTY
from ansible_collections.osimages.glance.plugins.module_utils._catalog_plan import is_managed
from ansible_collections.osimages.glance.plugins.module_utils._catalog_plan import plan_catalog
from ansible_collections.osimages.glance.plugins.module_utils._catalog_plan import present
from ansible_collections.osimages.glance.plugins.module_utils._catalog_plan import series_of
from ansible_collections.osimages.glance.plugins.module_utils._catalog_plan import visible_names
from ansible_collections.osimages.glance.plugins.module_utils._checksums import parse_checksum_file
from ansible_collections.osimages.glance.plugins.module_utils._checksums import url_filename
from ansible_collections.osimages.glance.plugins.module_utils._errors import GlanceError
from ansible_collections.osimages.glance.plugins.module_utils._errors import ModuleError
from ansible_collections.osimages.glance.plugins.module_utils._errors import ValidationError
from ansible_collections.osimages.glance.plugins.module_utils._fetch import fetch_text
from ansible_collections.osimages.glance.plugins.module_utils._fetch import last_modified
from ansible_collections.osimages.glance.plugins.module_utils._latest import SOURCE_CHECKSUM_PROPERTY
from ansible_collections.osimages.glance.plugins.module_utils._latest import latest_entry
from ansible_collections.osimages.glance.plugins.module_utils._latest import resolve_latest
from ansible_collections.osimages.glance.plugins.module_utils._queries import HIDDEN_ANY
from ansible_collections.osimages.glance.plugins.module_utils._queries import looks_like_id
from ansible_collections.osimages.glance.plugins.module_utils._queries import names_query
from ansible_collections.osimages.glance.plugins.module_utils._reconcile import normalize
from ansible_collections.osimages.glance.plugins.module_utils._scs import audit_images
from ansible_collections.osimages.glance.plugins.module_utils._scs import audit_result

try:
    import yaml
except ImportError:  # pragma: no cover - ansible-core itself needs PyYAML
    yaml = None


def read_documents(paths, inline):
    """(where, YAML document) of each catalog file in ``paths``, then of the ``inline`` catalog (a list of images)."""
    documents = []
    for path in paths or []:
        if yaml is None:
            raise ValidationError("reading catalog_files needs PyYAML on the host that runs the module")
        try:
            with open(path) as handle:
                documents.append((path, yaml.safe_load(handle)))
        except (IOError, OSError) as exc:
            raise ValidationError("cannot read the catalog file %s: %s" % (path, exc.strerror or exc))
        except yaml.YAMLError as exc:
            raise ValidationError("the catalog file %s is not valid YAML: %s" % (path, exc))
    if inline is not None:
        documents.append(("catalog (inline)", {"images": inline}))
    return documents


class CatalogRun(object):
    """One glance_catalog call over ``regions`` ((name, ImageApi) pairs, the first holding the bytes), with the
    module's ``params``."""

    def __init__(self, params, check_mode, diff, regions):
        self.params = params
        self.check_mode = check_mode
        self.diff = diff
        self.regions = [Region(name, api) for name, api in regions]

    def publish(self, catalog):
        """list every region -> plan -> roll back failed transfers -> (check mode stops here) -> execute -> the
        module's result; ModuleError, with that result, when some images failed."""
        params = self.params
        regions = self.regions
        primary = regions[0]
        # The regions this call changes: all of them, or the host's own one.
        acting = [region for region in regions if params["own_region"] in (None, region.name)]
        project_id = primary.api.project_id
        for image in catalog:
            image["members"] = self._project_ids(primary.api, image["members"])
        for region in regions:  # every region is read before anything changes: one that is down stops the run here
            region.listed = self._list(region, catalog, project_id)
            region.before = dict(region.listed)  # for diff mode: execution updates ``listed`` as it goes
        failed, changed = {}, False
        catalog = [self._resolve_latest(image, primary.listed, failed) for image in catalog]
        self._plan(regions, catalog, project_id)
        audit = {}
        if params["scs_audit"] != "off" and not params["after_transfers"]:
            rows = audit_images(primary.plan.published(primary.listed), datetime.date.today())
            audit, failure = audit_result(rows, params["scs_audit"])
            if failure:
                raise ModuleError("%s; nothing was changed in Glance" % failure, **audit)
        together = published_together(catalog)
        after_transfers = params["after_transfers"] and not self.check_mode
        if after_transfers and self._roll_back(regions, acting, failed, project_id, together):
            changed = True
            self._plan(regions, catalog, project_id)
        transfers, registered = [], []
        if not self.check_mode:
            for region in acting:
                for name, steps in region.plan.runs(names_in_order(catalog, region.plan)):
                    if together.get(name, {name}) & set(failed):
                        continue
                    # An image links its kernel and ramdisk only once they hold data: it waits for their uploads too.
                    waiting = region.plan.uploads_pending(together.get(name, {name}))
                    try:
                        changed |= self._execute(region, steps, transfers, registered, primary, waiting)
                    except ModuleError as exc:
                        failed[name] = region.say(exc.msg)
                        changed = True
            fail_together(failed, together)
            transfers = self._withdraw(transfers, registered, failed)
        result = self._result(acting, catalog, transfers, failed, changed)
        result.update(audit)
        if failed:
            summary = "; ".join("%s: %s" % (name, why) for name, why in sorted(failed.items()))
            raise ModuleError(
                "%d of %d catalog image(s) could not be published (the others were): %s"
                % (len(failed), len(catalog), summary),
                **result,
            )
        return result

    def _plan(self, regions, catalog, project_id):
        for region in regions:
            try:
                region.plan = plan_catalog(
                    catalog,
                    list(region.listed.values()),
                    self.params["managed_tag"],
                    project_id,
                    datetime.date.today(),
                    delete_retired=self.params["delete_retired"],
                    signing_certificate=self.params["signing_certificate"],
                )
            except ValidationError as exc:
                raise ValidationError(region.say(exc.msg))

    def _result(self, regions, catalog, transfers, failed, changed):
        """What the regions this call changes report (all of them, or the host's own one)."""
        primary = regions[0]
        plans = [(region, region.plan) for region in regions]
        result = dict(
            changed=any(plan.changes for dummy, plan in plans) if self.check_mode else changed,
            plan=[region.tagged(entry) for region, plan in plans for entry in plan.as_list()],
            plan_table=[line for region, plan in plans for line in region.heading() + plan.table()],
            transfers=transfers,
            failed=failed,
            current=current_images(catalog, primary.plan, primary.listed, self.check_mode),
            retired=[
                region.tagged(dict(step.as_dict(), action="deactivated" if step.action == DEACTIVATE else "deleted"))
                for region, plan in plans
                for step in plan.steps
                if step.action in (DEACTIVATE, DELETE) and step.image not in failed
            ],
        )
        if self.diff:
            diffs = [(region, plan.diff(region.before)) for region, plan in plans]
            result["diff"] = dict(
                (side, dict((region.say(key), value) for region, diff in diffs for key, value in diff[side].items()))
                for side in ("before", "after")
            )
        return result

    def _project_ids(self, api, members):
        """Members may be project names; IDs are taken as they are, without asking Keystone."""
        return sorted(set(member if looks_like_id(member) else api.resolve_project(member) for member in members))

    def _list(self, region, catalog, project_id):
        """Every image the plan needs, by ID: the managed ones (hidden too), and the visible holders of our names."""
        tag = self.params["managed_tag"]
        mine = {"owner": project_id, "visibility": "all", "os_hidden": HIDDEN_ANY}
        queries = [dict(mine, tag=[tag])] if tag else [dict(mine, **{SERIES_PROPERTY: i["name"]}) for i in catalog]
        names = sorted(set(name for image in catalog if image["enable"] for name in visible_names(image)))
        if names:
            queries.append(names_query(names))
        images = {}
        try:
            for query in queries:
                for raw in present(region.api.iter_images(query)):
                    images.setdefault(raw["id"], raw)
            return dict((image_id, self._normalize(region.api, raw)) for image_id, raw in images.items())
        except GlanceError as exc:
            raise GlanceError(region.say("%s; nothing was changed in any region" % exc.msg.rstrip(".")))

    def _normalize(self, api, raw):
        image = normalize(raw)
        if raw.get("visibility") == "shared" and is_managed(image, self.params["managed_tag"], None):
            image = normalize(raw, api.members(raw["id"]))
        image["raw"] = raw
        return image

    def _resolve_latest(self, image, listed, failed):
        """The image with its upstream "latest" file resolved to a version; on failure, as Glance holds it."""
        entry = latest_entry(image) if image["enable"] else None
        if entry is None:
            return image
        _index, url, checksums_url = entry
        series = [
            glance
            for glance in listed.values()
            if series_of(glance) == image["name"] and is_managed(glance, self.params["managed_tag"], None)
        ]
        try:
            text = fetch_text(checksums_url, "the checksum file")
            checksum = parse_checksum_file(text, url_filename(url), "the checksum file %s" % checksums_url)
            return resolve_latest(image, checksum, lambda: last_modified(url), series, VERSION_PROPERTY)
        except ValidationError as exc:
            failed[image["name"]] = "resolving its latest version: %s; nothing of it was changed" % exc.msg
        # Plan the version Glance holds from upstream, if any, so that the plan shows this image unchanged.
        recorded = sorted(
            (glance for glance in series if glance["properties"].get(SOURCE_CHECKSUM_PROPERTY)),
            key=lambda glance: glance.get("created_at") or "",
        )
        if not recorded:
            return dict(image, versions=[version for version in image["versions"] if version["version"] != LATEST])
        checksum = recorded[-1]["properties"][SOURCE_CHECKSUM_PROPERTY]
        return resolve_latest(image, checksum, datetime.date.today, series, VERSION_PROPERTY)

    def _roll_back(self, regions, acting, failed, project_id, together):
        """After the transfers: an image whose new version lacks its data in any region is rolled back in all.

        Its new versions are deleted in every region this call changes (only those the first call handed out,
        when ``transferred`` says which), so that it keeps its current version everywhere: promotion is all or
        nothing. With one host per region, each host deletes its own region's, having read every region.
        """
        errors, handed_out = self.params["transfer_errors"], self.params["transferred"]
        tag = self.params["managed_tag"]
        candidates, why = [], {}
        for region in regions:
            for image_id, image in region.listed.items():
                key = region.key(image_id)
                ours = handed_out is None or key in handed_out
                if not ours or not is_managed(image, tag, project_id) or not image["hidden"] or image["protected"]:
                    continue  # only a version this publication registered (hidden, unprotected) is rolled back
                if region in acting:
                    candidates.append((region, image))
                if key in errors or image["status"] in STALLED_STATUSES:
                    reason = errors.get(key) or "its data did not arrive (the image is %s)" % image["status"]
                    version = image["properties"].get(VERSION_PROPERTY)
                    why.setdefault(
                        series_of(image), region.say("the transfer of version %s failed (%s)" % (version, reason))
                    )
            for step in region.plan.steps:
                if step.action == UPLOAD:
                    why.setdefault(step.image, region.say("version %s has no data after the transfers" % step.version))
        fail_together(why, together)
        deleted = {}
        for region, image in candidates:
            name = series_of(image)
            if name in why and (handed_out is not None or image["status"] in STALLED_STATUSES):
                region.api.delete(image["raw"])
                del region.listed[image["id"]]
                deleted.setdefault(name, []).append(region.say(image["id"]))
        for name, reason in why.items():
            undone = " The new image was deleted again (%s)." % ", ".join(deleted[name]) if name in deleted else ""
            failed[name] = "%s.%s The current version is unchanged" % (reason, undone)
        return bool(deleted)

    def _execute(self, region, steps, transfers, registered, primary, waiting):
        """One catalog image's steps in order; while a new version (of it, or of its kernel or ramdisk: ``waiting``)
        has no bytes yet, only creations and transfers run. After the transfers, _roll_back has already failed
        every image with a version still to upload."""
        changed = False
        created = {}  # a derived ID further down its seed, when Glance keeps the first one for a deleted image
        for step in steps:
            if not step.changes:
                continue
            if step.action == UPLOAD:
                image_id = created.get(step.image_id, step.image_id)
                may_import = not self.params["signing_certificate"]
                transfer = transfer_for(region, step, image_id, primary, may_import)
                # Without regions, the transfer goes where this call went: its region_name, which may come from
                # module_defaults that an omitted region_name in the role's transfer task would hide.
                transfer["region"] = transfer["region"] or self.params["region_name"]
                transfers.append(transfer)
                continue
            if waiting and step.action != CREATE:
                continue  # promotion and retirement wait until the new version holds its bytes
            image = region.listed.get(step.image_id)
            raw = apply_catalog_step(region.api, step, image["raw"] if image else None, image and image["members"])
            changed = True
            if step.action != DELETE and raw is not None:
                region.listed[raw["id"]] = self._normalize(region.api, raw)
                created[step.image_id] = raw["id"]
                if step.action == CREATE:
                    registered.append((region, step.image, raw))
        return changed

    def _withdraw(self, transfers, registered, failed):
        """The transfers of images that failed in some region are withdrawn, and what this call registered for
        them is deleted again, in every region: no region goes on with a version another one could not take."""
        for region, name, raw in registered:
            if name in failed:
                region.api.delete(raw)
        return [transfer for transfer in transfers if transfer["image"] not in failed]


class Region(object):
    """One region's Glance, and what the run learns of it. ``name`` None: the connection's own region."""

    def __init__(self, name, api):
        self.name = name
        self.api = api
        self.listed = {}
        self.before = {}
        self.plan = None
        self._glance_download = None

    def takes_glance_download(self):
        """Whether this region's Glance enables the glance-download import method (asked once per run)."""
        if self._glance_download is None:
            self._glance_download = "glance-download" in self.api.import_methods()
        return self._glance_download

    def key(self, image_id):
        """How transfers, transfer_errors and transferred name an image: its ID, after its region when there are
        several (derived IDs are the same in every region)."""
        return image_id if self.name is None else "%s/%s" % (self.name, image_id)

    def say(self, message):
        return message if self.name is None else "%s: %s" % (self.name, message)

    def tagged(self, entry):
        return entry if self.name is None else dict(entry, region=self.name)

    def heading(self):
        return [] if self.name is None else ["REGION %s" % self.name]

    def holder(self, series, version):
        """The ID of this region's image of ``version`` of ``series``, or None: as listed, else as planned (with
        one host per region, the first region's host may be creating it at this very moment)."""
        for image in self.listed.values():
            if series_of(image) == series and image["properties"].get(VERSION_PROPERTY) == version:
                return image["id"]
        for step in self.plan.steps:
            if step.action == UPLOAD and step.image == series and step.version == version:
                return step.image_id
        return None


# A new version in one of these after the transfers did not get its data.
STALLED_STATUSES = NO_DATA_STATUSES + ("killed",)


def properties_of(catalog):
    """(what, properties) of each catalog image and each version that sets properties of its own."""
    found = []
    for image in catalog:
        found.append(("catalog image %s" % image["name"], image["meta"]))
        for version in image["versions"]:
            found.append(("catalog image %s, version %s" % (image["name"], version["version"]), version["meta"]))
    return found


def published_together(catalog):
    """Name -> the names published with it: an image and its kernel and ramdisk fail, and roll back, as one."""
    together = {}
    for image in catalog:
        if image["companions"]:
            group = set(image["companions"].values()) | {image["name"]}
            together.update((name, group) for name in group)
    return together


def fail_together(failed, together):
    """Fail the images published together with a failed one, saying which one failed."""
    for name in list(failed):
        for other in sorted(together.get(name, ())):
            failed.setdefault(other, "not published, as %s failed with it" % name)


def names_in_order(catalog, plan):
    """The catalog's images, then the series it no longer lists (they have only retirement steps)."""
    names = [image["name"] for image in catalog]
    return names + sorted(set(step.image for step in plan.steps) - set(names))


def current_images(catalog, plan, listed, check_mode):
    """Per image, the Glance image that carries its name (multi images) after the run; in check mode, as planned."""
    current = {}
    for image in catalog:
        steps = [step for step in plan.for_image(image["name"]) if step.name == image["name"] and step.params]
        if not image["multi"] or not image["enable"] or not steps:
            current[image["name"]] = None
            continue
        step = steps[-1]
        found = dict(listed.get(step.image_id) or {"id": step.image_id, "status": "queued"})
        found.pop("raw", None)
        if check_mode:
            found.update((key, value) for key, value in step.params.items() if value is not None and key != "members")
        current[image["name"]] = found
    return current


def transfer_for(region, step, image_id, primary, may_import=True):
    """What the role hands glance_image_data for one new version: in the first region the bytes themselves, in the
    others a glance-download from the first region's image, or the bytes as well where Glance does not enable it
    (or where ``may_import`` is false: a signed catalog sends every region the bytes, which Glance verifies)."""
    source = step.source
    artifact = source["artifact"] or {}
    url, fetch = source["url"], None
    src = artifact.get("path")
    if url and url.startswith("file:"):
        src, url = url[len("file://") if url.startswith("file://") else len("file:") :], None
    elif url and source["method"] != "web-download":  # the role downloads it, then uploads the file
        url, fetch = None, url
    transfer = dict(
        image=step.image,
        version=step.version,
        id=image_id,
        key=region.key(image_id),
        region=region.name,
        src=src,
        url=url,
        fetch=fetch,
        checksum=source["checksum"],
        method=source["method"],
        stores=source["stores"],
        skip_format_check=source["skip_format_check"],
        source_region=None,
        source_image=None,
    )
    if region is not primary and may_import and region.takes_glance_download():
        # The result is checked against the first region's os_hash_value, which its transfer checked against the
        # catalog's checksum (of any algorithm; glance-download can only compare Glance's own hashes).
        transfer.update(
            method="glance-download",
            src=None,
            url=None,
            fetch=None,
            checksum=None,
            source_region=primary.name,
            source_image=primary.holder(step.image, step.version),
        )
    return transfer
