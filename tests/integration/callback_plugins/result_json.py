# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test-only stdout callback: one JSON line per task result, diff included."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: result_json
type: stdout
short_description: Print each task result as one JSON line (integration tests only)
description:
  - Used by the integration tests to read module results, including C(diff), C(warnings) and C(msg).
"""

import json

from ansible.plugins.callback import CallbackBase


def _warning_text(warning):
    """A warning as text: a plain string (ansible-core < 2.19) or a WarningSummary's messages."""
    if isinstance(warning, str):
        return warning
    details = getattr(warning, "details", None) or ()
    return " ".join(getattr(detail, "msg", "") or "" for detail in details) or str(warning)


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "stdout"
    CALLBACK_NAME = "result_json"

    def _emit(self, result, status):
        data = dict(result._result)
        data["_status"] = status
        # ansible-core 2.19 keeps warnings on the task result object, not in the result dict.
        warnings = getattr(result, "warnings", None)
        if warnings:
            data["warnings"] = [_warning_text(warning) for warning in warnings]
        self._display.display("RESULT_JSON " + json.dumps(data, default=str, sort_keys=True))

    def v2_runner_on_ok(self, result):
        self._emit(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._emit(result, "failed")

    def v2_runner_on_unreachable(self, result):
        self._emit(result, "unreachable")
