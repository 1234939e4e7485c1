"""The roles image_build and image_publish, run by ansible-playbook against the real local cloud.

Builds use the tiny bootable fixture image (tests/scripts/make-fixture-image); what the roles
did is checked with plain openstacksdk and qemu-img, never with the roles' own facts alone.
"""

import hashlib
import json
import lzma
import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from glance_state import series_images
from harness import PlaybookRunner
from harness import fake_qemu_env
from harness import file_server
from harness import made_once
from harness import sha512_file

# The roles, the builds and the host's tools do not vary with ansible-core or openstacksdk: newest cell only.
pytestmark = pytest.mark.newest_only


def versions(conn, series):
    """Every image of a series, hidden ones included, as Glance's own JSON."""
    return {image["internal_version"]: image for image in series_images(conn, series)}


def build(run_playbook, tmp_path, env=None, **variables):
    base = dict(image_build_dir=str(tmp_path / "build"), image_build_name="fixture")
    return run_playbook("build.yml", dict(base, **variables), env=env)


def publish(run_playbook, name, version, artifact, **variables):
    base = dict(
        image_publish_cloud="demo",
        image_publish_name=name,
        image_publish_version=version,
        image_publish_artifact=artifact,
    )
    return run_playbook("publish.yml", dict(base, **variables))


@pytest.fixture(scope="session")
def artifact(fixture_image, playbook_env, tmp_path_factory):
    """The fixture image built into a verified qcow2 artifact (file backend), once per run for every worker."""

    def make(partial):
        build_dir = partial.with_name("artifact-build")
        result = build(
            PlaybookRunner(playbook_env, build_dir),
            build_dir,
            image_build_backend="file",
            image_build_src=str(fixture_image),
            image_build_src_format="raw",
            image_build_format="qcow2",
        )
        assert result.rc == 0, result.output
        partial.write_text(json.dumps(result.facts["artifact"]))

    return json.loads(made_once(tmp_path_factory, "artifact.json", make).read_text())


@pytest.mark.long(260)
def test_build_verifies_converts_and_boot_tests_then_skips(fixture_image, run_playbook, tmp_path):
    variables = dict(
        image_build_backend="file",
        image_build_src=str(fixture_image),
        image_build_src_format="raw",
        image_build_format="qcow2",
        image_build_compression="zstd",
        image_build_boot_test=True,
        image_build_boot_test_timeout=180,
    )
    first = build(run_playbook, tmp_path, **variables)
    assert first.rc == 0, first.output
    artifact = first.facts["artifact"]
    path = Path(artifact["path"])
    assert artifact["disk_format"] == "qcow2" and artifact["container_format"] == "bare"
    assert artifact["sha512"] == sha512_file(path)
    assert artifact["source_sha512"] == sha512_file(fixture_image)
    assert artifact["virtual_size"] == fixture_image.stat().st_size and artifact["min_disk"] == 1
    info = json.loads(
        subprocess.run(
            ["qemu-img", "info", "--output=json", str(path)], check=True, capture_output=True, text=True
        ).stdout
    )
    assert info["format"] == "qcow2" and info["format-specific"]["data"]["compression-type"] == "zstd"
    assert artifact["qemu_format"] == info["format"]
    assert (
        subprocess.run(
            ["qemu-img", "compare", "-q", "-f", "raw", "-F", "qcow2", str(fixture_image), str(path)], check=False
        ).returncode
        == 0
    )
    assert "login:" in (tmp_path / "build" / "work" / "boot-test-console.log").read_text(errors="replace")

    again = build(run_playbook, tmp_path, **variables)
    assert again.rc == 0 and again.changed == 0, again.output
    assert again.facts["artifact"] == artifact

    # A changed input (the compression) rebuilds.
    variables.update(image_build_compression="zlib", image_build_boot_test=False)
    rebuilt = build(run_playbook, tmp_path, **variables)
    assert rebuilt.rc == 0 and rebuilt.changed >= 1, rebuilt.output
    assert rebuilt.facts["artifact"]["sha512"] != artifact["sha512"]


