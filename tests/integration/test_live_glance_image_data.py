"""glance_image_data against the real local cloud: every method, store option and failure."""

import contextlib
import gzip
import hashlib
import json
import os
import socket
import subprocess
import threading
import time
import uuid

import pytest

from harness import SECRETS
from harness import file_server
from harness import new_image
from harness import raw_image
from harness import sha512


def leftovers(folder):
    return [name for name in os.listdir(folder) if name.startswith(".")]


def test_direct_upload(run_module, sdk, prefix, payload, tmp_path):
    conn = sdk("demo")
    path, data = payload
    image_id = new_image(conn, prefix + "direct")
    args = {"image": prefix + "direct", "src": str(path)}

    result = run_module("glance_image_data", args, check=True, diff=True)
    assert result["changed"] and not result["failed"], result
    assert result["hash_value"] == sha512(data)
    assert result["diff"] == {"before": {"status": "queued", "stores": []}, "after": {"status": "active", "stores": []}}
    assert raw_image(conn, image_id)["status"] == "queued"

    progress = tmp_path / "progress.json"
    result = run_module("glance_image_data", dict(args, progress_file=str(progress)))
    assert result["changed"] and not result["failed"], result
    raw = raw_image(conn, image_id)
    assert raw["status"] == "active" and raw["size"] == len(data)
    assert raw["os_hash_algo"] == "sha512" and raw["os_hash_value"] == sha512(data)
    assert raw["stores"] == "fast"
    assert result["bytes"] == len(data) and result["hash_value"] == raw["os_hash_value"]
    assert result["image"]["status"] == "active" and result["seconds"] > 0
    assert json.loads(progress.read_text())["state"] == "done"

    # The same bytes again: nothing to do.
    result = run_module("glance_image_data", args)
    assert not result["changed"] and result["bytes"] == 0, result
    # Different bytes: data is immutable.
    other = tmp_path / "other.raw"
    other.write_bytes(data[:-1] + b"x")
    result = run_module("glance_image_data", dict(args, src=str(other)))
    assert result["failed"] and "image data is immutable; publish a new image" in result["msg"]
    assert raw_image(conn, image_id)["os_hash_value"] == sha512(data)


def test_direct_upload_to_another_store_and_by_id(run_module, sdk, prefix, payload):
    conn = sdk("demo")
    path, data = payload
    image_id = new_image(conn, prefix + "cheap")
    result = run_module("glance_image_data", {"image": image_id, "src": str(path), "stores": ["cheap"]})
    assert result["changed"], result
    assert raw_image(conn, image_id)["stores"] == "cheap"


def test_checksum(run_module, sdk, prefix, payload):
    conn = sdk("demo")
    path, data = payload
    image_id = new_image(conn, prefix + "sum")
    wrong = "sha256:" + hashlib.sha256(b"something else").hexdigest()
    results = run_module.many(
        "glance_image_data",
        [
            {"image": image_id, "src": str(path), "checksum": wrong, "method": method}
            for method in ("direct", "glance-direct")
        ],
    )
    for result in results:
        assert result["failed"] and "checksum mismatch" in result["msg"], result
    raw = raw_image(conn, image_id)
    assert raw["status"] == "queued" and raw["size"] is None, raw
    right = "sha256:" + hashlib.sha256(data).hexdigest()
    result = run_module("glance_image_data", {"image": image_id, "src": str(path), "checksum": right})
    assert result["changed"] and raw_image(conn, image_id)["os_hash_value"] == sha512(data), result
    result = run_module("glance_image_data", {"image": image_id, "src": str(path), "checksum": "sha1:abc"})
    assert result["failed"] and "ALGO:HEX" in result["msg"]


def test_glance_direct_into_two_stores(run_module, sdk, prefix, payload):
    conn = sdk("demo")
    path, data = payload
    image_id = new_image(conn, prefix + "gd")
    args = {"image": image_id, "src": str(path), "method": "glance-direct", "stores": ["fast", "cheap"]}
    result = run_module("glance_image_data", args, diff=True)
    assert result["changed"] and not result["failed"], result
    raw = raw_image(conn, image_id)
    assert raw["status"] == "active" and sorted(raw["stores"].split(",")) == ["cheap", "fast"]
    assert raw["os_hash_value"] == sha512(data)
    assert result["diff"]["after"] == {"status": "active", "stores": ["cheap", "fast"]}
    assert not run_module("glance_image_data", args)["changed"]


