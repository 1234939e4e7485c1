# -*- coding: utf-8 -*-
# Copyright: Contributors to the osimages.glance collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal use only: this file is not part of the collection's public API.
"""Streaming byte transfer: read once, hash in the same pass, report progress.

Nothing here talks to Glance. Hashing runs in a background thread, because
hashlib releases the GIL for large buffers: the digest is computed while the
socket sends (or the disk writes) the same chunk, so verification costs
almost no wall time. Memory is bounded by about CHUNK_SIZE * (QUEUE_DEPTH + 3):
the queue, the chunk being hashed, the chunk held back and the chunk being sent.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import bz2
import gzip
import hashlib
import json
import lzma
import os
import stat
import tempfile
import threading
import time

try:
    import queue
except ImportError:  # Python 2, for the sanity compile test only
    import Queue as queue

try:
    from http.client import HTTPException
except ImportError:  # Python 2, for the sanity compile test only
    from httplib import HTTPException

# What a response whose connection broke raises while it is read.
try:
    from requests.exceptions import RequestException
    from urllib3.exceptions import HTTPError as Urllib3Error

    BROKEN_READ_ERRORS = (RequestException, Urllib3Error, HTTPException, ConnectionError)
except ImportError:  # openstacksdk brings both; check_sdk() reports them missing before any transfer
    BROKEN_READ_ERRORS = (HTTPException, ConnectionError)

from ansible_collections.osimages.glance.plugins.module_utils._errors import ModuleError
from ansible_collections.osimages.glance.plugins.module_utils._errors import TransientError
from ansible_collections.osimages.glance.plugins.module_utils._errors import ValidationError

CHUNK_SIZE = 1024 * 1024
# Reading a response in 1 MiB pieces costs more CPU in urllib3 than the transfer itself (measured: 1 GiB in
# 2.7 s versus 1.7 s with 8 MiB pieces), so downloads read larger ones; 4 MiB keeps the memory modest.
DOWNLOAD_CHUNK_SIZE = 4 * 1024 * 1024
# Hashing outruns any upload: two chunks in waiting are enough (measured on 1 GiB: less CPU than four).
QUEUE_DEPTH = 2
MIB = 1024.0 * 1024.0


class ChecksumMismatch(ModuleError):
    """The bytes do not hash to what the user or Glance said they should."""


class BackgroundHasher(object):
    """Hashes the chunks it is fed with several algorithms at once, in one background thread."""

    def __init__(self, algorithms):
        self._hashers = dict((algo, hashlib.new(algo)) for algo in sorted(set(algorithms)))
        self._queue = queue.Queue(maxsize=QUEUE_DEPTH)
        self._thread = threading.Thread(target=self._work, name="osimages-hasher")
        self._thread.daemon = True
        self._thread.start()
        self._digests = None

    def _work(self):
        while True:
            chunk = self._queue.get()
            if chunk is None:
                return
            for hasher in self._hashers.values():
                hasher.update(chunk)

    def feed(self, chunk):
        self._queue.put(chunk)

    def digests(self):
        """Wait for the queued chunks, then return {algo: hexdigest}."""
        if self._digests is None:
            self._queue.put(None)
            self._thread.join()
            self._digests = dict((algo, hasher.hexdigest()) for algo, hasher in self._hashers.items())
        return self._digests


class WriteBehind(object):
    """Flushes a file's pages to disk in a background thread while the file is still being written.

    Downloads must be fsynced before they replace dest; syncing as we go lets
    the disk work while the network does, so the final fsync has little left.
    """

    def __init__(self, fd, every=64 * 1024 * 1024):
        self.fd = fd
        self.every = every
        self._unsynced = 0
        self._wake = threading.Event()
        self._done = False
        self._thread = threading.Thread(target=self._work, name="osimages-writebehind")
        self._thread.daemon = True
        self._thread.start()

    def _work(self):
        while True:
            self._wake.wait()
            self._wake.clear()
            if self._done:
                return
            os.fdatasync(self.fd)

    def wrote(self, count):
        self._unsynced += count
        if self._unsynced >= self.every:
            self._unsynced = 0
            self._wake.set()

    def finish(self, sync=True):
        """Stop the thread; with ``sync``, fsync what is left. Call before closing the file."""
        self._done = True
        self._wake.set()
        self._thread.join()
        if sync:
            os.fsync(self.fd)


class Progress(object):
    """Transfer counters, written to an optional JSON file at most once a second."""

    def __init__(self, total=None, path=None, action="transfer"):
        self.total = total
        self.path = path
        self.action = action
        self.done = 0
        self.started = time.time()
        self._last_write = 0.0

    def add(self, count):
        self.done += count
        now = time.time()
        if self.path and now - self._last_write >= 1.0:
            self._last_write = now
            self.write("running")

    def restart(self):
        """The transfer starts again from byte 0 (a retry): count from zero."""
        self.done = 0

    def seconds(self):
        return max(time.time() - self.started, 1e-6)

    def summary(self):
        seconds = self.seconds()
        return {
            "bytes": self.done,
            "seconds": round(seconds, 3),
            "throughput_mib_s": round(self.done / MIB / seconds, 2),
        }

    def write(self, state):
        if not self.path:
            return
        record = dict(self.summary(), action=self.action, state=state, total_bytes=self.total)
        if self.total:
            record["percent"] = round(100.0 * self.done / self.total, 1)
        tmp = self.path + ".tmp"
        try:
            with open(tmp, "w") as handle:
                json.dump(record, handle)
            os.rename(tmp, self.path)
        except (IOError, OSError) as exc:
            if os.path.isfile(tmp):
                os.unlink(tmp)
            raise ValidationError("cannot write progress_file %s: %s" % (self.path, exc.strerror or exc))


_DECOMPRESSORS = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}
# The suffixes of the compressions a source is decompressed from on the fly (zstd through the zstandard package).
COMPRESSIONS = (".bz2", ".gz", ".xz", ".zst")


def compression_of(name):
    """The compression suffix ``name`` ends with (one of COMPRESSIONS), or "" for none."""
    suffix = os.path.splitext(name)[1].lower()
    return suffix if suffix in COMPRESSIONS else ""


def source_kind(path):
    """What ``path`` is as a source of image data: "file", "block" (a block device: sized, seekable) or "stream"
    (a FIFO or a character device: read once, size unknown until the end); None for anything else."""
    mode = os.stat(path).st_mode
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISBLK(mode):
        return "block"
    if stat.S_ISFIFO(mode) or stat.S_ISCHR(mode):
        return "stream"
    return None


def source_size(path):
    """The bytes ``path`` holds: a file's size, a block device's size (read from the device), None for a stream."""
    kind = source_kind(path)
    if kind == "file":
        return os.path.getsize(path)
    if kind == "block":
        handle = os.open(path, os.O_RDONLY)
        try:
            return os.lseek(handle, 0, os.SEEK_END)
        finally:
            os.close(handle)
    return None


def open_source(path, decompress):
    """Open a local source for reading, decompressing on the fly when asked and the suffix says how.

    Returns (file object, size in bytes or None when it is only known after reading: a stream, or data that is
    decompressed on the way). Raises ValidationError for a missing or unreadable path, or one that is no source.
    """
    check_source(path)
    suffix = compression_of(path)
    try:
        if decompress and suffix in _DECOMPRESSORS:
            return _DECOMPRESSORS[suffix](path, "rb"), None
        if decompress and suffix == ".zst":
            return _open_zstd(path), None
        return open(path, "rb"), source_size(path)
    except (IOError, OSError) as exc:
        raise ValidationError("cannot read src %s: %s" % (path, exc.strerror or exc))


def check_source(path):
    """Raise ValidationError unless ``path`` is a readable file, block device or stream (FIFO, character device)."""
    if not os.path.exists(path):
        raise ValidationError("src %s does not exist" % path)
    if os.path.isdir(path):
        raise ValidationError("src %s is a directory, not an image file" % path)
    if source_kind(path) is None:
        raise ValidationError(
            "src %s is not a regular file, a block device or a stream (a FIFO or a character device)" % path
        )
    if not os.access(path, os.R_OK):
        raise ValidationError("src %s is not readable by this user" % path)


class Replay(object):
    """A reader over ``source`` that keeps what is read until ``replay()``, then serves those bytes again before the
    rest: a stream's first blocks are inspected and still sent, from one open. ``close`` leaves the source open,
    so that an inspector that closes its reader does not end the stream."""

    def __init__(self, source):
        self.source = source
        self.kept = []
        self.recording = True

    def read(self, size=-1):
        if not self.recording and self.kept:
            chunk = b"".join(self.kept)
            self.kept = []
            if size is not None and 0 <= size < len(chunk):
                self.kept = [chunk[size:]]
                chunk = chunk[:size]
            return chunk
        chunk = self.source.read(size)
        if self.recording:
            self.kept.append(chunk)
        return chunk

    def replay(self):
        self.recording = False
        return self

    def close(self):
        pass


def _open_zstd(path):
    try:
        import zstandard
    except ImportError:
        raise ValidationError("decompressing %s needs the Python package zstandard on the managed node" % path)
    return zstandard.ZstdDecompressor().stream_reader(open(path, "rb"), closefd=True)


def hash_file(path, algorithms, decompress=False, progress=None):
    """Read a local file once; return ({algo: hexdigest}, size)."""
    source, dummy = open_source(path, decompress)
    hasher = BackgroundHasher(algorithms)
    size = 0
    with source:
        while True:
            chunk = source.read(CHUNK_SIZE)
            if not chunk:
                break
            hasher.feed(chunk)
            size += len(chunk)
            if progress:
                progress.add(len(chunk))
    return hasher.digests(), size


class UploadBody(object):
    """A request body that streams a source once, hashing it as it goes.

    With a known ``length`` requests sends it with a Content-Length header (no
    chunked encoding). The last chunk is held back until the whole source is
    hashed: when ``expected`` (algo, hex) does not match, ChecksumMismatch is
    raised before the last byte leaves, so Glance never receives the full
    image and keeps it queued.
    """

    def __init__(self, source, length, algorithms, expected=None, progress=None, label="the source"):
        self.source = source
        self.length = length
        self.expected = expected
        self.progress = progress
        self.label = label
        wanted = set(algorithms)
        if expected:
            wanted.add(expected[0])
        self.hasher = BackgroundHasher(wanted)
        self.size = 0

    def __len__(self):
        return self.length

    def __iter__(self):
        held = None
        while True:
            chunk = self.source.read(CHUNK_SIZE)
            if not chunk:
                break
            self.hasher.feed(chunk)
            self.size += len(chunk)
            if held is not None:
                yield held
                if self.progress:
                    self.progress.add(len(held))
            held = chunk
        self.check()
        if held is not None:
            yield held
            if self.progress:
                self.progress.add(len(held))

    def digests(self):
        return self.hasher.digests()

    def check(self):
        """Raise before the final chunk when the source changed size or does not match ``expected``."""
        if self.length is not None and self.size != self.length:
            raise ModuleError(
                "%s changed while it was read: expected %d bytes, read %d; nothing was stored"
                % (self.label, self.length, self.size)
            )
        if self.expected:
            algo, wanted = self.expected
            actual = self.digests()[algo]
            if actual != wanted:
                raise ChecksumMismatch(
                    "checksum mismatch for %s: expected %s:%s, the bytes hash to %s:%s; the upload was stopped "
                    "before its last byte, so the image keeps no data" % (self.label, algo, wanted, algo, actual)
                )


def download_to(
    dest,
    open_response,
    algo,
    expected,
    progress,
    retries,
    retry_log,
    label,
    expected_from="Glance's hash",
    cache=False,
    check=None,
):
    """Stream a download into a temporary file beside ``dest``, hashing it in the same pass; check the hash
    against ``expected`` (unless it is None: the caller checks), fsync, then rename the file over dest. dest is
    never partial, and the temporary file never stays behind. Returns the digest. ``expected_from`` names the
    source of ``expected`` in the mismatch's message; messages say that dest was left as it was, unless ``cache``
    (a cache entry that did not exist). ``check`` is ``(algos, judge)``: the data is also hashed with ``algos`` in
    the same pass, and ``judge(digests)`` says why the data must not land at dest (a message), or None.

    ``open_response(offset)`` returns the streaming response from byte ``offset`` on (an HTTP Range request).
    A read that breaks resumes from the last byte written, up to ``retries`` times, each noted in ``retry_log``;
    the hash goes on across the resume, so every byte is still read once. A server that answers a range with the
    whole data again (200, not 206) gets it written from the start.
    """
    kept = "" if cache else "; %s was left as it was" % dest
    folder = os.path.dirname(os.path.abspath(dest))
    try:
        handle, tmp = tempfile.mkstemp(dir=folder, prefix=".%s." % os.path.basename(dest), suffix=".part")
    except (IOError, OSError) as exc:
        raise ValidationError("cannot write dest %s: %s" % (dest, exc.strerror or exc))
    algos = sorted(set([algo] + list(check[0] if check else [])))
    hasher = BackgroundHasher(algos)
    try:
        with os.fdopen(handle, "wb") as out:
            syncer = WriteBehind(out.fileno())
            try:
                written, attempt = 0, 0
                while True:
                    response = open_response(written)
                    try:
                        if written and response.status_code != 206:
                            hasher.digests()
                            hasher, written = BackgroundHasher(algos), 0
                            out.seek(0)
                            out.truncate()
                            progress.restart()
                        broke = _copy_response(response, out, hasher, syncer, progress)
                    finally:
                        response.close()
                    written = out.tell()
                    if broke is None:
                        break
                    if attempt >= retries:
                        raise TransientError(
                            "Failed to download %s: the connection broke after %d bytes: %s" % (label, written, broke)
                        )
                    attempt += 1
                    retry_log.append(
                        "the download of %s broke after %d bytes (%s); resuming from there (retry %d of %d)"
                        % (label, written, broke, attempt, retries)
                    )
            except BaseException:
                syncer.finish(sync=False)
                raise
            syncer.finish()
        digests = hasher.digests()
        digest = digests[algo]
        if expected is not None and digest != expected:
            raise ChecksumMismatch(
                "download of %s does not match %s: got %s %s, expected %s%s"
                % (label, expected_from, algo, digest, expected, kept)
            )
        problem = check[1](digests) if check else None
        if problem:
            raise ValidationError("download of %s: %s%s" % (label, problem, kept))
        if os.path.exists(dest):
            # Keep the permissions of the file being replaced, as Ansible's file modules do.
            os.chmod(tmp, os.stat(dest).st_mode & 0o7777)
        os.rename(tmp, dest)
        return digest
    except ModuleError as exc:
        remove_file(tmp)
        if exc.msg.endswith(kept):
            raise
        raise type(exc)(exc.msg + kept, **exc.details)
    except (IOError, OSError) as exc:
        remove_file(tmp)
        raise ModuleError("Failed to download %s to %s: %s%s" % (label, dest, exc.strerror or exc, kept))
    except BaseException:
        remove_file(tmp)
        raise
    finally:
        hasher.digests()


def _copy_response(response, out, hasher, syncer, progress):
    """Write the response's body to ``out``; None when it ended, the error when the connection broke."""
    chunks = response.iter_content(chunk_size=DOWNLOAD_CHUNK_SIZE)
    while True:
        try:
            chunk = next(chunks)
        except StopIteration:
            return None
        except Exception as exc:
            if isinstance(exc, BROKEN_READ_ERRORS):
                return exc
            raise
        hasher.feed(chunk)
        out.write(chunk)
        out.flush()  # hand the bytes to the kernel, so that WriteBehind can sync them
        syncer.wrote(len(chunk))
        progress.add(len(chunk))


def remove_file(path):
    """Remove ``path`` if it exists (a temporary file that must not stay behind)."""
    if os.path.exists(path):
        os.unlink(path)
