"""glance_image_data against the real local cloud: every method, store option and failure."""
import functools
import gzip
import hashlib
import http.server
import json
import os
import socket
import subprocess
import threading

import pytest
from faultproxy import FaultProxy
from harness import raw_image


def sha512(data):
    return hashlib.sha512(data).hexdigest()


def new_image(conn, name, **attrs):
    body = {"name": name, "disk_format": "raw", "container_format": "bare", "visibility": "private"}
    body.update(attrs)
    response = conn.image.post("/images", json=body)
    assert response.status_code == 201, response.text
    return response.json()["id"]


@pytest.fixture
def payload(tmp_path):
    data = os.urandom(3 * 1024 * 1024 + 12345)
    path = tmp_path / "disk.raw"
    path.write_bytes(data)
    return path, data


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
    assert result["diff"] == {"before": {"status": "queued", "stores": []},
                              "after": {"status": "active", "stores": []}}
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
    for method in ("direct", "glance-direct"):
        result = run_module("glance_image_data", {"image": image_id, "src": str(path), "checksum": wrong,
                                                  "method": method})
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


@pytest.fixture
def web_server(tmp_path):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield "http://127.0.0.1:%d" % server.server_address[1]
    server.shutdown()


def test_web_download(run_module, sdk, prefix, payload, web_server):
    conn = sdk("demo")
    path, data = payload
    image_id = new_image(conn, prefix + "web")
    args = {"image": image_id, "url": "%s/%s" % (web_server, path.name), "checksum": "sha512:" + sha512(data)}
    result = run_module("glance_image_data", args)
    assert result["changed"] and not result["failed"], result
    raw = raw_image(conn, image_id)
    assert raw["status"] == "active" and raw["os_hash_value"] == sha512(data)
    assert not run_module("glance_image_data", args)["changed"]
    # A checksum that does not match what Glance fetched is an error, even afterwards.
    result = run_module("glance_image_data", dict(args, checksum="sha512:" + sha512(b"nope")))
    assert result["failed"] and "different bytes" in result["msg"]


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
    assert not run_module("glance_image_data", {"image": image_id, "method": "copy-image", "all_stores": True},
                          cloud="admin")["changed"]

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
    args = {"image": image_id, "src": str(packed), "decompress": True, "method": "glance-direct",
            "checksum": "sha512:" + sha512(data)}
    result = run_module("glance_image_data", args)
    assert result["changed"] and not result["failed"], result
    raw = raw_image(conn, image_id)
    assert raw["os_hash_value"] == sha512(data) and raw["size"] == len(data)
    assert not run_module("glance_image_data", args)["changed"]


def test_download(run_module, sdk, prefix, payload, tmp_path):
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

    # An interrupted download leaves dest as it was, and no partial file.
    dest.write_bytes(b"previous")
    config = json.loads(open(os.environ["OS_CLIENT_CONFIG_FILE"]).read())["clouds"]["demo"]
    glance_port = int(conn.image.get_endpoint().rstrip("/").rsplit(":", 1)[1].split("/")[0])
    with FaultProxy(glance_port, reset_after_response_bytes=1024 * 1024) as proxy:
        # The override is the service root: version discovery finds /v2 behind the proxy too.
        cloud = dict(config, image_endpoint_override="http://127.0.0.1:%d/" % proxy.port)
        result = run_module("glance_image_data", dict(args, cloud=cloud), cloud=None)
        assert proxy.resets >= 1
    assert result["failed"] and image_id in result["msg"] and "left as it was" in result["msg"], result
    assert dest.read_bytes() == b"previous" and leftovers(out) == []
    assert run_module("glance_image_data", args)["changed"] and dest.read_bytes() == data

    # A deactivated image cannot be downloaded, and no file appears.
    conn.image.post("/images/%s/actions/deactivate" % image_id)
    fresh = out / "fresh.raw"
    result = run_module("glance_image_data", {"image": image_id, "dest": str(fresh)})
    assert result["failed"] and "deactivated" in result["msg"] and not fresh.exists()
    assert leftovers(out) == []


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
        ({"image": prefix + "unknown", "src": str(path)}, "was not found"),
        ({"image": image_id, "src": str(path), "stores": ["nowhere"]}, "unknown store(s) nowhere; this Glance has"),
        ({"image": image_id, "src": str(path), "stores": ["fast", "cheap"]}, "use glance-direct"),
        ({"image": nothing, "src": str(path)}, "with osimages.glance.glance_image before uploading"),
        ({"image": image_id, "dest": str(tmp_path / "no" / "such" / "dir" / "f")}, "does not exist"),
        ({"image": image_id}, "give src to upload"),
    ]
    for args, words in cases:
        result = run_module("glance_image_data", args)
        assert result["failed"] and words in result["msg"], (args, result.get("msg"))
    unix_socket.close()
    assert raw_image(conn, image_id)["status"] == "queued"


