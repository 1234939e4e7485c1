"""glance_image_info and the glance_image_id lookup against the real local cloud."""

import datetime

import pytest

from harness import raw_image


@pytest.fixture
def catalog(sdk, prefix):
    """Images in demo and alt, all tagged with one unique tag so that queries see only them."""
    demo, alt = sdk("demo"), sdk("alt")
    mark = prefix + "mark"

    def make(conn, suffix, **attrs):
        body = {
            "name": prefix + suffix,
            "disk_format": "raw",
            "container_format": "bare",
            "tags": [mark],
            "visibility": "private",
        }
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
    upload = demo.image.put(
        "/images/%s/file" % ids["c"], data=b"c" * 4096, headers={"Content-Type": "application/octet-stream"}
    )
    assert upload.status_code == 204, upload.text
    demo.image.post("/images/%s/members" % ids["d"], json={"member": alt.current_project_id})
    return {"mark": mark, "ids": ids, "alt_project": alt.current_project_id}


def names(result):
    """The test's own suffixes of the image names found ("a", "b", ..., "alt")."""
    assert not result["failed"] and result["changed"] is False, result
    return sorted(image["name"].rsplit("-", 1)[-1] for image in result["images"])


@pytest.mark.long(90)
def test_filters(run_module, catalog, prefix):
    mark, ids = catalog["mark"], catalog["ids"]
    # (cloud, filters, the suffixes expected); every query also filters on the catalog's own tag.
    cases = [
        ("demo", {}, ["a", "c", "d"]),  # hidden images are left out by default
        ("demo", {"hidden": True}, ["b"]),
        ("demo", {"tag": [mark, "x"]}, ["a"]),
        ("demo", {"tag": [mark, "x", "y"], "properties": {"os_distro": "debian"}}, ["a"]),
        ("demo", {"properties": {"os_distro": "ubuntu"}}, []),
        ("demo", {"status": "active"}, ["c"]),
        ("demo", {"disk_format": "iso", "container_format": "bare"}, ["d"]),
        ("demo", {"protected": True}, ["a"]),
        ("demo", {"size_min": 4096, "size_max": 4096}, ["c"]),
        ("demo", {"visibility": "shared"}, ["d"]),
        ("demo", {"name": prefix + "a"}, ["a"]),
        ("demo", {"created_at": "gte:2000-01-01T00:00:00Z", "updated_at": "lt:2999-01-01T00:00:00Z"}, ["a", "c", "d"]),
        ("demo", {"created_at": "gte:2999-01-01T00:00:00Z"}, []),
        # Nobody sees another project's private image...
        ("demo", {"owner": catalog["alt_project"]}, []),
        ("demo", {"visibility": "all", "member_status": "all"}, ["a", "c", "d"]),
        # ...and the consumer sees a shared image only through member_status until it accepts it.
        ("alt", {}, ["alt"]),
        ("alt", {"visibility": "shared", "member_status": "pending"}, ["d"]),
        ("alt", {"visibility": "all", "member_status": "all"}, ["alt", "d"]),
    ]
    for cloud in ("demo", "alt"):
        mine = [(filters, expected) for where, filters, expected in cases if where == cloud]
        results = run_module.many(
            "glance_image_info", [{"filters": dict({"tag": [mark]}, **filters)} for filters, dummy in mine], cloud=cloud
        )
        for (filters, expected), result in zip(mine, results):
            assert names(result) == expected, (cloud, filters)

    # by name (in check mode: a query changes nothing either way) and by ID, and members on request
    by_name = run_module("glance_image_info", {"image": prefix + "a"}, check=True)
    assert names(by_name) == ["a"]
    image = by_name["images"][0]
    assert image["id"] == ids["a"] and image["properties"] == {"os_distro": "debian"} and image["protected"]
    assert image["tags"] == sorted([mark, "x", "y"])
    by_id, other_projects, nothing, members = run_module.many(
        "glance_image_info",
        [
            {"image": ids["c"]},
            {"image": ids["alt"]},
            {"image": prefix + "nothing"},
            {"image": ids["d"], "include_members": True},
        ],
    )
    assert names(by_id) == ["c"] and by_id["images"][0]["hash_algo"] == "sha512"
    assert names(other_projects) == [] and names(nothing) == []
    assert members["images"][0]["members"] == [{"project_id": catalog["alt_project"], "status": "pending"}]


