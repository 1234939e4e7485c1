# -*- coding: utf-8 -*-
# Copyright: Contributors to the osimages.glance collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal use only: this file is not part of the collection's public API.
"""Upstream files over HTTP(S): the checksum files and signatures that vouch for an image, and the image itself.

Upstreams publish a cloud image, often compressed (``.xz``, ``.gz``, ``.bz2``, ``.zst``), next to a checksum file
that may be signed with OpenPGP. ``plan_fetch`` and ``fetch_image`` turn that into one verified local file:

- the checksum comes from the playbook (``ALGO:HEX``) or from the checksum file, which names either the download
  or its decompressed content (``expected_checksum``). A signed checksum file is read only as gpg verified it;
- the file is kept in the cache under that checksum, so a moved "latest" name is downloaded again only when its
  content changed. A cached file is hashed again before it is trusted, and one that no checksum vouches for is
  downloaded again;
- the download tries each URL in turn (the upstream, then its mirrors), resumes a broken connection with an HTTP
  Range request (``_transfer.download_to``), then decompresses in a second streaming pass. Nothing partial is left
  in the cache.

glance_catalog reads checksum files and Last-Modified dates with ``fetch_text`` and ``last_modified``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections
import datetime
import email.utils
import hashlib
import os
import shutil
import socket
import subprocess
import tempfile
import time

from ansible.module_utils.six.moves import http_client

from ansible_collections.osimages.glance.plugins.module_utils._checksums import parse_checksum
from ansible_collections.osimages.glance.plugins.module_utils._checksums import parse_checksum_file
from ansible_collections.osimages.glance.plugins.module_utils._checksums import url_filename
from ansible_collections.osimages.glance.plugins.module_utils._errors import ModuleError
from ansible_collections.osimages.glance.plugins.module_utils._errors import ValidationError
from ansible_collections.osimages.glance.plugins.module_utils._files import read_json
from ansible_collections.osimages.glance.plugins.module_utils._files import write_json
from ansible_collections.osimages.glance.plugins.module_utils._secrets import redact_url
from ansible_collections.osimages.glance.plugins.module_utils._transfer import CHUNK_SIZE
from ansible_collections.osimages.glance.plugins.module_utils._transfer import BackgroundHasher
from ansible_collections.osimages.glance.plugins.module_utils._transfer import ChecksumMismatch
from ansible_collections.osimages.glance.plugins.module_utils._transfer import Progress
from ansible_collections.osimages.glance.plugins.module_utils._transfer import compression_of
from ansible_collections.osimages.glance.plugins.module_utils._transfer import download_to
from ansible_collections.osimages.glance.plugins.module_utils._transfer import hash_file
from ansible_collections.osimages.glance.plugins.module_utils._transfer import open_source
from ansible_collections.osimages.glance.plugins.module_utils._transfer import remove_file

TEXT_LIMIT = 4 * 1024 * 1024
CLEARSIGNED = b"-----BEGIN PGP SIGNED MESSAGE-----"
# What the checksum covers: the file as downloaded, its decompressed content, or (a checksum the playbook gave
# for a compressed download) whichever of the two it matches.
DOWNLOAD, CONTENT, EITHER = "download", "content", "either"
# The digest that keeps a file the playbook gave no checksum for, and that a cached file is checked with again.
RECORD_ALGORITHM = "sha256"


class Expected(collections.namedtuple("Expected", "algo digest covers where")):
    @property
    def checksum(self):
        """``ALGO:HEX``, or None when nothing is verified."""
        return "%s:%s" % (self.algo, self.digest) if self.digest else None


def download_names(url, decompress):
    """(the download's name, its compression suffix or "", the name of its decompressed content or None)."""
    name = url_filename(url)
    compression = compression_of(name) if decompress else ""
    return name, compression, name[: -len(compression)] if compression else None


# -- reading small files: checksum files, signatures, dates ------------------------------------------------------


def open_url(url, method="GET", headers=None, timeout=60, validate_certs=True):
    # Imported on first use: a catalog without a latest version does not pay its 40 ms.
    from ansible.module_utils.urls import open_url as ansible_open_url

    return ansible_open_url(
        url,
        method=method,
        headers=headers,
        timeout=timeout,
        validate_certs=validate_certs,
        http_agent="osimages.glance",
    )


def _reason(exc):
    """Why a request failed, in words: an HTTP error names its status."""
    code = getattr(exc, "code", None)
    reason = getattr(exc, "reason", None) or exc
    return "HTTP %d %s" % (code, reason) if isinstance(code, int) else reason


def fetch_text(url, what, limit=TEXT_LIMIT, validate_certs=True):
    """A small text file over HTTP(S) or FTP, such as a checksum file; ValidationError saying why not."""
    return fetch_bytes(url, what, limit, validate_certs).decode("utf-8", "replace")


def fetch_bytes(url, what, limit=TEXT_LIMIT, validate_certs=True):
    """A small file (a checksum file, a signature) as bytes; ValidationError saying why not."""
    try:
        data = open_url(url, validate_certs=validate_certs).read(limit + 1)
    except (IOError, OSError, ValueError, http_client.HTTPException) as exc:
        raise ValidationError("cannot read %s %s: %s" % (what, redact_url(url), _reason(exc)))
    if len(data) > limit:
        raise ValidationError("%s %s is larger than %d bytes: is it the right file?" % (what, redact_url(url), limit))
    return data


def last_modified(url):
    """The date an upstream file was last changed (its Last-Modified header), or today when it has none."""
    try:
        response = open_url(url, method="HEAD")
    except (IOError, OSError, ValueError, http_client.HTTPException) as exc:
        raise ValidationError("cannot reach the upstream file %s: %s" % (redact_url(url), _reason(exc)))
    header = response.headers.get("Last-Modified")
    parsed = email.utils.parsedate_tz(header) if header else None
    moment = time.gmtime(email.utils.mktime_tz(parsed)) if parsed else time.gmtime()
    return datetime.date(*moment[:3])


# -- what the download must hash to ------------------------------------------------------------------------------


def expected_checksum(filename, content_name, checksum=None, checksum_text=None, where="the checksum file"):
    """What the download ``filename`` must hash to, as an ``Expected``.

    ``content_name`` is the name of its decompressed content, or None when it is not decompressed. ``checksum``
    (``ALGO:HEX``, from the playbook) covers whichever of the two it matches. Otherwise ``checksum_text`` (a
    checksum file) is searched for the download's name first, then for the content's. With neither, nothing is
    verified (``Expected(None, None, None, None)``).
    """
    if checksum:
        algo, digest = parse_checksum(checksum)
        return Expected(algo, digest, EITHER if content_name else DOWNLOAD, "the checksum given")
    if checksum_text is None:
        return Expected(None, None, None, None)
    try:
        found, covers = parse_checksum_file(checksum_text, filename, where), DOWNLOAD
    except ValidationError as exc:
        if not content_name:
            raise
        try:
            found, covers = parse_checksum_file(checksum_text, content_name, where), CONTENT
        except ValidationError:
            raise ValidationError("%s (nor its decompressed content, %s)" % (exc.msg, content_name))
    algo, digest = found.split(":", 1)
    return Expected(algo, digest, covers, where)


def resolve_expected(
    url, decompress, checksum=None, checksum_url=None, signature_url=None, gpg_key=None, validate_certs=True
):
    """(the signer's fingerprint or None, the ``Expected`` checksum) of the download at ``url``: from ``checksum``,
    or from the checksum file at ``checksum_url``, read only as gpg verified it when ``gpg_key`` is given."""
    name, dummy, content_name = download_names(url, decompress)
    if not checksum_url:
        return None, expected_checksum(name, content_name, checksum=checksum)
    where = "the checksum file %s" % redact_url(checksum_url)
    text = fetch_bytes(checksum_url, "the checksum file", validate_certs=validate_certs)
    signed_by = None
    if gpg_key:
        signature = (
            fetch_bytes(signature_url, "the signature", validate_certs=validate_certs) if signature_url else None
        )
        text, signed_by = verify_signed(text, signature, gpg_key, where)
    return signed_by, expected_checksum(name, content_name, checksum_text=text.decode("utf-8", "replace"), where=where)


def cache_path(dest, expected, url, name):
    """Where the cache keeps ``name``: under its checksum, or under its URL when nothing verifies it (such a file
    is downloaded again on each run)."""
    if expected.digest:
        key = "%s-%s" % (expected.algo, expected.digest[:32])
    else:
        key = "url-%s" % hashlib.sha256(url.encode("utf-8")).hexdigest()[:32]
    return os.path.join(dest, key, name)


# -- OpenPGP signatures ------------------------------------------------------------------------------------------

# gpg's status keywords that refuse a signature, each with what it means to the operator. NO_PUBKEY comes with
# ERRSIG, and says more.
_REFUSALS = (
    ("BADSIG", "the signature is bad: the file was changed after it was signed"),
    ("EXPKEYSIG", "the signing key has expired"),
    ("REVKEYSIG", "the signing key was revoked"),
    ("EXPSIG", "the signature has expired"),
    ("NO_PUBKEY", "it was signed by a key that gpg_key does not hold"),
    ("ERRSIG", "gpg could not check the signature"),
    ("NODATA", "there is no OpenPGP signature in it"),
)


def signature_verdict(status, returncode):
    """(signer's fingerprint, None) when gpg's ``--status-fd`` lines tell a good, valid signature and gpg
    succeeded; (None, why not) otherwise."""
    keywords = {}
    for line in status.splitlines():
        if line.startswith("[GNUPG:] "):
            words = line[len("[GNUPG:] ") :].split()
            if words:
                keywords.setdefault(words[0], words[1:])
    for keyword, meaning in _REFUSALS:
        if keyword in keywords:
            return None, meaning
    if returncode == 0 and "GOODSIG" in keywords and keywords.get("VALIDSIG"):
        return keywords["VALIDSIG"][0], None
    return None, "gpg did not report a good signature"


def verify_signed(data, signature, key_path, what, gpg="gpg"):
    """(the bytes of ``data`` that the signature covers, the signer's fingerprint), checked by gpg against the
    public key(s) in ``key_path`` alone.

    ``signature`` is a detached signature of ``data``, or None when ``data`` is clearsigned: then only the signed
    text is returned, never what surrounds it. Raises ValidationError saying why the signature is refused.
    """
    if not os.path.isfile(key_path):
        raise ValidationError("gpg_key %s does not exist" % key_path)
    if signature is None and CLEARSIGNED not in data:
        raise ValidationError(
            "%s is not clearsigned and no signature_url names its detached signature, so gpg_key cannot verify it"
            % what
        )
    home = tempfile.mkdtemp(prefix="osimages-gpg-")
    try:
        # A keyring of its own: only gpg_key's keys vouch, whatever the user's own keyring trusts.
        base = [gpg, "--batch", "--no-tty", "--homedir", home, "--trust-model", "always"]
        _run_gpg(base + ["--quiet", "--import", key_path], "importing gpg_key %s" % key_path)
        signed = _write(home, "signed", data)
        if signature is None:
            verified = os.path.join(home, "verified")
            command = base + ["--status-fd", "1", "--output", verified, "--decrypt", signed]
        else:
            command = base + ["--status-fd", "1", "--verify", _write(home, "signature", signature), signed]
        proc = _run_gpg(command, "verifying %s" % what, check=False)
        fingerprint, refusal = signature_verdict(proc.stdout.decode("utf-8", "replace"), proc.returncode)
        if refusal:
            raise ValidationError("the signature of %s does not verify with gpg_key %s: %s" % (what, key_path, refusal))
        if signature is None:
            with open(verified, "rb") as handle:
                data = handle.read()
        return data, fingerprint
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _write(folder, name, data):
    path = os.path.join(folder, name)
    with open(path, "wb") as handle:
        handle.write(data)
    return path


def _run_gpg(command, doing, check=True):
    try:
        proc = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    except OSError as exc:
        raise ValidationError("%s needs gpg (Debian package gnupg): %s" % (doing, exc.strerror or exc))
    if check and proc.returncode != 0:
        raise ValidationError("%s failed: %s" % (doing, proc.stderr.decode("utf-8", "replace").strip()))
    return proc


# -- the download ------------------------------------------------------------------------------------------------


class _Response(object):
    """A urllib response as ``download_to`` reads one. A body cut short of its Content-Length, or a read that
    times out, raises a broken-read error, so that the download resumes from there."""

    def __init__(self, response):
        self.response = response
        self.status_code = response.getcode()

    def iter_content(self, chunk_size):
        while True:
            try:
                chunk = self.response.read(chunk_size)
            except socket.timeout:
                raise ConnectionError("the read timed out")
            if not chunk:
                left = getattr(self.response, "length", None)
                if left:
                    raise http_client.IncompleteRead(b"", left)
                return
            yield chunk

    def close(self):
        self.response.close()


def _opener(url, timeout, validate_certs):
    def open_response(offset):
        headers = {"Range": "bytes=%d-" % offset} if offset else None
        try:
            return _Response(open_url(url, headers=headers, timeout=timeout, validate_certs=validate_certs))
        except (IOError, OSError, ValueError, http_client.HTTPException) as exc:
            raise ModuleError("%s: %s" % (redact_url(url), _reason(exc)))

    return open_response


def _sidecar(path):
    return path + ".fetched.json"


def cached_file(path):
    """The record of the verified file the cache holds at ``path``, or None when it holds none (or one whose bytes
    no longer hash to what was recorded)."""
    record = read_json(_sidecar(path))
    try:
        algo, digest = record["file_checksum"].split(":", 1)
        if os.path.getsize(path) != record["size"]:
            return None
    except (IOError, OSError, ValueError, KeyError, AttributeError, TypeError):
        return None
    digests, dummy = hash_file(path, [algo])
    return record if digests[algo] == digest else None


class FetchPlan(collections.namedtuple("FetchPlan", "path name compression content_name cached")):
    """Where the verified file goes (``path``, in the cache), what to download (``name``, its ``compression``
    suffix, and ``content_name``, the file it decompresses to), and the cache's record of the verified file it
    already holds there (``cached``), or None: then the file must be fetched."""

    @property
    def changes(self):
        return self.cached is None

    def preview(self):
        """The record fetch_image would return: the cached one, or what is known before the download (check mode)."""
        if self.cached is not None:
            return dict(self.cached, path=self.path, changed=False)
        return dict(
            path=self.path, changed=True, url=None, compression=self.compression[1:] or None, covers=None, size=None
        )


def plan_fetch(url, dest, expected, decompress):
    """The FetchPlan for ``url`` (the upstream's name decides the file's) in the cache folder ``dest``."""
    name, compression, content_name = download_names(url, decompress)
    content_name = content_name or name
    path = cache_path(dest, expected, url, content_name)
    # Without a checksum, nothing proves that a cached file is what the URL serves now: it is fetched again.
    record = cached_file(path) if expected.digest else None
    cached = record if record and record.get("checksum") == expected.checksum else None
    return FetchPlan(path, name, compression, content_name, cached)


def fetch_image(plan, urls, expected, retries, timeout, validate_certs, notes):
    """Carry out ``plan``: the verified file for ``urls`` (the upstream, then its mirrors) at ``plan.path``.

    Returns a dict: path, changed, url (the one that served, its credentials masked, or the one recorded in the
    cache), compression, covers (what the checksum matched), size, file_checksum (of the file at path). ``notes`` gets a
    line for each broken connection resumed and each URL given up. Raises ModuleError naming every URL's failure.
    """
    if not plan.changes:
        return plan.preview()
    failures = []
    for url in urls:
        try:
            record = _fetch_from(url, plan, expected, retries, timeout, validate_certs, notes)
        except ModuleError as exc:
            failures.append(exc.msg)
            notes.append("gave up: %s" % exc.msg)
            continue
        return dict(record, path=plan.path, changed=True)
    raise ModuleError(
        "cannot fetch %s from any of its %d URL(s), nothing was cached: %s"
        % (plan.content_name, len(urls), " | ".join(failures))
    )


def _fetch_from(url, plan, expected, retries, timeout, validate_certs, notes):
    path, name, compression = plan.path, plan.name, plan.compression
    folder = os.path.dirname(path)
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        raise ValidationError("cannot make the cache folder %s: %s" % (folder, exc.strerror or exc))
    algo = expected.algo or RECORD_ALGORITHM
    label = redact_url(url)
    downloaded = path if not compression else os.path.join(folder, name)
    digest = download_to(
        downloaded,
        _opener(url, timeout, validate_certs),
        algo,
        expected.digest if expected.covers == DOWNLOAD else None,
        Progress(),
        retries,
        notes,
        label,
        expected_from=expected.where,
        cache=True,
    )
    covers = DOWNLOAD
    if compression:
        try:
            content_digest = _decompress(downloaded, path, algo, label)
        finally:
            os.unlink(downloaded)
        covers = _which_matches(expected, digest, content_digest)
        if covers is None:
            os.unlink(path)
            raise ChecksumMismatch(
                "%s does not match %s: the download hashes to %s:%s and its decompressed content to %s:%s, expected "
                "%s:%s" % (label, expected.where, algo, digest, algo, content_digest, algo, expected.digest)
            )
        digest = content_digest
    record = dict(
        url=label,
        checksum=expected.checksum,
        covers=covers if expected.digest else None,
        compression=compression[1:] or None,
        file_checksum="%s:%s" % (algo, digest),
        size=os.path.getsize(path),
    )
    _write_record(path, record)
    return record


def _which_matches(expected, download_digest, content_digest):
    """DOWNLOAD or CONTENT: what ``expected`` matched (download_to checked a DOWNLOAD one already); None when
    nothing did. Without a checksum, there is nothing to match."""
    if not expected.digest or expected.covers == DOWNLOAD:
        return DOWNLOAD
    if expected.covers == EITHER and download_digest == expected.digest:
        return DOWNLOAD
    return CONTENT if content_digest == expected.digest else None


def _decompress(source_path, path, algo, label):
    """Decompress ``source_path`` into ``path`` (whole or not at all), streaming; the content's digest."""
    handle, partial = tempfile.mkstemp(
        dir=os.path.dirname(path), prefix=".%s." % os.path.basename(path), suffix=".part"
    )
    hasher = BackgroundHasher([algo])
    try:
        source, dummy = open_source(source_path, True)
        with source, os.fdopen(handle, "wb") as out:
            for chunk in iter(lambda: source.read(CHUNK_SIZE), b""):
                hasher.feed(chunk)
                out.write(chunk)
        os.rename(partial, path)
    except ModuleError:
        remove_file(partial)
        raise
    except Exception as exc:  # lzma, zlib, bz2 and zstandard each raise their own kind for bad data
        remove_file(partial)
        raise ModuleError("cannot decompress %s: %s" % (label, exc))
    finally:
        digest = hasher.digests()[algo]
    return digest


def _write_record(path, record):
    """The sidecar that makes ``path`` a cache entry; written last and atomically, so a half-made entry has none."""
    write_json(_sidecar(path), record)