def test_web_download(run_module, sdk, prefix, payload):
    conn = sdk("demo")
    path, data = payload
    image_id = new_image(conn, prefix + "web")
    with file_server(path.parent) as base:
        args = {"image": image_id, "url": "%s/%s" % (base, path.name), "checksum": "sha512:" + sha512(data)}
        result = run_module("glance_image_data", args)
    assert result["changed"] and not result["failed"], result
    raw = raw_image(conn, image_id)
    assert raw["status"] == "active" and raw["os_hash_value"] == sha512(data)
    # Run again (no second fetch needed: the server is gone), then a checksum that does not match what Glance
    # fetched, which is an error even afterwards.
    again, mismatch = run_module.many("glance_image_data", [args, dict(args, checksum="sha512:" + sha512(b"nope"))])
    assert not again["changed"] and not again["failed"], again
    assert mismatch["failed"] and "different bytes" in mismatch["msg"]


def test_copy_image(run_module, sdk, prefix, payload):
    admin, demo = sdk("admin"), sdk("demo")
    path, data = payload
    image_id = new_image(admin, prefix + "copy")
    assert run_module("glance_image_data", {"image": image_id, "src": str(path)}, cloud="admin")["changed"]
    args = {"image": image_id, "method": "copy-image", "stores": ["cheap"]}
    result = run_module("glance_image_data", args, cloud="admin", check=True)
    assert result["changed"] and raw_image(admin, image_id)["stores"] == "fast"
    result = run_module("glance_image_data", args, cloud="admin")
    assert result["changed"] and not result["failed"], result
    assert sorted(raw_image(admin, image_id)["stores"].split(",")) == ["cheap", "fast"]
    assert not run_module("glance_image_data", args, cloud="admin")["changed"]
    assert not run_module(
        "glance_image_data", {"image": image_id, "method": "copy-image", "all_stores": True}, cloud="admin"
    )["changed"]

    # A member may not copy: Glance's policy refuses, and the message says so.
    own = new_image(demo, prefix + "copy-demo")
    assert run_module("glance_image_data", {"image": own, "src": str(path)})["changed"]
    result = run_module("glance_image_data", {"image": own, "method": "copy-image", "stores": ["cheap"]})
    assert result["failed"] and "copy-image" in result["msg"] and "403" in result["msg"], result["msg"]


def test_decompress_on_the_fly(run_module, sdk, prefix, payload, tmp_path):
    conn = sdk("demo")
    path, data = payload
    packed = tmp_path / "disk.raw.gz"
    with gzip.open(packed, "wb") as handle:
        handle.write(data)
    image_id = new_image(conn, prefix + "gz")
    args = {
        "image": image_id,
        "src": str(packed),
        "decompress": True,
        "method": "glance-direct",
        "checksum": "sha512:" + sha512(data),
    }
    result = run_module("glance_image_data", args)
    assert result["changed"] and not result["failed"], result
    raw = raw_image(conn, image_id)
    assert raw["os_hash_value"] == sha512(data) and raw["size"] == len(data)
    assert not run_module("glance_image_data", args)["changed"]