def test_build_check_mode_changes_nothing(fixture_image, run_playbook, tmp_path):
    result = run_playbook(
        "build.yml",
        dict(
            image_build_dir=str(tmp_path / "build"),
            image_build_name="fixture",
            image_build_backend="file",
            image_build_src=str(fixture_image),
            image_build_format="vmdk",
        ),
        check=True,
    )
    assert result.rc == 0, result.output
    assert not (tmp_path / "build" / "fixture.vmdk").exists()
    assert result.facts["artifact"]["path"].endswith("fixture.vmdk")


def test_build_fails_when_the_boot_test_fails(tmp_path, run_playbook):
    not_bootable = tmp_path / "blank.raw"
    not_bootable.write_bytes(b"\0" * (4 << 20))
    result = build(
        run_playbook,
        tmp_path,
        image_build_backend="file",
        image_build_src=str(not_bootable),
        image_build_format="raw",
        image_build_boot_test=True,
        image_build_boot_test_timeout=15,
    )
    assert result.rc != 0
    assert "did not appear on the serial console within 15 s" in result.output


@pytest.mark.parametrize("kind", ["backing-file", "data-file", "vmdk-extent", "declared-format"])
def test_build_refuses_hostile_images(kind, tmp_path, run_playbook):
    secret = tmp_path / "host-secret"
    secret.write_bytes(b"host file that must never be copied\n" * 1000)
    if kind == "backing-file":
        hostile = tmp_path / "hostile.qcow2"
        subprocess.run(
            ["qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", str(secret), str(hostile)], check=True
        )
        expected = "backing_file"
    elif kind == "data-file":
        hostile = tmp_path / "hostile.qcow2"
        subprocess.run(
            ["qemu-img", "create", "-q", "-f", "qcow2", "-o", "data_file=%s" % (tmp_path / "data"), str(hostile), "1M"],
            check=True,
        )
        expected = "data_file"
    elif kind == "vmdk-extent":
        hostile = tmp_path / "hostile.vmdk"
        hostile.write_text(
            "# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\n"
            'createType="monolithicSparse"\nRW 2048 SPARSE "%s"\n' % secret
        )
        expected = "refusing"
    else:
        hostile = tmp_path / "claims-raw.img"
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(hostile), "1M"], check=True)
        expected = "is qcow2, not raw as declared"
    result = build(
        run_playbook,
        tmp_path,
        image_build_backend="file",
        image_build_src=str(hostile),
        image_build_src_format="raw" if kind == "declared-format" else "",
        image_build_format="raw",
    )
    assert result.rc != 0
    assert expected in result.output
    assert not (tmp_path / "build" / "fixture.raw").exists()


def test_build_url_backend_takes_an_upstream_as_published(fixture_image, run_playbook, tmp_path):
    """The url backend through disk_image_fetch: a checksum is required; the upstream is down, so its mirror serves
    an .xz whose checksum file lists the decompressed image; the second run downloads nothing. (Each shape, signature,
    compression and fault is covered against a loopback server in tests/unit/plugins/module_utils/test_fetch.py.)"""
    upstream = tmp_path / "upstream"
    upstream.mkdir()
    packed = upstream / (fixture_image.name + ".xz")
    packed.write_bytes(lzma.compress(fixture_image.read_bytes(), preset=0))
    (upstream / "SHA512SUMS").write_text("%s  %s\n" % (sha512_file(fixture_image), fixture_image.name))
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        down = "http://127.0.0.1:%d/%s" % (closed.getsockname()[1], packed.name)
    hits = []
    with file_server(upstream, hits) as base:
        missing = build(run_playbook, tmp_path, image_build_backend="url", image_build_url=down)
        assert missing.rc != 0 and "image_build_url_checksum" in missing.output

        wrong = build(
            run_playbook,
            tmp_path,
            image_build_backend="url",
            image_build_url="%s/%s" % (base, packed.name),
            image_build_url_checksum="sha512:" + "0" * 128,
        )
        assert wrong.rc != 0 and "does not match the checksum given" in wrong.output
        assert not (tmp_path / "build" / "fixture.qcow2").exists()

        variables = dict(
            image_build_backend="url",
            image_build_url=down,
            image_build_url_mirrors=["%s/%s" % (base, packed.name)],
            image_build_url_checksum_url="%s/SHA512SUMS" % base,
        )
        first = build(run_playbook, tmp_path, **variables)
        assert first.rc == 0, first.output
        assert first.facts["artifact"]["source"] == down
        assert first.facts["artifact"]["source_sha512"] == sha512_file(fixture_image)
        downloads = len(hits)
        assert downloads >= 2  # the checksum file and the mirror's .xz
        again = build(run_playbook, tmp_path, **variables)
        assert again.rc == 0 and again.changed == 0, again.output
        assert hits[downloads:] == ["/SHA512SUMS"], "the cached download was fetched again"


