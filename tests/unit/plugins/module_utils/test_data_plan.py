"""The data plan of glance_image_data, as tables of (image, request) -> action, preview or refusal."""

import pytest

from ansible_collections.osimages.glance.plugins.module_utils import _data_plan as dp
from ansible_collections.osimages.glance.plugins.module_utils._data_plan import MIB
from ansible_collections.osimages.glance.plugins.module_utils._data_plan import DataRequest
from ansible_collections.osimages.glance.plugins.module_utils._data_plan import data_request
from ansible_collections.osimages.glance.plugins.module_utils._data_plan import import_outcome
from ansible_collections.osimages.glance.plugins.module_utils._data_plan import latest_task
from ansible_collections.osimages.glance.plugins.module_utils._data_plan import needs_local_digest
from ansible_collections.osimages.glance.plugins.module_utils._data_plan import plan_data
from ansible_collections.osimages.glance.plugins.module_utils._data_plan import quota_shortfall
from ansible_collections.osimages.glance.plugins.module_utils._errors import Forbidden
from ansible_collections.osimages.glance.plugins.module_utils._errors import GlanceError
from ansible_collections.osimages.glance.plugins.module_utils._errors import ValidationError
from ansible_collections.osimages.glance.plugins.module_utils._reconcile import normalize

RAW = {
    "id": "11111111-2222-3333-4444-555555555555",
    "name": "debian",
    "status": "active",
    "disk_format": "raw",
    "container_format": "bare",
    "size": 1024,
    "os_hash_algo": "sha512",
    "os_hash_value": "def",
    "stores": "fast",
}


def image(**changes):
    return normalize(dict(RAW, **changes))


def request(method="direct", **facts):
    return dict(dict(method=method, stores=[], wait=True), **facts)


FAILED_TASK = {"status": "failure", "message": "the staging file is gone", "created_at": "2026-12-02T10:00:00Z"}


def remote(**source_changes):
    """A glance-download request whose source image (in RegionOne) is RAW with ``source_changes``."""
    return request("glance-download", source=image(**source_changes), source_region="RegionOne")


@pytest.mark.parametrize(
    "changes, req, action",
    [
        # No data yet: each method's own way in.
        ({"status": "queued", "size": None}, request("direct"), dp.UPLOAD),
        ({"status": "queued", "size": None}, request("glance-direct"), dp.STAGE_AND_IMPORT),
        ({"status": "queued", "size": None}, request("web-download"), dp.WEB_IMPORT),
        # Staged by an earlier run that never started the import: import it, whatever the method asked.
        ({"status": "uploading"}, request("glance-direct", local_size=1024), dp.IMPORT_STAGED),
        ({"status": "uploading"}, request("direct", local_size=1024), dp.IMPORT_STAGED),
        ({"status": "uploading"}, request("direct", local_size=None), dp.IMPORT_STAGED),  # decompressed: unknown
        # Data on its way: wait for it.
        ({"status": "uploading", "size": None}, request("glance-direct"), dp.WAIT),
        ({"status": "saving", "size": None}, request("direct"), dp.WAIT),
        ({"status": "importing"}, request("web-download"), dp.WAIT),
        ({"status": "importing"}, request("direct", last_task={"status": "processing"}), dp.WAIT),
        # Same data, or nothing to compare: nothing to do.
        ({}, request("direct", local_digest="def"), dp.NOTHING),
        ({"status": "deactivated"}, request("direct", local_digest="def"), dp.NOTHING),
        ({}, request("web-download"), dp.NOTHING),
        # Copies: only into the stores that lack the data.
        ({}, request("copy-image", stores=["fast", "cheap"]), dp.COPY),
        ({"stores": "fast,cheap"}, request("copy-image", stores=["cheap"]), dp.NOTHING),
        # Downloads.
        ({}, request("download"), dp.DOWNLOAD),
        ({}, request("download", local_digest="corrupt"), dp.DOWNLOAD),
        ({}, request("download", local_digest="def"), dp.NOTHING),
        ({"status": "deactivated"}, request("download", admin=True), dp.DOWNLOAD),
        ({"status": "deactivated"}, request("download", admin=None), dp.DOWNLOAD),  # sent: Glance decides
        # glance-download: the source's data, compared by Glance's own hashes.
        ({"status": "queued", "size": None}, remote(), dp.GLANCE_IMPORT),
        ({"status": "queued", "size": None, "disk_format": None, "container_format": None}, remote(), None),
        ({"status": "importing"}, remote(), dp.WAIT),
        ({}, remote(), dp.NOTHING),
        ({"status": "deactivated"}, remote(), dp.NOTHING),
    ],
)
def test_plan_actions(changes, req, action):
    if action is None:  # Glance refuses an import into an image without formats, glance-download too
        with pytest.raises(ValidationError, match="has no disk_format or container_format"):
            plan_data(image(**changes), req)
        return
    assert plan_data(image(**changes), req).action == action


