#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Contributors to the osimages.glance collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: disk_image_fetch
short_description: Download an upstream cloud image once, verified against its checksum file and signature
version_added: 0.2.0
description:
  - Downloads an upstream image (a Debian, Ubuntu, AlmaLinux, Rocky or Fedora cloud image, say) into a cache folder,
    as upstreams publish it - often compressed, next to a checksum file, under a "latest" name that moves.
  - The checksum is O(checksum), or what the checksum file at O(checksum_url) gives the file. Checksum files are read
    in the shapes upstreams publish - C(HEX  NAME), C(HEX *NAME), C(ALGO (NAME\) = HEX), or one bare C(HEX).
  - With O(gpg_key), the checksum file must carry a good OpenPGP signature by a key in that file - clearsigned, or
    detached at O(signature_url) - and only the signed text is read.
  - The file is kept under its checksum, so a moved "latest" name is downloaded again only when its content
    changed. A cached file is hashed again before it is used.
  - O(url) is tried first, then each of O(mirrors). A connection that breaks part-way resumes from the last byte
    received (an HTTP Range request), up to O(retries) times for each URL.
  - A download whose name ends in C(.xz), C(.gz), C(.bz2) or C(.zst) is decompressed, streaming, when
    O(decompress) is on. The checksum file may name the compressed download or its decompressed content; the
    module checks whichever it names.
  - Nothing partial is left in the cache, whatever fails.
  - Works on the host the task runs on; it does not talk to any cloud.
author:
  - osimages.glance contributors (@osimages)
options:
  url:
    description:
      - The image to download (HTTP or HTTPS). Its base name is the name the checksum file lists.
    type: str
    required: true
  mirrors:
    description:
      - Further URLs of the same file, tried in order when O(url) fails (unreachable, an HTTP error, a checksum
        that does not match).
    type: list
    elements: str
    default: []
  checksum:
    description:
      - The checksum of the download, or of its decompressed content, as C(ALGO:HEX) (C(sha256), C(sha512) or
        C(md5)).
      - Mutually exclusive with O(checksum_url). Without either, the download is not verified, and it is downloaded
        again on each run, since nothing proves that a cached copy is what the URL serves now.
    type: str
  checksum_url:
    description:
      - The URL of the checksum file that lists the download (C(SHA256SUMS), C(CHECKSUM), C(SHA512SUMS), a sidecar
        C(.sha256)).
      - When it lists several algorithms for the file, the strongest one is used.
    type: str
  signature_url:
    description:
      - The URL of the detached OpenPGP signature of the checksum file (C(SHA256SUMS.gpg), C(SHA256SUMS.sign)).
      - Needs O(gpg_key). Without it, O(gpg_key) needs a clearsigned checksum file.
    type: str
  gpg_key:
    description:
      - A file with the public key(s) (armored or binary) that must have signed the checksum file.
      - The signature is checked by C(gpg) in a keyring of its own; the keys of the user's own keyring do not count.
    type: path
  dest:
    description:
      - The cache folder. The file is kept as C(<dest>/<algo>-<digest prefix>/<name>) and its record beside it.
    type: path
    required: true
  decompress:
    description:
      - Decompress a download whose name ends in C(.xz), C(.gz), C(.bz2) or C(.zst). The cached file is then the
        decompressed content, named without that suffix.
    type: bool
    default: true
  retries:
    description:
      - How many times a broken connection is resumed, for each URL.
    type: int
    default: 3
  timeout:
    description:
      - Seconds to wait for a connection, and for each read.
    type: int
    default: 60
  validate_certs:
    description:
      - Verify the TLS certificates of HTTPS URLs.
    type: bool
    default: true
extends_documentation_fragment:
  - osimages.glance.attributes.LOCAL_MODULE
requirements:
  - gpg (Debian package gnupg), for O(gpg_key)
  - zstandard (Python, on the host running the task), for C(.zst) downloads
notes:
  - The role C(osimages.glance.image_build) runs this module for its C(url) backend, and the role
    C(osimages.glance.catalog_publish) for catalog versions with a URL.
  - In check mode the checksum file is read and its signature checked (reads only); nothing is downloaded.
  - Files of earlier checksums stay in O(dest) until removed.
seealso:
  - module: osimages.glance.disk_image
  - module: osimages.glance.glance_image_data
"""

EXAMPLES = r"""
- name: Debian's daily cloud image, checked against its signed SHA512SUMS
  osimages.glance.disk_image_fetch:
    url: https://cloud.debian.org/images/cloud/trixie/latest/debian-13-genericcloud-amd64.qcow2
    checksum_url: https://cloud.debian.org/images/cloud/trixie/latest/SHA512SUMS
    dest: /var/cache/osimages
  register: debian

- name: Ubuntu, signed SHA256SUMS with a detached signature, and a mirror
  osimages.glance.disk_image_fetch:
    url: https://cloud-images.ubuntu.com/noble/current/noble-server-cloudimg-amd64.img
    mirrors:
      - https://mirror.example.org/cloud-images/noble/current/noble-server-cloudimg-amd64.img
    checksum_url: https://cloud-images.ubuntu.com/noble/current/SHA256SUMS
    signature_url: https://cloud-images.ubuntu.com/noble/current/SHA256SUMS.gpg
    gpg_key: /etc/osimages/keys/ubuntu-cloud.asc
    dest: /var/cache/osimages

