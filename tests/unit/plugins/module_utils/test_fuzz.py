"""Property-based tests: random option combinations never produce a traceback.

The pure planning code either plans or raises ModuleError with a message; the modules, run end to end
through main() with a fake Glance, either succeed or fail with a readable message, never "failed
unexpectedly" (the catch-all for our own bugs).
"""

from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from ansible_collections.osimages.glance.plugins.module_utils._errors import ModuleError
from ansible_collections.osimages.glance.plugins.module_utils._reconcile import DISK_FORMATS
from ansible_collections.osimages.glance.plugins.module_utils._reconcile import desired_from_params
from ansible_collections.osimages.glance.plugins.module_utils._reconcile import has_changes
from ansible_collections.osimages.glance.plugins.module_utils._reconcile import make_diff
from ansible_collections.osimages.glance.plugins.module_utils._reconcile import make_plan
from ansible_collections.osimages.glance.plugins.module_utils._reconcile import normalize
from ansible_collections.osimages.glance.plugins.module_utils._reconcile import preview

text = st.text(min_size=0, max_size=12)
scalar = st.one_of(st.none(), st.booleans(), st.integers(-5, 10**12), text, st.floats(allow_nan=False))


def maybe(strategy):
    """An option either unset or drawn from ``strategy``."""
    return st.one_of(st.none(), strategy)


PARAMS = st.fixed_dictionaries(
    {
        "name": maybe(text),
        "visibility": maybe(st.sampled_from(["public", "private", "shared", "community", "bogus"])),
        "protected": maybe(st.booleans()),
        "hidden": maybe(st.booleans()),
        "min_disk": maybe(st.integers(-3, 10**6)),
        "min_ram": maybe(st.integers(-3, 10**6)),
        "disk_format": maybe(st.sampled_from(list(DISK_FORMATS) + ["floppy"])),
        "container_format": maybe(st.sampled_from(["bare", "ovf", "ova", "docker", "nope"])),
        "tags": maybe(st.lists(text, max_size=5)),
        "properties": maybe(
            st.dictionaries(
                st.one_of(text, st.sampled_from(["os_distro", "min_disk", "checksum", "os_hash_value", "stores"])),
                st.one_of(scalar, st.lists(scalar, max_size=3), st.dictionaries(text, scalar, max_size=2)),
                max_size=5,
            )
        ),
        "members": maybe(st.lists(text, max_size=3)),
    }
)

CURRENT = st.one_of(
    st.none(),
    st.fixed_dictionaries(
        {
            "id": st.just("11111111-2222-3333-4444-555555555555"),
            "name": text,
            "status": st.sampled_from(["queued", "saving", "active", "deactivated", "killed", "importing"]),
            "visibility": st.sampled_from(["public", "private", "shared", "community"]),
            "protected": st.booleans(),
            "os_hidden": st.booleans(),
            "min_disk": st.integers(0, 100),
            "min_ram": st.integers(0, 100),
            "owner": st.just("p" * 32),
            "tags": st.lists(text, max_size=4),
            "disk_format": st.one_of(st.none(), st.sampled_from(DISK_FORMATS)),
            "container_format": st.one_of(st.none(), st.just("bare")),
            "os_distro": text,
        }
    ),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    params=PARAMS,
    raw=CURRENT,
    state=st.sampled_from(["present", "absent"]),
    status=st.sampled_from([None, "active", "deactivated"]),
    purge_tags=st.booleans(),
    purge_properties=st.booleans(),
    purge_members=st.booleans(),
)
def test_planning_either_plans_or_explains(params, raw, state, status, purge_tags, purge_properties, purge_members):
    try:
        desired = desired_from_params(params)
        current = normalize(raw, [] if raw and raw["visibility"] == "shared" else None)
        plan = make_plan(
            current,
            desired,
            state=state,
            status=status,
            purge_tags=purge_tags,
            purge_properties=purge_properties,
            purge_members=purge_members,
        )
    except ModuleError as exc:
        assert exc.msg and isinstance(exc.msg, str)
        return
    after = preview(current, plan, "p" * 32 if plan["create"] else None)
    diff = make_diff(current, None if plan["delete"] else after, desired, status, purge_properties)
    if state == "absent":
        assert after is None and diff["after"] == {}
        return
    # What the diff promises is what the task asked for...
    for option, value in desired["attrs"].items():
        assert diff["after"][option] == value, option
    if desired["tags"] is not None:
        wanted = set(desired["tags"])
        assert set(diff["after"]["tags"]) == wanted if purge_tags else set(diff["after"]["tags"]) >= wanted
    if desired["properties"] is not None:
        assert desired["properties"].items() <= diff["after"]["properties"].items()
    # ...and it converges: planning again from the previewed image changes nothing.
    again = make_plan(
        after,
        desired,
        state=state,
        status=status,
        purge_tags=purge_tags,
        purge_properties=purge_properties,
        purge_members=purge_members,
    )
    assert not has_changes(again), again
    if not has_changes(plan) and current is not None:
        assert diff["before"] == diff["after"]
