"""Faults injected on purpose between the modules and Glance (tests/integration/faultproxy.py).

Outcome rule: a module either succeeds with the right result, or fails with a clear message and
leaves nothing half-made; never an active image with wrong or partial data, never a partial file.
"""

import contextlib
import os

import pytest

from harness import PAYLOAD_SIZE
from harness import new_image
from harness import raw_image
from harness import sha512

# 20 reset points spread over an upload of PAYLOAD_SIZE bytes (the request head comes first).
UPLOAD_OFFSETS = [1000 + index * (PAYLOAD_SIZE // 20) for index in range(20)]
# The three that both cells run: in the request's first bytes, halfway, near the end.
HEAD_MIDDLE_TAIL = [UPLOAD_OFFSETS[0], UPLOAD_OFFSETS[10], UPLOAD_OFFSETS[-1]]
DOWNLOAD_OFFSETS = [200, 64 * 1024, 1024 * 1024, 3 * 1024 * 1024, PAYLOAD_SIZE - 10000]


def test_transient_unavailability_is_retried_and_reported(run_module, proxied, prefix):
    proxy, cloud = proxied(unavailable_requests=2)
    with proxy:
        result = run_module("glance_image", {"name": prefix + "retried", "cloud": cloud}, cloud=None)
    assert not result["failed"], result
    assert proxy.refused == 2
    # Each retry is a warning (ansible-core 2.19 prints warnings instead of keeping them in the result).
    warnings = result.get("warnings") or [line for line in result["_output"].splitlines() if "WARNING" in line]
    assert sum("HTTP 503" in line and "retrying in" in line for line in warnings) == 2, warnings

    proxy, cloud = proxied(unavailable_requests=100)
    with proxy:
        result = run_module("glance_image_info", {"image": prefix + "retried", "cloud": cloud}, cloud=None)
    assert result["failed"] and "Glance answered HTTP 503" in result["msg"]
    assert proxy.refused == 4, "one try and three retries, then the error stands"


def uploads_reset_once(run_module, proxied, conn, prefix, payload, offsets):
    """One upload per offset, each through its own proxy that resets it once there, run as one playbook: each
    starts again from byte 0 and ends active with the right hash. One more, at the middle offset with retries: 0,
    fails as it always did, leaves the image queued, and a re-run completes it. No other image is left behind."""
    path, data = payload
    offsets = offsets + [offsets[len(offsets) // 2]]
    image_ids = [new_image(conn, "%supload-%d" % (prefix, index)) for index in range(len(offsets))]
    with contextlib.ExitStack() as stack:
        calls, proxies = [], []
        for image_id, offset in zip(image_ids, offsets):
            proxy, cloud = proxied(reset_after_request_bytes=offset, max_resets=1)
            proxies.append(stack.enter_context(proxy))
            calls.append({"image": image_id, "src": str(path), "cloud": cloud, "checksum": "sha512:" + sha512(data)})
        calls[-1]["retries"] = 0
        results = run_module.many("glance_image_data", calls, cloud=None)
    for image_id, offset, proxy, result in zip(image_ids[:-1], offsets, proxies, results):
        assert not result["failed"], (offset, result["msg"])
        assert proxy.resets == 1 and result["retries"] >= 1 and result["bytes"] == len(data), (offset, result)
        assert result["hash_value"] == sha512(data)
    told = results[-1]
    assert told["failed"] and image_ids[-1] in told["msg"] and "run the task again" in told["msg"], told
    assert raw_image(conn, image_ids[-1])["status"] == "queued"
    assert not run_module("glance_image_data", {"image": image_ids[-1], "src": str(path)})["failed"]
    for image_id in image_ids:
        raw = raw_image(conn, image_id)
        assert raw["status"] == "active" and raw["os_hash_value"] == sha512(data) and raw["size"] == len(data)
    mine = [image for image in conn.image.images(owner=conn.current_project_id) if image.name.startswith(prefix)]
    assert len(mine) == len(offsets), "orphaned images: %s" % sorted(image.name for image in mine)


def test_uploads_reset_in_the_head_middle_and_tail_are_retried(run_module, proxied, sdk, prefix, payload):
    """How a reset reaches the module varies with openstacksdk and keystoneauth (a reset, or Glance's HTTP 500 for
    the broken body), so both cells run this one: a reset in the request's first bytes, one halfway, one near the
    end."""
    uploads_reset_once(run_module, proxied, sdk("demo"), prefix, payload, HEAD_MIDDLE_TAIL)


@pytest.mark.long(100)
@pytest.mark.newest_only
def test_uploads_reset_at_every_other_offset_are_retried(run_module, proxied, sdk, prefix, payload):
    """The other 17 of the 20 offsets: where the reset falls is Glance's and the proxy's business, not the
    matrix's, so the newest cell alone covers them."""
    offsets = [offset for offset in UPLOAD_OFFSETS if offset not in HEAD_MIDDLE_TAIL]
    uploads_reset_once(run_module, proxied, sdk("demo"), prefix, payload, offsets)


def test_glance_answers_ranges_with_206(sdk, prefix, payload):
    """The download resume below rests on this: Glance serves a byte range of an image's data."""
    conn = sdk("demo")
    path, data = payload
    image_id = new_image(conn, prefix + "range")
    conn.image.put("/images/%s/file" % image_id, data=data, headers={"Content-Type": "application/octet-stream"})
    response = conn.image.get("/images/%s/file" % image_id, headers={"Range": "bytes=1000-"})
    assert response.status_code == 206 and response.content == data[1000:]


def test_broken_downloads_resume_and_never_leave_a_partial_file(run_module, proxied, sdk, prefix, payload, tmp_path):
    """Downloads reset once at several offsets resume from the last byte written and land the right bytes; with
    retries: 0 they fail, leaving the previous file as it was and no partial file."""
    conn = sdk("demo")
    path, data = payload
    image_id = new_image(conn, prefix + "download")
    assert not run_module("glance_image_data", {"image": image_id, "src": str(path)})["failed"]
    folders = [tmp_path / "resumed", tmp_path / "refused"]
    # A reset 200 bytes in hits version discovery, not the data: it can only be refused, not resumed.
    offsets = {3: DOWNLOAD_OFFSETS[1:], 0: DOWNLOAD_OFFSETS}
    with contextlib.ExitStack() as stack:
        proxies, calls = [], []
        for folder, retries in zip(folders, (3, 0)):
            folder.mkdir()
            (folder / "previous.raw").write_bytes(b"previous")
            for offset in offsets[retries]:
                proxy, cloud = proxied(reset_after_response_bytes=offset, max_resets=1)
                proxies.append(stack.enter_context(proxy))
                dest = folder / ("previous.raw" if retries == 0 else "copy-%d.raw" % offset)
                calls.append({"image": image_id, "dest": str(dest), "cloud": cloud, "retries": retries})
        results = run_module.many("glance_image_data", calls, cloud=None)
    resumed, refused = results[: len(offsets[3])], results[len(offsets[3]) :]
    for offset, proxy, result in zip(offsets[3], proxies, resumed):
        assert not result["failed"] and proxy.resets == 1 and result["retries"] == 1, (offset, result)
        assert result["bytes"] == len(data) and (folders[0] / ("copy-%d.raw" % offset)).read_bytes() == data, offset
    for offset, result in zip(offsets[0], refused):
        assert result["failed"] and "Traceback" not in result["msg"], (offset, result)
    assert (folders[1] / "previous.raw").read_bytes() == b"previous"
    assert sorted(os.listdir(folders[1])) == ["previous.raw"], "a partial file was left behind"