@pytest.mark.long(140)
def test_publish_rotates_versions(artifact, run_playbook, prefix, sdk):
    conn = sdk("demo")
    name = prefix + "series"
    # The last version comes from a build with a package manifest (image_build's rootfs and dib backends).
    manifest = {"path": "/srv/fixture.qcow2.packages.json", "sha256": "ab" * 32, "count": 123}
    for version in ("1", "2", "3", "4"):
        result = publish(
            run_playbook,
            name,
            version,
            dict(artifact, packages=manifest) if version == "4" else artifact,
            image_publish_keep=1,
            image_publish_keep_deactivated=1,
            image_publish_description="fixture",
            image_publish_tags=["ci"],
            image_publish_properties={"os_distro": "busybox"},
        )
        assert result.rc == 0, result.output
        visible = list(conn.image.images(name=name))
        assert len(visible) == 1 and visible[0].properties["internal_version"] == version

    found = versions(conn, name)
    assert sorted(found) == ["2", "3", "4"]  # version 1 was deleted
    current, kept, deactivated = found["4"], found["3"], found["2"]
    assert current["name"] == name and current["status"] == "active" and not current["os_hidden"]
    assert current["os_hash_algo"] == "sha512" and current["os_hash_value"] == artifact["sha512"]
    assert current["image_description"] == "fixture" and current["os_distro"] == "busybox"
    assert current["internal_version"] == "4" and current["image_build_date"] == artifact["build_date"]
    assert current["tags"] == ["ci"] and current["min_disk"] == artifact["min_disk"]
    assert (current["osimages_packages_sha256"], current["osimages_packages_count"]) == ("ab" * 32, "123")
    assert "osimages_packages_count" not in kept
    assert kept["name"] == name + "-3" and kept["status"] == "active" and kept["os_hidden"]
    assert deactivated["name"] == name + "-2" and deactivated["status"] == "deactivated" and deactivated["os_hidden"]
    assert [r["action"] for r in result.facts["retired"]] == ["deactivated", "deleted"]

    again = publish(
        run_playbook,
        name,
        "4",
        artifact,
        image_publish_keep=1,
        image_publish_keep_deactivated=1,
        image_publish_description="fixture",
        image_publish_tags=["ci"],
        image_publish_properties={"os_distro": "busybox"},
    )
    assert again.rc == 0 and again.changed == 0, again.output
    assert versions(conn, name) == found


@pytest.mark.parametrize(
    "play_cloud, role_cloud",
    [
        ("demo", None),  # the play's module_defaults, with OS_CLOUD naming another cloud
        ("alt", "demo"),  # the role's variable overrides the play's cloud, and only that
    ],
)
def test_publish_lands_where_the_play_and_the_role_say(artifact, run_playbook, prefix, sdk, play_cloud, role_cloud):
    """A play's module_defaults for the group reach every module the roles call (image_publish, then
    catalog_publish's glance_catalog and glance_image_data); a role variable overrides only its own option."""
    name = prefix + "lands-" + play_cloud
    variables = dict(
        play_cloud=play_cloud,
        play_interface="public",
        image_publish_name=name,
        image_publish_version="1",
        image_publish_artifact=artifact,
    )
    if role_cloud:
        variables["image_publish_cloud"] = role_cloud
    result = run_playbook("publish.yml", variables, env=dict(run_playbook.env, OS_CLOUD="alt"))
    assert result.rc == 0, result.output
    demo = sdk("demo")
    published = versions(demo, name)["1"]
    assert published["owner"] == demo.current_project_id and published["status"] == "active"
    assert series_images(sdk("alt"), name) == []


