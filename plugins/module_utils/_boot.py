# -*- coding: utf-8 -*-
# Copyright: Contributors to the osimages.glance collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal use only: this file is not part of the collection's public API.
"""Boot tests in qemu: which accelerator works on this host, and a boot that watches qemu as well as the console.

A /dev/kvm node is no proof that KVM can run a guest. Some hosts refuse ``-cpu host`` at start ("failed to set MSR");
under some nested hypervisors KVM starts but cannot emulate a boot loader's first protected-mode instructions: qemu
prints "KVM internal error ... emulation failure", stops the guest and keeps running, so a boot test would sit out
its whole timeout. Hence:

- the probe boots a one-sector guest of its own that leaves real mode the way boot loaders do, and KVM counts only
  when that guest's marker reaches the serial console;
- a boot under KVM reads qemu's own output too, and stops at once when qemu says KVM cannot run the guest: with
  ``auto`` it boots again under TCG, with ``kvm`` it fails with qemu's words.

The probe's answer is kept in the user's cache for an hour, per qemu binary, per /dev/kvm and per host boot, so the
tasks of one run (virt-customize's question, then the boot test) probe once.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import os
import select
import shutil
import subprocess
import tempfile
import time
from collections import namedtuple

from ansible_collections.osimages.glance.plugins.module_utils._errors import DiskImageError
from ansible_collections.osimages.glance.plugins.module_utils._files import cache_dir
from ansible_collections.osimages.glance.plugins.module_utils._files import read_json
from ansible_collections.osimages.glance.plugins.module_utils._files import write_cache
from ansible_collections.osimages.glance.plugins.module_utils._formats import QEMU_FORMATS

KVM_DEVICE = "/dev/kvm"
PROBE_MARKER = b"osimages-probe: guest ran"
# Where KVM works, the probe's guest prints its marker well under a second, and under TCG in about 0.1 s. Where KVM
# cannot run it, qemu says so after about 3 s of SeaBIOS (seen on a nested host); the rest is slack for a busy host.
PROBE_SECONDS = 10
PROBE_MEMORY_MIB = 32
PROBE_DISK_BYTES = 1 << 20
PROBE_CACHE_SECONDS = 3600
CONSOLE_TAIL = 2000

# What qemu prints when KVM cannot run the guest. The first four stop the guest (qemu's run state
# "internal-error": accel/kvm/kvm-all.c prints "KVM internal error. Suberror: N" and "emulation failure", or
# "kvm run failed"; target/i386/kvm/kvm.c "KVM: entry failed, hardware error"); the others end qemu itself
# (target/i386/kvm/kvm.c's "failed to set MSR" assertion, accel/kvm/kvm-all.c's init errors).
KVM_FAULTS = (
    "KVM internal error",
    "emulation failure",
    "KVM: entry failed",
    "kvm run failed",
    "failed to set MSR",
    "Could not access KVM kernel module",
    "failed to initialize kvm",
)

# The probe's guest, a boot sector that SeaBIOS loads at 0x7c00. Each line is one instruction: its bytes, then
# its assembly (addresses are absolute). It does what boot loaders do first (an iret in real mode, protected mode
# through a far jump, an iret there, back to real mode) and only then writes PROBE_MARKER to the first serial
# port (0x3f8), so the marker proves that KVM ran every one of those steps. The test suite runs it under TCG.
PROBE_CODE = (
    ("fa", "cli"),
    ("31c0", "xor ax, ax"),
    ("8ed8", "mov ds, ax"),
    ("8ed0", "mov ss, ax"),
    ("bc007c", "mov sp, 0x7c00"),
    ("ea0f7c0000", "jmp 0x0000:0x7c0f            ; a far jump: cs=0"),
    ("9c", "0x7c0f: pushf"),
    ("0e", "push cs"),
    ("68157c", "push 0x7c15"),
    ("cf", "iret                         ; real mode"),
    ("0f0116a07c", "0x7c15: lgdt [0x7ca0]"),
    ("0f20c0", "mov eax, cr0"),
    ("0c01", "or al, 1"),
    ("0f22c0", "mov cr0, eax                 ; protected mode"),
    ("ea277c0800", "jmp 0x08:0x7c27             ; into the 32-bit code segment"),
    ("66b81000", "0x7c27: mov ax, 0x10        ; 32-bit code from here"),
    ("8ed8", "mov ds, ax"),
    ("8ec0", "mov es, ax"),
    ("8ed0", "mov ss, ax"),
    ("bc007c0000", "mov esp, 0x7c00"),
    ("9c", "pushfd"),
    ("6a08", "push 0x08"),
    ("683f7c0000", "push 0x7c3f"),
    ("cf", "iretd                        ; protected mode"),
    ("ea467c00001800", "0x7c3f: jmp 0x18:0x7c46  ; into the 16-bit code segment"),
    ("b82000", "0x7c46: mov ax, 0x20        ; 16-bit code from here"),
    ("8ed8", "mov ds, ax"),
    ("8ed0", "mov ss, ax"),
    ("0f20c0", "mov eax, cr0"),
    ("24fe", "and al, 0xfe"),
    ("0f22c0", "mov cr0, eax                 ; real mode again"),
    ("ea5a7c0000", "jmp 0x0000:0x7c5a"),
    ("31c0", "0x7c5a: xor ax, ax"),
    ("8ed8", "mov ds, ax"),
    ("8ed0", "mov ss, ax"),
    ("9c", "pushf"),
    ("0e", "push cs"),
    ("68667c", "push 0x7c66"),
    ("cf", "iret"),
    ("bea67c", "0x7c66: mov si, 0x7ca6        ; the marker"),
    ("baf803", "mov dx, 0x3f8"),
    ("ac", "0x7c6c: lodsb"),
    ("84c0", "test al, al"),
    ("7403", "jz 0x7c74"),
    ("ee", "out dx, al"),
    ("ebf8", "jmp 0x7c6c"),
    ("fa", "0x7c74: cli"),
    ("f4", "hlt"),
    ("ebfc", "jmp 0x7c74"),
    ("0000000000000000", "0x7c78: the GDT: null"),
    ("ffff0000009acf00", "0x08: code, 32-bit, 4 GiB"),
    ("ffff00000092cf00", "0x10: data, 32-bit, 4 GiB"),
    ("ffff0000009a0000", "0x18: code, 16-bit, 64 KiB"),
    ("ffff000000920000", "0x20: data, 16-bit, 64 KiB"),
    ("2700", "0x7ca0: the GDT's limit"),
    ("787c0000", "and base"),
)
PROBE_MARKER_OFFSET = 0xA6  # 0x7ca6, where the code above reads the marker

Accelerator = namedtuple("Accelerator", "name reason")


class Watch(namedtuple("Watch", "matched console seconds exit_code kvm_fault qemu_output")):
    """What one qemu run showed: whether the pattern appeared, the serial console, how long it ran, qemu's exit
    code (None while it was still running), the KVM fault qemu reported (None for none), and qemu's own output."""