def test_sort_limit_and_bad_queries(run_module, catalog):
    tagged = {"filters": {"tag": [catalog["mark"]]}}
    tagged_x_any = {"filters": {"tag": [catalog["mark"], "x"], "hidden": "any"}}
    newest_two, first, last_named, last_named_of_any, both, unknown, bad_sort = run_module.many(
        "glance_image_info",
        [
            dict(tagged, sort="name:desc", limit=2),
            dict(tagged, sort="name:asc", limit=1),
            dict(tagged, most_recent=True, most_recent_key="name"),
            # "a" is visible, "b" hidden: the hidden one sorts last, and is found
            dict(tagged_x_any, most_recent=True, most_recent_key="name"),
            dict(tagged, most_recent=True, sort="name:asc"),
            {"filters": {"colour": "red"}},
            {"sort": "bogus:sideways"},
        ],
    )
    assert [image["name"][-1] for image in newest_two["images"]] == ["d", "c"]
    assert [image["name"][-1] for image in first["images"]] == ["a"]
    assert [image["name"][-1] for image in last_named["images"]] == ["d"]
    assert [image["name"][-1] for image in last_named_of_any["images"]] == ["b"]
    assert both["failed"] and "cannot be combined with sort or limit" in both["msg"]
    assert unknown["failed"] and "supported filters: container_format" in unknown["msg"]
    assert bad_sort["failed"] and "HTTP 400" in bad_sort["msg"], bad_sort["msg"]


def test_lookup_resolves_exactly_one(run_module, sdk, catalog, prefix):
    lookup = "msg={{ lookup('osimages.glance.glance_image_id', '%s', cloud='demo'%s) }}"
    result = run_module("ansible.builtin.debug", lookup % (prefix + "c", ""), cloud=None)
    assert result["msg"] == catalog["ids"]["c"], result
    # a second image with the same name makes it ambiguous: fail with both IDs
    twin = sdk("demo").image.post("/images", json={"name": prefix + "c"}).json()["id"]
    result = run_module("ansible.builtin.debug", lookup % (prefix + "c", ""), cloud=None)
    assert result["failed"] and twin in result["msg"] and catalog["ids"]["c"] in result["msg"], result["msg"]
    result = run_module("ansible.builtin.debug", lookup % (prefix + "c", ", filters={'status': 'active'}"), cloud=None)
    assert result["msg"] == catalog["ids"]["c"], result
    # ...or most_recent takes the newer twin (created after the run above), in the lookup and the info module
    assert raw_image(sdk("demo"), twin)["created_at"] > raw_image(sdk("demo"), catalog["ids"]["c"])["created_at"]
    result = run_module("ansible.builtin.debug", lookup % (prefix + "c", ", most_recent=true"), cloud=None)
    assert result["msg"] == twin, result
    newest = run_module("glance_image_info", {"image": prefix + "c", "most_recent": True})
    assert [image["id"] for image in newest["images"]] == [twin]
    result = run_module("ansible.builtin.debug", lookup % (prefix + "none", ""), cloud=None)
    assert result["failed"] and "no image named" in result["msg"]
    assert raw_image(sdk("demo"), twin) is not None