def test_download(run_module, sdk, prefix, payload, proxied, tmp_path):
    conn = sdk("demo")
    path, data = payload
    image_id = new_image(conn, prefix + "down")
    assert run_module("glance_image_data", {"image": image_id, "src": str(path)})["changed"]
    out = tmp_path / "out"
    out.mkdir()
    dest = out / "copy.raw"
    args = {"image": prefix + "down", "dest": str(dest), "mode": "0640"}

    result = run_module("glance_image_data", args, check=True)
    assert result["changed"] and not dest.exists()
    result = run_module("glance_image_data", args)
    assert result["changed"] and not result["failed"], result
    assert dest.read_bytes() == data and oct(dest.stat().st_mode & 0o777) == "0o640"
    assert result["hash_value"] == sha512(data) and result["bytes"] == len(data)
    assert not run_module("glance_image_data", args)["changed"]
    # A corrupted copy is replaced.
    dest.write_bytes(b"corrupt")
    assert run_module("glance_image_data", args)["changed"]
    assert dest.read_bytes() == data
    assert leftovers(out) == []

    # With retries: 0 an interrupted download fails, and leaves dest as it was and no partial file (resuming is
    # test_live_faults.py's).
    dest.write_bytes(b"previous")
    proxy, cloud = proxied(reset_after_response_bytes=1024 * 1024)
    with proxy:
        result = run_module("glance_image_data", dict(args, cloud=cloud, retries=0), cloud=None)
        assert proxy.resets >= 1
    assert result["failed"] and image_id in result["msg"] and "left as it was" in result["msg"], result
    assert dest.read_bytes() == b"previous" and leftovers(out) == []
    assert run_module("glance_image_data", args)["changed"] and dest.read_bytes() == data


def test_a_deactivated_image_downloads_for_admins_only(run_module, sdk, prefix, payload, tmp_path):
    """As Glance has it: the owner, not an admin, gets a 403 that says "deactivated"; an admin gets the bytes,
    verified. Check mode predicts both."""
    conn = sdk("demo")
    path, data = payload
    image_id = new_image(conn, prefix + "deactivated")
    assert run_module("glance_image_data", {"image": image_id, "src": str(path)})["changed"]
    conn.image.post("/images/%s/actions/deactivate" % image_id)
    out = tmp_path / "out"
    out.mkdir()
    as_owner = {"image": image_id, "dest": str(out / "owner.raw")}
    as_admin = {"image": image_id, "dest": str(out / "admin.raw"), "cloud": "admin"}
    predicted = run_module.many("glance_image_data", [as_owner, as_admin], check=True)
    done = run_module.many("glance_image_data", [as_owner, as_admin])
    for owner, admin in (predicted, done):
        assert owner["failed"] and owner["status_code"] == 403, owner
        # Our words, not Glance's ("The requested image has been deactivated"): the user learns the way out.
        assert "is deactivated: Glance lets only admins download" in owner["msg"] and image_id in owner["msg"], owner
        assert not admin["failed"] and admin["changed"], admin.get("msg")
    assert predicted[1]["bytes"] == 0 and done[1]["hash_value"] == sha512(data)
    assert (out / "admin.raw").read_bytes() == data
    assert sorted(os.listdir(out)) == ["admin.raw"], "the refused download left a file"


def test_staged_data_is_imported_not_waited_for(run_module, sdk, prefix, payload):
    """Data staged by an earlier run that never started the import (a 503 on the import call does that): the task
    imports it and checks it against src, in seconds rather than its timeout. Staged data that is not src is
    refused at once."""
    conn = sdk("demo")
    path, data = payload
    staged, other = new_image(conn, prefix + "staged"), new_image(conn, prefix + "other")
    for image_id, body in ((staged, data), (other, data[:-1])):
        conn.image.put("/images/%s/stage" % image_id, data=body, headers={"Content-Type": "application/octet-stream"})
        assert raw_image(conn, image_id)["status"] == "uploading"
    calls = [{"image": staged, "src": str(path), "timeout": 900}, {"image": other, "src": str(path), "timeout": 900}]
    predicted = run_module.many("glance_image_data", calls, check=True)
    started = time.monotonic()
    done = run_module.many("glance_image_data", calls)
    elapsed = time.monotonic() - started
    for result in (predicted[0], done[0]):
        assert result["changed"] and not result["failed"] and result["image"]["status"] == "active", result
    assert elapsed < 120, "the task waited instead of importing (%.0f s)" % elapsed
    raw = raw_image(conn, staged)
    assert raw["status"] == "active" and raw["os_hash_value"] == sha512(data) == done[0]["hash_value"]
    for result in (predicted[1], done[1]):
        assert result["failed"] and "staged bytes that were never imported" in result["msg"], result
        assert "src has %d bytes" % len(data) in result["msg"] and other in result["msg"]
    assert raw_image(conn, other)["status"] == "uploading"
    assert not run_module("glance_image_data", {"image": staged, "src": str(path)})["changed"]


