"""Upstream files (_fetch): checksum files in each shape, signed ones, mirrors, broken connections, compressions
and the cache, against a real HTTP server on loopback that the tests start, and a real gpg."""

import bz2
import contextlib
import functools
import gzip
import hashlib
import http.server
import json
import lzma
import os
import shutil
import subprocess
import tempfile
import threading

import pytest
import zstandard

from ansible_collections.osimages.glance.plugins.module_utils import _fetch as fetch
from ansible_collections.osimages.glance.plugins.module_utils._errors import ModuleError
from ansible_collections.osimages.glance.plugins.module_utils._errors import ValidationError

# Not a multiple of the download chunk, and large enough to be cut half-way.
CONTENT = os.urandom(256 * 1024) * 4 + b"tail"
NAME = "cloud.qcow2"
COMPRESS = {
    "gz": gzip.compress,
    "bz2": bz2.compress,
    "xz": lzma.compress,
    # two frames, as `zstd -T` writes: the content is both
    "zst": lambda data: b"".join(zstandard.ZstdCompressor().compress(part) for part in (data[:1000], data[1000:])),
}


@functools.lru_cache(maxsize=None)
def compressed(suffix):
    return COMPRESS[suffix](CONTENT)


def sha256(data):
    return hashlib.sha256(data).hexdigest()


