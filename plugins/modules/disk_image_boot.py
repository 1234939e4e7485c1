#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Contributors to the osimages.glance collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: disk_image_boot
short_description: Boot a disk image in qemu and wait for a line on its serial console
version_added: 0.1.0
description:
  - Boots O(path) with C(qemu-system-x86_64) on a throw-away snapshot (the file itself is never written) and
    reads the serial console until O(pattern) appears. The task fails when the pattern does not appear within
    O(timeout) or the machine stops first, so a pipeline stops before anything is published.
  - Uses KVM only when a probe shows it works, and software emulation (TCG) otherwise. A C(/dev/kvm) device node
    is not proof, since some hosts refuse C(-cpu host), and under some nested hypervisors KVM starts but cannot run
    a boot loader's first protected-mode instructions. The probe boots a one-sector guest of its own (made in a
    temporary folder) that leaves real mode the way boot loaders do, and KVM counts only when that guest's marker
    reaches the serial console within seconds. The answer is kept in C(~/.cache/osimages.glance) for an hour, per
    qemu binary, so the tasks of one run probe once.
  - While it waits for O(pattern), it also reads qemu's own output. When qemu reports that KVM cannot run the guest
    (C(KVM internal error), C(emulation failure), C(KVM entry failed), C(failed to set MSR)), it stops the machine
    at once rather than waiting for O(timeout) - qemu pauses such a guest and keeps running - and, with
    O(accelerator=auto), boots again under TCG with a warning (RV(fallback_reason)).
  - Never reports a change. In check mode nothing is booted.
author:
  - osimages.glance contributors (@osimages)
options:
  path:
    description: The disk image to boot. Required unless O(probe_only).
    type: path
  probe_only:
    description:
      - Only find the accelerator qemu can use on this host - V(kvm) when the probe shows it works, V(tcg)
        otherwise - and boot nothing (also in check mode). Tools that run qemu themselves, such as the role
        C(osimages.glance.image_build)'s virt-customize step, ask this instead of probing on their own.
      - With O(accelerator=kvm) or O(accelerator=tcg), the answer is that accelerator, unprobed.
    type: bool
    default: false
    version_added: 0.2.0
  disk_format:
    description: Its format.
    type: str
    choices: [raw, qcow2, vmdk, vhd, vhdx]
    default: raw
  pattern:
    description:
      - The text that proves the boot succeeded. Use cloud-init's C(finished at) line together with O(seed) to
        prove cloud-init ran.
    type: str
    default: "login:"
  timeout:
    description: Seconds to wait for O(pattern).
    type: int
    default: 300
  memory:
    description: Memory of the test machine, in MiB.
    type: int
    default: 512
  accelerator:
    description:
      - V(auto) uses KVM when the probe shows it works, and V(tcg) otherwise; a boot that qemu stops because KVM
        cannot run the guest starts again under V(tcg).
      - V(kvm) uses KVM without probing, and fails at once, with qemu's words, when qemu reports that KVM cannot run
        the guest.
      - V(tcg) is software emulation, slower but independent of the host's KVM.
    type: str
    choices: [auto, kvm, tcg]
    default: auto
  kernel:
    description: Boot this kernel directly (for a root file system image without a boot loader).
    type: path
  initrd:
    description: The initramfs for O(kernel).
    type: path
  append:
    description: The kernel command line for O(kernel).
    type: str
    default: root=/dev/vda console=ttyS0
  seed:
    description: A NoCloud seed image (from C(cloud-localds)) attached as a second disk.
    type: path
  console_log:
    description: Also write the whole console output to this file.
    type: path
  qemu:
    description: The qemu binary.
    type: str
    default: qemu-system-x86_64
extends_documentation_fragment:
  - osimages.glance.attributes.LOCAL_MODULE
attributes:
  diff_mode:
    support: none
requirements:
  - qemu-system-x86_64 (Debian package qemu-system-x86)
seealso:
  - module: osimages.glance.disk_image
"""

EXAMPLES = r"""
- name: Boot-test a cloud image until cloud-init has finished
  osimages.glance.disk_image_boot:
    path: /srv/artifacts/debian-13.qcow2
    disk_format: qcow2
    seed: /srv/artifacts/seed.img
    pattern: "Cloud-init v. "
    timeout: 600

- name: Boot-test under KVM only, failing at once where KVM cannot run the guest
  osimages.glance.disk_image_boot:
    path: /srv/artifacts/debian-13.qcow2
    disk_format: qcow2
    accelerator: kvm

