"""Streaming, hashing and checksum logic, with local files only."""

import bz2
import gzip
import hashlib
import io
import lzma
import os
import stat

import pytest
import requests

from ansible_collections.osimages.glance.plugins.module_utils import _transfer
from ansible_collections.osimages.glance.plugins.module_utils._errors import ModuleError
from ansible_collections.osimages.glance.plugins.module_utils._errors import TransientError
from ansible_collections.osimages.glance.plugins.module_utils._errors import ValidationError
from ansible_collections.osimages.glance.plugins.module_utils._transfer import ChecksumMismatch
from ansible_collections.osimages.glance.plugins.module_utils._transfer import Progress
from ansible_collections.osimages.glance.plugins.module_utils._transfer import Replay
from ansible_collections.osimages.glance.plugins.module_utils._transfer import UploadBody
from ansible_collections.osimages.glance.plugins.module_utils._transfer import check_source
from ansible_collections.osimages.glance.plugins.module_utils._transfer import download_to
from ansible_collections.osimages.glance.plugins.module_utils._transfer import hash_file
from ansible_collections.osimages.glance.plugins.module_utils._transfer import open_source
from ansible_collections.osimages.glance.plugins.module_utils._transfer import source_kind
from ansible_collections.osimages.glance.plugins.module_utils._transfer import source_size

DATA = os.urandom(3 * 256 * 1024 + 17)


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch):
    monkeypatch.setattr(_transfer, "CHUNK_SIZE", 256 * 1024)


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
    with pytest.raises(ModuleError, match="changed while it was read"):
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


def test_a_bad_progress_file_is_a_clear_error(tmp_path):
    with pytest.raises(ValidationError, match="cannot write progress_file %s/missing/p.json: No such file" % tmp_path):
        Progress(path=str(tmp_path / "missing" / "p.json")).write("starting")


class BreakingResponse:
    """A streamed body that breaks after ``break_after`` bytes (None: it does not), answering ``status``."""

    def __init__(self, data, status=200, break_after=None):
        self.data, self.status_code, self.break_after = data, status, break_after
        self.closed = False

    def iter_content(self, chunk_size):
        end = len(self.data) if self.break_after is None else self.break_after
        for start in range(0, end, 100000):
            yield self.data[start : min(start + 100000, end)]
        if self.break_after is not None:
            raise requests.exceptions.ChunkedEncodingError("Connection broken: IncompleteRead")

    def close(self):
        self.closed = True


class Server:
    """Opens BreakingResponses: the first ``breaks`` of them break mid-way; ranges are honoured or not."""

    def __init__(self, breaks, honours_ranges=True):
        self.breaks, self.honours_ranges, self.offsets, self.responses = list(breaks), honours_ranges, [], []

    def __call__(self, offset):
        self.offsets.append(offset)
        data, status = DATA, 200
        if offset and self.honours_ranges:
            data, status = DATA[offset:], 206
        response = BreakingResponse(data, status, self.breaks.pop(0) if self.breaks else None)
        self.responses.append(response)
        return response


def download(tmp_path, server, retries=3, expected=None):
    log = []
    dest = tmp_path / "image.raw"
    digest = download_to(
        str(dest), server, "sha512", expected or hashlib.sha512(DATA).hexdigest(), Progress(), retries, log, "image x"
    )
    return dest, digest, log


def test_a_broken_download_resumes_where_it_broke(tmp_path):
    server = Server(breaks=[300000, 100000])
    dest, digest, log = download(tmp_path, server)
    assert dest.read_bytes() == DATA and digest == hashlib.sha512(DATA).hexdigest()
    assert server.offsets == [0, 300000, 400000] and all(response.closed for response in server.responses)
    assert len(log) == 2 and "broke after 300000 bytes" in log[0] and "retry 2 of 3" in log[1]
    assert sorted(os.listdir(tmp_path)) == ["image.raw"]


def test_a_server_that_ignores_ranges_gets_written_from_the_start(tmp_path):
    server = Server(breaks=[300000], honours_ranges=False)
    dest, digest, log = download(tmp_path, server)
    assert dest.read_bytes() == DATA and server.offsets == [0, 300000] and len(log) == 1


def test_retries_are_bounded_and_dest_stays_as_it_was(tmp_path):
    (tmp_path / "image.raw").write_bytes(b"old")
    with pytest.raises(TransientError, match="broke after 200000 bytes.*image.raw was left as it was"):
        download(tmp_path, Server(breaks=[100000, 100000]), retries=1)
    assert (tmp_path / "image.raw").read_bytes() == b"old" and sorted(os.listdir(tmp_path)) == ["image.raw"]


