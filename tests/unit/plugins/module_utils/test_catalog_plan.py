"""The catalog planner, as tables of (catalog, what Glance holds) -> steps, in order, with their reasons."""

import datetime

import pytest

from ansible_collections.osimages.glance.plugins.module_utils import _catalog_plan as cp
from ansible_collections.osimages.glance.plugins.module_utils._catalog import load_catalog
from ansible_collections.osimages.glance.plugins.module_utils._catalog_plan import CatalogPlanError
from ansible_collections.osimages.glance.plugins.module_utils._catalog_plan import plan_catalog
from ansible_collections.osimages.glance.plugins.module_utils._reconcile import normalize

TAG = "managed_by_osimages"
PROJECT = "project-a"
TODAY = datetime.date(2026, 12, 3)
SHA512 = "5" * 128


def catalog(*images):
    return load_catalog([("catalog.yml", {"images": list(images)})])


def entry(name="Debian", versions=("2",), multi=True, validity="last-3", **changes):
    image = {
        "name": name,
        "format": "qcow2",
        "login": "debian",
        "status": "active",
        "visibility": "public",
        "multi": multi,
        "meta": {"os_distro": "debian", "uuid_validity": validity} if validity else {"os_distro": "debian"},
        "versions": [
            v
            if isinstance(v, dict)
            else {"version": v, "url": "http://127.0.0.1/%s-%s.qcow2" % (name, v), "checksum": "sha512:" + SHA512}
            for v in versions
        ],
    }
    image.update(changes)
    return image


def published(name, version, series="Debian", multi=True, **changes):
    """A version as a previous run left it: every property and tag the catalog sets, active, with its data."""
    (image,) = catalog(entry(series, versions=(version,), multi=multi))
    plan = plan_catalog([image], [], TAG, PROJECT, TODAY)
    final = [step for step in plan.steps if step.action in (cp.PROMOTE, cp.UPDATE)][0].params
    raw = {
        "id": "id-%s-%s" % (series, version),
        "name": name,
        "status": "active",
        "visibility": final["visibility"],
        "os_hidden": final["hidden"],
        "owner": PROJECT,
        "tags": final["tags"],
        "disk_format": "qcow2",
        "container_format": "bare",
        "min_disk": 0,
        "min_ram": 0,
        "os_hash_algo": "sha512",
        "os_hash_value": SHA512,
        "created_at": "2026-01-%02dT00:00:00Z" % (int(version) if version.isdigit() else 1),
        "protected": False,
    }
    raw.update(final["properties"])
    raw.update(changes)
    return normalize(raw)


def steps(plan, *keep):
    return [(step.action, step.image, step.version) for step in plan.steps if not keep or step.action in keep]


def changes(plan):
    return [(step.action, step.version) for step in plan.steps if step.changes]


def plan(images, glance, **options):
    return plan_catalog(catalog(*images), glance, TAG, PROJECT, options.pop("today", TODAY), **options)


def test_first_publication_creates_uploads_and_promotes():
    result = plan([entry()], [])
    assert steps(result) == [("create", "Debian", "2"), ("upload", "Debian", "2"), ("promote", "Debian", "2")]
    create, upload, promote = result.steps
    assert create.params["name"] == "Debian (2)" and create.params["hidden"] is True
    assert create.params["visibility"] == "private"
    assert TAG in create.params["tags"] and "os:debian" in create.params["tags"]
    assert create.params["properties"]["osimages_series"] == "Debian"
    assert create.params["properties"]["internal_version"] == "2"
    assert create.params["properties"]["image_original_user"] == "debian"
    assert upload.image_id == create.image_id == promote.image_id
    assert upload.source["checksum"] == "sha512:" + SHA512
    assert promote.params["name"] == "Debian" and promote.params["visibility"] == "public"
    assert promote.params["hidden"] is False


def test_new_version_ids_are_derived_so_parallel_runs_race_for_one_id():
    first, second = plan([entry()], []), plan([entry()], [])
    assert first.steps[0].image_id == second.steps[0].image_id
    assert plan([entry(versions=("3",))], []).steps[0].image_id != first.steps[0].image_id


