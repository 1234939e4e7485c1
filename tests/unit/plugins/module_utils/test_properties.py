"""Image properties against Glance's definitions: the table built from the metadata definitions and the image
schema, the findings for values and keys, the suggestions' edit distance, and what each validation mode does.
The live tests (test_live_glance_image.py, test_live_catalog.py) run the same checks against a real Glance with
its metadata definitions loaded."""

import pytest

from ansible_collections.osimages.glance.plugins.module_utils import _glance_module
from ansible_collections.osimages.glance.plugins.module_utils._errors import ValidationError
from ansible_collections.osimages.glance.plugins.module_utils._properties import check_properties
from ansible_collections.osimages.glance.plugins.module_utils._properties import definitions_fingerprint
from ansible_collections.osimages.glance.plugins.module_utils._properties import definitions_from
from ansible_collections.osimages.glance.plugins.module_utils._properties import edit_distance
from ansible_collections.osimages.glance.plugins.module_utils._properties import enforce
from ansible_collections.osimages.glance.plugins.module_utils._properties import suggestions

# Shaped as Glance shows namespaces for OS::Glance::Image (prefixes applied) and its image schema.
LIBVIRT = {
    "namespace": "OS::Compute::LibvirtImage",
    "properties": {
        "hw_disk_bus": {"type": "string", "enum": ["scsi", "virtio", "ide"]},
        "hw_rng_model": {"type": "string", "enum": ["virtio"]},
        "hw_video_ram": {"type": "integer", "minimum": 0},
        "hw_qemu_guest_agent": {"type": "string", "enum": ["yes", "no"]},
    },
    "objects": [{"name": "watchdog", "properties": {"hw_watchdog_action": {"type": "string", "enum": ["reset"]}}}],
}
OTHER = {
    "namespace": "OS::Other",
    "properties": {
        "hw_disk_bus": {"type": "string", "enum": ["usb"]},  # defined twice: the first namespace's wins
        "img_linked_clone": {"type": "boolean"},
        "cpu_ratio": {"type": "number", "maximum": 4},
        "sw_version": {"type": "string", "pattern": "^[0-9.]+$", "maxLength": 8},
    },
}
SCHEMA = {
    "name": "image",
    "properties": {
        "os_distro": {"type": "string"},
        "min_disk": {"type": "integer"},
        "kernel_id": {"type": ["null", "string"], "pattern": "^[0-9a-f-]{36}$"},
        "os_hash_value": {"type": ["null", "string"], "readOnly": True},
    },
}
DEFINITIONS = definitions_from([LIBVIRT, OTHER], SCHEMA)


def test_the_table_joins_namespaces_objects_and_the_schema():
    assert sorted(DEFINITIONS) == [
        "cpu_ratio",
        "hw_disk_bus",
        "hw_qemu_guest_agent",
        "hw_rng_model",
        "hw_video_ram",
        "hw_watchdog_action",
        "img_linked_clone",
        "kernel_id",
        "min_disk",
        "os_distro",
        "sw_version",
    ]  # os_hash_value is Glance's own (read-only): nobody sets it
    assert DEFINITIONS["hw_disk_bus"]["enum"] == ["scsi", "virtio", "ide"]
    assert DEFINITIONS["hw_watchdog_action"]["namespace"] == "OS::Compute::LibvirtImage"
    assert DEFINITIONS["os_distro"]["namespace"] == "the image schema"