def test_retries_0_fails_on_the_first_break(tmp_path):
    server = Server(breaks=[100000])
    with pytest.raises(TransientError):
        download(tmp_path, server, retries=0)
    assert server.offsets == [0] and os.listdir(tmp_path) == []


def test_a_download_that_does_not_match_glances_hash_is_not_kept(tmp_path):
    with pytest.raises(ChecksumMismatch, match="does not match Glance's hash.*was left as it was"):
        download(tmp_path, Server(breaks=[]), expected="0" * 128)
    assert os.listdir(tmp_path) == []


def test_a_check_over_the_same_pass_keeps_data_it_refuses_from_dest(tmp_path):
    """verify_signature's hook: more digests of the one pass (across a resume), and a judge that may refuse."""
    seen = []

    def judge(digests):
        seen.append(digests)
        return "the signature does not verify"

    (tmp_path / "image.raw").write_bytes(b"old")
    log, expected = [], hashlib.sha512(DATA).hexdigest()
    with pytest.raises(ValidationError, match="image x: the signature does not verify; .*image.raw was left as it was"):
        download_to(
            str(tmp_path / "image.raw"),
            Server([200000]),
            "sha512",
            expected,
            Progress(),
            1,
            log,
            "image x",
            check=(["sha256"], judge),
        )
    assert seen == [{"sha512": expected, "sha256": hashlib.sha256(DATA).hexdigest()}]
    assert (tmp_path / "image.raw").read_bytes() == b"old" and sorted(os.listdir(tmp_path)) == ["image.raw"]
    digest = download_to(
        str(tmp_path / "image.raw"),
        Server([]),
        "sha512",
        expected,
        Progress(),
        0,
        [],
        "x",
        check=(["sha384"], lambda digests: None),
    )
    assert digest == expected and (tmp_path / "image.raw").read_bytes() == DATA


def test_a_dest_that_cannot_be_written_is_a_clear_error(tmp_path):
    with pytest.raises(ValidationError, match="cannot write dest %s/no/such/dir/x.raw: No such file" % tmp_path):
        download_to(str(tmp_path / "no" / "such" / "dir" / "x.raw"), Server([]), "sha512", "", Progress(), 0, [], "x")


def test_source_kinds_and_sizes(tmp_path):
    regular = tmp_path / "disk.raw"
    regular.write_bytes(DATA)
    fifo = tmp_path / "build.fifo"
    os.mkfifo(str(fifo))
    assert source_kind(str(regular)) == "file" and source_size(str(regular)) == len(DATA)
    assert source_kind(str(fifo)) == "stream" and source_size(str(fifo)) is None
    assert source_kind("/dev/null") == "stream"  # a character device
    assert source_kind(str(tmp_path)) is None


def test_a_block_device_is_sized_by_the_device(tmp_path, monkeypatch):
    """os.path.getsize says 0 for a block device; its size is where the device ends."""
    device = tmp_path / "sdx"
    device.write_bytes(DATA)
    real_stat = os.stat

    def block_stat(path, *args, **kwargs):
        result = real_stat(path, *args, **kwargs)
        if str(path) == str(device):
            return os.stat_result((stat.S_IFBLK | 0o660,) + tuple(result)[1:6] + (0,) + tuple(result)[7:])
        return result

    monkeypatch.setattr(_transfer.os, "stat", block_stat)
    assert source_kind(str(device)) == "block" and source_size(str(device)) == len(DATA)


def test_a_socket_is_no_source(tmp_path):
    import socket

    server = socket.socket(socket.AF_UNIX)
    server.bind(str(tmp_path / "sock"))
    with pytest.raises(ValidationError, match="not a regular file, a block device or a stream"):
        check_source(str(tmp_path / "sock"))
    server.close()


def test_replay_serves_what_was_inspected_then_the_rest():
    replay = Replay(io.BytesIO(DATA))
    head = replay.read(5000) + replay.read(3000)
    replay.close()  # an inspector closing its reader does not end the stream
    assert head == DATA[:8000]
    replay.replay()
    out = []
    while True:
        chunk = replay.read(4096)
        if not chunk:
            break
        out.append(chunk)
    assert b"".join(out) == DATA