class Boot(namedtuple("Boot", "accelerator reason seconds console fallback_reason")):
    """A boot that reached its pattern: the accelerator it ran under and why, and the KVM fault that made it boot
    again under TCG (None when it did not)."""


def probe_guest():
    """The probe's boot sector: 512 bytes (pure)."""
    code = bytes(bytearray.fromhex("".join(hexes for hexes, dummy in PROBE_CODE)))
    if len(code) != PROBE_MARKER_OFFSET:
        raise AssertionError(
            "the probe's code is %d bytes; its marker address says %d" % (len(code), PROBE_MARKER_OFFSET)
        )
    return (code + PROBE_MARKER + b"\r\n\0").ljust(510, b"\0") + b"\x55\xaa"


def kvm_fault(qemu_output):
    """The lines of qemu's output that say KVM cannot run the guest, joined with "; ", or None (pure)."""
    lines = []
    for line in qemu_output.splitlines():
        line = line.strip()
        if line and line not in lines and any(fault.lower() in line.lower() for fault in KVM_FAULTS):
            lines.append(line)
    return "; ".join(lines) or None


def boot_command(qemu, path, disk_format, accel, memory, kernel=None, initrd=None, append=None, seed=None):
    """The qemu argv for a throw-away boot: snapshot=on, so the image itself is never written (pure)."""
    argv = [
        qemu,
        "-accel",
        accel,
        "-m",
        str(memory),
        "-nodefaults",
        "-display",
        "none",
        "-no-reboot",
        "-serial",
        "stdio",
        "-monitor",
        "none",
    ]
    if accel == "kvm":
        argv += ["-cpu", "host"]
    argv += ["-drive", "file=%s,format=%s,if=virtio,snapshot=on" % (path, QEMU_FORMATS[disk_format])]
    if seed:
        argv += ["-drive", "file=%s,format=raw,if=virtio,readonly=on" % seed]
    if kernel:
        argv += ["-kernel", kernel]
        if initrd:
            argv += ["-initrd", initrd]
        argv += ["-append", append or "root=/dev/vda console=ttyS0"]
    return argv


