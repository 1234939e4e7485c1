# -*- coding: utf-8 -*-
# Copyright: Contributors to the osimages.glance collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal use only: this file is not part of the collection's public API.
"""Disk formats: what Glance calls them, what qemu calls them, and which ones the format inspector reads (pure)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# Formats the inspector recognises, as Glance disk_format names. A GPT-partitioned raw disk is raw.
INSPECTABLE_FORMATS = ("raw", "qcow2", "vhd", "vhdx", "vmdk", "vdi", "iso")
INSPECTOR_TO_DISK_FORMAT = {"gpt": "raw"}
# Glance disk formats the inspector cannot read: kernel and ramdisk files, ploop.
UNINSPECTABLE_FORMATS = ("ami", "ari", "aki", "ploop")
# Glance disk_format -> qemu-img format name.
QEMU_FORMATS = {
    "raw": "raw",
    "qcow2": "qcow2",
    "vmdk": "vmdk",
    "vhd": "vpc",
    "vhdx": "vhdx",
    "vdi": "vdi",
    "iso": "raw",
}
CONVERTIBLE_FORMATS = ("raw", "qcow2", "vmdk", "vhd", "vhdx")
