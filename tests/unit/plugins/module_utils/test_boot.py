"""_boot: the probe's guest (run for real under TCG), its verdicts and cache, and boots that watch qemu's own output.

The fake qemu (tests/scripts/fake-qemu) prints what a real qemu prints (the KVM fault lines on stderr, a console on
stdout) and then hangs as a paused guest does, so every wait here is bounded by what the code does, not by the fake.
"""

import os
import shutil
import time
from pathlib import Path

import pytest

from ansible_collections.osimages.glance.plugins.module_utils import _boot as boot
from ansible_collections.osimages.glance.plugins.module_utils._errors import DiskImageError

FAKE_QEMU = Path(__file__).resolve().parents[3] / "scripts" / "fake-qemu"


@pytest.fixture
def host(tmp_path, monkeypatch):
    """A KVM device node that exists (a plain file) and an empty cache, whatever the real host has."""
    device = tmp_path / "kvm"
    device.write_bytes(b"")
    monkeypatch.setattr(boot, "KVM_DEVICE", str(device))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path


def fake_qemu(folder, monkeypatch, name="qemu-system-x86_64", probe="runs", kvm="kvm-stops", tcg="login"):
    """A copy of tests/scripts/fake-qemu (a qemu binary of its own, for the probe's cache) playing these cases."""
    copy = folder / name
    shutil.copy(str(FAKE_QEMU), str(copy))
    monkeypatch.setenv("FAKE_QEMU_PROBE", probe)
    monkeypatch.setenv("FAKE_QEMU_KVM", kvm)
    monkeypatch.setenv("FAKE_QEMU_TCG", tcg)
    return str(copy)


def runs(qemu):
    """The accelerators of the fake's runs, in order."""
    path = qemu + ".runs"
    return open(path).read().split() if os.path.exists(path) else []


def machine(path):
    return dict(path=str(path), disk_format="raw", memory=64, kernel=None, initrd=None, append=None, seed=None)


def test_the_probes_guest_is_one_boot_sector_whose_code_finds_its_marker():
    sector = boot.probe_guest()
    assert len(sector) == 512 and sector[-2:] == b"\x55\xaa"
    offset = boot.PROBE_MARKER_OFFSET
    assert sector[offset : offset + len(boot.PROBE_MARKER)] == boot.PROBE_MARKER
    # mov si, 0x7c00 + offset: the marker the code writes is the marker the probe waits for.
    assert b"\xbe" + (0x7C00 + offset).to_bytes(2, "little") in sector[:offset]


@pytest.mark.skipif(
    shutil.which("qemu-system-x86_64") is None, reason="needs qemu-system-x86 (the test command installs it)"
)
def test_the_probes_guest_runs_for_real_under_tcg():
    """Every machine checks the guest itself: under TCG it must leave real mode, come back and print its marker."""
    watch = boot.run_probe(shutil.which("qemu-system-x86_64"), "tcg")
    assert watch.matched, watch
    assert boot.PROBE_MARKER.decode() in watch.console and watch.seconds < boot.PROBE_SECONDS


@pytest.mark.parametrize(
    "output,fault",
    [
        (
            "KVM internal error. Suberror: 1\nextra data[0]: 0x1\nemulation failure\nEIP=00008ffc\n",
            "KVM internal error. Suberror: 1; emulation failure",
        ),
        (
            "qemu-system-x86_64: error: failed to set MSR 0x10a to 0x69\n"
            "kvm.c:3183: kvm_buf_set_msrs: Assertion failed.\n",
            "qemu-system-x86_64: error: failed to set MSR 0x10a to 0x69",
        ),
        ("KVM: entry failed, hardware error 0x80000021\n", "KVM: entry failed, hardware error 0x80000021"),
        ("error: kvm run failed Bad address\n", "error: kvm run failed Bad address"),
        (
            "Could not access KVM kernel module: No such file or directory\n",
            "Could not access KVM kernel module: No such file or directory",
        ),
        ("warning: host doesn't support requested feature: CPUID.01H:ECX.pni [bit 0]\n", None),
        ("", None),
    ],
)
def test_kvm_fault_reads_qemus_own_words(output, fault):
    assert boot.kvm_fault(output) == fault