def test_a_second_run_changes_nothing():
    result = plan([entry()], [published("Debian", "2")])
    assert changes(result) == [] and not result.changes
    assert steps(result) == [("nothing", "Debian", "2")]


def test_a_new_version_rotates_the_old_one_out_of_the_name_first():
    result = plan([entry(versions=("3",))], [published("Debian", "2")])
    assert changes(result) == [("create", "3"), ("upload", "3"), ("demote", "2"), ("promote", "3")]
    demote = result.steps[2]
    assert demote.params == {"name": "Debian (2)", "hidden": True}
    assert "still valid (uuid_validity last-3)" in demote.reason


def test_metadata_drift_is_an_update_of_that_version_only():
    result = plan([entry(min_ram=1024)], [published("Debian", "2")])
    assert changes(result) == [("update", "2")]
    assert result.steps[0].params["min_ram"] == 1024


def test_an_operator_rename_of_the_current_version_is_undone():
    result = plan([entry()], [published("Debian old", "2")])
    assert changes(result) == [("promote", "2")]


# uuid_validity decides which superseded versions stay. Glance holds 1..5 (5 current), the catalog lists 6.
RETENTION = [
    # validity, delete_retired, {version: action} for the superseded versions
    ("last-3", False, {"5": "demote", "4": "nothing", "3": "deactivate", "2": "deactivate", "1": "deactivate"}),
    ("last-3", True, {"5": "demote", "4": "nothing", "3": "delete", "2": "delete", "1": "delete"}),
    ("none", True, {"5": "delete", "4": "delete", "3": "delete", "2": "delete", "1": "delete"}),
    ("forever", True, {"5": "demote", "4": "nothing", "3": "nothing", "2": "nothing", "1": "nothing"}),
    ("notice", True, {"5": "demote", "4": "nothing", "3": "nothing", "2": "nothing", "1": "nothing"}),
    ("2026-12-31", True, {"5": "demote", "4": "nothing", "3": "nothing", "2": "nothing", "1": "nothing"}),
    ("2026-12-01", True, {"5": "delete", "4": "delete", "3": "delete", "2": "delete", "1": "delete"}),
    (None, True, {"5": "demote", "4": "nothing", "3": "delete", "2": "delete", "1": "delete"}),  # default last-3
]


@pytest.mark.parametrize("validity, delete_retired, expected", RETENTION)
def test_retention_follows_uuid_validity(validity, delete_retired, expected):
    glance = [published("Debian (%s)" % v, v, os_hidden=True) for v in "1234"] + [published("Debian", "5")]
    result = plan([entry(versions=("6",), validity=validity)], glance, delete_retired=delete_retired)
    actual = dict((step.version, step.action) for step in result.steps if step.version != "6")
    assert actual == expected
    assert steps(result, "promote") == [("promote", "Debian", "6")]


# keep_deactivated: of the expired versions, newest first, how many stay deactivated before deletion.
# Glance holds 1..5 (5 current), the catalog lists 6 with uuid_validity last-2.
KEEP_DEACTIVATED = [
    # keep_deactivated, delete_retired, {version: action}
    (1, True, {"5": "demote", "4": "deactivate", "3": "delete", "2": "delete", "1": "delete"}),
    (2, True, {"5": "demote", "4": "deactivate", "3": "deactivate", "2": "delete", "1": "delete"}),
    (0, True, {"5": "demote", "4": "delete", "3": "delete", "2": "delete", "1": "delete"}),
    (1, False, {"5": "demote", "4": "deactivate", "3": "deactivate", "2": "deactivate", "1": "deactivate"}),
]


@pytest.mark.parametrize("keep_deactivated, delete_retired, expected", KEEP_DEACTIVATED)
def test_keep_deactivated_keeps_the_newest_expired_versions_deactivated(keep_deactivated, delete_retired, expected):
    glance = [published("Debian (%s)" % v, v, os_hidden=True) for v in "1234"] + [published("Debian", "5")]
    image = entry(versions=("6",), validity="last-2", keep_deactivated=keep_deactivated)
    result = plan([image], glance, delete_retired=delete_retired)
    assert dict((step.version, step.action) for step in result.steps if step.version != "6") == expected
    # Retirement runs newest first.
    retired = [step.version for step in result.steps if step.action in ("deactivate", "delete")]
    assert retired == sorted(retired, reverse=True)