def watch_console(argv, pattern, timeout, log_path=None):
    """Run argv (qemu), reading its serial console (stdout) until ``pattern`` appears, qemu stops, qemu reports on
    its stderr that KVM cannot run the guest, or ``timeout`` seconds pass. The machine is always stopped before
    this returns a Watch."""
    started = time.time()
    console, output = bytearray(), bytearray()
    wanted = pattern.encode("utf-8")
    fault = None
    log = open(log_path, "wb") if log_path else None
    process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    streams = {process.stdout.fileno(): console, process.stderr.fileno(): output}
    deadline = started + timeout
    try:
        while streams and time.time() < deadline and wanted not in console:
            ready, dummy, dummy = select.select(list(streams), [], [], 0.2)
            for fd in ready:
                chunk = os.read(fd, 65536)
                if not chunk:
                    del streams[fd]
                    continue
                streams[fd].extend(chunk)
                if log and fd == process.stdout.fileno():
                    log.write(chunk)
                    log.flush()
            if fault is None:
                fault = kvm_fault(output.decode("utf-8", "replace"))
                if fault:
                    # qemu prints the guest's registers right after: a moment more keeps them for the report.
                    deadline = min(deadline, time.time() + 0.3)
            if not ready and process.poll() is not None:
                break
    finally:
        if not streams:  # qemu closed its output: it has ended, or is about to
            try:
                process.wait(timeout=2)
            except subprocess.TimeoutExpired:
                pass
        running = process.poll() is None
        if running:
            process.kill()
        process.wait()
        process.stdout.close()
        process.stderr.close()
        if log:
            log.close()
    text = output.decode("utf-8", "replace")
    return Watch(
        matched=wanted in console,
        console=console.decode("utf-8", "replace"),
        seconds=round(time.time() - started, 1),
        exit_code=None if running else process.returncode,
        kvm_fault=kvm_fault(text),
        qemu_output=text,
    )


def _cache_key(qemu):
    """What the probe's answer depends on: the qemu binary, the KVM device, the host's boot, the probe itself."""
    parts = [os.path.realpath(qemu)]
    for path in (os.path.realpath(qemu), KVM_DEVICE):
        try:
            status = os.stat(path)
            parts.append("%s:%s:%s" % (status.st_ino, status.st_size, status.st_ctime))
        except OSError:
            parts.append("-")
    try:
        with open("/proc/sys/kernel/random/boot_id") as handle:
            parts.append(handle.read().strip())
    except (IOError, OSError):
        pass
    parts.append(hashlib.sha256(probe_guest()).hexdigest())
    parts.append(" ".join(boot_command("qemu", "-", "raw", "kvm", PROBE_MEMORY_MIB)))
    return hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest()[:16]


def _cache_path(qemu):
    return os.path.join(cache_dir(), "kvm-probe-%s.json" % _cache_key(qemu))


def remember(qemu, accelerator):
    """Keep ``accelerator`` as the probe's answer for ``qemu``, for the tasks that follow."""
    write_cache(_cache_path(qemu), dict(accelerator=accelerator.name, reason=accelerator.reason, at=time.time()))


def _cached(qemu):
    found = read_json(_cache_path(qemu)) or {}
    if found.get("accelerator") in ("kvm", "tcg") and 0 <= time.time() - found.get("at", 0) < PROBE_CACHE_SECONDS:
        return Accelerator(found["accelerator"], found.get("reason") or "")
    return None


