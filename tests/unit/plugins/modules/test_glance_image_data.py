"""glance_image_data's upload retry policy: which failures of an attempt lead to another attempt, and which are
another run's upload (Conflict, which the module rejoins). Glance itself is covered by the live fault and
concurrency tests (test_live_faults.py, test_live_postgresql.py); this table pins down the races those tests meet
only when the machine is slow: a retry overlapping Glance's handling of the attempt it saw cut, and two uploads
that both found the image queued (Glance answers the loser 410, "could not be found after upload")."""

import pytest

from ansible_collections.osimages.glance.plugins.module_utils._errors import Conflict
from ansible_collections.osimages.glance.plugins.module_utils._errors import GlanceError
from ansible_collections.osimages.glance.plugins.module_utils._errors import TransientError
from ansible_collections.osimages.glance.plugins.modules import glance_image_data

RESET = TransientError("Failed to upload data to image x: the connection to Glance failed: reset")
BROKEN_BODY = GlanceError("Failed to upload data to image x: Glance answered HTTP 500: broken", status_code=500)
SAVING = Conflict("Failed to upload data to image x: Glance answered HTTP 409: saving", status_code=409)
# ImageApi raises Glance's 410 on a data PUT as a Conflict (test_images.py checks that).
GONE = Conflict("Failed to upload data to image x: Glance answered HTTP 410: gone after upload", status_code=410)
REFUSED = GlanceError("Failed to upload data to image x: Glance answered HTTP 400: bad", status_code=400)


class FakeApi:
    def __init__(self):
        self.retries = []


class FakeProgress:
    def restart(self):
        pass


def make_module(outcomes, after_cut="queued", retries=3):
    """A module whose attempts end as ``outcomes`` say (an exception, or None for success) and whose image is
    ``after_cut`` after a cut attempt."""
    module = object.__new__(glance_image_data.GlanceImageDataModule)
    module.params = {"retries": retries}
    module.src_is_stream = False
    module._api = FakeApi()
    module.attempts = 0
    queue = list(outcomes)

    def send(raw, method, progress):
        module.attempts += 1
        outcome = queue.pop(0)
        if outcome is not None:
            raise outcome

    module._send = send
    module._after_cut_upload = lambda raw: after_cut
    return module


@pytest.fixture(autouse=True)
def no_pause(monkeypatch):
    monkeypatch.setattr(glance_image_data, "RETRY_PAUSE_SECONDS", 0)


@pytest.mark.parametrize(
    "outcomes, attempts, warnings",
    [
        ([None], 1, 0),
        ([RESET, None], 2, 1),
        ([BROKEN_BODY, None], 2, 1),
        # The retry met the cut attempt still saving (409), or taking the image back to queued under it (410).
        ([RESET, SAVING, None], 3, 1),
        ([RESET, GONE, None], 3, 1),
        ([RESET, GONE, RESET, SAVING, None], 5, 2),
    ],
)
def test_an_attempt_cut_or_overlapped_goes_again(outcomes, attempts, warnings):
    module = make_module(outcomes)
    module._send_with_retries({"id": "x"}, "direct", FakeProgress())
    assert module.attempts == attempts
    assert len(module.api.retries) == warnings


@pytest.mark.parametrize(
    "outcomes, after_cut, error, attempts",
    [
        # The first attempt has no cut attempt to overlap: 409 and 410 are another run sending first, which the
        # caller rejoins on Conflict (or finds the image deleted).
        ([SAVING], "queued", Conflict, 1),
        ([GONE], "queued", Conflict, 1),
        ([REFUSED], "queued", GlanceError, 1),
        ([RESET, RESET, RESET, RESET], "queued", TransientError, 4),
        ([RESET, GONE, GONE, GONE, GONE], "queued", Conflict, 5),
        ([RESET], "saving", TransientError, 1),
        ([RESET], "gone", TransientError, 1),
    ],
)
def test_other_failures_stand(outcomes, after_cut, error, attempts):
    module = make_module(outcomes, after_cut=after_cut)
    with pytest.raises(error) as raised:
        module._send_with_retries({"id": "x"}, "direct", FakeProgress())
    assert raised.type is error
    assert module.attempts == attempts
