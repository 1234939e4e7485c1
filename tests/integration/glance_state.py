"""Independent verifier for the molecule scenarios: Glance's own JSON of every image of a series.

    glance_state.py CLOUD SERIES            print the images as JSON
    glance_state.py CLOUD SERIES --delete   delete them (protected ones too)
    glance_state.py CLOUD --project-id      print the project ID of CLOUD

Shared images carry a "members" key: the member project IDs and their status.

Uses plain openstacksdk, never the collection's modules.
"""

import json
import sys

import openstack

SERIES_PROPERTY = "osimages_series"


def series_images(conn, series):
    found = []
    for hidden in ("false", "true"):
        response = conn.image.get("/images", params={SERIES_PROPERTY: series, "os_hidden": hidden})
        response.raise_for_status()
        found.extend(response.json()["images"])
    for image in found:
        if image["visibility"] == "shared":
            members = conn.image.get("/images/%s/members" % image["id"]).json()["members"]
            image["members"] = sorted((member["member_id"], member["status"]) for member in members)
    return found


def main():
    cloud, series = sys.argv[1], sys.argv[2]
    conn = openstack.connect(cloud=cloud)
    if series == "--project-id":
        sys.stdout.write(conn.current_project_id)
        return
    images = series_images(conn, series)
    if "--delete" in sys.argv[3:]:
        for image in images:
            conn.image.update_image(image["id"], is_protected=False)
            conn.image.delete_image(image["id"], ignore_missing=True)
        images = []
    json.dump(images, sys.stdout)


if __name__ == "__main__":
    main()