def test_without_a_managed_tag_the_series_property_marks_the_versions_and_the_tags_stay_as_given():
    """image_publish's convention: no managed tag, no os: tag, its own versioned names."""
    current = published("Debian", "2", tags=["ci"])
    stranger = published("Debian", "9", id="tagged-but-no-series")
    del stranger["properties"]["osimages_series"]
    image = entry(versions=("3",), tags=["ci"], versioned_name="{name}-{version}", validity="last-2")
    result = plan_catalog(catalog(image), [current], "", PROJECT, TODAY)
    assert changes(result) == [("create", "3"), ("upload", "3"), ("demote", "2"), ("promote", "3")]
    create, demote = result.steps[0], result.steps[2]
    assert create.params["tags"] == ["ci"] and create.params["name"] == "Debian-3"
    assert "image_name" not in create.params["properties"]
    assert demote.params["name"] == "Debian-2"
    with pytest.raises(CatalogPlanError) as caught:
        plan_catalog(catalog(image), [current, stranger], "", PROJECT, TODAY)
    assert "tagged-but-no-series" in str(caught.value) and "it lacks the property osimages_series" in str(caught.value)


def test_scs_properties_given_in_meta_win_over_the_derived_ones():
    version = {"version": "1", "url": "http://127.0.0.1/d.qcow2", "build_date": "2026-12-01"}
    version["meta"] = {"image_build_date": "2026-12-01T10:15:00Z", "image_source": "https://example.org/build/7"}
    (create,) = steps_of(plan([entry(versions=[version])], []), "create")
    assert create.params["properties"]["image_build_date"] == "2026-12-01T10:15:00Z"
    assert create.params["properties"]["image_source"] == "https://example.org/build/7"


def steps_of(result, action):
    return [step for step in result.steps if step.action == action]


def test_the_version_that_leaves_the_name_goes_before_the_one_that_takes_it():
    glance = [published("Debian", "5")]
    result = plan([entry(versions=("6",), validity="none")], glance, delete_retired=True)
    order = [step.action for step in result.steps]
    assert order.index("promote") > order.index("create")
    # Deleting the old current version is a retirement: it waits until the new one holds the name.
    assert order == ["create", "upload", "promote", "delete"]


def test_an_expired_version_holding_the_name_is_renamed_and_deactivated_before_promotion():
    result = plan([entry(versions=("6",), validity="none")], [published("Debian", "5")])
    assert changes(result) == [("create", "6"), ("upload", "6"), ("deactivate", "5"), ("promote", "6")]
    assert result.steps[2].params == {"name": "Debian (5)", "hidden": True, "status": "deactivated"}


def test_a_protected_version_is_never_deleted():
    glance = [published("Debian (1)", "1", os_hidden=True, protected=True), published("Debian", "2")]
    result = plan([entry(versions=("3",), validity="last-1")], glance, delete_retired=True)
    actions = dict((step.version, (step.action, step.reason)) for step in result.steps)
    assert actions["1"] == ("deactivate", "superseded, expired (uuid_validity last-1); protected, so never deleted")
    assert actions["2"][0] == "delete"


def test_listed_older_versions_stay_hidden_under_their_versioned_names():
    result = plan([entry(versions=("1", "2"))], [])
    publish = [(step.action, step.params["name"], step.params["hidden"]) for step in result.steps if step.phase > 0]
    assert publish == [("update", "Debian (1)", True), ("promote", "Debian", False)]


def test_multi_false_shows_every_version_under_its_own_name():
    result = plan([entry(multi=False, versions=("1", "2"), validity=None)], [])
    publish = [(step.action, step.params["name"], step.params["hidden"]) for step in result.steps if step.phase > 0]
    assert publish == [("update", "Debian 1", False), ("update", "Debian 2", False)]
    assert result.steps[0].params["properties"]["os_version"] == "1"


def test_multi_false_retires_a_version_removed_from_the_catalog():
    glance = [published("Debian %s" % v, v, multi=False, uuid_validity="none") for v in "12"]
    result = plan([entry(multi=False, versions=("2",), validity="none")], glance)
    assert changes(result) == [("deactivate", "1")]


