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
  - An image whose data an earlier run staged but never imported (C(uploading), for example after the import
    call failed) gets that data imported, and then checked against O(src) as usual; the task never sits out
    O(timeout) for an import that nobody started. An image stuck C(importing) after its import failed fails at
    once, saying so (since 0.2.0).
  - A deactivated image's data is downloaded for admins, as Glance allows; other users get Glance's refusal
    (HTTP 403) as a failure that says the image is deactivated. Check mode predicts both (since 0.2.0).
  - The password in O(url) and the signature of a pre-signed O(url) (C(temp_url_sig), C(X-Amz-Signature),
    C(X-Amz-Credential), C(sig), C(signature)) are masked in every message, warning and result, text that Glance
    sends back included (since 0.2.0).
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
      - A block device (an LVM logical volume, say) is read to the size the device reports.
      - A stream, a FIFO or a character device (a build piped in), is sent as it comes, with chunked transfer
        encoding, inspected from its own first blocks and hashed in the same pass. It can be read only once, so
        check mode does not read it, an image that already holds data is left as it is without comparing (the
        module warns), and an upload cut short is not started again (O(retries) does not apply).
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
        imports it; V(web-download) lets Glance fetch O(url); V(glance-download) lets this region's Glance fetch
        O(source_image) from the Glance of O(source_region), server-side, with the user's token; V(copy-image)
        copies an active image's data to more stores (an admin operation under Glance's default policy).
      - Defaults to V(direct) with O(src) and V(web-download) with O(url).
    type: str
    choices: [direct, glance-direct, web-download, glance-download, copy-image]
  source_region:
    description:
      - For O(method=glance-download), the region whose Glance holds O(source_image). The cloud's credentials
        are used there too.
    type: str
    version_added: 0.2.0
  source_image:
    description:
      - For O(method=glance-download), the name or ID of the image in O(source_region), among the images this
        project can see there. A name must match exactly one image.
      - It must be C(active), and the target image must have its C(disk_format) and C(container_format) (or
        none yet); both are checked before the import starts. When the target already holds data, it must be
        the source's (the same C(os_hash_value)), and nothing happens.
      - After the import, the target's C(os_hash_value) is checked against the source's.
    type: str
    version_added: 0.2.0
  source_interface:
    description:
      - For O(method=glance-download), which endpoint of the source region's Glance the target Glance uses.
    type: str
    choices: [public, internal, admin]
    default: public
    version_added: 0.2.0
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
  retries:
    description:
      - How many times an upload that a transient fault cut short (a reset or broken connection, HTTP 502, 503 or
        504) starts again from byte 0, once Glance has discarded the partial data and the image is C(queued)
        again; and how many times a download that broke resumes from the last byte written (an HTTP C(Range)
        request). Each retry is a warning, and RV(retries) counts them.
      - V(0) fails on the first fault, saying what the cut-short transfer left behind.
    type: int
    default: 3
    version_added: 0.2.0
  signing_key:
    description:
      - Sign the data uploaded from O(src) with this private key (a PEM file, RSA or elliptic-curve on a curve Glance
        verifies - secp384r1, secp521r1, sect409k1, sect409r1, sect571k1 or sect571r1).
      - 'Before any byte is sent, the image gets the properties C(img_signature), C(img_signature_hash_method),
        C(img_signature_key_type) (C(RSA-PSS) or C(ECC_...)) and C(img_signature_certificate_uuid). Glance, set up
        with a key manager (Barbican), then verifies the data against them as it arrives and refuses data they do
        not sign - a wrong key, or a certificate of another key; the image then stays C(queued), without data.
        Nova verifies the signature again before it boots the image, when it is set up to.'
      - The digest that is signed comes from the pass that hashes O(src) before the upload; O(src) is read again to
        send it, so it cannot be a stream. Only with the methods V(direct) and V(glance-direct).
    type: path
    version_added: 0.2.0
  signing_key_passphrase:
    description:
      - The passphrase of O(signing_key), when it is encrypted. It never appears in results or errors.
    type: str
    version_added: 0.2.0
  signing_certificate:
    description:
      - The UUID, in the Key Manager (Barbican), of the X.509 certificate of O(signing_key), stored as a secret of
        type C(certificate) holding the PEM text. Glance fetches it with the uploader's token to verify the data.
      - Required with O(signing_key).
    type: str
    version_added: 0.2.0
  signature_hash_method:
    description:
      - The hash method of the signature.
    type: str
    choices: [SHA-224, SHA-256, SHA-384, SHA-512]
    default: SHA-256
    version_added: 0.2.0
  verify_signature:
    description:
      - With O(dest), check the image's signature (its C(img_signature*) properties) over the downloaded bytes, with
        the certificate the Key Manager (Barbican) holds, in the pass that hashes them. Data that does not verify
        never lands at O(dest), which is left as it was.
      - The certificate is fetched before any byte moves; an image without the four properties fails the task.
      - When O(dest) already holds the image's data, that file is checked.
    type: bool
    default: false
    version_added: 0.2.0
  progress_file:
    description:
      - A file that receives a JSON progress record (bytes, total, percent, throughput) about once a second
        during a transfer, for long transfers run as async tasks.
    type: path