def _hostile_file(kind, tmp_path):
    """(path, the image's disk_format, text expected in the refusal) for each hostile upload."""
    secret = tmp_path / "host-secret"
    secret.write_bytes(b"must never reach Glance\n" * 100)
    path = tmp_path / ("hostile-" + kind)
    if kind == "backing-file":
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", str(secret), str(path)],
                       check=True)
        return path, "qcow2", "backing_file"
    if kind == "data-file":
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-o", "data_file=%s" % (tmp_path / "data"),
                        str(path), "1M"], check=True)
        return path, "qcow2", "data_file"
    if kind == "vmdk-extent":
        path.write_text('# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\n'
                        'createType="monolithicSparse"\nRW 2048 SPARSE "%s"\n' % secret)
        return path, "vmdk", "refusing"
    if kind == "qcow2-as-raw":
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(path), "1M"], check=True)
        return path, "raw", "is qcow2, not raw as declared"
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["backing-file", "data-file", "vmdk-extent", "qcow2-as-raw"])
@pytest.mark.parametrize("method", ["direct", "glance-direct"])
def test_hostile_files_are_refused_before_upload(kind, method, run_module, sdk, prefix, tmp_path):
    conn = sdk("demo")
    path, disk_format, expected = _hostile_file(kind, tmp_path)
    image_id = new_image(conn, prefix + "hostile", disk_format=disk_format)
    result = run_module("glance_image_data", {"image": image_id, "src": str(path), "method": method})
    assert result["failed"] and expected in result["msg"], result
    raw = raw_image(conn, image_id)
    assert raw["status"] == "queued" and raw["size"] is None, "bytes reached Glance"

    skipped = run_module("glance_image_data", {"image": image_id, "src": str(path), "method": method,
                                               "skip_format_check": True})
    assert skipped["failed"] and "only for formats the inspector cannot read" in skipped["msg"]
    assert raw_image(conn, image_id)["status"] == "queued"


def test_uninspectable_formats_need_skip_format_check(run_module, sdk, prefix, tmp_path):
    conn = sdk("demo")
    kernel = tmp_path / "vmlinuz"
    kernel.write_bytes(os.urandom(64 * 1024))
    image_id = new_image(conn, prefix + "kernel", disk_format="aki", container_format="aki")
    refused = run_module("glance_image_data", {"image": image_id, "src": str(kernel)})
    assert refused["failed"] and "skip_format_check: true" in refused["msg"]
    done = run_module("glance_image_data", {"image": image_id, "src": str(kernel), "skip_format_check": True})
    assert not done["failed"] and raw_image(conn, image_id)["status"] == "active"


def test_a_compressed_file_is_inspected_after_decompression(run_module, sdk, prefix, tmp_path):
    conn = sdk("demo")
    qcow2 = tmp_path / "disk.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(qcow2), "1M"], check=True)
    packed = tmp_path / "disk.qcow2.gz"
    packed.write_bytes(gzip.compress(qcow2.read_bytes()))
    raw_id = new_image(conn, prefix + "claims-raw")
    refused = run_module("glance_image_data", {"image": raw_id, "src": str(packed), "decompress": True})
    assert refused["failed"] and "is qcow2, not raw" in refused["msg"]
    qcow2_id = new_image(conn, prefix + "qcow2", disk_format="qcow2")
    done = run_module("glance_image_data", {"image": qcow2_id, "src": str(packed), "decompress": True})
    assert not done["failed"], done
    assert raw_image(conn, qcow2_id)["status"] == "active"