def test_an_image_removed_from_the_catalog_is_retired_by_its_own_uuid_validity():
    glance = [published("Debian", "2"), published("Ubuntu", "1", series="Ubuntu")]
    result = plan([entry()], glance, delete_retired=True)
    retired = [step for step in result.steps if step.image == "Ubuntu"]
    # Ubuntu's own uuid_validity (last-3) keeps its only version: hidden, not deleted.
    assert [(step.action, step.reason) for step in retired] == [
        ("hide", "no longer in the catalog, still valid (uuid_validity last-3)")
    ]
    assert retired[0].params == {"name": "Ubuntu", "hidden": True}


def test_a_disabled_image_is_retired():
    glance = [published("Debian", "2")]
    result = plan([entry(enable=False, validity="none")], glance)
    assert [(step.action, step.reason) for step in result.steps] == [
        ("deactivate", "the catalog disables it, expired (uuid_validity none); deletion is off")
    ]


def test_an_image_without_the_managed_tag_is_never_touched_and_a_name_it_holds_stops_the_run():
    stranger = published("Debian", "2", tags=["other"], id="stranger-id")
    with pytest.raises(CatalogPlanError) as caught:
        plan([entry()], [stranger])
    message = str(caught.value)
    assert "image stranger-id (active) already holds the name 'Debian' without being a version of it" in message
    assert "it lacks the tag managed_by_osimages" in message
    # Hidden, or holding another name, it is simply not ours: no step mentions it.
    hidden = published("Debian", "2", tags=["other"], id="stranger-id", os_hidden=True)
    assert all(step.image_id != "stranger-id" for step in plan([entry()], [hidden]).steps)


def test_an_image_of_another_project_is_not_managed_even_with_the_tag():
    foreign = published("Debian", "2", owner="project-b", id="foreign-id")
    with pytest.raises(CatalogPlanError, match="foreign-id"):
        plan([entry()], [foreign])


def test_every_problem_in_glance_is_reported_together():
    glance = [
        published("Debian", "2", os_hash_value="6" * 128, id="changed-data"),
        published("Ubuntu", "1", series="Ubuntu", tags=[], id="ubuntu-stranger"),
        published("x", "9", series="Alma", id="twin-1"),
        published("y", "9", series="Alma", id="twin-2", osimages_series="Alma"),
        published("z", "1", id="no-series", tags=[TAG], osimages_series="", image_name=""),
    ]
    with pytest.raises(CatalogPlanError) as caught:
        plan([entry(), entry("Ubuntu", versions=("1",)), entry("Alma", versions=("9",))], glance)
    problems = caught.value.problems
    assert len(problems) == 4, problems
    assert "no-series" in problems[0] and "no osimages_series property" in problems[0]
    assert any("ubuntu-stranger" in problem for problem in problems)
    assert any("version 2 already exists as image changed-data with different data" in problem for problem in problems)
    assert any("version 9 is held by 2 images (twin-1, twin-2)" in problem for problem in problems)


def test_a_version_glance_holds_no_data_for_is_uploaded_again_into_the_same_image():
    queued = published("Debian (2)", "2", status="queued", os_hash_value=None, os_hidden=True)
    result = plan([entry()], [queued])
    assert changes(result) == [("upload", "2"), ("promote", "2")]
    assert result.steps[0].image_id == queued["id"]
    assert result.steps[1].params["status"] is None  # no status change while it has no data


def test_a_killed_version_stops_the_run_with_its_id():
    with pytest.raises(CatalogPlanError, match="image id-Debian-2, which Glance left killed"):
        plan([entry()], [published("Debian", "2", status="killed")])


def test_images_made_by_openstack_image_manager_join_their_series_through_image_name():
    osism = published("Debian", "2")
    del osism["properties"]["osimages_series"]
    result = plan([entry(versions=("3",))], [osism])
    assert changes(result) == [("create", "3"), ("upload", "3"), ("demote", "2"), ("promote", "3")]