class Upstream:
    """A loopback HTTP server holding ``files`` (path -> bytes). ``cut`` holds paths whose next answer stops
    half-way; ``ranges`` says whether it honours Range requests. ``hits`` records (path, Range header)."""

    def __init__(self):
        self.files = {}
        self.cut = set()
        self.ranges = True
        self.hits = []
        upstream = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                upstream.hits.append((self.path, self.headers.get("Range")))
                data = upstream.files.get(self.path)
                if data is None:
                    self.send_error(404)
                    return
                start = 0
                asked = self.headers.get("Range")
                if asked and upstream.ranges:
                    start = int(asked.split("=")[1].rstrip("-"))
                    self.send_response(206)
                    self.send_header("Content-Range", "bytes %d-%d/%d" % (start, len(data) - 1, len(data)))
                else:
                    self.send_response(200)
                body = data[start:]
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.path in upstream.cut:
                    upstream.cut.discard(self.path)
                    body = body[: len(body) // 2]
                self.wfile.write(body)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = "http://127.0.0.1:%d" % self.server.server_address[1]

    def url(self, path):
        return self.base + path


@pytest.fixture
def upstream():
    server = Upstream()
    threading.Thread(target=server.server.serve_forever, daemon=True).start()
    yield server
    server.server.shutdown()
    server.server.server_close()


def closed_port_url():
    with contextlib.closing(__import__("socket").socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return "http://127.0.0.1:%d/%s" % (sock.getsockname()[1], NAME)


def fetch_with(upstream, tmp_path, urls, checksum=None, checksum_path=None, decompress=True, check_mode=False, **gpg):
    """What disk_image_fetch does: resolve the checksum, then fetch. Returns (record, notes)."""
    signed_by, expected = fetch.resolve_expected(
        urls[0],
        decompress,
        checksum=checksum,
        checksum_url=upstream.url(checksum_path) if checksum_path else None,
        **gpg,
    )
    notes = []
    plan = fetch.plan_fetch(urls[0], str(tmp_path / "cache"), expected, decompress)
    record = plan.preview() if check_mode else fetch.fetch_image(plan, urls, expected, 2, 10, True, notes)
    return dict(record, signed_by=signed_by), notes


def cache_files(tmp_path):
    found = []
    for folder, dummy, names in os.walk(tmp_path / "cache"):
        found.extend(os.path.join(folder, name) for name in names)
    return sorted(found)


# -- what the checksum file says -----------------------------------------------------------------------------------

SHAPES = {
    "gnu text mode": "%s  other.qcow2\n%s  " + NAME + "\n",
    "gnu binary mode": "%s *other.qcow2\n%s *" + NAME + "\n",
    "tagged": "SHA256 (other.qcow2) = %s\nSHA256 (" + NAME + ") = %s\n",
    "bare sidecar": "%s%s\n",
}


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_each_checksum_file_shape_verifies_the_download(upstream, tmp_path, shape):
    upstream.files["/" + NAME] = CONTENT
    other = "" if shape == "bare sidecar" else sha256(b"other")
    upstream.files["/SUMS"] = (SHAPES[shape] % (other, sha256(CONTENT))).encode()
    record, notes = fetch_with(upstream, tmp_path, [upstream.url("/" + NAME)], checksum_path="/SUMS")
    assert record["changed"] and record["covers"] == "download" and notes == []
    assert open(record["path"], "rb").read() == CONTENT
    assert record["checksum"] == "sha256:" + sha256(CONTENT) and record["path"].endswith("/" + NAME)

    upstream.files["/SUMS"] = (SHAPES[shape] % (other, sha256(b"something else"))).encode()
    with pytest.raises(ModuleError, match="does not match the checksum file"):
        fetch_with(upstream, tmp_path / "again", [upstream.url("/" + NAME)], checksum_path="/SUMS")
    assert cache_files(tmp_path / "again") == []


def test_a_checksum_file_that_does_not_list_the_file_says_what_it_lists(upstream, tmp_path):
    upstream.files["/SUMS"] = ("%s  other.qcow2\n" % sha256(b"x")).encode()
    with pytest.raises(ValidationError, match=r"does not list cloud.qcow2.xz \(it lists other.qcow2\).*nor its "):
        fetch_with(upstream, tmp_path, [upstream.url("/cloud.qcow2.xz")], checksum_path="/SUMS")


@pytest.mark.parametrize(
    "checksum, checksum_text, covers",
    [
        ("sha256:" + "a" * 64, None, "either"),
        (None, "%s  cloud.qcow2.xz\n" % ("b" * 64), "download"),
        (None, "%s  cloud.qcow2\n" % ("c" * 64), "content"),
        (None, "%s  cloud.qcow2\n%s  cloud.qcow2.xz\n" % ("c" * 64, "b" * 64), "download"),
        (None, None, None),
    ],
)
def test_what_the_checksum_covers(checksum, checksum_text, covers):
    expected = fetch.expected_checksum("cloud.qcow2.xz", "cloud.qcow2", checksum=checksum, checksum_text=checksum_text)
    assert expected.covers == covers
    assert fetch.expected_checksum("cloud.qcow2", None, checksum="sha256:" + "a" * 64).covers == "download"


# -- compressions --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", sorted(COMPRESS))
@pytest.mark.parametrize("listed", ["download", "content"])
def test_each_compression_is_decompressed_and_checked_where_the_file_says(upstream, tmp_path, suffix, listed):
    packed = compressed(suffix)
    download = "%s.%s" % (NAME, suffix)
    upstream.files["/" + download] = packed
    line = "%s  %s\n" % (sha256(packed), download) if listed == "download" else "%s  %s\n" % (sha256(CONTENT), NAME)
    upstream.files["/SUMS"] = line.encode()
    record, dummy = fetch_with(upstream, tmp_path, [upstream.url("/" + download)], checksum_path="/SUMS")
    assert (record["covers"], record["compression"]) == (listed, suffix)
    assert record["path"].endswith("/" + NAME) and open(record["path"], "rb").read() == CONTENT
    assert record["file_checksum"] == "sha256:" + sha256(CONTENT)
    assert cache_files(tmp_path) == sorted([record["path"], record["path"] + ".fetched.json"])


def test_a_checksum_given_for_a_compressed_download_matches_either_form(upstream, tmp_path):
    packed = compressed("xz")
    upstream.files["/cloud.qcow2.xz"] = packed
    for checksum, covers in ((sha256(packed), "download"), (sha256(CONTENT), "content")):
        record, dummy = fetch_with(
            upstream, tmp_path / covers, [upstream.url("/cloud.qcow2.xz")], checksum="sha256:" + checksum
        )
        assert record["covers"] == covers
    with pytest.raises(ModuleError, match="neither|does not match") as failed:
        fetch_with(upstream, tmp_path / "bad", [upstream.url("/cloud.qcow2.xz")], checksum="sha256:" + "0" * 64)
    assert "decompressed content" in failed.value.msg and cache_files(tmp_path / "bad") == []


def test_decompress_off_keeps_the_download_as_it_is(upstream, tmp_path):
    packed = compressed("gz")
    upstream.files["/cloud.qcow2.gz"] = packed
    record, dummy = fetch_with(
        upstream, tmp_path, [upstream.url("/cloud.qcow2.gz")], checksum="sha256:" + sha256(packed), decompress=False
    )
    assert record["path"].endswith("/cloud.qcow2.gz") and open(record["path"], "rb").read() == packed


def test_corrupt_compressed_data_is_refused_and_nothing_is_cached(upstream, tmp_path):
    upstream.files["/cloud.qcow2.xz"] = b"not xz at all" * 100
    upstream.files["/SUMS"] = ("%s  cloud.qcow2\n" % sha256(CONTENT)).encode()
    with pytest.raises(ModuleError, match="cannot decompress"):
        fetch_with(upstream, tmp_path, [upstream.url("/cloud.qcow2.xz")], checksum_path="/SUMS")
    assert cache_files(tmp_path) == []


# -- mirrors and broken connections ---------------------------------------------------------------------------------


def test_mirrors_are_tried_in_order_past_one_down_one_missing_and_one_wrong(upstream, tmp_path):
    upstream.files["/wrong/" + NAME] = b"tampered" + CONTENT
    upstream.files["/good/" + NAME] = CONTENT
    urls = [
        closed_port_url(),
        upstream.url("/missing/" + NAME),
        upstream.url("/wrong/" + NAME),
        upstream.url("/good/" + NAME),
    ]
    record, notes = fetch_with(upstream, tmp_path, urls, checksum="sha256:" + sha256(CONTENT))
    assert record["url"] == urls[-1] and open(record["path"], "rb").read() == CONTENT
    assert [note.split(":")[0] for note in notes] == ["gave up"] * 3
    assert urls[0] in notes[0] and "refused" in notes[0].lower()
    assert urls[1] + ": HTTP 404 Not Found" in notes[1]
    assert urls[2] in notes[2] and "does not match the checksum given" in notes[2]


def test_every_url_failing_names_each_and_leaves_nothing(upstream, tmp_path):
    secret_url = closed_port_url().replace("http://", "http://user:s3cret@")
    with pytest.raises(ModuleError) as failed:
        fetch_with(upstream, tmp_path, [secret_url, upstream.url("/missing/" + NAME)], checksum="md5:" + "0" * 32)
    assert "from any of its 2 URL(s)" in failed.value.msg and "/missing/" + NAME in failed.value.msg
    assert "s3cret" not in failed.value.msg and "user:********@" in failed.value.msg
    assert "was left as it was" not in failed.value.msg  # a cache entry that never existed: nothing to say of it
    assert cache_files(tmp_path) == []


@pytest.mark.parametrize("ranges", [True, False])
def test_a_connection_cut_half_way_resumes_or_starts_again(upstream, tmp_path, ranges):
    upstream.files["/" + NAME] = CONTENT
    upstream.cut.add("/" + NAME)
    upstream.ranges = ranges
    record, notes = fetch_with(upstream, tmp_path, [upstream.url("/" + NAME)], checksum="sha256:" + sha256(CONTENT))
    assert open(record["path"], "rb").read() == CONTENT
    assert len(notes) == 1 and "resuming from there (retry 1 of 2)" in notes[0]
    resumed_from = upstream.hits[1][1]
    assert resumed_from == "bytes=%d-" % (len(CONTENT) // 2)


# -- the cache -----------------------------------------------------------------------------------------------------


def test_the_cache_is_keyed_by_the_checksum_and_checked_again(upstream, tmp_path):
    upstream.files["/" + NAME] = CONTENT
    upstream.files["/SUMS"] = ("%s  %s\n" % (sha256(CONTENT), NAME)).encode()
    first, dummy = fetch_with(upstream, tmp_path, [upstream.url("/" + NAME)], checksum_path="/SUMS")
    downloads = len([hit for hit in upstream.hits if hit[0] == "/" + NAME])

    again, dummy = fetch_with(upstream, tmp_path, [upstream.url("/" + NAME)], checksum_path="/SUMS")
    assert not again["changed"] and again["path"] == first["path"] and again["url"] == first["url"]
    assert len([hit for hit in upstream.hits if hit[0] == "/" + NAME]) == downloads

    with open(first["path"], "r+b") as handle:  # the cached bytes go bad: they are fetched again
        handle.write(b"X")
    repaired, dummy = fetch_with(upstream, tmp_path, [upstream.url("/" + NAME)], checksum_path="/SUMS")
    assert repaired["changed"] and open(repaired["path"], "rb").read() == CONTENT

    record_path = repaired["path"] + ".fetched.json"  # a record of another checksum (the key is a digest prefix)
    record = json.loads(open(record_path).read())
    with open(record_path, "w") as handle:
        json.dump(dict(record, checksum="sha256:" + sha256(CONTENT)[:32] + "0" * 32), handle)
    other, dummy = fetch_with(upstream, tmp_path, [upstream.url("/" + NAME)], checksum_path="/SUMS")
    assert other["changed"] and json.loads(open(record_path).read())["checksum"] == record["checksum"]

    moved = CONTENT + b"new build"  # "latest" moved: same name, new checksum, new cache entry
    upstream.files["/" + NAME] = moved
    upstream.files["/SUMS"] = ("%s  %s\n" % (sha256(moved), NAME)).encode()
    new, dummy = fetch_with(upstream, tmp_path, [upstream.url("/" + NAME)], checksum_path="/SUMS", check_mode=True)
    assert new["changed"] and new["path"] != first["path"] and not os.path.exists(new["path"])
    new, dummy = fetch_with(upstream, tmp_path, [upstream.url("/" + NAME)], checksum_path="/SUMS")
    assert new["changed"] and open(new["path"], "rb").read() == moved and os.path.exists(first["path"])


def test_without_a_checksum_the_file_is_kept_under_its_url_and_fetched_again_each_time(upstream, tmp_path):
    upstream.files["/" + NAME] = CONTENT
    record, dummy = fetch_with(upstream, tmp_path, [upstream.url("/" + NAME)])
    assert record["checksum"] is None and record["covers"] is None and "/url-" in record["path"]
    upstream.files["/" + NAME] = b"moved on"  # nothing proves the cached copy current
    again, dummy = fetch_with(upstream, tmp_path, [upstream.url("/" + NAME)])
    assert again["changed"] and again["path"] == record["path"] and open(again["path"], "rb").read() == b"moved on"


# -- OpenPGP signatures ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def signer():
    """A throw-away signing key in a gpg home of its own: (sign(data, clear) -> bytes, public key file)."""
    if not shutil.which("gpg"):
        pytest.fail("gpg is missing: tests/scripts/lib.sh installs the Debian package gnupg")
    home = tempfile.mkdtemp(prefix="gpg-")  # short: gpg-agent's socket path has a length limit
    base = ["gpg", "--batch", "--homedir", home, "--pinentry-mode", "loopback", "--passphrase", ""]
    subprocess.run(base + ["--quick-gen-key", "Signer <signer@example.org>", "ed25519", "sign", "never"], check=True)
    subprocess.run(base + ["--quick-gen-key", "Other <other@example.org>", "ed25519", "sign", "never"], check=True)
    public = os.path.join(home, "signer.asc")
    other = os.path.join(home, "other.asc")
    subprocess.run(base + ["--armor", "--output", public, "--export", "signer@example.org"], check=True)
    subprocess.run(base + ["--armor", "--output", other, "--export", "other@example.org"], check=True)

    def sign(data, clear=False, by="signer@example.org"):
        mode = ["--clearsign"] if clear else ["--detach-sign"]
        return subprocess.run(
            base + ["--local-user", by, "--output", "-"] + mode, input=data, check=True, capture_output=True
        ).stdout

    yield sign, public, other
    subprocess.run(["gpgconf", "--homedir", home, "--kill", "gpg-agent"], check=False)
    shutil.rmtree(home, ignore_errors=True)


def test_a_detached_signature_is_checked_with_the_given_key(upstream, tmp_path, signer):
    sign, public, other = signer
    sums = ("%s  %s\n" % (sha256(CONTENT), NAME)).encode()
    upstream.files["/" + NAME] = CONTENT
    upstream.files["/SUMS"] = sums
    upstream.files["/SUMS.gpg"] = sign(sums)
    url = [upstream.url("/" + NAME)]
    record, dummy = fetch_with(
        upstream, tmp_path, url, checksum_path="/SUMS", signature_url=upstream.url("/SUMS.gpg"), gpg_key=public
    )
    assert record["covers"] == "download" and len(record["signed_by"]) == 40

    upstream.files["/SUMS"] = sums.replace(sha256(CONTENT)[:8].encode(), b"00000000")  # changed after signing
    with pytest.raises(ValidationError, match="does not verify with gpg_key .*: the signature is bad"):
        fetch_with(
            upstream, tmp_path, url, checksum_path="/SUMS", signature_url=upstream.url("/SUMS.gpg"), gpg_key=public
        )

    upstream.files["/SUMS"] = sums
    with pytest.raises(ValidationError, match="signed by a key that gpg_key does not hold"):
        fetch_with(
            upstream, tmp_path, url, checksum_path="/SUMS", signature_url=upstream.url("/SUMS.gpg"), gpg_key=other
        )

    with pytest.raises(ValidationError, match="is not clearsigned and no signature_url"):
        fetch_with(upstream, tmp_path, url, checksum_path="/SUMS", gpg_key=public)


def test_a_clearsigned_checksum_file_is_read_only_as_signed(upstream, tmp_path, signer):
    sign, public, dummy_other = signer
    upstream.files["/" + NAME] = CONTENT
    evil = "cloud-evil.qcow2"
    upstream.files["/" + evil] = b"evil"
    signed = sign(("%s  %s\n" % (sha256(CONTENT), NAME)).encode(), clear=True)
    # A line slipped in around the signed text must not count: the evil file is not listed as far as gpg vouches.
    upstream.files["/CHECKSUM"] = ("%s  %s\n" % (sha256(b"evil"), evil)).encode() + signed
    record, dummy = fetch_with(
        upstream, tmp_path, [upstream.url("/" + NAME)], checksum_path="/CHECKSUM", gpg_key=public
    )
    assert record["changed"] and record["signed_by"]
    with pytest.raises(ValidationError, match="does not list cloud-evil.qcow2"):
        fetch_with(upstream, tmp_path, [upstream.url("/" + evil)], checksum_path="/CHECKSUM", gpg_key=public)

    tampered = signed.replace(sha256(CONTENT)[:8].encode(), b"00000000")
    upstream.files["/CHECKSUM"] = tampered
    with pytest.raises(ValidationError, match="the signature is bad"):
        fetch_with(upstream, tmp_path, [upstream.url("/" + NAME)], checksum_path="/CHECKSUM", gpg_key=public)


@pytest.mark.parametrize(
    "status, returncode, verdict",
    [
        ("[GNUPG:] GOODSIG AB Signer\n[GNUPG:] VALIDSIG FPR 2026-12-07\n", 0, ("FPR", None)),
        (
            "[GNUPG:] GOODSIG AB Signer\n[GNUPG:] VALIDSIG FPR 2026-12-07\n",
            2,
            (None, "gpg did not report a good signature"),
        ),
        ("[GNUPG:] BADSIG AB Signer\n", 1, (None, "the signature is bad: the file was changed after it was signed")),
        (
            "[GNUPG:] ERRSIG AB 22 8 00 1 9\n[GNUPG:] NO_PUBKEY AB\n",
            2,
            (None, "it was signed by a key that gpg_key does not hold"),
        ),
        ("[GNUPG:] EXPKEYSIG AB Signer\n[GNUPG:] VALIDSIG FPR\n", 0, (None, "the signing key has expired")),
        ("[GNUPG:] REVKEYSIG AB Signer\n", 1, (None, "the signing key was revoked")),
        ("[GNUPG:] NODATA 1\n", 2, (None, "there is no OpenPGP signature in it")),
        ("", 0, (None, "gpg did not report a good signature")),
    ],
)
def test_signature_verdicts(status, returncode, verdict):
    assert fetch.signature_verdict(status, returncode) == verdict