def test_publish_check_mode_changes_nothing(artifact, run_playbook, prefix, sdk):
    name = prefix + "series"
    assert publish(run_playbook, name, "1", artifact).rc == 0
    before = versions(sdk("demo"), name)
    result = run_playbook(
        "publish.yml",
        dict(
            image_publish_cloud="demo",
            image_publish_name=name,
            image_publish_version="2",
            image_publish_artifact=artifact,
        ),
        check=True,
    )
    assert result.rc == 0, result.output
    assert result.changed >= 1
    assert versions(sdk("demo"), name) == before


def test_publish_same_version_with_other_bytes_fails(artifact, fixture_image, run_playbook, prefix, sdk, tmp_path):
    name = prefix + "series"
    assert publish(run_playbook, name, "1", artifact).rc == 0
    other = tmp_path / "other.raw"
    other.write_bytes(fixture_image.read_bytes()[:-1] + b"\1")
    result = publish(run_playbook, name, "1", dict(path=str(other), disk_format="raw"))
    assert result.rc != 0
    assert "already exists" in result.output and "with different data" in result.output
    assert list(versions(sdk("demo"), name)) == ["1"]


def test_publish_failed_upload_rolls_back(artifact, run_playbook, prefix, sdk):
    conn = sdk("demo")
    name = prefix + "series"
    assert publish(run_playbook, name, "1", artifact).rc == 0
    before = versions(conn, name)
    wrong = dict(artifact, sha512="0" * 128)
    result = publish(run_playbook, name, "2", wrong)
    assert result.rc != 0
    assert "publishing version 2 of %s failed" % name in result.output
    assert "The new image was deleted again" in result.output
    after = versions(conn, name)
    assert after == before, "the failed version was left behind or the current one changed"


def test_publish_never_deletes_a_protected_version(artifact, run_playbook, prefix, sdk):
    conn = sdk("demo")
    name = prefix + "series"
    assert publish(run_playbook, name, "1", artifact).rc == 0
    first = versions(conn, name)["1"]
    conn.image.update_image(first["id"], is_protected=True)
    for version in ("2", "3"):
        result = publish(run_playbook, name, version, artifact, image_publish_keep=0, image_publish_keep_deactivated=0)
        assert result.rc == 0, result.output
    found = versions(conn, name)
    assert sorted(found) == ["1", "3"]
    assert found["1"]["status"] == "deactivated" and found["1"]["protected"]


def test_publish_refuses_a_stranger_with_the_stable_name(artifact, run_playbook, prefix, sdk):
    conn = sdk("demo")
    name = prefix + "series"
    stranger = conn.image.create_image(name=name, disk_format="raw", container_format="bare")
    result = publish(run_playbook, name, "1", artifact)
    assert result.rc != 0
    assert stranger.id in result.output and "without being a version of it" in result.output
    assert series_images(conn, name) == []


def debian_mirrors():
    """The machine's own Debian mirrors (main archive and security), read from its apt configuration."""
    mirrors = {}
    texts = [path.read_text() for path in sorted(Path("/etc/apt").glob("sources.list.d/*.sources"))]
    for text in texts:
        for stanza in text.split("\n\n"):
            fields = dict(
                line.split(":", 1) for line in stanza.splitlines() if ":" in line and not line.startswith("#")
            )
            uri = fields.get("URIs", "").split()[0] if fields.get("URIs") else None
            if uri:
                mirrors.setdefault("security" if "security" in fields.get("Suites", "") else "main", uri)
    sources_list = Path("/etc/apt/sources.list")
    if sources_list.exists():
        for line in sources_list.read_text().splitlines():
            parts = line.split()
            if len(parts) >= 3 and parts[0] == "deb":
                mirrors.setdefault("security" if "security" in parts[2] else "main", parts[1])
    return mirrors