def test_the_plan_reads_as_a_table():
    result = plan([entry(versions=("3",))], [published("Debian", "2")])
    table = result.table()
    assert table[0].split() == ["IMAGE", "VERSION", "ACTION", "REASON"]
    assert table[1].split()[:3] == ["Debian", "3", "create"]
    assert result.as_list()[2] == {
        "image": "Debian",
        "version": "2",
        "action": "demote",
        "reason": "superseded, still valid (uuid_validity last-3)",
        "id": "id-Debian-2",
        "name": "Debian (2)",
    }


def test_diff_mode_shows_each_changed_image_before_and_after():
    old = published("Debian", "2")
    result = plan([entry(versions=("3",), validity="none")], [old], delete_retired=True)
    diff = result.diff({old["id"]: old})
    assert diff["before"] == {"Debian 2": dict(cp._summary(old))}
    assert diff["after"]["Debian 2"] is None  # deleted
    new = diff["after"]["Debian 3"]
    assert (new["name"], new["hidden"], new["visibility"], new["status"]) == ("Debian", False, "public", "active")
    assert new["id"] == result.steps[0].image_id


def test_published_is_each_listed_version_as_the_plan_leaves_it():
    """What the SCS audit checks: the listed versions only (not the retired one), their properties over Glance's."""
    held = published("Debian", "2")
    held["properties"]["hw_disk_bus"] = "scsi"  # set in Glance by hand: the plan does not purge it
    old = published("Debian (1)", "1", hidden=True)
    result = plan([entry(versions=("2", "3"), min_disk=4)], [held, old])
    states = {state["properties"]["internal_version"]: state for state in result.published({"id-Debian-2": held})}
    assert sorted(states) == ["2", "3"]
    assert states["2"]["id"] == "id-Debian-2" and states["2"]["hidden"] is True and states["2"]["name"] == "Debian (2)"
    assert states["2"]["properties"]["hw_disk_bus"] == "scsi"
    assert states["3"]["hidden"] is False and states["3"]["name"] == "Debian" and states["3"]["min_disk"] == 4
    assert states["3"]["id"] == [step.image_id for step in result.steps if step.action == cp.CREATE][0]
    assert (
        states["3"]["properties"]["image_original_user"] == "debian" and "hw_disk_bus" not in states["3"]["properties"]
    )


def baremetal_entry(versions=("2",), validity="last-3"):
    """An image with a kernel and a ramdisk in every version (local artifacts, as image_publish hands them)."""
    image = entry(versions=versions, validity=validity)
    for version in image["versions"]:
        for key in ("kernel", "ramdisk"):
            version[key] = {"artifact": "/srv/build/%s.%s" % (version["version"], key)}
    return image


def glance_after(result):
    """What Glance holds once a plan ran and every transfer arrived: each listed version in its final state."""
    created = dict((step.image_id, step.params) for step in result.steps if step.action == cp.CREATE)
    held = []
    for step in result.steps:
        if step.action not in (cp.PROMOTE, cp.UPDATE, cp.NOTHING) or "properties" not in step.params:
            continue
        params = step.params
        raw = {
            "id": step.image_id,
            "name": params["name"],
            "status": "active",
            "visibility": params["visibility"],
            "os_hidden": params["hidden"],
            "owner": PROJECT,
            "tags": params["tags"],
            "disk_format": created[step.image_id]["disk_format"],
            "container_format": created[step.image_id]["container_format"],
            "min_disk": params["min_disk"],
            "min_ram": params["min_ram"],
            "os_hash_algo": "sha512",
            "os_hash_value": SHA512,
            "created_at": "2026-01-0%sT00:00:00Z" % step.version,
            "protected": False,
        }
        raw.update((field, params[field]) for field in cp.LINK_FIELDS if field in params)
        raw.update(params["properties"])
        held.append(normalize(raw))
    return held


