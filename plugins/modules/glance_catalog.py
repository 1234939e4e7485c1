#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Contributors to the osimages.glance collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: glance_catalog
short_description: Reconcile a whole image catalog with Glance in one pass
version_added: 0.2.0
description:
  - Reads an image catalog in the format of OSISM's openstack-image-manager (a top-level C(images) list), checks
    all of it before touching Glance, and computes one plan for every image and version in it. A catalog written
    for openstack-image-manager reads unchanged, with the same meaning of C(multi), C(status), C(visibility),
    C(meta), C(tags), C(enable) and C(versions). See the catalog page of the documentation for the format.
  - 'An image can follow an upstream file whose name moves: C(latest_url) with C(latest_checksum_url), or a
    version called V(latest) with C(url) and C(checksums_url) (or C(checksum_url)). Before planning, the module
    reads the checksum file (shapes C(HEX  NAME), C(HEX *NAME), C(ALGO (NAME\) = HEX), or one bare C(HEX)) and
    resolves it to a version: the listed version with that checksum, else the version in Glance that recorded it
    (property C(osimages_source_checksum)), else a new version named after the upstream file''s date. An
    unchanged upstream file changes nothing; a new one is rotated in like any new version.'
  - 'A version may name its C(kernel) and C(ramdisk) (each a C(url) with C(checksum), or an C(artifact)): an Ironic
    partition image, or one Nova boots with its own kernel. They become the companion images C(NAME kernel)
    (C(aki)) and C(NAME ramdisk) (C(ari)), hidden, with the image''s versions, sharing and retention, and each
    version of the image gets C(kernel_id) and C(ramdisk_id). The three are published as one - the image is linked
    once its kernel and ramdisk hold data, a failed transfer of any of them rolls back the new version of all
    three, and they retire together.'
  - 'The plan, per Glance image: create, upload, promote, demote, update, hide, deactivate, delete or nothing,
    each with its reason. It is ordered so that no two visible images ever carry one name: an image leaves a name
    before another one takes it.'
  - Everything that does not move bytes (metadata, promotion, sharing, retirement) runs in this one module
    process. Bytes move in M(osimages.glance.glance_image_data). This module registers each new version and
    returns it in RV(transfers); after the transfers, a second call with O(after_transfers=true) promotes the
    versions that arrived and rolls back the ones that did not. The EXAMPLES show the three steps, and the role
    C(osimages.glance.catalog_publish) runs them.
  - Only images that carry O(managed_tag) in the caller's project are ever changed. A visible image without it
    that holds a name the catalog needs fails the run, with its ID, before anything changes.
  - 'Superseded versions follow the SCS C(uuid_validity) property (scs-0102) of the catalog image''s C(meta):
    V(none), V(last-N), a date, V(notice) or V(forever) (default V(last-3)). A version that is still valid stays,
    hidden, bootable by ID; an expired one is deactivated, and deleted only with O(delete_retired=true). A
    protected image is never deleted, nor is a kernel or ramdisk that an image which stays links.'
author:
  - osimages.glance contributors (@osimages)
