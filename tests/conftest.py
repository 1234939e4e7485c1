"""Make ``ansible_collections.osimages.glance`` importable for pytest.

ansible-test runs from .../ansible_collections/osimages/glance; elsewhere the
README commands link the checkout into ANSIBLE_COLLECTIONS_PATH.
"""

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _collections_root():
    if REPO.parent.name == "osimages" and REPO.parent.parent.name == "ansible_collections":
        return REPO.parent.parent.parent
    for entry in os.environ.get("ANSIBLE_COLLECTIONS_PATH", "").split(os.pathsep):
        link = Path(entry) / "ansible_collections" / "osimages" / "glance"
        if entry and link.exists() and link.resolve() == REPO:
            return Path(entry)
    raise RuntimeError(
        "osimages.glance is not importable: run the tests through tests/run-all, or link this checkout to "
        "<dir>/ansible_collections/osimages/glance and set ANSIBLE_COLLECTIONS_PATH=<dir>"
    )


root = str(_collections_root())
if root not in sys.path:
    sys.path.insert(0, root)
