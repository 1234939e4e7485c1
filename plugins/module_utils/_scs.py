# -*- coding: utf-8 -*-
# Copyright: Contributors to the osimages.glance collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal use only: this file is not part of the collection's public API.
"""The SCS image metadata standard (scs-0102), pure: the forms of its properties, and an audit of images against it.

The catalog reads its retention properties through here, and the audit (glance_image_info's and glance_catalog's
``scs_audit``) checks images, as Glance holds them or as a catalog plan leaves them, for the properties the
standard makes mandatory and for images past their ``replace_frequency`` or ``provided_until``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import re

DATE_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# image_build_date: a date, optionally with a time of day.
BUILD_DATE_PATTERN = re.compile(r"^(\d{4}-\d{2}-\d{2})([ T]\d{2}:\d{2}(:\d{2})?Z?)?$")
SOURCE_PATTERN = re.compile(r"^(https?|ftps?|s3|git|file):\S+$")
REPLACE_FREQUENCIES = ("yearly", "quarterly", "monthly", "weekly", "daily", "critical_bug", "never")
# How many days an image may go without a rebuild, by replace_frequency; critical_bug and never set no schedule.
FREQUENCY_DAYS = {"daily": 1, "weekly": 7, "monthly": 31, "quarterly": 92, "yearly": 366}
# How long a version's UUID stays usable once a newer version supersedes it.
VALIDITY_WORDS = ("none", "forever", "notice")
LAST_N = re.compile(r"^last-(\d+)$")
# The properties scs-0102 (v1.1) makes mandatory, besides the min_disk and min_ram attributes.
MANDATORY = (
    "architecture",
    "os_distro",
    "os_version",
    "hw_disk_bus",
    "image_build_date",
    "image_original_user",
    "image_source",
    "image_description",
    "replace_frequency",
    "provided_until",
    "uuid_validity",
)
# scs_audit: what a non-compliant image does.
AUDIT_MODES = ("off", "report", "strict")


def parse_date(text):
    try:
        return datetime.datetime.strptime(text, "%Y-%m-%d").date()
    except ValueError:
        raise ValueError("%r is not a date (YYYY-MM-DD)" % text)


def parse_validity(value):
    """``uuid_validity`` as (kind, argument): ("none", None), ("last", N), ("date", date), ("forever"|"notice", None).

    Raises ValueError with the reason when the value is not one of SCS's forms.
    """
    if isinstance(value, datetime.date):
        return "date", value
    text = str(value).strip()
    if text in VALIDITY_WORDS:
        return text, None
    match = LAST_N.match(text)
    if match:
        count = int(match.group(1))
        if count < 1:
            raise ValueError("last-%d keeps no version at all; use none" % count)
        return "last", count
    if DATE_PATTERN.match(text):
        return "date", parse_date(text)
    raise ValueError("%r is none, last-N, forever, notice or a date (YYYY-MM-DD)" % (value,))


def parse_provided_until(value):
    """``provided_until`` as a date, or None for ``none`` and ``notice``; ValueError for anything else."""
    text = str(value).strip()
    if text in ("none", "notice"):
        return None
    if DATE_PATTERN.match(text):
        return parse_date(text)
    raise ValueError("%r is none, notice or a date (YYYY-MM-DD)" % (value,))


def parse_build_date(value):
    """The date of ``image_build_date`` (YYYY-MM-DD, optionally with a time); ValueError for anything else."""
    match = BUILD_DATE_PATTERN.match(str(value).strip())
    if not match:
        raise ValueError("%r is not a date (YYYY-MM-DD, optionally with hh:mm[:ss])" % (value,))
    return parse_date(match.group(1))


def _check_frequency(value):
    if value not in REPLACE_FREQUENCIES:
        raise ValueError("%r is not one of %s" % (value, ", ".join(REPLACE_FREQUENCIES)))


def _check_source(value):
    if value != "private" and not SOURCE_PATTERN.match(value):
        raise ValueError("%r is neither a URL nor private" % (value,))


# The form each mandatory property's value must take; the others need only be non-empty.
FORMS = {
    "image_build_date": parse_build_date,
    "image_source": _check_source,
    "replace_frequency": _check_frequency,
    "provided_until": parse_provided_until,
    "uuid_validity": parse_validity,
}


def audit_images(images, today):
    """One row per image (a dict with ``name``, ``id``, ``hidden``, ``min_disk``, ``min_ram`` and ``properties``,
    as normalize() returns it or a catalog plan leaves it): which mandatory SCS properties are missing or malformed,
    and, for visible images, whether it is past its ``replace_frequency`` or ``provided_until``. Superseded versions
    are hidden and old by design: they are checked for their properties only."""
    return [_audit_one(image, today) for image in images]


def _audit_one(image, today):
    properties = image.get("properties") or {}
    missing = [attribute for attribute in ("min_disk", "min_ram") if not image.get(attribute)]
    malformed = []
    for key in MANDATORY:
        value = properties.get(key)
        if value is None or str(value).strip() == "":
            missing.append(key)
            continue
        try:
            FORMS.get(key, str)(str(value).strip())
        except ValueError as exc:
            malformed.append({"property": key, "value": str(value), "why": str(exc)})
    outdated = [] if image.get("hidden") else _outdated(properties, today)
    return {
        "image": image.get("name"),
        "id": image.get("id"),
        "version": properties.get("internal_version") or "",
        "hidden": bool(image.get("hidden")),
        "missing": missing,
        "malformed": malformed,
        "outdated": outdated,
        "compliant": not (missing or malformed or outdated),
    }


def _outdated(properties, today):
    reasons = []
    days = FREQUENCY_DAYS.get(properties.get("replace_frequency"))
    try:
        built = parse_build_date(properties.get("image_build_date"))
    except ValueError:
        built = None
    if days and built and (today - built).days > days:
        reasons.append(
            "built %s, %d days ago: past its replace_frequency %s (%d days)"
            % (built, (today - built).days, properties["replace_frequency"], days)
        )
    try:
        until = parse_provided_until(properties.get("provided_until"))
    except ValueError:
        until = None
    if until and until < today:
        reasons.append("past its provided_until %s" % until)
    return reasons


def audit_table(rows):
    """The audit as fixed-width text: one line per image, its findings or ``ok``."""
    lines = [("IMAGE", "VERSION", "ID", "FINDINGS")]
    for row in rows:
        lines.append(
            (row["image"] or "-", row["version"] or "-", row["id"] or "(new)", "; ".join(findings(row)) or "ok")
        )
    widths = [max(len(str(line[column])) for line in lines) for column in range(3)]
    return ["%-*s  %-*s  %-*s  %s" % (widths[0], a, widths[1], b, widths[2], c, d) for a, b, c, d in lines]


def findings(row):
    """A row's findings as short sentences."""
    found = []
    if row["missing"]:
        found.append("missing " + ", ".join(row["missing"]))
    found.extend("%s: %s" % (item["property"], item["why"]) for item in row["malformed"])
    found.extend(row["outdated"])
    return found


def audit_result(rows, mode):
    """The audit's part of a module's result (``scs_audit``, ``scs_audit_table``), and, in strict mode with an
    image that is not compliant, the message that fails the task (else None)."""
    result = {"scs_audit": rows, "scs_audit_table": audit_table(rows)}
    failing = [row for row in rows if not row["compliant"]]
    if mode != "strict" or not failing:
        return result, None
    described = [
        "%s%s: %s" % (row["image"], " " + row["version"] if row["version"] else "", ", ".join(findings(row)))
        for row in failing
    ]
    return result, (
        "%d of %d image(s) do not comply with the SCS image metadata standard (scs_audit=strict): %s"
        % (len(failing), len(rows), "; ".join(described))
    )