@pytest.mark.parametrize(
    "changes, req, error, words",
    [
        ({}, request("direct", local_digest="other"), ValidationError, "image data is immutable; publish a new"),
        ({"status": "queued", "disk_format": None}, request(), ValidationError, "has no disk_format"),
        (
            {"status": "queued", "disk_format": None, "container_format": None},
            request(),
            ValidationError,
            "disk_format or container_format",
        ),
        ({"status": "killed"}, request(), ValidationError, "is killed"),
        ({"status": "pending_delete"}, request(), ValidationError, "while it is pending_delete"),
        ({"status": "uploading"}, request("direct", local_size=2048), ValidationError, "src has 2048 bytes"),
        ({"status": "uploading"}, request("web-download"), ValidationError, "1024 staged bytes"),
        (
            {"status": "importing"},
            request("direct", last_task=FAILED_TASK),
            GlanceError,
            "stuck importing: its last import failed \\(the staging file is gone\\)",
        ),
        ({"status": "queued"}, request("copy-image", stores=["cheap"]), ValidationError, "needs an active image"),
        ({}, request("copy-image"), ValidationError, "needs stores or all_stores"),
        ({"status": "queued"}, request("download"), ValidationError, "no data to download \\(status queued\\)"),
        ({"status": "deactivated"}, request("download", admin=False), Forbidden, "is deactivated: Glance lets only"),
        (
            {"status": "queued"},
            remote(status="queued"),
            ValidationError,
            "glance-download needs an active source image; image debian \\(.*\\) in RegionOne is queued",
        ),
        (
            {"status": "queued", "disk_format": "qcow2"},
            remote(),
            ValidationError,
            "has disk_format qcow2, and the source .* has disk_format raw",
        ),
        ({}, remote(os_hash_value="other"), ValidationError, "already holds different data \\(sha512 def\\) than"),
        ({"status": "uploading"}, remote(), ValidationError, "staged bytes .* and glance-download needs an image"),
    ],
)
def test_plan_refusals(changes, req, error, words):
    with pytest.raises(error, match=words) as caught:
        plan_data(image(**changes), req)
    assert caught.type is error


def test_a_non_admin_refusal_carries_glances_status():
    with pytest.raises(Forbidden) as caught:
        plan_data(image(status="deactivated"), request("download", admin=False))
    assert caught.value.details == {"status_code": 403} and RAW["id"] in caught.value.msg


@pytest.mark.parametrize(
    "changes, req, after",
    [
        ({"status": "queued", "stores": ""}, request("direct"), {"status": "active", "stores": []}),
        ({"status": "queued", "stores": ""}, request("glance-direct", stores=["cheap", "fast"]), None),
        ({"status": "queued", "stores": ""}, request("web-download", wait=False), {"status": "importing"}),
        ({"status": "uploading", "stores": ""}, request("direct", stores=["cheap"]), None),
        ({}, request("copy-image", stores=["cheap"]), {"stores": ["cheap", "fast"]}),
        ({}, request("copy-image", stores=["cheap"], wait=False), {"stores": ["fast"]}),
        ({}, request("download"), {"status": "active", "stores": ["fast"]}),
    ],
)
def test_plan_previews(changes, req, after):
    """What check mode and diff mode report: the image as the plan leaves it."""
    plan = plan_data(image(**changes), req)
    expected = dict(plan.before, **(after or {"status": "active", "stores": sorted(req["stores"])}))
    assert plan.after == expected