- name: Ask which accelerator qemu can use here, booting nothing
  osimages.glance.disk_image_boot:
    probe_only: true
  register: probe

- name: Boot a root file system image with its own kernel
  osimages.glance.disk_image_boot:
    path: /srv/artifacts/rootfs.raw
    kernel: /srv/artifacts/vmlinuz
    initrd: /srv/artifacts/initrd.img
"""

RETURN = r"""
accelerator:
  description: The accelerator qemu used, or with O(probe_only) the one it can use.
  returned: unless in check mode, and always with O(probe_only)
  type: str
  sample: tcg
accelerator_reason:
  description:
    - Why RV(accelerator) was used - the probe's guest ran under KVM, or why KVM was not usable (no C(/dev/kvm),
      qemu refused it, the probe's guest did not run), or that it was asked for.
  returned: unless in check mode, and always with O(probe_only)
  type: str
  sample: "KVM did not run the probe's guest: KVM internal error. Suberror: 1; emulation failure"
  version_added: 0.2.0
fallback_reason:
  description:
    - Why a boot under KVM was abandoned and started again under TCG (qemu's own words), or V(null) when it was not.
  returned: when booted (not in check mode, not with O(probe_only))
  type: str
  sample: "qemu stopped the guest under KVM after 0.4 s: KVM internal error. Suberror: 1; emulation failure"
  version_added: 0.2.0
seconds:
  description: How long the boot took until the pattern appeared.
  returned: when booted (not in check mode, not with O(probe_only))
  type: float
  sample: 9.8
console_tail:
  description: The last 2,000 characters of the serial console.
  returned: when booted (not in check mode, not with O(probe_only))
  type: str
  sample: "debian login:"
"""

import os

from ansible_collections.osimages.glance.plugins.module_utils import _boot as qemu_boot
from ansible_collections.osimages.glance.plugins.module_utils._errors import ValidationError
from ansible_collections.osimages.glance.plugins.module_utils._module import LocalModule


class DiskImageBootModule(LocalModule):
    module_name = "disk_image_boot"
    argument_spec = dict(
        path=dict(type="path"),
        probe_only=dict(type="bool", default=False),
        disk_format=dict(type="str", choices=["raw", "qcow2", "vmdk", "vhd", "vhdx"], default="raw"),
        pattern=dict(type="str", default="login:"),
        timeout=dict(type="int", default=300),
        memory=dict(type="int", default=512),
        accelerator=dict(type="str", choices=["auto", "kvm", "tcg"], default="auto"),
        kernel=dict(type="path"),
        initrd=dict(type="path"),
        append=dict(type="str", default="root=/dev/vda console=ttyS0"),
        seed=dict(type="path"),
        console_log=dict(type="path"),
        qemu=dict(type="str", default="qemu-system-x86_64"),
    )
    module_kwargs = dict(required_by=dict(initrd="kernel"), required_if=[("probe_only", False, ["path"])])

    def __init__(self):
        super(DiskImageBootModule, self).__init__()
        self.notes = []

    def run(self):
        params = self.params
        for option in ("path", "kernel", "initrd", "seed"):
            if params[option] and not os.path.isfile(params[option]):
                raise ValidationError("%s %s does not exist" % (option, params[option]))
        qemu = self.ansible.get_bin_path(params["qemu"])
        if qemu is None:
            raise ValidationError("%s is not installed (Debian package qemu-system-x86)" % params["qemu"])
        if params["probe_only"]:
            chosen = qemu_boot.choose_accelerator(qemu, params["accelerator"])
            return dict(changed=False, accelerator=chosen.name, accelerator_reason=chosen.reason)
        if self.check_mode:
            return dict(changed=False, msg="not booted in check mode")
        machine = dict(
            (key, params[key]) for key in ("path", "disk_format", "memory", "kernel", "initrd", "append", "seed")
        )
        booted = qemu_boot.boot(
            qemu, machine, params["accelerator"], params["pattern"], params["timeout"], params["console_log"]
        )
        if booted.fallback_reason:
            self.notes.append("%s; booted %s again under TCG" % (booted.fallback_reason, params["path"]))
        return dict(
            changed=False,
            accelerator=booted.accelerator,
            accelerator_reason=booted.reason,
            fallback_reason=booted.fallback_reason,
            seconds=booted.seconds,
            console_tail=booted.console,
        )

    def warnings(self):
        return list(self.notes)


def main():
    DiskImageBootModule()()


if __name__ == "__main__":
    main()