def test_a_kernel_and_ramdisk_are_published_first_and_the_image_links_them():
    result = plan([baremetal_entry()], [])
    assert steps(result) == [
        ("create", "Debian kernel", "2"),
        ("upload", "Debian kernel", "2"),
        ("promote", "Debian kernel", "2"),
        ("create", "Debian ramdisk", "2"),
        ("upload", "Debian ramdisk", "2"),
        ("promote", "Debian ramdisk", "2"),
        ("create", "Debian", "2"),
        ("upload", "Debian", "2"),
        ("promote", "Debian", "2"),
    ]
    kernel, ramdisk, image = (result.steps[index] for index in (0, 3, 6))
    assert (kernel.params["disk_format"], kernel.params["container_format"]) == ("aki", "aki")
    assert (ramdisk.params["disk_format"], ramdisk.params["container_format"]) == ("ari", "ari")
    # The image is created unlinked, and linked when promoted, by the IDs its companions take; until their bytes
    # arrive, nothing of the three goes further than its creation.
    assert "kernel_id" not in image.params and "ramdisk_id" not in image.params
    promote = result.steps[8].params
    assert (promote["kernel_id"], promote["ramdisk_id"]) == (kernel.image_id, ramdisk.image_id)
    assert result.uploads_pending({"Debian kernel"}) and not result.uploads_pending({"Other"})
    assert "kernel_id" not in kernel.params and "kernel_id" not in ramdisk.params
    # Companions stay hidden when they take their name; no inspector reads their bytes.
    assert result.steps[2].params["hidden"] is True and result.steps[2].params["name"] == "Debian kernel"
    assert [step.source["skip_format_check"] for step in result.steps if step.action == cp.UPLOAD] == [
        True,
        True,
        False,
    ]
    # The SCS audit looks at the image users boot, not at its kernel and ramdisk.
    assert [state["name"] for state in result.published({})] == ["Debian"]


def test_a_published_baremetal_image_changes_nothing_and_a_lost_link_is_restored():
    held = glance_after(plan([baremetal_entry()], []))
    assert changes(plan([baremetal_entry()], held)) == []
    image = [glance for glance in held if glance["name"] == "Debian"][0]
    kernel_id = image["kernel_id"]
    image["kernel_id"] = None  # an operator unset it
    result = plan([baremetal_entry()], held)
    assert changes(result) == [("update", "2")]
    assert [step.params["kernel_id"] for step in result.steps if step.action == cp.UPDATE] == [kernel_id]


BAREMETAL = ("Debian kernel", "Debian ramdisk", "Debian")  # catalog order: the companions first


def runs(result, names=BAREMETAL):
    return [(name, [(step.action, step.version) for step in steps]) for name, steps in result.runs(names)]


def test_a_new_version_links_the_new_kernel_and_the_three_retire_together():
    held = glance_after(plan([baremetal_entry(versions=("2",))], []))
    result = plan([baremetal_entry(versions=("3",), validity="none")], held, delete_retired=True)
    assert [(step.image, step.version) for step in result.steps if step.action == cp.DELETE] == [
        ("Debian kernel", "2"),
        ("Debian ramdisk", "2"),
        ("Debian", "2"),
    ]
    # The old image is deleted before the kernel and ramdisk it links: a run that stops in between leaves unused
    # companions (deleted by the next run), never an image pointing at a deleted kernel.
    assert runs(result) == [
        ("Debian kernel", [("create", "3"), ("upload", "3"), ("promote", "3")]),
        ("Debian ramdisk", [("create", "3"), ("upload", "3"), ("promote", "3")]),
        ("Debian", [("create", "3"), ("upload", "3"), ("promote", "3"), ("delete", "2")]),
        ("Debian kernel", [("delete", "2")]),
        ("Debian ramdisk", [("delete", "2")]),
    ]
    created = dict((step.image, step.image_id) for step in result.steps if step.action == cp.CREATE)
    promote = [step for step in result.steps if step.action == cp.PROMOTE and step.image == "Debian"][0]
    assert (promote.params["kernel_id"], promote.params["ramdisk_id"]) == (
        created["Debian kernel"],
        created["Debian ramdisk"],
    )
    old_kernel = [glance["id"] for glance in held if glance["name"] == "Debian kernel"][0]
    assert promote.params["kernel_id"] != old_kernel


