"""glance_catalog's transfers across regions (_catalog_run): what each region is handed, from the plan's upload
step. The regions' Glances are stand-ins that answer which import methods they enable; the live two-region tests
cover the rest (tests/integration/test_live_regions.py). And which images fail together (an image with its kernel
and ramdisk)."""

import pytest

from ansible_collections.osimages.glance.plugins.module_utils._catalog import load_catalog
from ansible_collections.osimages.glance.plugins.module_utils._catalog_plan import TRANSFER
from ansible_collections.osimages.glance.plugins.module_utils._catalog_plan import UPLOAD
from ansible_collections.osimages.glance.plugins.module_utils._catalog_plan import CatalogPlan
from ansible_collections.osimages.glance.plugins.module_utils._catalog_plan import Step
from ansible_collections.osimages.glance.plugins.module_utils._catalog_run import Region
from ansible_collections.osimages.glance.plugins.module_utils._catalog_run import fail_together
from ansible_collections.osimages.glance.plugins.module_utils._catalog_run import published_together
from ansible_collections.osimages.glance.plugins.module_utils._catalog_run import transfer_for

IMAGE_ID = "0c6f5a3e-8f4b-5b8e-9d7a-1e2f3a4b5c6d"


class MethodsApi:
    def __init__(self, methods):
        self.methods = methods
        self.asked = 0

    def import_methods(self):
        self.asked += 1
        return self.methods


def upload_step(url=None, artifact=None, checksum=None, method="direct"):
    source = {"url": url, "artifact": artifact, "checksum": checksum, "method": method, "stores": []}
    source["skip_format_check"] = False
    return Step(TRANSFER, UPLOAD, "Debian 13", "20261201", "new version", IMAGE_ID, source=source)


def regions(second_methods):
    primary = Region("RegionOne", MethodsApi(["glance-direct", "web-download", "glance-download"]))
    primary.plan = CatalogPlan([upload_step(artifact={"path": "/srv/debian.qcow2"})])
    return primary, Region("RegionTwo", MethodsApi(second_methods))


def test_the_first_region_takes_the_bytes_and_is_not_asked_for_its_methods():
    primary, dummy_second = regions([])
    step = upload_step(artifact={"path": "/srv/debian.qcow2"}, checksum="sha256:ab")
    transfer = transfer_for(primary, step, IMAGE_ID, primary)
    assert (transfer["method"], transfer["src"], transfer["checksum"]) == ("direct", "/srv/debian.qcow2", "sha256:ab")
    assert transfer["key"] == "RegionOne/" + IMAGE_ID and transfer["source_region"] is None
    assert primary.api.asked == 0


def test_another_region_imports_from_the_first_with_glance_download():
    primary, second = regions(["glance-direct", "glance-download"])
    step = upload_step(artifact={"path": "/srv/debian.qcow2"}, checksum="sha256:ab")
    transfer = transfer_for(second, step, IMAGE_ID, primary)
    assert transfer["method"] == "glance-download" and transfer["key"] == "RegionTwo/" + IMAGE_ID
    # The first region's new version is not listed yet (one host per region): its planned upload names it.
    assert (transfer["source_region"], transfer["source_image"]) == ("RegionOne", IMAGE_ID)
    # Checked against the first region's hash, not the catalog's sha256, which glance-download cannot compare.
    assert transfer["src"] is None and transfer["url"] is None and transfer["checksum"] is None
    assert transfer["fetch"] is None


@pytest.mark.parametrize(
    "step, method, src, url",
    [
        (upload_step(artifact={"path": "/srv/debian.qcow2"}), "direct", "/srv/debian.qcow2", None),
        (upload_step(url="file:///srv/debian.qcow2"), "direct", "/srv/debian.qcow2", None),
        (upload_step(url="https://mirror/debian.qcow2", method="web-download"), "web-download", None, None),
    ],
)
def test_a_region_without_glance_download_gets_the_bytes_as_well(step, method, src, url):
    primary, second = regions(["glance-direct", "web-download"])
    transfers = [transfer_for(second, step, IMAGE_ID, primary) for dummy in range(3)]
    assert [transfer["method"] for transfer in transfers] == [method] * 3
    assert transfers[0]["src"] == src and transfers[0]["source_region"] is None
    assert transfers[0]["checksum"] == step.source["checksum"]
    if method == "web-download":
        assert transfers[0]["url"] == step.source["url"]
    assert second.api.asked == 1, "a region's import methods are asked once per run"


@pytest.mark.parametrize(
    "step, src, url, fetch",
    [
        (upload_step(artifact={"path": "/srv/d.qcow2"}), "/srv/d.qcow2", None, None),
        (upload_step(url="file:/srv/d.qcow2"), "/srv/d.qcow2", None, None),
        # The role downloads it into its cache, then uploads the file.
        (upload_step(url="https://mirror/d.qcow2"), None, None, "https://mirror/d.qcow2"),
        (upload_step(url="https://mirror/d.qcow2", method="glance-direct"), None, None, "https://mirror/d.qcow2"),
        # Glance fetches it itself.
        (upload_step(url="https://mirror/d.qcow2", method="web-download"), None, "https://mirror/d.qcow2", None),
    ],
)
def test_the_first_region_is_told_where_the_bytes_come_from(step, src, url, fetch):
    primary, dummy_second = regions([])
    transfer = transfer_for(primary, step, IMAGE_ID, primary)
    assert (transfer["src"], transfer["url"], transfer["fetch"]) == (src, url, fetch)


def test_an_image_and_its_kernel_and_ramdisk_fail_together_and_others_go_on():
    catalog = load_catalog(
        [
            (
                "catalog.yml",
                {
                    "images": [
                        {
                            "name": name,
                            "format": "raw",
                            "login": "root",
                            "status": "active",
                            "visibility": "private",
                            "versions": [dict(version, version="1", url="http://127.0.0.1/%s" % name)],
                        }
                        for name, version in (
                            (
                                "Bare",
                                {"kernel": {"url": "http://127.0.0.1/k"}, "ramdisk": {"url": "http://127.0.0.1/r"}},
                            ),
                            ("Other", {}),
                        )
                    ]
                },
            )
        ]
    )
    together = published_together(catalog)
    assert together["Bare kernel"] == together["Bare"] == {"Bare", "Bare kernel", "Bare ramdisk"}
    assert "Other" not in together
    failed = {"Bare ramdisk": "the transfer of version 1 failed", "Other": "down"}
    fail_together(failed, together)
    assert failed == {
        "Bare ramdisk": "the transfer of version 1 failed",
        "Bare": "not published, as Bare ramdisk failed with it",
        "Bare kernel": "not published, as Bare ramdisk failed with it",
        "Other": "down",
    }
