"""Faults injected on purpose between the modules and Glance (tests/integration/faultproxy.py).

Outcome rule: a module either succeeds with the right result, or fails with a clear message and
leaves nothing half-made; never an active image with wrong or partial data, never a partial file.
"""

import contextlib
import os

from harness import PAYLOAD_SIZE
from harness import new_image
from harness import raw_image
from harness import sha512

# 20 reset points spread over an upload of PAYLOAD_SIZE bytes (the request head comes first).
UPLOAD_OFFSETS = [1000 + index * (PAYLOAD_SIZE // 20) for index in range(20)]
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


def test_twenty_resets_during_uploads_leave_no_corrupt_or_orphaned_image(run_module, proxied, sdk, prefix, payload):
    """20 uploads, each through its own proxy that resets it at another offset, run as one playbook; then the
    failed ones again without a fault."""
    conn = sdk("demo")
    path, data = payload
    image_ids = [new_image(conn, "%supload-%d" % (prefix, offset)) for offset in UPLOAD_OFFSETS]
    with contextlib.ExitStack() as stack:
        calls = []
        for image_id, offset in zip(image_ids, UPLOAD_OFFSETS):
            proxy, cloud = proxied(reset_after_request_bytes=offset)
            stack.enter_context(proxy)
            calls.append({"image": image_id, "src": str(path), "cloud": cloud, "checksum": "sha512:" + sha512(data)})
        results = run_module.many("glance_image_data", calls, cloud=None)
    outcomes = {"active and correct": 0, "failed, left queued": 0}
    again = []
    for image_id, offset, result in zip(image_ids, UPLOAD_OFFSETS, results):
        raw = raw_image(conn, image_id)
        if result["failed"]:
            assert image_id in result["msg"] or "upload" in result["msg"], result["msg"]
            # Glance resets a failed upload; give it a moment if it is still saving.
            for dummy in range(30):
                if raw["status"] != "saving":
                    break
                raw = raw_image(conn, image_id)
            assert raw["status"] == "queued" and not raw.get("os_hash_value"), (offset, raw["status"])
            outcomes["failed, left queued"] += 1
            again.append(image_id)
        else:
            assert raw["status"] == "active", (offset, raw["status"])
            outcomes["active and correct"] += 1
    # A re-run without the fault completes every failed one.
    for result in run_module.many("glance_image_data", [{"image": image_id, "src": str(path)} for image_id in again]):
        assert not result["failed"], result
    for image_id in image_ids:
        raw = raw_image(conn, image_id)
        assert raw["status"] == "active" and raw["os_hash_value"] == sha512(data) and raw["size"] == len(data)
    assert sum(outcomes.values()) == 20 and outcomes["failed, left queued"] >= 1, outcomes
    print("upload faults:", outcomes)


def test_resets_during_downloads_never_leave_a_partial_file(run_module, proxied, sdk, prefix, payload, tmp_path):
    conn = sdk("demo")
    path, data = payload
    image_id = new_image(conn, prefix + "download")
    assert not run_module("glance_image_data", {"image": image_id, "src": str(path)})["failed"]
    dest = tmp_path / "out" / "copy.raw"
    dest.parent.mkdir()
    dest.write_bytes(b"previous")
    with contextlib.ExitStack() as stack:
        proxies, calls = [], []
        for offset in DOWNLOAD_OFFSETS:
            proxy, cloud = proxied(reset_after_response_bytes=offset)
            proxies.append(stack.enter_context(proxy))
            calls.append({"image": image_id, "dest": str(dest), "cloud": cloud})
        results = run_module.many("glance_image_data", calls, cloud=None)
    for offset, proxy, result in zip(DOWNLOAD_OFFSETS, proxies, results):
        assert result["failed"] and proxy.resets >= 1, (offset, result)
    assert dest.read_bytes() == b"previous"
    assert sorted(os.listdir(dest.parent)) == ["copy.raw"], "a partial file was left behind"
    result = run_module("glance_image_data", {"image": image_id, "dest": str(dest)})
    assert not result["failed"] and dest.read_bytes() == data