def run_probe(qemu, accel="kvm"):
    """Boot the probe's guest under ``accel``; return the Watch. The guest lives in a temporary folder only."""
    folder = tempfile.mkdtemp(prefix="osimages-kvm-probe-")
    try:
        guest = os.path.join(folder, "probe.img")
        with open(guest, "wb") as handle:
            handle.write(probe_guest())
            # SeaBIOS boots nothing from a virtio disk of a few sectors; a sparse MiB costs no space.
            handle.truncate(PROBE_DISK_BYTES)
        argv = boot_command(qemu, guest, "raw", accel, PROBE_MEMORY_MIB)
        return watch_console(argv, PROBE_MARKER.decode("ascii"), PROBE_SECONDS)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _kvm_verdict(watch):
    """The probe's Accelerator from its Watch under KVM (pure)."""
    if watch.matched:
        return Accelerator("kvm", "the probe's guest ran under KVM")
    last = (watch.qemu_output.strip().splitlines() or [""])[-1]
    if watch.kvm_fault:
        return Accelerator("tcg", "KVM did not run the probe's guest: %s" % watch.kvm_fault)
    if watch.exit_code is not None:
        return Accelerator("tcg", "qemu refused KVM (exit %d): %s" % (watch.exit_code, last or "no message"))
    return Accelerator("tcg", "the probe's guest printed nothing under KVM within %d s" % PROBE_SECONDS)


def probe_kvm(qemu):
    """Accelerator("kvm", why) when KVM runs the probe's guest on this host, else Accelerator("tcg", why)."""
    if not os.path.exists(KVM_DEVICE):
        return Accelerator("tcg", "this host has no %s" % KVM_DEVICE)
    if not os.access(KVM_DEVICE, os.R_OK | os.W_OK):
        return Accelerator("tcg", "%s is not readable and writable by this user (uid %d)" % (KVM_DEVICE, os.getuid()))
    found = _cached(qemu)
    if found is None:
        found = _kvm_verdict(run_probe(qemu))
        remember(qemu, found)
    return found


def choose_accelerator(qemu, accelerator):
    """The Accelerator a boot under ``accelerator`` (auto, kvm, tcg) starts with; only ``auto`` probes."""
    if accelerator == "auto":
        return probe_kvm(qemu)
    return Accelerator(accelerator, "accelerator: %s was asked for" % accelerator)


def boot(qemu, machine, accelerator, pattern, timeout, console_log=None):
    """Boot ``machine`` (boot_command's path, disk_format, memory, kernel, initrd, append, seed) until ``pattern``
    appears on its serial console; return a Boot. With ``accelerator`` auto, a boot that qemu stops because KVM
    cannot run the guest starts again under TCG at once (and the probe's cache learns it). Raises DiskImageError
    when the pattern does not appear, naming why."""
    chosen = choose_accelerator(qemu, accelerator)
    watch = watch_console(boot_command(qemu, accel=chosen.name, **machine), pattern, timeout, console_log)
    fallback_reason = None
    if chosen.name == "kvm" and watch.kvm_fault and not watch.matched and accelerator == "auto":
        fallback_reason = "qemu stopped the guest under KVM after %s s: %s" % (watch.seconds, watch.kvm_fault)
        chosen = Accelerator("tcg", fallback_reason)
        remember(qemu, chosen)
        watch = watch_console(boot_command(qemu, accel="tcg", **machine), pattern, timeout, console_log)
    if not watch.matched:
        raise DiskImageError(
            "boot test of %s failed: %s" % (machine["path"], _why_not(watch, pattern, timeout, chosen.name)),
            accelerator=chosen.name,
            accelerator_reason=chosen.reason,
            fallback_reason=fallback_reason,
            seconds=watch.seconds,
            console_tail=watch.console[-CONSOLE_TAIL:],
            qemu_output=watch.qemu_output[-CONSOLE_TAIL:],
        )
    return Boot(chosen.name, chosen.reason, watch.seconds, watch.console[-CONSOLE_TAIL:], fallback_reason)


def _why_not(watch, pattern, timeout, accel):
    """Why a boot did not reach its pattern, as the end of a sentence (pure)."""
    if watch.kvm_fault:
        return "qemu stopped the guest under KVM after %s s: %s" % (watch.seconds, watch.kvm_fault)
    if watch.exit_code is not None and watch.seconds < timeout:
        last = (watch.qemu_output.strip().splitlines() or ["no message"])[-1]
        return "qemu ended after %s s (exit %d, %s) before %r appeared on the serial console: %s" % (
            watch.seconds,
            watch.exit_code,
            accel,
            pattern,
            last,
        )
    return "%r did not appear on the serial console within %d s (%s)" % (pattern, timeout, accel)