@pytest.mark.parametrize(
    "watch,accelerator,reason",
    [
        (boot.Watch(True, "osimages-probe: guest ran", 0.2, None, None, ""), "kvm", "the probe's guest ran under KVM"),
        (
            boot.Watch(False, "", 3.2, None, "KVM internal error. Suberror: 1; emulation failure", "..."),
            "tcg",
            "KVM did not run the probe's guest: KVM internal error. Suberror: 1; emulation failure",
        ),
        (
            boot.Watch(False, "", 0.1, 1, None, "warning: x\nqemu: unsupported machine\n"),
            "tcg",
            "qemu refused KVM (exit 1): qemu: unsupported machine",
        ),
        (boot.Watch(False, "", 10.0, None, None, ""), "tcg", "the probe's guest printed nothing under KVM within 10 s"),
    ],
)
def test_the_probes_verdict_says_why(watch, accelerator, reason):
    assert boot._kvm_verdict(watch) == boot.Accelerator(accelerator, reason)


def test_no_kvm_device_means_tcg_without_running_qemu(host, monkeypatch):
    qemu = fake_qemu(host, monkeypatch)
    monkeypatch.setattr(boot, "KVM_DEVICE", str(host / "absent"))
    assert boot.probe_kvm(qemu) == boot.Accelerator("tcg", "this host has no %s" % (host / "absent"))
    assert runs(qemu) == []


def test_the_probe_runs_once_per_qemu_and_its_answer_is_kept(host, monkeypatch):
    works = fake_qemu(host, monkeypatch, "works", probe="runs")
    assert boot.probe_kvm(works) == boot.Accelerator("kvm", "the probe's guest ran under KVM")
    stops = fake_qemu(host, monkeypatch, "stops", probe="kvm-stops")
    started = time.time()
    stopped = boot.probe_kvm(stops)
    assert time.time() - started < 5, "the probe waited out its time instead of reading qemu's fault"
    assert stopped == boot.Accelerator(
        "tcg", "KVM did not run the probe's guest: KVM internal error. Suberror: 1; emulation failure"
    )
    assert boot.probe_kvm(works).name == "kvm" and boot.probe_kvm(stops).name == "tcg"
    assert runs(works) == ["kvm"] and runs(stops) == ["kvm"]


def test_the_probe_calls_a_silent_guest_unusable(host, monkeypatch):
    monkeypatch.setattr(boot, "PROBE_SECONDS", 1)
    qemu = fake_qemu(host, monkeypatch, probe="silent")
    assert boot.probe_kvm(qemu).name == "tcg"


def test_auto_boots_again_under_tcg_at_once_when_qemu_stops_the_guest_under_kvm(host, monkeypatch):
    qemu = fake_qemu(host, monkeypatch)
    started = time.time()
    booted = boot.boot(qemu, machine(host / "disk.raw"), "auto", "login:", 30)
    assert time.time() - started < 10, "the boot waited for its timeout under a KVM that had stopped the guest"
    assert (booted.accelerator, runs(qemu)) == ("tcg", ["kvm", "kvm", "tcg"])  # probe, KVM boot, TCG boot
    assert booted.fallback_reason.startswith("qemu stopped the guest under KVM after ")
    assert booted.fallback_reason.endswith("KVM internal error. Suberror: 1; emulation failure")
    assert "fake login:" in booted.console
    # The next task of the run goes straight to TCG.
    assert boot.probe_kvm(qemu) == boot.Accelerator("tcg", booted.fallback_reason)
    boot.boot(qemu, machine(host / "disk.raw"), "auto", "login:", 30)
    assert runs(qemu) == ["kvm", "kvm", "tcg", "tcg"]