options:
  catalog_files:
    description:
      - Catalog files (YAML) on the host that runs the module. Every file holds an C(images) list.
    type: list
    elements: path
  catalog:
    description:
      - Catalog images given inline, in the same format as one entry of a file's C(images) list.
      - With O(catalog_files), both are read, as one catalog.
    type: list
    elements: dict
  managed_tag:
    description:
      - 'The tag that marks images this catalog manages. Every image it creates carries it; an image without it is
        never changed. As openstack-image-manager does, images also get the tag C(os:<os_distro>), and the
        properties C(image_name) and C(image_description) (the catalog name, unless C(meta) sets them).'
      - An empty string manages a series by its C(osimages_series) property instead, as
        C(osimages.glance.image_publish) does. Images then carry the catalog's tags only. The listing costs two
        requests per catalog image instead of three in all, so this suits a few images, not a large catalog.
    type: str
    default: managed_by_osimages
  delete_retired:
    description:
      - Delete versions whose C(uuid_validity) has expired, instead of only deactivating them.
      - Protected images are never deleted, nor are the kernels and ramdisks of the images that stay.
    type: bool
    default: false
  after_transfers:
    description:
      - Set on the call that follows the transfers of RV(transfers). A new version that still has no data (or whose
        transfer is listed in O(transfer_errors)) is then deleted again, and its image keeps its current version;
        no new transfer is handed out.
    type: bool
    default: false
  transfer_errors:
    description:
      - The transfers that failed, as their C(key) to the error message, for the call with O(after_transfers=true).
    type: dict
    default: {}
  regions:
    description:
      - Publish into each of these regions of the cloud (the same Keystone, a Glance each), with the same
        credentials. The first region takes the bytes; RV(transfers) has the others import them from it with
        O(osimages.glance.glance_image_data#module:method=glance-download), server-side. A region whose Glance
        does not enable C(glance-download) gets the bytes as the first one does.
      - Every region is listed before anything changes, so a region that is down fails the run with nothing
        changed anywhere.
      - Promotion is all or nothing - after the transfers, an image whose new version lacks its data in any
        region (a failed transfer or import) is rolled back in every region, and keeps its current version
        everywhere. RV(plan) and RV(retired) entries then carry their C(region), and RV(plan_table) has a
        section per region.
      - Empty (the default) publishes into the connection's own region (O(region_name)).
    type: list
    elements: str
    default: []
    version_added: 0.2.0
  own_region:
    description:
      - The one region of O(regions) that this call changes, when each region is an inventory host of its own
        (one host per region, the hosts run in parallel as forks, as an AWX job runs them).
      - The call still lists and plans every region of O(regions), so that a region that is down stops every host
        before anything changes, and so that promotion stays all or nothing - after the transfers, an image whose
        new version lacks its data in any region (pass every host's O(transfer_errors)) is rolled back here too.
        It creates, transfers, promotes, retires and rolls back in this region only, and its results are this
        region's.
      - In a region after the first one, RV(transfers) import the bytes from the first region with
        glance-download; the hosts must therefore run the transfers of the first region before those of the
        others, as the role C(osimages.glance.catalog_publish) does with C(catalog_publish_region).
    type: str
    version_added: 0.2.0
  scs_audit:
    description:
      - Audit the plan against the SCS image metadata standard (scs-0102) before anything is written, with the
        rules of O(osimages.glance.glance_image_info#module:scs_audit) - each version the catalog lists, with the
        properties it will carry (the catalog's and the ones derived from it, over those Glance holds); that is,
        mandatory properties missing or malformed, and a visible version built longer ago than its C(replace_frequency)
        allows or past its C(provided_until).
      - V(report) adds RV(scs_audit) and RV(scs_audit_table). V(strict) fails the task before anything changes
        when a version is out of compliance. Only the first call of a publication audits (not
        O(after_transfers=true)).
    type: str
    choices: ["off", report, strict]
    default: "off"
    version_added: 0.2.0
  signing_certificate:
    description:
      - The catalog is signed with the key of this certificate (its UUID in the Key Manager, Barbican) - the caller's
        transfers sign every new version with O(osimages.glance.glance_image_data#module:signing_key), as the role
        C(osimages.glance.catalog_publish) does with C(catalog_publish_signing_key).
      - Before anything changes, a listed version that Glance holds data for and that is not signed with this
        certificate stops the run, as does an image with the method V(web-download) (Glance would fetch bytes that
        nothing here can sign). With O(regions), every region gets the bytes, signed, instead of a
        C(glance-download).
    type: str
    version_added: 0.2.0
  transferred:
    description:
      - The C(key) of each of RV(transfers) that the first call handed out, for the call with
        O(after_transfers=true).
        Only these new versions are rolled back when their data did not arrive, so that a version another
        publication registered a moment ago is left alone.
      - When not given, every new version without data (hidden, unprotected, managed) is rolled back.
    type: list
    elements: str
extends_documentation_fragment:
  - osimages.glance.connection
  - osimages.glance.properties
  - osimages.glance.attributes
notes:
  - Check mode returns the plan (RV(plan), RV(plan_table)) and changes nothing.
  - Resolving a C(latest) version reads its checksum file, and, when the version is new, asks the upstream file's
    C(Last-Modified) date with a C(HEAD) request, from the host that runs the module.
  - The catalog is listed with three requests (the managed images, visible and hidden, and the visible images
    that carry a name the catalog needs), whatever the number of images in it.
seealso:
  - module: osimages.glance.glance_image_data
  - module: osimages.glance.glance_image
"""

EXAMPLES = r"""
- name: Show what publishing the catalog would change (an approval step can print plan_table)
  osimages.glance.glance_catalog:
    cloud: mycloud
    catalog_files: [/etc/images/debian.yml, /etc/images/ubuntu.yml]
  check_mode: true
  register: plan

- name: Publish it (register new versions; reconcile everything else)
  osimages.glance.glance_catalog:
    cloud: mycloud
    catalog_files: [/etc/images/debian.yml, /etc/images/ubuntu.yml]
  register: catalog

- name: Move the bytes of the new versions
  osimages.glance.glance_image_data:
    cloud: mycloud
    image: "{{ item.id }}"
    src: "{{ item.src }}"
    checksum: "{{ item.checksum | default(omit, true) }}"
  loop: "{{ catalog.transfers }}"
  register: transfers
  ignore_errors: true

- name: Promote what arrived, roll back what did not
  osimages.glance.glance_catalog:
    cloud: mycloud
    catalog_files: [/etc/images/debian.yml, /etc/images/ubuntu.yml]
    after_transfers: true
    transferred: "{{ catalog.transfers | map(attribute='key') }}"
    transfer_errors: "{{ dict(transfers.results | selectattr('failed') | map(attribute='item.key')
                         | zip(transfers.results | selectattr('failed') | map(attribute='msg'))) }}"
  when: catalog.transfers | length > 0
"""

RETURN = r"""
plan:
  description: One entry per step, in the order they run (in check mode, the order they would run).
  returned: always
  type: list
  elements: dict
  contains:
    image:
      description: The catalog image (series) the step belongs to.
      type: str
    version:
      description: The version, or null for an image without C(internal_version).
      type: str
    action:
      description: create, upload, promote, demote, update, hide, deactivate, delete or nothing.
      type: str
    reason:
      description: Why, in words.
      type: str
    id:
      description: The Glance image ID (for a new version, the ID it gets).
      type: str
    name:
      description: The image's name after the step.
      type: str
  sample:
    - image: Debian 13
      version: "20261201"
      action: create
      reason: not in Glance
      id: 0c6f5a3e-8f4b-5b8e-9d7a-1e2f3a4b5c6d
      name: Debian 13 (20261201)
plan_table:
  description: The plan as lines of fixed-width text, for an approval step to show as it is.
  returned: always
  type: list
  elements: str
transfers:
  description:
    - The new versions whose bytes must move, for M(osimages.glance.glance_image_data). Empty with
      O(after_transfers=true) and in check mode.
  returned: always
  type: list
  elements: dict
  contains:
    image:
      description: The catalog image.
      type: str
    version:
      description: The version.
      type: str
    id:
      description: The Glance image registered for it.
      type: str
    key:
      description:
        - How O(transferred) and O(transfer_errors) name this transfer - the image ID, after its region (C(REGION/ID))
          with O(regions).
      type: str
    region:
      description: The region to transfer into (with O(regions)), or null.
      type: str
    source_region:
      description: For C(glance-download), the region to import from (the first of O(regions)).
      type: str
    source_image:
      description: For C(glance-download), the ID of the image to import from.
      type: str
    src:
      description: The local file (a version's C(artifact), or a C(file:) URL), or null.
      type: str
    url:
      description: The URL to fetch the bytes from, or null.
      type: str
    checksum:
      description:
        - The expected C(ALGO:HEX) of the bytes, or null. Null for C(glance-download), whose result is checked
          against the first region's hash.
      type: str
    method:
      description:
        - The image's import method (direct, glance-direct or web-download), or C(glance-download) in every region
          of O(regions) but the first whose Glance enables it.
      type: str
    stores:
      description: The stores to upload to.
      type: list
      elements: str
    skip_format_check:
      description:
        - Whether the bytes are a format no inspector reads (a kernel or ramdisk), for
          O(osimages.glance.glance_image_data#module:skip_format_check).
      type: bool
failed:
  description: The catalog images that could not be published, with why. The task fails when this is not empty.
  returned: always
  type: dict
current:
  description:
    - Per catalog image, the Glance image that carries its name after the run (in check mode, as the plan leaves
      it), in the form M(osimages.glance.glance_image) returns; null for C(multi=false) and disabled images.
  returned: always
  type: dict
  sample:
    Debian 13:
      id: 0c6f5a3e-8f4b-5b8e-9d7a-1e2f3a4b5c6d
      name: Debian 13
      status: active
      hidden: false
scs_audit:
  description:
    - What the SCS audit found for each version the catalog lists, as the plan leaves it, in the form of
      RV(osimages.glance.glance_image_info#module:scs_audit). A version not yet in Glance has the ID it will take.
  returned: when O(scs_audit) is not V(off) and O(after_transfers=false)
  type: list
  elements: dict
scs_audit_table:
  description: RV(scs_audit) as fixed-width text lines, one per version, for a job log.
  returned: when O(scs_audit) is not V(off) and O(after_transfers=false)
  type: list
  elements: str
retired:
  description: The versions this run deactivated or deleted (in check mode, would), newest first per image.
  returned: always
  type: list
  elements: dict
  contains:
    image:
      description: The catalog image.
      type: str
    version:
      description: The version.
      type: str
    id:
      description: The Glance image ID.
      type: str
    name:
      description: Its name after the step (null when deleted).
      type: str
    action:
      description: V(deactivated) or V(deleted).
      type: str
    reason:
      description: Why, in words.
      type: str
"""

import datetime

from ansible_collections.osimages.glance.plugins.module_utils._apply import apply_catalog_step
from ansible_collections.osimages.glance.plugins.module_utils._catalog import LATEST
from ansible_collections.osimages.glance.plugins.module_utils._catalog import load_catalog
from ansible_collections.osimages.glance.plugins.module_utils._catalog_plan import CREATE
from ansible_collections.osimages.glance.plugins.module_utils._catalog_plan import DEACTIVATE
from ansible_collections.osimages.glance.plugins.module_utils._catalog_plan import DELETE
from ansible_collections.osimages.glance.plugins.module_utils._catalog_plan import NO_DATA_STATUSES
from ansible_collections.osimages.glance.plugins.module_utils._catalog_plan import SERIES_PROPERTY
from ansible_collections.osimages.glance.plugins.module_utils._catalog_plan import UPLOAD
from ansible_collections.osimages.glance.plugins.module_utils._catalog_plan import VERSION_PROPERTY
from ansible_collections.osimages.glance.plugins.module_utils._catalog_plan import is_managed
from ansible_collections.osimages.glance.plugins.module_utils._catalog_plan import plan_catalog
from ansible_collections.osimages.glance.plugins.module_utils._catalog_plan import series_of
from ansible_collections.osimages.glance.plugins.module_utils._catalog_plan import visible_names
from ansible_collections.osimages.glance.plugins.module_utils._checksums import parse_checksum_file
from ansible_collections.osimages.glance.plugins.module_utils._checksums import url_filename
from ansible_collections.osimages.glance.plugins.module_utils._errors import GlanceError
from ansible_collections.osimages.glance.plugins.module_utils._errors import ModuleError
from ansible_collections.osimages.glance.plugins.module_utils._errors import ValidationError
from ansible_collections.osimages.glance.plugins.module_utils._fetch import fetch_text
from ansible_collections.osimages.glance.plugins.module_utils._fetch import last_modified
from ansible_collections.osimages.glance.plugins.module_utils._glance_module import GlanceModule
from ansible_collections.osimages.glance.plugins.module_utils._latest import SOURCE_CHECKSUM_PROPERTY
from ansible_collections.osimages.glance.plugins.module_utils._latest import latest_entry
from ansible_collections.osimages.glance.plugins.module_utils._latest import resolve_latest
from ansible_collections.osimages.glance.plugins.module_utils._queries import HIDDEN_ANY
from ansible_collections.osimages.glance.plugins.module_utils._queries import looks_like_id
from ansible_collections.osimages.glance.plugins.module_utils._queries import names_query
from ansible_collections.osimages.glance.plugins.module_utils._reconcile import normalize
from ansible_collections.osimages.glance.plugins.module_utils._scs import AUDIT_MODES
from ansible_collections.osimages.glance.plugins.module_utils._scs import audit_images
from ansible_collections.osimages.glance.plugins.module_utils._scs import audit_result

try:
    import yaml
except ImportError:  # pragma: no cover - ansible-core itself needs PyYAML
    yaml = None


class GlanceCatalogModule(GlanceModule):
    module_name = "glance_catalog"
    validates_properties = True
    argument_spec = dict(
        catalog_files=dict(type="list", elements="path"),
        catalog=dict(type="list", elements="dict"),
        managed_tag=dict(type="str", default="managed_by_osimages"),
        delete_retired=dict(type="bool", default=False),
        after_transfers=dict(type="bool", default=False),
        transfer_errors=dict(type="dict", default={}),
        transferred=dict(type="list", elements="str"),
        regions=dict(type="list", elements="str", default=[]),
        own_region=dict(type="str"),
        scs_audit=dict(type="str", choices=list(AUDIT_MODES), default="off"),
        signing_certificate=dict(type="str"),
    )
    module_kwargs = dict(required_one_of=[("catalog_files", "catalog")], required_by={"own_region": "regions"})

    def run(self):
        """read -> list every region -> plan -> roll back failed transfers -> (check mode stops here) -> execute."""
        params = self.params
        catalog = load_catalog(self._documents())
        regions = [Region(name, api) for name, api in self._region_apis()]
        primary = regions[0]
        # The regions this call changes: all of them, or the host's own one.
        acting = [region for region in regions if params["own_region"] in (None, region.name)]
        project_id = primary.api.project_id
        if not params["after_transfers"]:  # the second call of a publication checked them in the first
            self.check_properties(_properties_of(catalog))
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
        together = _published_together(catalog)
        after_transfers = params["after_transfers"] and not self.check_mode
        if after_transfers and self._roll_back(regions, acting, failed, project_id, together):
            changed = True
            self._plan(regions, catalog, project_id)
        transfers, registered = [], []
        if not self.check_mode:
            for region in acting:
                for name, steps in region.plan.runs(_names_in_order(catalog, region.plan)):
                    if together.get(name, {name}) & set(failed):
                        continue
                    # An image links its kernel and ramdisk only once they hold data: it waits for their uploads too.
                    waiting = region.plan.uploads_pending(together.get(name, {name}))
                    try:
                        changed |= self._execute(region, steps, transfers, registered, primary, waiting)
                    except ModuleError as exc:
                        failed[name] = region.say(exc.msg)
                        changed = True
            _fail_together(failed, together)
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

    def _region_apis(self):
        """(region, ImageApi) pairs: the regions asked for, the first one holding the bytes; else the connection's."""
        names = self.params["regions"]
        if not names:
            return [(None, self.api)]
        if not all(names):
            raise ValidationError(
                "regions has an empty name (%s): with one host per region, a host of the play failed before it "
                "said its region, and every region is needed" % ", ".join(repr(name) for name in names)
            )
        if len(set(names)) != len(names):
            raise ValidationError("regions lists a region twice: %s" % ", ".join(names))
        if self.params["own_region"] not in [None] + names:
            raise ValidationError(
                "own_region %s is not one of regions (%s)" % (self.params["own_region"], ", ".join(names))
            )
        return [(name, self.api_in_region(name)) for name in names]

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
            current=_current(catalog, primary.plan, primary.listed, self.check_mode),
            retired=[
                region.tagged(dict(step.as_dict(), action="deactivated" if step.action == DEACTIVATE else "deleted"))
                for region, plan in plans
                for step in plan.steps
                if step.action in (DEACTIVATE, DELETE) and step.image not in failed
            ],
        )
        if self.ansible._diff:
            diffs = [(region, plan.diff(region.before)) for region, plan in plans]
            result["diff"] = dict(
                (side, dict((region.say(key), value) for region, diff in diffs for key, value in diff[side].items()))
                for side in ("before", "after")
            )
        return result

    def _project_ids(self, api, members):
        """Members may be project names; IDs are taken as they are, without asking Keystone."""
        return sorted(set(member if looks_like_id(member) else api.resolve_project(member) for member in members))

    def _documents(self):
        documents = []
        for path in self.params["catalog_files"] or []:
            if yaml is None:
                raise ValidationError("reading catalog_files needs PyYAML on the host that runs the module")
            try:
                with open(path) as handle:
                    documents.append((path, yaml.safe_load(handle)))
            except (IOError, OSError) as exc:
                raise ValidationError("cannot read the catalog file %s: %s" % (path, exc.strerror or exc))
            except yaml.YAMLError as exc:
                raise ValidationError("the catalog file %s is not valid YAML: %s" % (path, exc))
        if self.params["catalog"] is not None:
            documents.append(("catalog (inline)", {"images": self.params["catalog"]}))
        return documents

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
                for raw in region.api.iter_images(query):
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
        _fail_together(why, together)
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
                transfers.append(_transfer(region, step, image_id, primary, may_import))
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


def _properties_of(catalog):
    """(what, properties) of each catalog image and each version that sets properties of its own."""
    found = []
    for image in catalog:
        found.append(("catalog image %s" % image["name"], image["meta"]))
        for version in image["versions"]:
            found.append(("catalog image %s, version %s" % (image["name"], version["version"]), version["meta"]))
    return found


def _published_together(catalog):
    """Name -> the names published with it: an image and its kernel and ramdisk fail, and roll back, as one."""
    together = {}
    for image in catalog:
        if image["companions"]:
            group = set(image["companions"].values()) | {image["name"]}
            together.update((name, group) for name in group)
    return together


def _fail_together(failed, together):
    """Fail the images published together with a failed one, saying which one failed."""
    for name in list(failed):
        for other in sorted(together.get(name, ())):
            failed.setdefault(other, "not published, as %s failed with it" % name)


def _names_in_order(catalog, plan):
    """The catalog's images, then the series it no longer lists (they have only retirement steps)."""
    names = [image["name"] for image in catalog]
    return names + sorted(set(step.image for step in plan.steps) - set(names))


def _current(catalog, plan, listed, check_mode):
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


def _transfer(region, step, image_id, primary, may_import=True):
    """What the role hands glance_image_data for one new version: in the first region the bytes themselves, in the
    others a glance-download from the first region's image, or the bytes as well where Glance does not enable it
    (or where ``may_import`` is false: a signed catalog sends every region the bytes, which Glance verifies)."""
    source = step.source
    artifact = source["artifact"] or {}
    url = source["url"]
    src = artifact.get("path")
    if url and url.startswith("file:"):
        src, url = url[len("file://") if url.startswith("file://") else len("file:") :], None
    transfer = dict(
        image=step.image,
        version=step.version,
        id=image_id,
        key=region.key(image_id),
        region=region.name,
        src=src,
        url=url,
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
            checksum=None,
            source_region=primary.name,
            source_image=primary.holder(step.image, step.version),
        )
    return transfer


def main():
    GlanceCatalogModule()()


if __name__ == "__main__":
    main()
