"""glance_image_info and the glance_image_id lookup against the real local cloud."""
import pytest
from harness import raw_image


@pytest.fixture
def catalog(sdk, prefix):
    """Images in demo and alt, all tagged with one unique tag so that queries see only them."""
    demo, alt = sdk("demo"), sdk("alt")
    mark = prefix + "mark"

    def make(conn, suffix, **attrs):
        body = {"name": prefix + suffix, "disk_format": "raw", "container_format": "bare", "tags": [mark],
                "visibility": "private"}
        body.update(attrs)
        response = conn.image.post("/images", json=body)
        assert response.status_code == 201, response.text
        return response.json()["id"]

    ids = {
        "a": make(demo, "a", tags=[mark, "x", "y"], os_distro="debian", protected=True),
        "b": make(demo, "b", tags=[mark, "x"], os_hidden=True),
        "c": make(demo, "c"),
        "d": make(demo, "d", visibility="shared", disk_format="iso"),
        "alt": make(alt, "alt", visibility="private"),
    }
    upload = demo.image.put("/images/%s/file" % ids["c"], data=b"c" * 4096,
                            headers={"Content-Type": "application/octet-stream"})
    assert upload.status_code == 204, upload.text
    demo.image.post("/images/%s/members" % ids["d"], json={"member": alt.current_project_id})
    return {"mark": mark, "ids": ids, "alt_project": alt.current_project_id}


def names(result):
    """The test's own suffixes of the image names found ("a", "b", ..., "alt")."""
    assert not result["failed"] and result["changed"] is False, result
    return sorted(image["name"].rsplit("-", 1)[-1] for image in result["images"])


def test_filters(run_module, catalog, prefix):
    mark, ids = catalog["mark"], catalog["ids"]

    def query(cloud="demo", **filters):
        filters.setdefault("tag", [mark])
        return names(run_module("glance_image_info", {"filters": filters}, cloud=cloud))

    assert query() == ["a", "c", "d"], "hidden images are left out by default"
    assert query(hidden=True) == ["b"]
    assert query(tag=[mark, "x"]) == ["a"]
    assert query(tag=[mark, "x", "y"], properties={"os_distro": "debian"}) == ["a"]
    assert query(properties={"os_distro": "ubuntu"}) == []
    assert query(status="active") == ["c"]
    assert query(disk_format="iso", container_format="bare") == ["d"]
    assert query(protected=True) == ["a"]
    assert query(size_min=4096, size_max=4096) == ["c"]
    assert query(visibility="shared") == ["d"]
    assert query(name=prefix + "a") == ["a"]
    assert query(created_at="gte:2000-01-01T00:00:00Z", updated_at="lt:2999-01-01T00:00:00Z") == ["a", "c", "d"]
    assert query(created_at="gte:2999-01-01T00:00:00Z") == []

    # The consumer sees a shared image only through member_status until it accepts it...
    assert query(cloud="alt") == ["alt"]
    assert query(cloud="alt", visibility="shared", member_status="pending") == ["d"]
    assert query(cloud="alt", visibility="all", member_status="all") == ["alt", "d"]
    # ...and nobody sees another project's private image.
    assert query(owner=catalog["alt_project"]) == []
    assert query(visibility="all", member_status="all") == ["a", "c", "d"]

    # by name and by ID
    result = run_module("glance_image_info", {"image": prefix + "a"}, check=True)
    assert names(result) == ["a"]
    image = result["images"][0]
    assert image["id"] == ids["a"] and image["properties"] == {"os_distro": "debian"} and image["protected"]
    assert image["tags"] == sorted([mark, "x", "y"])
    assert names(run_module("glance_image_info", {"image": ids["c"]})) == ["c"]
    assert run_module("glance_image_info", {"image": ids["c"]})["images"][0]["hash_algo"] == "sha512"
    assert names(run_module("glance_image_info", {"image": ids["alt"]})) == []
    assert names(run_module("glance_image_info", {"image": prefix + "nothing"})) == []

    # members on request
    result = run_module("glance_image_info", {"image": ids["d"], "include_members": True})
    assert result["images"][0]["members"] == [{"project_id": catalog["alt_project"], "status": "pending"}]


def test_sort_and_limit(run_module, catalog):
    args = {"filters": {"tag": [catalog["mark"]]}, "sort": "name:desc", "limit": 2}
    result = run_module("glance_image_info", args)
    assert [image["name"][-1] for image in result["images"]] == ["d", "c"]
    args["sort"] = "name:asc"
    args["limit"] = 1
    assert [image["name"][-1] for image in run_module("glance_image_info", args)["images"]] == ["a"]


def test_unknown_filter_and_bad_sort(run_module, catalog):
    result = run_module("glance_image_info", {"filters": {"colour": "red"}})
    assert result["failed"] and "supported filters: container_format" in result["msg"]
    result = run_module("glance_image_info", {"sort": "bogus:sideways"})
    assert result["failed"] and "HTTP 400" in result["msg"], result["msg"]


def test_lookup_resolves_exactly_one(run_module, sdk, catalog, prefix):
    lookup = "msg={{ lookup('osimages.glance.glance_image_id', '%s', cloud='demo'%s) }}"
    result = run_module("ansible.builtin.debug", lookup % (prefix + "c", ""), cloud=None)
    assert result["msg"] == catalog["ids"]["c"], result
    # a second image with the same name makes it ambiguous: fail with both IDs
    twin = sdk("demo").image.post("/images", json={"name": prefix + "c"}).json()["id"]
    result = run_module("ansible.builtin.debug", lookup % (prefix + "c", ""), cloud=None)
    assert result["failed"] and twin in result["msg"] and catalog["ids"]["c"] in result["msg"], result["msg"]
    result = run_module("ansible.builtin.debug", lookup % (prefix + "c", ", filters={'status': 'active'}"),
                        cloud=None)
    assert result["msg"] == catalog["ids"]["c"], result
    result = run_module("ansible.builtin.debug", lookup % (prefix + "none", ""), cloud=None)
    assert result["failed"] and "no image named" in result["msg"]
    assert raw_image(sdk("demo"), twin) is not None