@pytest.mark.parametrize(
    "status, method, needed",
    [
        ("active", "direct", True),
        ("deactivated", "glance-direct", True),
        ("queued", "direct", False),
        ("uploading", "direct", False),
        ("active", "web-download", False),
        ("active", "copy-image", False),
        ("active", "download", True),
        ("deactivated", "download", True),
        ("queued", "download", False),
    ],
)
def test_the_local_file_is_hashed_only_when_it_decides(status, method, needed):
    assert needs_local_digest(image(status=status), method) is needed


def test_latest_task():
    tasks = [
        {"id": "a", "created_at": "2026-12-02T10:00:00Z"},
        {"id": "c", "created_at": "2026-12-02T12:00:00Z"},
        {"id": "b", "created_at": "2026-12-02T11:00:00Z"},
    ]
    assert latest_task(tasks)["id"] == "c"
    assert latest_task(tasks, since="2026-12-02T13:00:00Z") is None
    assert latest_task([]) is None


SINCE = "2026-12-02T10:00:00"


def task(status, message="", created_at="2026-12-02T10:00:05Z"):
    return {"status": status, "message": message, "created_at": created_at}


@pytest.mark.parametrize(
    "changes, tasks, stores, outcome",
    [
        ({"status": "active"}, [], [], True),
        ({"status": "active", "stores": "fast,cheap"}, [], ["cheap"], True),
        ({"status": "active"}, [], ["cheap"], False),  # copy-image still running
        ({"status": "active", "os_glance_importing_to_stores": "cheap"}, [], [], False),
        ({"status": "queued"}, [], [], False),  # the task has not picked it up yet
        ({"status": "importing"}, [task("processing")], [], False),
        ({"status": "queued"}, [task("failure", "boom", created_at="2026-12-01T00:00:00Z")], [], False),  # older
    ],
)
def test_import_outcome(changes, tasks, stores, outcome):
    assert import_outcome(dict(RAW, **changes), tasks, SINCE, stores) is outcome


@pytest.mark.parametrize(
    "changes, tasks, words",
    [
        ({"os_glance_failed_import": "cheap"}, [task("failure", "disk full")], "into store\\(s\\) cheap: disk full"),
        ({"status": "killed"}, [], "killed image debian"),
        ({"status": "queued"}, [task("failure", "URI rejected")], "failed to import image debian .*: URI rejected"),
        ({"status": "queued"}, [task("success")], "finished the import .* but the image is still queued"),
    ],
)
def test_import_failures(changes, tasks, words):
    with pytest.raises(GlanceError, match=words):
        import_outcome(dict(RAW, **changes), tasks, SINCE, [])


@pytest.mark.parametrize(
    "usage, size, staged, words",
    [
        ({}, 10 * MIB, False, None),  # the cloud does not enforce unified limits
        ({"image_size_total": {"limit": -1, "usage": 500}}, 10 * MIB, False, None),
        ({"image_size_total": {"limit": 100, "usage": 90}}, 10 * MIB, False, None),
        (
            {"image_size_total": {"limit": 100, "usage": 90}},
            10 * MIB + 1,
            False,
            "image storage quota is 100 MiB with 90 MiB in use, so 11 MiB more do not fit",
        ),
        (
            {"image_size_total": {"limit": 100, "usage": 0}, "image_stage_total": {"limit": 5, "usage": 0}},
            6 * MIB,
            False,
            None,
        ),
        (
            {"image_size_total": {"limit": 100, "usage": 0}, "image_stage_total": {"limit": 5, "usage": 0}},
            6 * MIB,
            True,
            "staging quota is 5 MiB",
        ),
        ({"image_size_total": {"limit": 1, "usage": 0}}, None, False, None),  # size unknown (decompressed on the fly)
    ],
)
def test_quota_shortfall(usage, size, staged, words):
    problem = quota_shortfall(usage, size, staged)
    assert (problem is None) if words is None else (words in problem)