- name: A compressed raw image; the checksum file names the .xz
  osimages.glance.disk_image_fetch:
    url: https://repo.example.org/appliance/latest/appliance.raw.xz
    checksum_url: https://repo.example.org/appliance/latest/CHECKSUM
    gpg_key: /etc/osimages/keys/appliance.asc
    dest: /var/cache/osimages
  register: appliance

- name: Verify it and convert it to qcow2
  osimages.glance.disk_image:
    src: "{{ appliance.path }}"
    format: raw
    dest: /srv/artifacts/appliance.qcow2
    dest_format: qcow2
    source: "{{ appliance.url }}"
"""

RETURN = r"""
path:
  description: The verified file in the cache (decompressed when O(decompress) applied).
  returned: always
  type: str
  sample: /var/cache/osimages/sha512-3f1c6a1e0c2b4d5e6f708192a3b4c5d6/debian-13-genericcloud-amd64.qcow2
checksum:
  description:
    - The checksum the file was verified against, as C(ALGO:HEX) (from O(checksum) or the checksum file); null
      when neither was given.
  returned: always
  type: str
  sample: sha512:3f1c6a1e0c2b4d5e6f708192a3b4c5d6...
covers:
  description:
    - What the checksum matched - V(download) (the file as downloaded) or V(content) (its decompressed content);
      null when nothing was verified, or in check mode before the download.
  returned: always
  type: str
  sample: download
file_checksum:
  description: The checksum of the file at RV(path), as C(ALGO:HEX), in the checksum's algorithm (sha256 without one).
  returned: when the file exists
  type: str
  sample: sha512:9b71d224bd62f3785d96d46ad3ea3d73...
size:
  description: The size of the file at RV(path), in bytes (null in check mode before it exists).
  returned: always
  type: int
  sample: 352321536
compression:
  description: The compression the download was decompressed from (V(xz), V(gz), V(bz2), V(zst)), or null.
  returned: always
  type: str
  sample: xz
url:
  description:
    - The URL that served the file in this run, its credentials masked; the URL recorded when it came from the
      cache.
  returned: always
  type: str
  sample: https://cloud.debian.org/images/cloud/trixie/latest/debian-13-genericcloud-amd64.qcow2
signed_by:
  description: The fingerprint of the key whose signature on the checksum file was verified, or null.
  returned: always
  type: str
  sample: 5E3C45D7B312C643
retried:
  description: Each broken connection that was resumed and each URL that was given up, in order.
  returned: always
  type: list
  elements: str
  sample:
    - the download of https://.../image.qcow2 broke after 1048576 bytes (...); resuming from there (retry 1 of 3)
"""

from ansible_collections.osimages.glance.plugins.module_utils import _fetch as fetch
from ansible_collections.osimages.glance.plugins.module_utils._module import LocalModule
from ansible_collections.osimages.glance.plugins.module_utils._secrets import url_secrets


class DiskImageFetchModule(LocalModule):
    module_name = "disk_image_fetch"
    argument_spec = dict(
        url=dict(type="str", required=True),
        mirrors=dict(type="list", elements="str", default=[]),
        checksum=dict(type="str"),
        checksum_url=dict(type="str"),
        signature_url=dict(type="str"),
        gpg_key=dict(type="path"),
        dest=dict(type="path", required=True),
        decompress=dict(type="bool", default=True),
        retries=dict(type="int", default=3),
        timeout=dict(type="int", default=60),
        validate_certs=dict(type="bool", default=True),
    )
    module_kwargs = dict(
        mutually_exclusive=[("checksum", "checksum_url"), ("checksum", "gpg_key")],
        required_by=dict(signature_url="gpg_key", gpg_key="checksum_url"),
    )

    def run(self):
        params = self.params
        urls = [params["url"]] + params["mirrors"]
        for url in urls + [params["checksum_url"], params["signature_url"]]:
            self.secrets.update(url_secrets(url) if url else ())
        notes = []
        signed_by, expected = fetch.resolve_expected(
            params["url"],
            params["decompress"],
            checksum=params["checksum"],
            checksum_url=params["checksum_url"],
            signature_url=params["signature_url"],
            gpg_key=params["gpg_key"],
            validate_certs=params["validate_certs"],
        )
        plan = fetch.plan_fetch(urls[0], params["dest"], expected, params["decompress"])
        if self.check_mode or not plan.changes:
            record = plan.preview()
        else:
            record = fetch.fetch_image(
                plan, urls, expected, params["retries"], params["timeout"], params["validate_certs"], notes
            )
        checksum = expected.checksum
        after = dict(path=record["path"], checksum=checksum)
        return dict(
            changed=record["changed"],
            path=record["path"],
            checksum=checksum,
            covers=record.get("covers"),
            file_checksum=record.get("file_checksum"),
            size=record.get("size"),
            compression=record.get("compression"),
            url=record.get("url"),
            signed_by=signed_by,
            retried=notes,
            diff=dict(before={} if record["changed"] else after, after=after),
        )


def main():
    DiskImageFetchModule()()


if __name__ == "__main__":
    main()
