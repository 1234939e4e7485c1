"""glance_image_data's upload retry policy (_image_data.send_with_retries): which failures of an attempt lead
to another attempt, and which are another run's upload (Conflict, which the module rejoins). Glance itself is
covered by the live fault and concurrency tests (test_live_faults.py, test_live_postgresql.py); this table pins down
the races those tests meet only when the machine is slow: a retry overlapping Glance's handling of the attempt it
saw cut, and two uploads that both found the image queued (Glance answers the loser 410, "could not be found after
upload")."""

import pytest

from ansible_collections.osimages.glance.plugins.module_utils import _image_data
from ansible_collections.osimages.glance.plugins.module_utils._errors import Conflict
from ansible_collections.osimages.glance.plugins.module_utils._errors import GlanceError
from ansible_collections.osimages.glance.plugins.module_utils._errors import TransientError

RESET = TransientError("Failed to upload data to image x: the connection to Glance failed: reset")
BROKEN_BODY = GlanceError("Failed to upload data to image x: Glance answered HTTP 500: broken", status_code=500)
SAVING = Conflict("Failed to upload data to image x: Glance answered HTTP 409: saving", status_code=409)
# ImageApi raises Glance's 410 on a data PUT as a Conflict (test_images.py checks that).
GONE = Conflict("Failed to upload data to image x: Glance answered HTTP 410: gone after upload", status_code=410)
REFUSED = GlanceError("Failed to upload data to image x: Glance answered HTTP 400: bad", status_code=400)


class FakeProgress:
    def restart(self):
        pass


class Attempts:
    """Attempts that end as ``outcomes`` say (an exception, or None for success), on an image that is ``after_cut``
    after a cut attempt; ``retry_log`` gets the retries' warnings."""

    def __init__(self, outcomes, after_cut="queued", retries=3):
        self.queue = list(outcomes)
        self.after_cut = after_cut
        self.retries = retries
        self.count = 0
        self.retry_log = []

    def send(self):
        self.count += 1
        outcome = self.queue.pop(0)
        if outcome is not None:
            raise outcome

    def run(self):
        return _image_data.send_with_retries(
            self.send, lambda: self.after_cut, self.retries, self.retry_log, FakeProgress()
        )


@pytest.fixture(autouse=True)
def no_pause(monkeypatch):
    monkeypatch.setattr(_image_data, "RETRY_PAUSE_SECONDS", 0)


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
    attempt = Attempts(outcomes)
    attempt.run()
    assert attempt.count == attempts
    assert len(attempt.retry_log) == warnings


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
    attempt = Attempts(outcomes, after_cut=after_cut)
    with pytest.raises(error) as raised:
        attempt.run()
    assert raised.type is error
    assert attempt.count == attempts