def test_credentials_in_urls_never_show(run_module, sdk, prefix, payload, tmp_path):
    """A password in url and the signature parameters of pre-signed URLs are masked in results and in Glance's
    own refusals (which quote the URL); the session's secret scan looks for them in every output too."""
    conn = sdk("demo")
    path, data = payload
    secrets = ["pw-" + uuid.uuid4().hex, "sig-" + uuid.uuid4().hex, "amz-" + uuid.uuid4().hex]
    SECRETS.update(secrets)
    refused, imported, fetched = (new_image(conn, prefix + name) for name in ("refused", "signed", "userinfo"))
    with file_server(path.parent) as base:
        host_port = base.split("://", 1)[1]
        calls = [
            # localhost is not among Glance's allowed hosts: Glance refuses it, quoting the URL.
            {"image": refused, "url": "http://user:%s@localhost:1/%s" % (secrets[0], path.name)},
            {
                "image": imported,
                "url": "%s/%s?temp_url_sig=%s&X-Amz-Signature=%s" % (base, path.name, secrets[1], secrets[2]),
            },
            # Glance takes this one, and its import task may fail on the user info: either way, nothing shows.
            {"image": fetched, "url": "http://user:%s@%s/%s" % (secrets[0], host_port, path.name), "timeout": 120},
        ]
        results = run_module.many("glance_image_data", calls)
    assert results[0]["failed"] and "filtering" in results[0]["msg"] and "user:********@localhost" in results[0]["msg"]
    assert not results[1]["failed"] and results[1]["changed"], results[1].get("msg")
    assert results[1]["url"].count("********") == 2 and raw_image(conn, imported)["os_hash_value"] == sha512(data)
    for result in results:
        text = json.dumps(result)
        assert not [secret for secret in secrets if secret in text], text
    print("web-download with user info:", results[2].get("msg") or results[2]["image"]["status"])


def feed(fifo, data, seconds=120):
    """Write ``data`` into ``fifo`` once a reader opens it (a build piped in); give up after ``seconds``."""

    def write():
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                handle = os.open(str(fifo), os.O_WRONLY | os.O_NONBLOCK)
            except OSError:  # ENXIO: nobody reads yet
                time.sleep(0.1)
                continue
            os.set_blocking(handle, True)
            try:
                with os.fdopen(handle, "wb") as out:
                    out.write(data)
            except BrokenPipeError:  # the reader refused it half-way
                pass
            return

    threading.Thread(target=write, daemon=True).start()


@contextlib.contextmanager
def loop_device(path):
    """``path`` as a block device (losetup), or None where this machine cannot attach one."""
    attached = subprocess.run(["losetup", "-f", "--show", str(path)], capture_output=True, text=True, check=False)
    device = attached.stdout.strip() if attached.returncode == 0 else None
    try:
        yield device
    finally:
        if device:
            subprocess.run(["losetup", "-d", device], check=False)


