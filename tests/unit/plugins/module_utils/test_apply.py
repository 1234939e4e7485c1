"""apply_plan: the order of a plan's calls, and the rollback of an image a failed run created (a recording fake API:
the calls themselves are ImageApi's, tested in test_images.py and against the local cloud)."""

import pytest

from ansible_collections.osimages.glance.plugins.module_utils._apply import apply_plan
from ansible_collections.osimages.glance.plugins.module_utils._errors import Conflict
from ansible_collections.osimages.glance.plugins.module_utils._errors import GlanceError
from ansible_collections.osimages.glance.plugins.module_utils._errors import IdTaken
from ansible_collections.osimages.glance.plugins.module_utils._reconcile import empty_plan

NEW_ID = "99999999-0000-0000-0000-000000000000"


class RecordingApi:
    """Records each call as (name, argument); ``fail_on`` names the call that raises ``error``."""

    project_id = "own-project"

    def __init__(self, fail_on=None, error=None):
        self.calls, self.fail_on, self.error = [], fail_on, error or GlanceError("Glance answered HTTP 500")

    def _call(self, name, argument=None):
        self.calls.append((name, argument))
        if name == self.fail_on:
            raise self.error

    def create(self, body):
        self._call("create", body.get("name"))
        return {"id": NEW_ID, "name": body.get("name")}

    def reactivate(self, image):
        self._call("reactivate")

    def patch(self, image, operations):
        self._call("patch", len(operations))

    def add_tag(self, image, tag):
        self._call("add_tag", tag)

    def remove_tag(self, image, tag):
        self._call("remove_tag", tag)

    def add_member(self, image, project_id):
        self._call("add_member", project_id)

    def remove_member(self, image, project_id):
        self._call("remove_member", project_id)

    def set_member_status(self, image, project_id, status):
        self._call("set_member_status", status)

    def deactivate(self, image):
        self._call("deactivate")

    def delete(self, image):
        self._call("delete", image["id"])


def plan(**steps):
    result = empty_plan()
    result.update(steps)
    return result


EVERY_STEP = plan(
    status_action="reactivate",
    patch=[("replace", "min_disk", 2)],
    add_tags=["new"],
    remove_tags=["old"],
    add_members=["p2"],
    remove_members=["p3"],
    member_status="accepted",
    delete=True,
)


@pytest.mark.parametrize(
    "steps, expected",
    [
        (plan(), []),
        (
            EVERY_STEP,
            [
                ("reactivate", None),
                ("patch", 1),
                ("add_tag", "new"),
                ("remove_tag", "old"),
                ("add_member", "p2"),
                ("remove_member", "p3"),
                ("set_member_status", "accepted"),
                ("delete", "11"),
            ],
        ),
        # Deactivation comes after the metadata changes, which go in while the image is still active.
        (plan(status_action="deactivate", add_tags=["t"]), [("add_tag", "t"), ("deactivate", None)]),
        (plan(create={"name": "new"}, add_tags=["t"]), [("create", "new"), ("add_tag", "t")]),
    ],
)
def test_calls_go_out_in_a_safe_order(steps, expected):
    api = RecordingApi()
    image_id = apply_plan(api, {"id": "11", "name": "existing"}, steps)
    assert api.calls == expected
    assert image_id == (NEW_ID if steps["create"] else "11")


def test_an_image_this_run_created_is_deleted_when_a_later_step_fails():
    api = RecordingApi(fail_on="add_member")
    with pytest.raises(GlanceError) as raised:
        apply_plan(api, None, plan(create={"name": "new"}, add_tags=["t"], add_members=["p2"]))
    assert raised.value.msg == "Glance answered HTTP 500; the new image %s was deleted again" % NEW_ID
    assert api.calls[-1] == ("delete", NEW_ID)


def test_an_existing_image_is_never_deleted_when_a_step_fails():
    api = RecordingApi(fail_on="add_tag")
    with pytest.raises(GlanceError) as raised:
        apply_plan(api, {"id": "11", "name": "existing"}, plan(add_tags=["t"], add_members=["p2"]))
    assert "deleted" not in raised.value.msg
    assert api.calls == [("add_tag", "t")]


def test_an_id_taken_by_an_image_this_project_cannot_see_is_a_clear_error():
    api = RecordingApi(fail_on="create", error=Conflict("Glance answered HTTP 409", status_code=409))
    with pytest.raises(IdTaken, match="Failed to create image new with ID abc: an image with that ID already exists"):
        apply_plan(api, None, plan(create={"name": "new", "id": "abc"}))
    assert api.calls == [("create", "new")]