def test_a_stream_is_not_compared_and_the_plan_says_so():
    plan = plan_data(image(), request("direct", local_stream=True))
    assert plan.action == dp.NOTHING and "not compared" in plan.reason
    assert "holds this data" in plan_data(image(), request("direct", local_digest="def")).reason


def options(**values):
    """glance_image_data's options as AnsibleModule gives them: every key, unset ones None."""
    base = dict.fromkeys(
        (
            "src",
            "url",
            "dest",
            "method",
            "source_region",
            "source_image",
            "stores",
            "all_stores",
            "checksum",
            "signing_key",
        )
    )
    base.update(retries=3, verify_signature=False)
    base.update(values)
    return base


SHA256 = "sha256:" + "a" * 64
SHA512 = "sha512:" + "b" * 128


@pytest.mark.parametrize(
    "values, src_kind, method, expected, stream",
    [
        (dict(src="/d.qcow2"), "file", "direct", None, False),
        (dict(src="/dev/stdin"), "stream", "direct", None, True),
        (
            dict(src="/d.qcow2", method="glance-direct", checksum=SHA256),
            "file",
            "glance-direct",
            ("sha256", "a" * 64),
            False,
        ),
        (dict(url="http://h/d.qcow2"), None, "web-download", None, False),
        (dict(url="http://h/d.qcow2", checksum=SHA512), None, "web-download", ("sha512", "b" * 128), False),
        (dict(dest="/tmp/d.qcow2", verify_signature=True), None, "download", None, False),
        (dict(method="copy-image", all_stores=True), None, "copy-image", None, False),
        (dict(method="glance-download", source_region="R1", source_image="x"), None, "glance-download", None, False),
        (dict(src="/d.qcow2", signing_key="/k.pem"), "file", "direct", None, False),
    ],
)
def test_data_request_takes_the_options_that_fit(values, src_kind, method, expected, stream):
    assert data_request(options(**values), src_kind) == DataRequest(method, expected, stream)


@pytest.mark.parametrize(
    "values, src_kind, words",
    [
        ({}, None, "give src to upload, url to import from the web, dest to download"),
        (dict(dest="/tmp/d", method="direct"), None, "method does not apply to a download"),
        (dict(method="copy-image", src="/d"), "file", "copy-image copies data Glance already has"),
        (dict(method="direct", url="http://h/d"), None, "url goes with method web-download; direct uploads src"),
        (dict(method="web-download", src="/d"), "file", "src goes with method direct or glance-direct"),
        (dict(method="glance-download", url="http://h/d"), None, "takes source_region and source_image"),
        (dict(src="/d", source_region="R1"), "file", "source_region and source_image go with method glance-down"),
        (dict(src="/d", stores=["a", "b"]), "file", "method direct writes to one store"),
        (dict(src="/d", all_stores=True), "file", "all_stores needs an import method"),
        (dict(src="/d", retries=-1), "file", "retries must be 0 or more, got -1"),
        (dict(url="http://h/d", checksum=SHA256), None, "with web-download, checksum can only be checked as sha512"),
        (dict(url="http://h/d", signing_key="/k"), None, "with web-download there is none"),
        (dict(src="/dev/stdin", signing_key="/k"), "stream", "with a stream src there is none"),
        (dict(src="/d", verify_signature=True), "file", "verify_signature checks a download"),
        (dict(src="/d", checksum="sha1:ab"), "file", "checksum must look like ALGO:HEX"),
    ],
)
def test_data_request_refuses_options_that_do_not_fit(values, src_kind, words):
    with pytest.raises(ValidationError) as refused:
        data_request(options(**values), src_kind)
    assert words in refused.value.msg