def test_a_kernel_that_an_image_which_stays_links_is_kept():
    held = glance_after(plan([baremetal_entry(versions=("1", "2"))], []))
    [oldest] = [glance for glance in held if glance["name"] == "Debian (1)"]
    oldest["protected"] = True  # an operator keeps it for the servers that still rebuild from it
    result = plan([baremetal_entry(versions=("3",), validity="none")], held, delete_retired=True)
    retired = dict(
        ((step.image, step.version), (step.action, step.reason.rpartition("; ")[2]))
        for step in result.steps
        if step.version in ("1", "2")
    )
    assert retired == {
        ("Debian", "1"): ("deactivate", "protected, so never deleted"),
        ("Debian kernel", "1"): ("deactivate", "not deleted while an image that stays links it"),
        ("Debian ramdisk", "1"): ("deactivate", "not deleted while an image that stays links it"),
        ("Debian", "2"): ("delete", "superseded, expired (uuid_validity none)"),
        ("Debian kernel", "2"): ("delete", "superseded, expired (uuid_validity none)"),
        ("Debian ramdisk", "2"): ("delete", "superseded, expired (uuid_validity none)"),
    }
    # Once the image is gone, the next run deletes what it linked.
    after = [glance for glance in held if glance["id"] != oldest["id"]]
    result = plan([baremetal_entry(versions=("3",), validity="none")], after, delete_retired=True)
    assert sorted((step.image, step.version) for step in result.steps if step.action == cp.DELETE) == [
        ("Debian", "2"),
        ("Debian kernel", "1"),
        ("Debian kernel", "2"),
        ("Debian ramdisk", "1"),
        ("Debian ramdisk", "2"),
    ]


def test_a_baremetal_image_removed_from_the_catalog_goes_before_its_kernel_and_ramdisk():
    held = glance_after(plan([baremetal_entry(versions=("2",), validity="none")], []))
    result = plan([entry(name="Ubuntu")], held, delete_retired=True)
    assert runs(result) == [
        ("Debian", [("delete", "2")]),
        ("Debian kernel", [("delete", "2")]),
        ("Debian ramdisk", [("delete", "2")]),
    ]


CERT = "5f3e2a1b-0c4d-4e8f-9a7b-6c5d4e3f2a1b"


def test_a_signed_catalog_refuses_versions_not_signed_with_its_certificate():
    signed = published("Debian (2)", "2", os_hidden=True, img_signature_certificate_uuid=CERT)
    unsigned = published("Debian", "3")
    other = published("Debian (4)", "4", os_hidden=True, img_signature_certificate_uuid="another-certificate")
    queued = published("Debian (5)", "5", status="queued", os_hash_value=None, os_hidden=True)
    retired = published("Debian (1)", "1", os_hidden=True)  # no longer listed: retired, signed or not
    versions = ("2", "3", "4", "5")
    with pytest.raises(CatalogPlanError) as caught:
        plan(
            [entry(versions=versions, validity="last-5")],
            [signed, unsigned, other, queued, retired],
            signing_certificate=CERT,
        )
    assert caught.value.problems == [
        "Debian: version 3 is image id-Debian-3, which is not signed; a signed catalog publishes only versions signed "
        "with the certificate %s: publish it again as a new version, signed" % CERT,
        "Debian: version 4 is image id-Debian-4, which is signed with the certificate another-certificate; a signed "
        "catalog publishes only versions signed with the certificate %s: publish it again as a new version, signed"
        % CERT,
    ]
    # Signed or still without data (its upload will be signed): the plan goes on; unsigned catalogs do not ask.
    assert plan([entry(versions=("2", "5"))], [signed, queued, retired], signing_certificate=CERT).changes
    assert plan([entry(versions=versions, validity="last-5")], [signed, unsigned, other, queued, retired]).changes


def test_a_signed_catalog_cannot_let_glance_fetch_the_bytes():
    with pytest.raises(CatalogPlanError, match="method web-download lets Glance fetch the bytes"):
        plan([entry(method="web-download")], [], signing_certificate=CERT)


@pytest.mark.parametrize(
    "status, kept",
    [
        ("active", True),
        ("queued", True),
        ("deactivated", True),
        ("killed", True),
        ("deleted", False),
        ("pending_delete", False),
    ],
)
def test_an_image_glance_is_deleting_is_not_planned_with(status, kept):
    """Between Glance's two delete transactions an image is listed with its tags and without its properties."""
    raw = {"id": "x", "status": status, "tags": ["managed_by_osimages"]}
    assert cp.present([raw]) == ([raw] if kept else [])