def assert_package_manifest(artifact, some_packages):
    """The artifact names its package manifest, whose sha256 and count are right and which lists installed
    packages with their version and architecture."""
    summary = artifact["packages"]
    data = Path(summary["path"]).read_bytes()
    assert summary["path"] == artifact["path"] + ".packages.json"
    assert summary["sha256"] == hashlib.sha256(data).hexdigest()
    listed = json.loads(data)["packages"]
    assert summary["count"] == len(listed) > 50
    assert some_packages <= {package["name"] for package in listed}
    assert all(package["version"] and package["architecture"] in ("amd64", "all") for package in listed)


@pytest.mark.long(260)
def test_rootfs_backend_builds_a_debian_image_that_boots_and_customizes_as_vhdx(run_playbook, tmp_path):
    variables = dict(
        image_build_backend="rootfs",
        image_build_rootfs_mirror=debian_mirrors()["main"],
        image_build_rootfs_hostname="osimages-ci",
        image_build_format="qcow2",
        image_build_compression="zstd",
        image_build_boot_test=True,
        image_build_boot_test_timeout=300,
    )
    first = build(run_playbook, tmp_path, **variables)
    assert first.rc == 0, first.output
    artifact = first.facts["artifact"]
    assert Path(artifact["kernel"]).is_file() and Path(artifact["initrd"]).is_file()
    assert artifact["virtual_size"] == 2 << 30 and artifact["min_disk"] == 2
    assert_package_manifest(artifact, {"linux-image-cloud-amd64", "systemd-sysv", "udev"})
    console = (tmp_path / "build" / "work" / "boot-test-console.log").read_text(errors="replace")
    assert "osimages-ci login:" in console
    variables["image_build_boot_test"] = False
    again = build(run_playbook, tmp_path, **variables)
    assert again.rc == 0 and again.changed == 0, again.output
    Path(artifact["packages"]["path"]).unlink()  # written again from the same build: the same bytes
    rewritten = build(run_playbook, tmp_path, **variables)
    assert rewritten.rc == 0 and rewritten.changed == 1, rewritten.output
    assert rewritten.facts["artifact"]["packages"] == artifact["packages"]

    # That image as a vhdx source, customized by virt-customize (libguestfs) on a qcow2 copy that qemu-img makes
    # through the one format map; the file it wrote is read back from the ext4 file system with debugfs.
    vhdx = tmp_path / "debian.vhdx"
    subprocess.run(["qemu-img", "convert", "-O", "vhdx", artifact["path"], str(vhdx)], check=True)
    customized = build(
        run_playbook,
        tmp_path,
        image_build_name="customized",
        image_build_backend="file",
        image_build_src=str(vhdx),
        image_build_src_format="vhdx",
        image_build_format="raw",
        image_build_customize=["write /etc/osimages-customized:from-vhdx"],
    )
    assert customized.rc == 0, customized.output
    root_fs = customized.facts["artifact"]["path"]
    written = subprocess.run(
        ["debugfs", "-R", "cat /etc/osimages-customized", root_fs], check=True, capture_output=True, text=True
    )
    assert written.stdout == "from-vhdx"