@pytest.mark.parametrize(
    "properties, findings",
    [
        # values that the definitions allow, and keys nobody defines that resemble nothing: no finding
        ({"hw_disk_bus": "virtio", "hw_video_ram": "64", "img_linked_clone": "True", "cpu_ratio": "1.5"}, []),
        ({"image_build_date": "2026-12-01", "osimages_series": "debian-13", "sw_version": "1.2"}, []),
        ({"hw_disk_bus": None}, []),  # a property being removed
        # values outside the allowed ones name them, with the namespace that defines them
        (
            {"hw_disk_bus": "scsii"},
            ["hw_disk_bus='scsii' is not one of the values allowed: scsi, virtio, ide (OS::Compute::LibvirtImage)"],
        ),
        ({"hw_qemu_guest_agent": True}, ["hw_qemu_guest_agent='True' is not one of the values allowed: yes, no"]),
        # the wrong type or form
        ({"hw_video_ram": "lots"}, ["hw_video_ram='lots' is not an integer"]),
        ({"hw_video_ram": "-1"}, ["hw_video_ram='-1' is below the minimum, 0"]),
        ({"cpu_ratio": "many"}, ["cpu_ratio='many' is not a number"]),
        ({"cpu_ratio": "8"}, ["cpu_ratio='8' is above the maximum, 4"]),
        ({"img_linked_clone": "maybe"}, ["img_linked_clone='maybe' is not a boolean (true or false)"]),
        ({"sw_version": "v1"}, ["sw_version='v1' does not match the pattern ^[0-9.]+$"]),
        ({"sw_version": "1.2.3.4.5"}, ["sw_version='1.2.3.4.5' is longer than 8 characters"]),
        # keys within a small edit distance of a defined one
        ({"hw_disk_buss": "virtio"}, ["hw_disk_buss is not a property Glance defines; did you mean hw_disk_bus?"]),
        ({"hw_rng_modle": "virtio"}, ["hw_rng_modle is not a property Glance defines; did you mean hw_rng_model?"]),
        ({"min_dsik": "4"}, ["min_dsik is not a property Glance defines; did you mean min_disk?"]),
        ({"os_distor": "debian"}, ["os_distor is not a property Glance defines; did you mean os_distro?"]),
        # sorted by key, one finding each
        (
            {"hw_video_ram": "x", "hw_disk_bus": "sata"},
            ["hw_disk_bus='sata' is not one of", "hw_video_ram='x' is not an integer"],
        ),
    ],
)
def test_findings(properties, findings):
    found = check_properties(properties, DEFINITIONS)
    assert len(found) == len(findings), found
    for message, expected in zip(found, findings):
        assert message.startswith(expected), (message, expected)


@pytest.mark.parametrize(
    "first, second, distance",
    [
        ("hw_disk_bus", "hw_disk_bus", 0),
        ("hw_disk_buss", "hw_disk_bus", 1),  # an insertion
        ("hw_disk_bux", "hw_disk_bus", 1),  # a substitution
        ("hw_rng_modle", "hw_rng_model", 1),  # a transposition counts once
        ("hw_dsik_buss", "hw_disk_bus", 2),
        ("os_type", "os_distro", 3),  # over the limit of 2: reported as limit + 1
        ("a", "abcdef", 3),  # lengths too far apart: not computed
    ],
)
def test_edit_distance(first, second, distance):
    assert edit_distance(first, second, 2) == distance


@pytest.mark.parametrize(
    "key, known, expected",
    [
        ("hw_disk_buss", ["hw_disk_bus", "hw_scsi_model"], ["hw_disk_bus"]),
        ("hw_vif_modle", ["hw_vif_model", "hw_vif_models", "hw_rng_model"], ["hw_vif_model", "hw_vif_models"]),
        ("arch", ["arc", "march"], ["arc", "march"]),  # short keys: one edit only
        ("arch", ["ar"], []),
        ("image_source", ["image_sources", "os_distro"], ["image_sources"]),
        ("totally_new", ["hw_disk_bus"], []),
    ],
)
def test_suggestions(key, known, expected):
    assert suggestions(key, known) == expected


@pytest.mark.parametrize(
    "mode, warnings, error",
    [
        ("strict", None, "validate_properties=strict): image a: x; image b: y"),
        ("warn", ["image a: x", "image b: y"], None),
        ("off", [], None),
    ],
)
def test_modes(mode, warnings, error):
    if error:
        with pytest.raises(ValidationError, match=r"\(" + error.replace("(", r"\(").replace(")", r"\)")):
            enforce(["image a: x", "image b: y"], mode)
        return
    assert enforce(["image a: x", "image b: y"], mode) == warnings
    assert enforce([], mode) == []