def test_kvm_fails_at_once_with_qemus_words(host, monkeypatch):
    qemu = fake_qemu(host, monkeypatch)
    started = time.time()
    with pytest.raises(DiskImageError) as failed:
        boot.boot(qemu, machine(host / "disk.raw"), "kvm", "login:", 30)
    assert time.time() - started < 10
    assert "boot test of %s failed: qemu stopped the guest under KVM" % (host / "disk.raw") in failed.value.msg
    assert failed.value.msg.endswith("KVM internal error. Suberror: 1; emulation failure")
    assert failed.value.details["accelerator"] == "kvm" and "EIP=00008ffc" in failed.value.details["qemu_output"]
    assert runs(qemu) == ["kvm"]  # asked for KVM: no probe, no second boot


def test_a_guest_that_prints_nothing_still_waits_the_timeout(host, monkeypatch):
    qemu = fake_qemu(host, monkeypatch, tcg="silent")
    started = time.time()
    with pytest.raises(DiskImageError) as failed:
        boot.boot(qemu, machine(host / "disk.raw"), "tcg", "login:", 2)
    assert time.time() - started >= 2
    assert failed.value.msg.endswith("'login:' did not appear on the serial console within 2 s (tcg)")


def test_a_qemu_that_ends_is_reported_with_its_last_words(host, monkeypatch):
    qemu = fake_qemu(host, monkeypatch, tcg="refuses")
    with pytest.raises(DiskImageError) as failed:
        boot.boot(qemu, machine(host / "disk.raw"), "tcg", "login:", 60)
    assert "qemu ended after " in failed.value.msg and "(exit 1, tcg)" in failed.value.msg
    assert failed.value.msg.endswith("-machine pc: unsupported machine type")


def test_boot_command_never_writes_the_image():
    argv = boot.boot_command("qemu", "disk.qcow2", "qcow2", "tcg", 256)
    assert "file=disk.qcow2,format=qcow2,if=virtio,snapshot=on" in argv
    assert "-cpu" not in argv and "-kernel" not in argv


def test_boot_command_with_kvm_kernel_and_seed():
    argv = boot.boot_command(
        "qemu", "root.raw", "raw", "kvm", 512, kernel="vmlinuz", initrd="initrd", append=None, seed="seed.img"
    )
    assert argv[argv.index("-cpu") + 1] == "host"
    assert argv[argv.index("-kernel") + 1] == "vmlinuz" and argv[argv.index("-initrd") + 1] == "initrd"
    assert argv[argv.index("-append") + 1] == "root=/dev/vda console=ttyS0"
    assert "file=seed.img,format=raw,if=virtio,readonly=on" in argv


def test_watch_console_stops_at_the_pattern_and_kills_the_process(tmp_path):
    pid_file = tmp_path / "pid"
    # The shell writes its PID and becomes the sleeping "machine" (exec keeps the PID).
    watch = boot.watch_console(
        ["sh", "-c", "echo $$ > %s; echo booting; echo 'host login: '; exec sleep 30" % pid_file], "login:", 20
    )
    assert watch.matched and "booting" in watch.console and watch.exit_code is None
    assert watch.seconds < 10, "watch_console waited for the machine to end by itself instead of killing it"
    with pytest.raises(ProcessLookupError):
        os.kill(int(pid_file.read_text()), 0)


def test_watch_console_reports_a_machine_that_stopped():
    watch = boot.watch_console(["sh", "-c", "echo kernel panic; echo 'emulation failure' >&2; exit 3"], "login:", 20)
    assert not watch.matched and "kernel panic" in watch.console and watch.seconds < 20
    assert watch.exit_code == 3 and watch.kvm_fault == "emulation failure"


def test_the_guests_own_console_is_never_read_as_a_kvm_fault():
    watch = boot.watch_console(["sh", "-c", "echo 'KVM internal error'; echo login:"], "login:", 20)
    assert watch.matched and watch.kvm_fault is None