@pytest.mark.long(270)
def test_dib_backend_builds_a_baremetal_image_published_with_its_kernel_and_ramdisk(
    run_playbook, prefix, sdk, tmp_path
):
    mirrors = debian_mirrors()
    env = {"DIB_RELEASE": "bookworm", "DIB_DISTRIBUTION_MIRROR": mirrors["main"]}
    if "security" in mirrors:
        env["DIB_DEBIAN_SECURITY_MIRROR"] = mirrors["security"]
    dib_cache = Path.home() / ".cache" / "osimages-glance" / "dib-cache"  # keeps the DIB venv between runs
    variables = dict(
        image_build_backend="dib",
        image_build_dib_type="baremetal",
        image_build_dib_elements=["debian-minimal"],
        image_build_dib_env=env,
        image_build_format="qcow2",
        image_build_cache_dir=str(dib_cache),
    )
    first = build(run_playbook, tmp_path, **variables)
    assert first.rc == 0, first.output
    artifact = first.facts["artifact"]
    assert artifact["disk_format"] == "qcow2" and Path(artifact["kernel"]).is_file()
    assert artifact["source"] == "diskimage-builder baremetal: debian-minimal"
    assert_package_manifest(artifact, {"linux-image-amd64", "systemd"})
    again = build(run_playbook, tmp_path, **variables)
    assert again.rc == 0 and again.changed == 0, again.output

    # Ironic boots a partition image with its kernel and ramdisk: three images, linked, versioned together.
    name = prefix + "baremetal"
    published = publish(run_playbook, name, "1", artifact, image_publish_kernel_and_ramdisk=True)
    assert published.rc == 0, published.output
    conn = sdk("demo")
    (disk,) = versions(conn, name).values()
    (kernel,) = versions(conn, name + "-kernel").values()
    (ramdisk,) = versions(conn, name + "-ramdisk").values()
    assert (disk["kernel_id"], disk["ramdisk_id"]) == (kernel["id"], ramdisk["id"])
    assert published.facts["image"]["id"] == disk["id"] and published.facts["image"]["kernel_id"] == kernel["id"]
    assert (kernel["disk_format"], kernel["container_format"], kernel["os_hidden"]) == ("aki", "aki", True)
    assert (ramdisk["disk_format"], ramdisk["container_format"], ramdisk["os_hidden"]) == ("ari", "ari", True)
    assert kernel["os_hash_value"] == sha512_file(artifact["kernel"])
    assert ramdisk["os_hash_value"] == sha512_file(artifact["initrd"])
    assert (disk["name"], disk["os_hidden"], disk["status"]) == (name, False, "active")
    unchanged = publish(run_playbook, name, "1", artifact, image_publish_kernel_and_ramdisk=True)
    assert unchanged.rc == 0 and unchanged.changed == 0, unchanged.output


def kvm_usable_here():
    """Whether this host lets the probe run qemu under KVM at all (the fake qemu then plays the rest)."""
    return os.access("/dev/kvm", os.R_OK | os.W_OK)


def test_the_kvm_probe_answers_without_booting(run_module):
    """image_build's virt-customize step asks disk_image_boot's probe rather than probing on its own."""
    probe, missing = run_module.many("disk_image_boot", [{"probe_only": True}, {}], cloud=None)
    assert not probe["failed"] and not probe["changed"] and "seconds" not in probe
    assert probe["accelerator"] in ("kvm", "tcg") and probe["accelerator_reason"]
    if not Path("/dev/kvm").exists():
        assert probe["accelerator"] == "tcg" and probe["accelerator_reason"] == "this host has no /dev/kvm"
    assert missing["failed"] and "probe_only is False" in missing["msg"] and "path" in missing["msg"]


def test_disk_image_boot_meets_a_kvm_that_stops_the_guest(run_module, tmp_path):
    """A qemu whose KVM runs the probe's guest but stops the real one: auto boots again under TCG at once, with a
    warning; kvm fails at once with qemu's words. Neither waits for its 300 s timeout."""
    env, runs = fake_qemu_env(run_module.env, tmp_path)
    disk = tmp_path / "disk.raw"
    disk.write_bytes(b"\0" * 4096)
    auto, kvm = run_module.many(
        "disk_image_boot", [{"path": str(disk)}, {"path": str(disk), "accelerator": "kvm"}], cloud=None, env=env
    )
    assert not auto["failed"], auto
    assert auto["accelerator"] == "tcg" and "fake login:" in auto["console_tail"]
    if kvm_usable_here():
        assert runs.read_text().split() == ["kvm", "kvm", "tcg", "kvm"]  # probe, KVM boot, TCG boot; kvm's boot
        assert auto["fallback_reason"].endswith("KVM internal error. Suberror: 1; emulation failure")
        assert "booted %s again under TCG" % disk in auto["_output"]
    else:  # no KVM to try: TCG from the start, and the probe says why
        assert runs.read_text().split() == ["tcg", "kvm"] and auto["fallback_reason"] is None
        assert auto["accelerator_reason"].startswith("/dev/kvm") or "no /dev/kvm" in auto["accelerator_reason"]
    assert kvm["failed"] and kvm["accelerator"] == "kvm" and kvm["seconds"] < 30
    assert kvm["msg"] == (
        "boot test of %s failed: qemu stopped the guest under KVM after %s s: "
        "KVM internal error. Suberror: 1; emulation failure" % (disk, kvm["seconds"])
    )