def test_the_fingerprint_changes_with_a_namespace_or_an_image_prefix():
    summary = {
        "namespace": "OS::Compute::CPUPinning",
        "created_at": "2026-12-01T00:00:00Z",
        "resource_type_associations": [
            {"name": "OS::Glance::Image", "prefix": "hw_", "created_at": "2026-12-01T00:00:00Z"},
            {"name": "OS::Nova::Flavor", "prefix": "hw:", "created_at": "2026-12-01T00:00:00Z"},
        ],
    }
    base = definitions_fingerprint([summary])
    assert definitions_fingerprint([dict(summary)]) == base
    assert definitions_fingerprint([dict(summary, updated_at="2026-12-02T00:00:00Z")]) != base
    assert definitions_fingerprint([summary, dict(summary, namespace="OS::New")]) != base
    moved = dict(summary, resource_type_associations=[dict(summary["resource_type_associations"][0], prefix="x_")])
    assert definitions_fingerprint([moved]) != base
    flavor_only = dict(summary, resource_type_associations=summary["resource_type_associations"][:1])
    assert definitions_fingerprint([flavor_only]) == base  # a flavor's prefix does not name image properties


class CountingApi:
    """The three reads property_definitions makes, counted."""

    def __init__(self, namespaces):
        self.namespaces = namespaces
        self.calls = []
        self.http = self

    def get_endpoint(self):
        return "http://glance.test:9292/v2/"

    def metadef_namespaces(self, resource_type):
        self.calls.append("list")
        return [{"namespace": body["namespace"], "created_at": "2026-12-01"} for body in self.namespaces]

    def metadef_namespace(self, namespace, resource_type):
        self.calls.append(namespace)
        return next(body for body in self.namespaces if body["namespace"] == namespace)

    def image_schema(self):
        self.calls.append("schema")
        return SCHEMA


def module_with(api):
    module = object.__new__(_glance_module.GlanceModule)
    module._api, module._definitions = api, None
    return module


def test_definitions_kept_on_disk_cost_a_task_no_request_while_fresh_then_one(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    clock = [1e9]
    monkeypatch.setattr(_glance_module.time, "time", lambda: clock[0])
    first = CountingApi([LIBVIRT])
    assert module_with(first).property_definitions() == definitions_from([LIBVIRT], SCHEMA)
    assert first.calls == ["list", "OS::Compute::LibvirtImage", "schema"]
    # within DEFINITIONS_FRESH of that: no request at all, and once per task
    clock[0] += _glance_module.DEFINITIONS_FRESH - 1
    second = CountingApi([LIBVIRT])
    module = module_with(second)
    assert module.property_definitions() == definitions_from([LIBVIRT], SCHEMA)
    assert module.property_definitions() is module.property_definitions()
    assert second.calls == []
    # later: the namespace list says nothing changed, and the definitions are fresh again from then
    clock[0] += 2
    third = CountingApi([LIBVIRT])
    assert module_with(third).property_definitions() == definitions_from([LIBVIRT], SCHEMA)
    assert third.calls == ["list"]
    clock[0] += _glance_module.DEFINITIONS_FRESH - 1
    assert module_with(CountingApi([LIBVIRT])).property_definitions() and third.calls == ["list"]
    # a namespace added in Glance is read, with every other one, once the list is asked again
    clock[0] += 2
    fourth = CountingApi([LIBVIRT, OTHER])
    assert "cpu_ratio" in module_with(fourth).property_definitions()
    assert fourth.calls == ["list", "OS::Compute::LibvirtImage", "OS::Other", "schema"]
    # a day after they were read, the schema is read again, whatever the namespaces say
    clock[0] += _glance_module.DEFINITIONS_MAX_AGE
    fifth = CountingApi([LIBVIRT, OTHER])
    module_with(fifth).property_definitions()
    assert fifth.calls[-1] == "schema"
    assert [path.name for path in (tmp_path / "osimages.glance").iterdir()] == [
        "property-definitions-%s.json" % _glance_module.hashlib.sha256(b"http://glance.test:9292/v2/").hexdigest()[:16]
    ]  # no partial file left beside it
