"""The SCS image metadata audit (scs-0102): mandatory properties missing or malformed, and visible images past
their replace_frequency or provided_until. The live test (test_live_glance_image_info.py) audits a project."""

import datetime

import pytest

from ansible_collections.osimages.glance.plugins.module_utils._scs import audit_images
from ansible_collections.osimages.glance.plugins.module_utils._scs import audit_result
from ansible_collections.osimages.glance.plugins.module_utils._scs import audit_table
from ansible_collections.osimages.glance.plugins.module_utils._scs import parse_build_date
from ansible_collections.osimages.glance.plugins.module_utils._scs import parse_provided_until

TODAY = datetime.date(2026, 12, 3)
COMPLIANT = {
    "architecture": "x86_64",
    "os_distro": "debian",
    "os_version": "13",
    "hw_disk_bus": "scsi",
    "image_build_date": "2026-11-20",
    "image_original_user": "debian",
    "image_source": "https://cloud.debian.org/images/cloud/trixie/latest/debian-13-generic-amd64.qcow2",
    "image_description": "https://wiki.debian.org/Cloud",
    "replace_frequency": "monthly",
    "provided_until": "none",
    "uuid_validity": "last-3",
    "internal_version": "20261120",
}


def image(hidden=False, min_disk=4, min_ram=512, drop=(), **changes):
    properties = dict(COMPLIANT, **changes)
    for key in drop:
        properties.pop(key)
    return {
        "name": "debian-13",
        "id": "6a1d8a52-8f0b-4d1b-a8c5-2b4c6b1b1e2f",
        "hidden": hidden,
        "min_disk": min_disk,
        "min_ram": min_ram,
        "properties": properties,
    }


@pytest.mark.parametrize(
    "given, missing, malformed, outdated",
    [
        (image(), [], [], []),
        (image(image_build_date="2026-11-20 10:30", image_source="private", provided_until="notice"), [], [], []),
        # missing: absent, empty, or (for the attributes) Glance's 0
        (image(drop=["hw_disk_bus", "uuid_validity"]), ["hw_disk_bus", "uuid_validity"], [], []),
        (image(min_disk=0, os_version=" "), ["min_disk", "os_version"], [], []),
        # malformed
        (image(replace_frequency="fortnightly"), [], ["replace_frequency"], []),
        (image(image_build_date="last week"), [], ["image_build_date"], []),
        (image(image_source="the debian site"), [], ["image_source"], []),
        (image(uuid_validity="last-0"), [], ["uuid_validity"], []),
        (image(provided_until="2026-13-01"), [], ["provided_until"], []),
        # past replace_frequency (monthly: 31 days) or provided_until
        (image(image_build_date="2026-11-02"), [], [], []),  # 31 days ago: still within monthly
        (image(image_build_date="2026-11-01"), [], [], ["built 2026-11-01, 32 days ago: past its replace_frequency"]),
        (image(image_build_date="2025-01-01", replace_frequency="never"), [], [], []),
        (image(image_build_date="2025-12-10", replace_frequency="yearly"), [], [], []),
        (image(image_build_date="2025-12-01", replace_frequency="quarterly"), [], [], ["past its replace_frequency"]),
        (image(provided_until="2026-12-02"), [], [], ["past its provided_until 2026-12-02"]),
        (image(provided_until="2026-12-03"), [], [], []),
        # a superseded version is hidden and old by design: only its properties count
        (image(hidden=True, image_build_date="2025-01-01", provided_until="2026-01-01"), [], [], []),
        (image(hidden=True, drop=["image_source"]), ["image_source"], [], []),
    ],
)
def test_audit(given, missing, malformed, outdated):
    (row,) = audit_images([given], TODAY)
    assert row["missing"] == missing
    assert [item["property"] for item in row["malformed"]] == malformed
    assert len(row["outdated"]) == len(outdated), row["outdated"]
    for reason, expected in zip(row["outdated"], outdated):
        assert expected in reason, reason
    assert row["compliant"] is not bool(missing or malformed or outdated)
    assert row["version"] == "20261120" and row["image"] == "debian-13"


def test_table_and_strict():
    rows = audit_images([image(), image(drop=["os_distro"], replace_frequency="often")], TODAY)
    table = audit_table(rows)
    assert table[0].split() == ["IMAGE", "VERSION", "ID", "FINDINGS"]
    assert table[1].endswith("  ok")
    assert table[2].endswith(
        "missing os_distro; replace_frequency: 'often' is not one of yearly, quarterly, monthly, weekly, daily, "
        "critical_bug, never"
    )
    assert len(set(line.index("ok") if line.endswith("ok") else line.index("missing") for line in table[1:])) == 1
    result, error = audit_result(rows, "report")  # reports, never fails
    assert error is None and result == {"scs_audit": rows, "scs_audit_table": table}
    assert audit_result(rows[:1], "strict")[1] is None  # all compliant: nothing to fail
    result, error = audit_result(rows, "strict")
    assert error.startswith("1 of 2 image(s) do not comply with the SCS image metadata standard")
    assert error.endswith(
        "debian-13 20261120: missing os_distro, replace_frequency: 'often' is not one of "
        + ("yearly, quarterly, monthly, weekly, daily, critical_bug, never")
    )
    assert result["scs_audit"] == rows


@pytest.mark.parametrize(
    "value, expected",
    [
        ("2026-11-20", datetime.date(2026, 11, 20)),
        ("2026-11-20 10:30", datetime.date(2026, 11, 20)),
        ("2026-11-20T10:30:00Z", datetime.date(2026, 11, 20)),
        ("20261120", None),
        ("2026-02-30", None),
    ],
)
def test_build_dates(value, expected):
    if expected is None:
        with pytest.raises(ValueError):
            parse_build_date(value)
    else:
        assert parse_build_date(value) == expected


def test_provided_until_words_and_dates():
    assert parse_provided_until("none") is None and parse_provided_until("notice") is None
    assert parse_provided_until("2027-01-31") == datetime.date(2027, 1, 31)
    with pytest.raises(ValueError, match="none, notice or a date"):
        parse_provided_until("soon")