def test_image_build_passes_its_accelerator_on(tmp_path, run_playbook):
    """image_build_boot_accelerator reaches the boot test: with kvm, a KVM that stops the guest fails it at once."""
    env, runs = fake_qemu_env(run_playbook.env, tmp_path)
    disk = tmp_path / "blank.raw"
    disk.write_bytes(b"\0" * (4 << 20))
    variables = dict(
        image_build_backend="file",
        image_build_src=str(disk),
        image_build_format="raw",
        image_build_boot_test=True,
        image_build_boot_accelerator="kvm",
    )
    result = build(run_playbook, tmp_path, env=env, **variables)
    assert result.rc != 0, result.output
    assert "qemu stopped the guest under KVM after" in result.output and "emulation failure" in result.output
    assert runs.read_text().split() == ["kvm"]  # asked for KVM: no probe, no second boot


def test_disk_image_predicts_in_check_mode_the_artifact_of_a_source_an_earlier_step_would_make(run_module, tmp_path):
    """image_build's check mode takes its artifact from here: a rootfs, DIB or url build made no source file yet."""
    missing, real = run_module.many(
        "disk_image",
        [
            {"src": str(tmp_path / "not-built.raw"), "dest": str(tmp_path / "a.qcow2"), "dest_format": "qcow2"},
            {"src": str(tmp_path / "not-built.raw"), "_check": False},
        ],
        cloud=None,
        check=True,
    )
    assert not missing["failed"] and missing["changed"], missing
    assert missing["artifact"]["path"] == str(tmp_path / "a.qcow2") and missing["artifact"]["disk_format"] == "qcow2"
    assert not (tmp_path / "a.qcow2").exists()
    assert real["failed"] and "does not exist" in real["msg"]


def test_dib_vm_fails_fast_without_device_mapper(run_playbook, tmp_path):
    """These machines' kernels have no device-mapper (kpartx and dmsetup come with libguestfs all the same): a DIB
    vm build must stop in preflight with the reason."""
    probe = "grep -qw device-mapper /proc/misc || sudo -n dmsetup version"
    if subprocess.run(["sh", "-c", probe], check=False, capture_output=True).returncode == 0:
        pytest.skip("this host has device-mapper")
    result = build(run_playbook, tmp_path, image_build_backend="dib", image_build_dib_type="vm")
    assert result.rc != 0
    missing = "lacks kpartx" if shutil.which("kpartx") is None else "lacks device-mapper"
    assert missing in result.output and "image_build_dib_type=baremetal" in result.output, result.output


def _awx_env(base, awx_clouds_yaml):
    """Exactly what AWX's OpenStack credential gives a job: one clouds.yaml, no other OS_* variables."""
    env = {key: value for key, value in base.items() if not key.startswith("OS_")}
    env["OS_CLIENT_CONFIG_FILE"] = awx_clouds_yaml
    return env


def test_modules_take_their_cloud_from_module_defaults(run_playbook, prefix, fixture_image, sdk):
    result = run_playbook(
        "module_defaults.yml",
        dict(module_defaults_cloud="demo", image_name=prefix + "md", image_file=str(fixture_image)),
    )
    assert result.rc == 0, result.output
    image = result.facts["image"]
    assert image["status"] == "active" and image["tags"] == ["module-defaults"]
    assert sdk("demo").image.get_image(image["id"]).status == "active"


def test_modules_and_roles_run_with_an_awx_credential_and_no_cloud_option(
    run_playbook, prefix, fixture_image, artifact, awx_clouds_yaml, sdk
):
    env = _awx_env(run_playbook.env, awx_clouds_yaml)
    modules = run_playbook(
        "module_defaults.yml", dict(image_name=prefix + "awx", image_file=str(fixture_image)), env=env
    )
    assert modules.rc == 0, modules.output
    assert sdk("demo").image.get_image(modules.facts["image"]["id"]).status == "active"

    name = prefix + "awx-series"
    published = run_playbook(
        "publish.yml",
        dict(image_publish_name=name, image_publish_version="1", image_publish_artifact=artifact),
        env=env,
    )
    assert published.rc == 0, published.output
    assert versions(sdk("demo"), name)["1"]["name"] == name
