"""Streaming, hashing and checksum logic, with local files only."""

import bz2
import gzip
import hashlib
import io
import lzma
import os

import pytest

from ansible_collections.osimages.glance.plugins.module_utils import _transfer
from ansible_collections.osimages.glance.plugins.module_utils._errors import GlanceError
from ansible_collections.osimages.glance.plugins.module_utils._errors import ValidationError
from ansible_collections.osimages.glance.plugins.module_utils._transfer import ChecksumMismatch
from ansible_collections.osimages.glance.plugins.module_utils._transfer import Progress
from ansible_collections.osimages.glance.plugins.module_utils._transfer import UploadBody
from ansible_collections.osimages.glance.plugins.module_utils._transfer import hash_file
from ansible_collections.osimages.glance.plugins.module_utils._transfer import open_source
from ansible_collections.osimages.glance.plugins.module_utils._transfer import parse_checksum

DATA = os.urandom(3 * 256 * 1024 + 17)


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch):
    monkeypatch.setattr(_transfer, "CHUNK_SIZE", 256 * 1024)


@pytest.mark.parametrize(
    "value, expected",
    [
        (None, None),
        ("sha256:" + "a" * 64, ("sha256", "a" * 64)),
        ("SHA512:" + "B" * 128, ("sha512", "b" * 128)),
        ("md5: " + "c" * 32, ("md5", "c" * 32)),
    ],
)
def test_parse_checksum(value, expected):
    assert parse_checksum(value) == expected


@pytest.mark.parametrize(
    "value, words",
    [
        ("a" * 64, "ALGO:HEX"),
        ("sha1:" + "a" * 40, "ALGO:HEX"),
        ("sha256:abc", "64 hexadecimal digits"),
        ("md5:" + "z" * 32, "32 hexadecimal digits"),
    ],
)
def test_bad_checksums(value, words):
    with pytest.raises(ValidationError, match=words):
        parse_checksum(value)


def test_upload_body_streams_once_and_hashes():
    progress = Progress(total=len(DATA))
    body = UploadBody(io.BytesIO(DATA), len(DATA), ["sha512"], progress=progress)
    assert len(body) == len(DATA)
    assert b"".join(body) == DATA
    assert body.digests()["sha512"] == hashlib.sha512(DATA).hexdigest()
    assert progress.done == len(DATA)


def test_a_wrong_checksum_stops_before_the_last_chunk():
    expected = ("sha256", hashlib.sha256(b"other").hexdigest())
    body = UploadBody(io.BytesIO(DATA), len(DATA), ["sha512"], expected=expected, label="disk.raw")
    sent = []
    with pytest.raises(ChecksumMismatch, match="checksum mismatch for disk.raw"):
        for chunk in body:
            sent.append(chunk)
    assert 0 < len(b"".join(sent)) < len(DATA)


def test_a_right_checksum_sends_everything():
    expected = ("md5", hashlib.md5(DATA).hexdigest())
    assert b"".join(UploadBody(io.BytesIO(DATA), len(DATA), ["sha512"], expected=expected)) == DATA


def test_a_source_that_changes_size_is_refused():
    body = UploadBody(io.BytesIO(DATA), len(DATA) + 1, ["sha512"])
    with pytest.raises(GlanceError, match="changed while it was read"):
        b"".join(body)


@pytest.mark.parametrize("suffix, opener", [(".gz", gzip.open), (".bz2", bz2.open), (".xz", lzma.open)])
def test_decompress_on_the_fly(tmp_path, suffix, opener):
    path = tmp_path / ("disk.raw" + suffix)
    with opener(path, "wb") as handle:
        handle.write(DATA)
    source, size = open_source(str(path), decompress=True)
    assert size is None
    with source:
        assert source.read() == DATA
    digests, size = hash_file(str(path), ["sha512", "md5"], decompress=True)
    assert size == len(DATA) and digests["md5"] == hashlib.md5(DATA).hexdigest()
    source, size = open_source(str(path), decompress=False)
    source.close()
    assert size == path.stat().st_size


def test_source_checks(tmp_path, monkeypatch):
    with pytest.raises(ValidationError, match="does not exist"):
        open_source(str(tmp_path / "missing"), False)
    with pytest.raises(ValidationError, match="is a directory"):
        open_source(str(tmp_path), False)
    path = tmp_path / "f"
    path.write_bytes(b"x")
    monkeypatch.setattr(os, "access", lambda *args: False)
    with pytest.raises(ValidationError, match="not readable"):
        open_source(str(path), False)


def test_progress_file(tmp_path):
    path = tmp_path / "progress.json"
    progress = Progress(total=10, path=str(path), action="direct")
    progress.add(5)
    progress.write("running")
    text = path.read_text()
    assert '"percent": 50.0' in text and '"state": "running"' in text