requirements:
  - oslo.utils[image-inspection] >= 7.3.0, for uploads from O(src) (see O(skip_format_check))
  - cryptography, for O(signing_key)
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

- name: Copy an image from RegionOne into RegionTwo, server-side, checked against the source's hash
  osimages.glance.glance_image_data:
    cloud: mycloud
    region_name: RegionTwo
    image: debian-13-20261101
    method: glance-download
    source_region: RegionOne
    source_image: debian-13-20261101

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
retries:
  description:
    - How many calls and transfers were retried after transient faults; each retry was also a warning.
  returned: success
  type: int
  sample: 0
  version_added: 0.2.0
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


from ansible_collections.osimages.glance.plugins.module_utils._data_plan import data_request
from ansible_collections.osimages.glance.plugins.module_utils._glance_module import GlanceModule
from ansible_collections.osimages.glance.plugins.module_utils._image_data import ImageDataTask
from ansible_collections.osimages.glance.plugins.module_utils._image_data import check_local
from ansible_collections.osimages.glance.plugins.module_utils._signing import HASH_METHODS
from ansible_collections.osimages.glance.plugins.module_utils._transfer import check_source
from ansible_collections.osimages.glance.plugins.module_utils._transfer import source_kind


class GlanceImageDataModule(GlanceModule):
    module_name = "glance_image_data"
    wait_timeout = 3600
    argument_spec = dict(
        image=dict(type="str", required=True),
        src=dict(type="path"),
        url=dict(type="str"),
        dest=dict(type="path"),
        method=dict(type="str", choices=["direct", "glance-direct", "web-download", "glance-download", "copy-image"]),
        source_region=dict(type="str"),
        source_image=dict(type="str"),
        source_interface=dict(type="str", choices=["public", "internal", "admin"], default="public"),
        stores=dict(type="list", elements="str"),
        all_stores=dict(type="bool"),
        all_stores_must_succeed=dict(type="bool"),
        checksum=dict(type="str"),
        decompress=dict(type="bool", default=False),
        progress_file=dict(type="path"),
        skip_format_check=dict(type="bool", default=False),
        retries=dict(type="int", default=3),
        signing_key=dict(type="path"),
        signing_key_passphrase=dict(type="str", no_log=True),
        signing_certificate=dict(type="str"),
        signature_hash_method=dict(type="str", choices=sorted(HASH_METHODS), default="SHA-256"),
        verify_signature=dict(type="bool", default=False),
    )
    module_kwargs = dict(
        add_file_common_args=True,
        required_together=[("signing_key", "signing_certificate")],
        required_by={"signing_key_passphrase": "signing_key"},
        mutually_exclusive=[("src", "url", "dest"), ("stores", "all_stores")],
        required_if=[
            ("method", "direct", ("src",)),
            ("method", "glance-direct", ("src",)),
            ("method", "web-download", ("url",)),
            ("method", "glance-download", ("source_region", "source_image")),
        ],
    )

    def run(self):
        """check the options -> find -> plan -> (check mode stops here) -> execute -> result."""
        params = self.params
        if params["src"]:
            check_source(params["src"])
        request = data_request(params, source_kind(params["src"]) if params["src"] else None)
        check_local(params)
        task = ImageDataTask(
            self.api,
            params,
            request,
            self.check_mode,
            self.ansible._diff,
            self.api_in_region,
            self.ansible.warn,
            self._file_attributes,
        )
        raw, plan = task.prepare()
        if self.check_mode or not plan.changes:
            return task.preview(plan, raw)
        return task.execute(plan, raw)

    def _file_attributes(self, changed):
        """Apply dest's mode, owner and the like (the file common arguments); whether anything changed."""
        file_args = self.ansible.load_file_common_arguments(self.params, path=self.params["dest"])
        return self.ansible.set_fs_attributes_if_different(file_args, changed)


def main():
    GlanceImageDataModule()()


if __name__ == "__main__":
    main()