def test_streams_and_block_devices_as_src(run_module, sdk, prefix, payload, tmp_path):
    """A FIFO is sent chunked, inspected from its own first blocks and hashed on the way; a block device is read
    to the size the device reports. Again, the block device is compared and the stream is not, and says so."""
    conn = sdk("demo")
    path, data = payload
    piped, wrong, block = (new_image(conn, prefix + name) for name in ("piped", "wrong", "block"))
    conn.image.patch(
        "/images/%s" % wrong,
        json=[{"op": "replace", "path": "/disk_format", "value": "qcow2"}],
        headers={"Content-Type": "application/openstack-images-v2.1-json-patch"},
    )
    fifos = [tmp_path / "build.fifo", tmp_path / "wrong.fifo"]
    for fifo in fifos:
        os.mkfifo(str(fifo))
        feed(fifo, data)
    # A loop device holds whole 512-byte sectors.
    sectors = data[: len(data) // 4096 * 4096]
    (tmp_path / "volume.raw").write_bytes(sectors)
    with loop_device(tmp_path / "volume.raw") as device:
        if device is None:
            pytest.fail("losetup cannot attach a loop device here; the block-device case needs one")
        calls = [
            {"image": piped, "src": str(fifos[0]), "checksum": "sha512:" + sha512(data)},
            {"image": wrong, "src": str(fifos[1])},
            {"image": block, "src": device},
        ]
        first = run_module.many("glance_image_data", calls)
        again = run_module.many("glance_image_data", [calls[0], calls[2]])
    assert first[0]["changed"] and first[0]["bytes"] == len(data) and first[0]["hash_value"] == sha512(data), first[0]
    # Refused from the stream's own first blocks, before Glance gets any of it (Glance would refuse it too).
    assert first[1]["failed"] and "is raw, not qcow2 as declared" in first[1]["msg"] and wrong in first[1]["msg"]
    assert first[2]["changed"] and first[2]["bytes"] == len(sectors), first[2]
    for image_id, body in ((piped, data), (block, sectors)):
        raw = raw_image(conn, image_id)
        assert raw["status"] == "active" and raw["size"] == len(body) and raw["os_hash_value"] == sha512(body)
    assert raw_image(conn, wrong)["status"] == "queued"
    assert not again[0]["changed"] and not again[0]["failed"] and not again[1]["changed"], again
    warned = " ".join(again[0].get("warnings") or [again[0]["_output"]])
    assert "is a stream, which can only be read once" in warned and "not compared" in warned


def test_bad_paths_are_clear_errors(run_module, sdk, prefix, payload, tmp_path):
    """OS errors on dest and progress_file name the path and the reason; nothing is left behind."""
    conn = sdk("demo")
    path, data = payload
    image_id = new_image(conn, prefix + "paths")
    out = tmp_path / "out"
    out.mkdir()
    assert run_module("glance_image_data", {"image": image_id, "src": str(path)})["changed"]
    cases = [
        ({"dest": "/proc/version"}, "cannot write dest /proc/version: "),
        ({"dest": "/dev/null"}, "dest /dev/null exists and is not a regular file"),
        (
            {"dest": str(tmp_path / "x.raw"), "progress_file": str(tmp_path / "no" / "p.json")},
            "cannot write progress_file",
        ),
    ]
    results = run_module.many("glance_image_data", [dict(args, image=image_id) for args, dummy in cases])
    for (args, words), result in zip(cases, results):
        assert result["failed"] and words in result["msg"], (args, result.get("msg"))
        assert "unexpectedly" not in result["msg"]
    assert os.listdir(out) == []


def test_refusals(run_module, sdk, prefix, payload, tmp_path):
    conn = sdk("demo")
    path, data = payload
    image_id = new_image(conn, prefix + "refuse")
    nothing = new_image(conn, prefix + "noformat", disk_format=None, container_format=None)
    unix_socket = socket.socket(socket.AF_UNIX)
    unix_socket.bind(str(tmp_path / "sock"))
    cases = [
        ({"image": image_id, "src": str(tmp_path / "missing.raw")}, "does not exist"),
        ({"image": image_id, "src": str(tmp_path)}, "is a directory"),
        ({"image": image_id, "src": str(tmp_path / "sock")}, "not a regular file"),
        ({"image": prefix + "unknown", "src": str(path)}, "no image named %r matches" % (prefix + "unknown")),
        ({"image": image_id, "src": str(path), "stores": ["nowhere"]}, "unknown store(s) nowhere; this Glance has"),
        ({"image": image_id, "src": str(path), "stores": ["fast", "cheap"]}, "use glance-direct"),
        ({"image": nothing, "src": str(path)}, "with osimages.glance.glance_image before uploading"),
        ({"image": image_id, "dest": str(tmp_path / "no" / "such" / "dir" / "f")}, "does not exist"),
        ({"image": image_id}, "give src to upload"),
    ]
    results = run_module.many("glance_image_data", [args for args, dummy in cases])
    for (args, words), result in zip(cases, results):
        assert result["failed"] and words in result["msg"], (args, result.get("msg"))
    unix_socket.close()
    assert raw_image(conn, image_id)["status"] == "queued"


def _hostile_file(kind, tmp_path):
    """(path, the image's disk_format, text expected in the refusal) for each hostile upload."""
    secret = tmp_path / "host-secret"
    secret.write_bytes(b"must never reach Glance\n" * 100)
    path = tmp_path / ("hostile-" + kind)
    if kind == "backing-file":
        subprocess.run(
            ["qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", str(secret), str(path)], check=True
        )
        return path, "qcow2", "backing_file"
    if kind == "data-file":
        subprocess.run(
            ["qemu-img", "create", "-q", "-f", "qcow2", "-o", "data_file=%s" % (tmp_path / "data"), str(path), "1M"],
            check=True,
        )
        return path, "qcow2", "data_file"
    if kind == "vmdk-extent":
        path.write_text(
            "# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\n"
            'createType="monolithicSparse"\nRW 2048 SPARSE "%s"\n' % secret
        )
        return path, "vmdk", "refusing"
    if kind == "qcow2-as-raw":
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(path), "1M"], check=True)
        return path, "raw", "is qcow2, not raw as declared"
    raise AssertionError(kind)


