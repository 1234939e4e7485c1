# -*- coding: utf-8 -*-
# Copyright: Contributors to the osimages.glance collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal use only: this file is not part of the collection's public API.
"""Image properties checked against what Glance itself defines (pure, no I/O).

Glance accepts any extra property as a string, and Nova silently ignores the ones it does not know or whose value
it cannot use: ``hw_disk_bus: scsii`` boots a server with the default bus. Glance ships the definitions of the
well-known properties in its metadata definitions catalog (``/v2/metadefs``, with allowed values and types), and
the operator's declared properties in the image schema (``/v2/schemas/image``). This module turns both into one
table and checks a task's properties against it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.osimages.glance.plugins.module_utils._errors import ValidationError

# validate_properties: what a finding does.
VALIDATION_MODES = ("strict", "warn", "off")
# The resource type whose properties are image properties in the metadata definitions catalog.
IMAGE_RESOURCE_TYPE = "OS::Glance::Image"
# How many suggestions a misspelt key gets.
SUGGESTIONS = 3
# The words Nova (oslo's bool_from_string) reads as a boolean.
BOOLEAN_WORDS = ("true", "false", "yes", "no", "on", "off", "1", "0", "t", "f", "y", "n")


def definitions_from(namespaces, schema=None):
    """``{property: definition}`` from the metadata definitions' namespaces, as Glance shows each one for
    OS::Glance::Image (prefixes applied; objects' properties included), then the image schema's declared
    properties that the namespaces do not define. The first definition of a name wins."""
    table = {}
    for namespace in namespaces:
        sources = [namespace.get("properties") or {}]
        sources += [entry.get("properties") or {} for entry in namespace.get("objects") or []]
        for properties in sources:
            for name, definition in properties.items():
                table.setdefault(name, dict(definition, namespace=namespace.get("namespace")))
    for name, definition in ((schema or {}).get("properties") or {}).items():
        if not definition.get("readOnly"):
            table.setdefault(name, dict(definition, namespace="the image schema"))
    return table


def definitions_fingerprint(summaries):
    """What tells whether the namespaces (as listed, without their properties) changed since they were read."""
    return sorted(
        [
            summary.get("namespace"),
            summary.get("created_at"),
            summary.get("updated_at"),
            sorted(
                "%s:%s" % (association.get("prefix") or "", association.get("created_at"))
                for association in summary.get("resource_type_associations") or []
                if association.get("name") == IMAGE_RESOURCE_TYPE
            ),
        ]
        for summary in summaries
    )


def check_properties(properties, definitions):
    """One message per property of ``properties`` that ``definitions`` refuse: a value outside the allowed ones, of
    the wrong type or form, or a key that is not defined but within a small edit distance of one that is. A key
    nobody defines and that resembles nothing is left alone: Glance allows any."""
    messages = []
    known = sorted(definitions)
    for key in sorted(properties):
        value = properties[key]
        if value is None:
            continue
        definition = definitions.get(key)
        if definition is not None:
            problem = _value_problem(str(value), definition)
            if problem:
                messages.append("%s=%r %s (%s)" % (key, str(value), problem, definition["namespace"]))
            continue
        close = suggestions(key, known)
        if close:
            messages.append("%s is not a property Glance defines; did you mean %s?" % (key, " or ".join(close)))
    return messages


def enforce(lines, mode):
    """What ``mode`` makes of the findings: ValidationError in strict, the warnings to give in warn."""
    if not lines or mode == "off":
        return []
    if mode == "strict":
        raise ValidationError(
            "properties refused by Glance's definitions (validate_properties=strict): %s" % "; ".join(lines)
        )
    return lines


def _value_problem(value, definition):
    """Why Glance's ``definition`` refuses ``value`` (a property's string), or None."""
    allowed = definition.get("enum")
    if allowed:
        if value not in [str(choice) for choice in allowed]:
            return "is not one of the values allowed: %s" % ", ".join(str(choice) for choice in allowed)
        return None
    types = definition.get("type")
    types = types if isinstance(types, list) else [types]
    if "integer" in types or "number" in types:
        try:
            number = int(value) if "integer" in types else float(value)
        except ValueError:
            return "is not %s" % ("an integer" if "integer" in types else "a number")
        if definition.get("minimum") is not None and number < definition["minimum"]:
            return "is below the minimum, %s" % definition["minimum"]
        if definition.get("maximum") is not None and number > definition["maximum"]:
            return "is above the maximum, %s" % definition["maximum"]
        return None
    if "boolean" in types:
        if value.lower() not in BOOLEAN_WORDS:
            return "is not a boolean (true or false)"
        return None
    if "string" in types:
        if definition.get("pattern") and not re.search(definition["pattern"], value):
            return "does not match the pattern %s" % definition["pattern"]
        if definition.get("maxLength") is not None and len(value) > definition["maxLength"]:
            return "is longer than %s characters" % definition["maxLength"]
    return None


def suggestions(key, known):
    """The known names within a small edit distance of ``key``, closest first: one edit for names of up to five
    characters, two for longer ones (a transposed pair of letters counts as one edit)."""
    limit = 1 if len(key) <= 5 else 2
    scored = sorted((edit_distance(key, name, limit), name) for name in known if name != key)
    return [name for distance, name in scored if distance <= limit][:SUGGESTIONS]


def edit_distance(first, second, limit):
    """The optimal string alignment distance (insertions, deletions, substitutions and adjacent transpositions),
    or ``limit + 1`` as soon as it is known to exceed ``limit``."""
    if abs(len(first) - len(second)) > limit:
        return limit + 1
    previous2, previous = None, list(range(len(second) + 1))
    for i, char in enumerate(first, 1):
        current = [i] + [0] * len(second)
        for j, other in enumerate(second, 1):
            cost = 0 if char == other else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if previous2 is not None and j > 1 and char == second[j - 2] and first[i - 2] == other:
                current[j] = min(current[j], previous2[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
        previous2, previous = previous, current
    return previous[-1]
