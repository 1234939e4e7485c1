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
      description: The region to transfer into (with O(regions), one of them, else this task's O(region_name)), or null.
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
      description: The URL that Glance imports the bytes from (method C(web-download)), or null.
      type: str
    fetch:
      description:
        - The URL to download the bytes from into a local file, which is then uploaded (a version's C(url) with
          any other method), or null.
      type: str
      version_added: 0.2.0
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

from ansible_collections.osimages.glance.plugins.module_utils._catalog import load_catalog
from ansible_collections.osimages.glance.plugins.module_utils._catalog_run import CatalogRun
from ansible_collections.osimages.glance.plugins.module_utils._catalog_run import properties_of
from ansible_collections.osimages.glance.plugins.module_utils._catalog_run import read_documents
from ansible_collections.osimages.glance.plugins.module_utils._errors import ValidationError
from ansible_collections.osimages.glance.plugins.module_utils._glance_module import GlanceModule
from ansible_collections.osimages.glance.plugins.module_utils._scs import AUDIT_MODES


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
        """read the catalog -> check its properties -> publish it in every region (_catalog_run) -> result."""
        params = self.params
        catalog = load_catalog(read_documents(params["catalog_files"], params["catalog"]))
        regions = self._region_apis()
        if not params["after_transfers"]:  # the second call of a publication checked them in the first
            self.check_properties(properties_of(catalog))
        return CatalogRun(params, self.check_mode, self.ansible._diff, regions).publish(catalog)

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


def main():
    GlanceCatalogModule()()


if __name__ == "__main__":
    main()