HOSTILE_KINDS = ("backing-file", "data-file", "vmdk-extent", "qcow2-as-raw")


def test_hostile_files_are_refused_before_upload(run_module, sdk, prefix, tmp_path):
    """Each kind of hostile file, by each upload method: refused, and refused again with skip_format_check."""
    conn = sdk("demo")
    cases = []
    for kind in HOSTILE_KINDS:
        path, disk_format, expected = _hostile_file(kind, tmp_path)
        for method in ("direct", "glance-direct"):
            image_id = new_image(conn, "%shostile-%s-%s" % (prefix, kind, method), disk_format=disk_format)
            args = {"image": image_id, "src": str(path), "method": method}
            cases.append((args, expected))
            cases.append((dict(args, skip_format_check=True), "only for formats the inspector cannot read"))
    results = run_module.many("glance_image_data", [args for args, dummy in cases])
    for (args, expected), result in zip(cases, results):
        assert result["failed"] and expected in result["msg"], (args, result.get("msg"))
    for args, dummy in cases:
        raw = raw_image(conn, args["image"])
        assert raw["status"] == "queued" and raw["size"] is None, "bytes reached Glance: %s" % args


def test_uninspectable_formats_need_skip_format_check(run_module, sdk, prefix, tmp_path):
    conn = sdk("demo")
    kernel = tmp_path / "vmlinuz"
    kernel.write_bytes(os.urandom(64 * 1024))
    image_id = new_image(conn, prefix + "kernel", disk_format="aki", container_format="aki")
    refused, done = run_module.many(
        "glance_image_data",
        [{"image": image_id, "src": str(kernel)}, {"image": image_id, "src": str(kernel), "skip_format_check": True}],
    )
    assert refused["failed"] and "skip_format_check: true" in refused["msg"]
    assert not done["failed"] and raw_image(conn, image_id)["status"] == "active"


def test_a_compressed_file_is_inspected_after_decompression(run_module, sdk, prefix, tmp_path):
    conn = sdk("demo")
    qcow2 = tmp_path / "disk.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(qcow2), "1M"], check=True)
    packed = tmp_path / "disk.qcow2.gz"
    packed.write_bytes(gzip.compress(qcow2.read_bytes()))
    raw_id = new_image(conn, prefix + "claims-raw")
    qcow2_id = new_image(conn, prefix + "qcow2", disk_format="qcow2")
    refused, done = run_module.many(
        "glance_image_data",
        [
            {"image": raw_id, "src": str(packed), "decompress": True},
            {"image": qcow2_id, "src": str(packed), "decompress": True},
        ],
    )
    assert refused["failed"] and "is qcow2, not raw" in refused["msg"]
    assert not done["failed"], done
    assert raw_image(conn, qcow2_id)["status"] == "active"
