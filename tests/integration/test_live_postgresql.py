"""Concurrent writers on the test cloud, which tests/run-all backs with PostgreSQL (LOCALCLOUD_DB=postgresql).

sqlite answers HTTP 500 "database is locked" to concurrent writes; PostgreSQL does not, which is also what lets
the suite run in parallel workers.
"""

import collections
import os
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import openstack
import pytest

# Concurrency is the server's and the derived IDs' (pure code), not the matrix's: newest cell only.
pytestmark = pytest.mark.newest_only
PUBLISHERS = 6


@pytest.fixture(scope="module")
def pg_clouds_yaml(clouds_yaml):
    if os.environ.get("LOCALCLOUD_DB") != "postgresql":
        pytest.fail("the test cloud must run on PostgreSQL (LOCALCLOUD_DB=postgresql, as tests/run-all starts it)")
    return clouds_yaml


def test_ten_parallel_writers_get_no_server_errors(pg_clouds_yaml, monkeypatch):
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", pg_clouds_yaml)
    statuses = collections.Counter()
    lock = threading.Lock()
    name = "pg-writers-%s" % uuid.uuid4().hex[:6]

    def writer(index):
        conn = openstack.connect(cloud="demo")
        for dummy in range(10):
            created = conn.image.post("/images", json={"name": "%s-%d" % (name, index)})
            deleted = conn.image.delete("/images/%s" % created.json()["id"]) if created.status_code == 201 else None
            with lock:
                statuses["create %d" % created.status_code] += 1
                if deleted is not None:
                    statuses["delete %d" % deleted.status_code] += 1

    with ThreadPoolExecutor(max_workers=10) as pool:
        list(pool.map(writer, range(10)))
    assert statuses == {"create 201": 100, "delete 204": 100}, statuses


def test_ten_parallel_module_runs(pg_clouds_yaml, run_module, monkeypatch):
    name = "pg-module-%s-" % uuid.uuid4().hex[:6]
    env = {"OS_CLIENT_CONFIG_FILE": pg_clouds_yaml}

    def create(index):
        return run_module("glance_image", {"name": name + str(index), "tags": ["pg"], "visibility": "private"}, env=env)

    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(create, range(10)))
    assert all(result["changed"] and not result["failed"] for result in results), [r.get("msg") for r in results]
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", pg_clouds_yaml)
    conn = openstack.connect(cloud="demo")
    mine = [image for image in conn.image.images(tag="pg") if image.name.startswith(name)]
    assert len(mine) == 10
    for image in mine:
        conn.image.delete_image(image.id)


@pytest.mark.long(85)
def test_ten_parallel_runs_with_the_same_name_make_one_image(pg_clouds_yaml, run_module, monkeypatch):
    """Glance does not keep names unique; the derived image ID makes parallel creators agree on one."""
    name = "pg-same-%s" % uuid.uuid4().hex[:6]
    env = {"OS_CLIENT_CONFIG_FILE": pg_clouds_yaml}

    def create(dummy):
        return run_module("glance_image", {"name": name, "tags": ["same"], "min_disk": 1}, env=env)

    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(create, range(10)))
    assert not [result["msg"] for result in results if result["failed"]]
    assert sum(result["created"] for result in results) == 1
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", pg_clouds_yaml)
    conn = openstack.connect(cloud="demo")
    images = list(conn.image.images(name=name))
    assert len(images) == 1 and images[0].tags == ["same"] and images[0].min_disk == 1
    assert {result["image"]["id"] for result in results} == {images[0].id}
    conn.image.delete_image(images[0].id)

    # Glance never reuses a deleted ID: the name can be created again, still as exactly one image.
    with ThreadPoolExecutor(max_workers=5) as pool:
        again = list(pool.map(create, range(5)))
    assert not [result["msg"] for result in again if result["failed"]]
    images = list(conn.image.images(name=name))
    assert len(images) == 1 and images[0].id != results[0]["image"]["id"]
    conn.image.delete_image(images[0].id)


@pytest.mark.long(110)
def test_parallel_publishes_of_one_version_make_one_image(pg_clouds_yaml, run_playbook, fixture_image, monkeypatch):
    """Six image_publish runs of one version at once end with one image. Each is a whole ansible-playbook: six
    race every step of the role as well as ten did, at 60% of the cost (ten took 200 s on two cores)."""
    series = "pg-publish-%s" % uuid.uuid4().hex[:6]
    env = {"OS_CLIENT_CONFIG_FILE": pg_clouds_yaml}
    artifact = {"path": str(fixture_image), "disk_format": "raw", "build_date": "2026-11-27T00:00:00Z"}

    def publish(dummy):
        return run_playbook(
            "publish.yml",
            dict(
                image_publish_cloud="demo",
                image_publish_name=series,
                image_publish_version="1",
                image_publish_artifact=artifact,
            ),
            env=env,
        )

    with ThreadPoolExecutor(max_workers=PUBLISHERS) as pool:
        results = list(pool.map(publish, range(PUBLISHERS)))
    failures = [result.output[-3000:] for result in results if result.rc != 0]
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", pg_clouds_yaml)
    conn = openstack.connect(cloud="demo")
    found = []
    for hidden in ("false", "true"):
        found += conn.image.get("/images", params={"osimages_series": series, "os_hidden": hidden}).json()["images"]
    try:
        assert not failures, failures[0]
        assert len(found) == 1, [(image["id"], image["name"], image["status"]) for image in found]
        image = found[0]
        assert image["name"] == series and image["status"] == "active" and not image["os_hidden"]
        assert image["size"] == fixture_image.stat().st_size
    finally:
        for image in found:
            conn.image.delete_image(image["id"])