def test_discovery_as_a_member_and_as_an_admin(run_module, sdk):
    member, admin = run_module.many("glance_info", [{"cloud": "demo"}, {"cloud": "admin", "include_schema": True}])
    # Glance's own answers, read without the module: the independent side of each comparison.
    glance = sdk("demo").image
    methods = glance.get("/info/import").json()["import-methods"]["value"]
    catalog_root = glance.get_endpoint_data().catalog_url.rstrip("/")
    versions = glance.get(catalog_root + "/versions").json()["versions"]
    current = [entry["id"].lstrip("v") for entry in versions if entry["status"] == "CURRENT"]
    for result, is_admin in ((member, False), (admin, True)):
        assert not result["failed"] and result["changed"] is False, result
        assert (
            result["admin"] is is_admin
            and result["project_id"] == sdk("admin" if is_admin else "demo").current_project_id
        )
        assert result["import_methods"] == methods and "glance-download" in methods
        assert sorted(entry["version"] for entry in result["api_versions"]) == sorted(
            entry["id"].lstrip("v") for entry in versions
        )
        assert [result["api_version"]] == current
        assert result["multi_store"] and result["default_store"] == "fast"
        assert [(store["id"], store["default"]) for store in result["stores"]] == [("fast", True), ("cheap", False)]
        assert result["usage"] == {}  # this cloud enforces no unified limits
    # Only an admin may read the stores' details (Glance's default policy); a member gets the summary, not a failure.
    assert all("type" not in store and "properties" not in store for store in member["stores"])
    assert [store["type"] for store in admin["stores"]] == ["file", "file"]
    assert admin["stores"][0]["properties"]["data_dir"].endswith("/fast")
    assert "image_schema" not in member
    assert admin["image_schema"]["name"] == "image" and "os_hash_value" in admin["image_schema"]["properties"]


def test_scs_audit_of_a_project(run_module, sdk, prefix):
    conn = sdk("demo")
    mark = prefix + "audited"
    today = datetime.date.today()
    compliant = {
        "architecture": "x86_64",
        "os_distro": "debian",
        "os_version": "13",
        "hw_disk_bus": "scsi",
        "image_build_date": str(today - datetime.timedelta(days=5)),
        "image_original_user": "debian",
        "image_source": "https://cloud.debian.org/images/cloud/",
        "image_description": "https://wiki.debian.org/Cloud",
        "replace_frequency": "monthly",
        "provided_until": "none",
        "uuid_validity": "last-3",
    }
    old = str(today - datetime.timedelta(days=100))
    made = {}
    for suffix, changes, hidden in (
        ("compliant", {}, False),
        ("incomplete", {"hw_disk_bus": None, "image_source": "the debian site"}, False),
        ("outdated", {"image_build_date": old}, False),
        ("superseded", {"image_build_date": old}, True),  # hidden: old by design
    ):
        properties = dict((key, value) for key, value in dict(compliant, **changes).items() if value is not None)
        body = dict(properties, name=prefix + suffix, tags=[mark], min_disk=1, min_ram=128, os_hidden=hidden)
        response = conn.image.post("/images", json=body)
        assert response.status_code == 201, response.text
        made[suffix] = response.json()["id"]

    query = {"filters": {"tag": [mark], "hidden": "any"}, "sort": "name:asc"}
    report, strict = run_module.many(
        "glance_image_info", [dict(query, scs_audit="report"), dict(query, scs_audit="strict")]
    )
    assert not report["failed"], report
    rows = {row["image"][len(prefix) :]: row for row in report["scs_audit"]}
    assert sorted(rows) == ["compliant", "incomplete", "outdated", "superseded"]
    assert [row["id"] for row in report["scs_audit"]] == [image["id"] for image in report["images"]]
    assert rows["compliant"]["compliant"] and rows["superseded"]["compliant"] and rows["superseded"]["hidden"]
    assert rows["incomplete"]["missing"] == ["hw_disk_bus"]
    assert [item["property"] for item in rows["incomplete"]["malformed"]] == ["image_source"]
    assert rows["outdated"]["outdated"] == [
        "built %s, 100 days ago: past its replace_frequency monthly (31 days)" % old
    ]
    table = report["scs_audit_table"]
    assert table[0].split() == ["IMAGE", "VERSION", "ID", "FINDINGS"] and len(table) == 5
    assert any(made["incomplete"] in line and "missing hw_disk_bus" in line for line in table)
    # strict fails, naming each image out of compliance, and still returns the audit
    assert strict["failed"] and "2 of 4 image(s) do not comply" in strict["msg"], strict
    assert prefix + "incomplete" in strict["msg"] and prefix + "outdated" in strict["msg"]
    assert prefix + "compliant" not in strict["msg"] and len(strict["scs_audit"]) == 4
