"""Paired benchmarks against the local cloud: glance_image_data and glance_image_info versus their peers.

Each comparison runs its contenders in turn (A, B, C, A, B, C, ...) for several
rounds and reports the median, min and max, and the ratio to a reference
measured in the same run. Nothing here asserts a time: the numbers are for
reading, and for the closing notes of the issues.

Usage (through bench/run, which prepares the venv and the cloud):
  bench.py upload   --sizes 1,4 --rounds 5
  bench.py download --size 1 --rounds 5
  bench.py info     --counts 200,5000 --rounds 5
  bench.py readonce --size 1
  bench.py noop     --count 20 --rounds 5
  bench.py regions  --size 1 --count 20 --rounds 3   (a cloud with two regions: bench/run sets LOCALCLOUD_REGIONS=2)
  bench.py profile
"""

import argparse
import hashlib
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import ansible.release
import openstack
import openstack.config
import openstack.version

REPO = Path(__file__).resolve().parent.parent
MODULES = REPO / "plugins" / "modules"
GIB = 1024**3
WORK = Path(os.environ.get("BENCH_WORK", Path.home() / ".cache" / "osimages-glance" / "bench"))
CLOUD = "demo"


def conn():
    return openstack.connect(cloud=CLOUD)


def _process_tree(root):
    """The PIDs of ``root`` and all its descendants, from /proc."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/stat" % entry) as handle:
                    parents[int(entry)] = int(handle.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                pass
    tree, frontier = {root}, [root]
    while frontier:
        pid = frontier.pop()
        children = [child for child, parent in parents.items() if parent == pid and child not in tree]
        tree.update(children)
        frontier.extend(children)
    return tree


def _high_water_mib(pid):
    try:
        with open("/proc/%d/status" % pid) as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return 0.0


def run_measured(cmd, env=None):
    """Run a command; return (wall s, CPU s, peak RSS MiB, output).

    CPU comes from wait4 (the command and the children it waited for). The
    peak RSS is the largest VmHWM seen in its process tree, sampled every 50 ms:
    wait4's ru_maxrss would count the benchmark's own memory, copied at fork.
    """
    started = time.monotonic()
    with tempfile.TemporaryFile() as output:
        proc = subprocess.Popen(cmd, stdout=output, stderr=subprocess.STDOUT, env=env)
        peak = 0.0
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            for member in _process_tree(proc.pid):
                peak = max(peak, _high_water_mib(member))
            time.sleep(0.05)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.monotonic() - started
        output.seek(0)
        text = output.read().decode(errors="replace")
    if proc.returncode != 0:
        raise RuntimeError("%s failed:\n%s" % (" ".join(map(str, cmd)), text[-3000:]))
    return wall, usage.ru_utime + usage.ru_stime, peak, text


def settle():
    """Flush the page cache's dirty pages before a measured run.

    Glance writes every upload to its file store; without this, the contender after an upload pays for the
    previous one's writeback, and the one after a slow peer (whose own exit gave the disk time) looks faster.
    """
    os.sync()
    time.sleep(1)


def rotated(contenders, round_no):
    """The contenders in this round's order: each one takes every slot in turn, so no one always goes first."""
    shift = round_no % len(contenders)
    return contenders[shift:] + contenders[:shift]


def module_cmd(module, args):
    """Run one of our modules as the module process itself (as AnsiballZ would run it)."""
    args_file = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
    json.dump({"ANSIBLE_MODULE_ARGS": args}, args_file)
    args_file.close()
    return [sys.executable, str(MODULES / ("%s.py" % module)), args_file.name]


def ansible_cmd(module, args):
    return (
        [str(Path(sys.executable).parent / "ansible"), "localhost", "-c", "local", "-m", module]
        + (["-a", json.dumps(args)] if args else [])
        + ["-e", "ansible_python_interpreter=%s" % sys.executable]
    )


def module_env():
    collections = os.environ["ANSIBLE_COLLECTIONS_PATH"].split(":")[0]
    return dict(
        os.environ, PYTHONPATH=collections, ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_INVENTORY_UNPARSED_WARNING="0"
    )


def peer_tool(name):
    """A command from the peers' venv (openstack.cloud's ansible, OSC's openstack, py-spy)."""
    peer_python = os.environ.get("BENCH_PEER_PYTHON")
    return str(Path(peer_python).parent / name) if peer_python else None


def peer_env():
    """openstack.cloud comes from the bench venv's `ansible` package, not from our collections path."""
    env = module_env()
    env.pop("ANSIBLE_COLLECTIONS_PATH", None)
    env.pop("PYTHONPATH", None)
    return env


def summarize(name, samples, reference=None):
    walls = [sample[0] for sample in samples]
    row = {
        "name": name,
        "median_s": statistics.median(walls),
        "min_s": min(walls),
        "max_s": max(walls),
        "cpu_s": statistics.median(sample[1] for sample in samples),
        "peak_rss_mib": max(sample[2] for sample in samples),
        "rounds": len(samples),
    }
    if reference:
        row["ratio"] = row["median_s"] / reference["median_s"]
    return row


def print_table(title, rows):
    print("\n## %s" % title)
    print("%-40s %9s %9s %9s %8s %10s %7s" % ("contender", "median s", "min s", "max s", "cpu s", "peak MiB", "ratio"))
    for row in rows:
        print(
            "%-40s %9.2f %9.2f %9.2f %8.2f %10.1f %7s"
            % (
                row["name"],
                row["median_s"],
                row["min_s"],
                row["max_s"],
                row["cpu_s"],
                row["peak_rss_mib"],
                "%.3f" % row["ratio"] if "ratio" in row else "-",
            )
        )
    sys.stdout.flush()


def make_file(size_gib):
    WORK.mkdir(parents=True, exist_ok=True)
    path = WORK / ("data-%dg.raw" % size_gib)
    if not path.exists() or path.stat().st_size != size_gib * GIB:
        with open(path, "wb") as handle:
            block = os.urandom(64 * 1024 * 1024)
            for dummy in range(size_gib * 16):
                handle.write(block)
    return path


def new_image(c, name):
    body = {"name": name, "disk_format": "raw", "container_format": "bare", "visibility": "private"}
    return c.image.post("/images", json=body).json()["id"]


def delete_image(c, image_id):
    c.image.delete("/images/%s" % image_id)


# -- upload ----------------------------------------------------------------------


def upload_contenders(c, path):
    token, endpoint = c.auth_token, glance_v2(c)
    sdk_script = (
        "import openstack,sys; c=openstack.connect(cloud='%s'); "
        "c.image.create_image(sys.argv[1], filename=sys.argv[2], disk_format='raw', "
        "container_format='bare', allow_duplicates=True, wait=True)" % CLOUD
    )
    peer_python = os.environ.get("BENCH_PEER_PYTHON")

    def curl(name):
        image_id = new_image(c, name)
        # `Expect:` stops curl waiting a second for a 100-continue that uWSGI never sends.
        return image_id, [
            "curl",
            "-sS",
            "-f",
            "-T",
            str(path),
            "-H",
            "Expect:",
            "-H",
            "X-Auth-Token: " + token,
            "-H",
            "Content-Type: application/octet-stream",
            "%s/images/%s/file" % (endpoint, image_id),
        ]

    def curl_fresh_token(name):
        image_id = new_image(c, name)
        then = (
            'curl -sS -f -T "$3" -H "Expect:" -H "X-Auth-Token: $token" '
            '-H "Content-Type: application/octet-stream" "$4/images/$5/file"'
        )
        return image_id, fresh_token_cmd(then, str(path), endpoint, image_id)

    def ours(name):
        image_id = new_image(c, name)
        return image_id, module_cmd("glance_image_data", {"cloud": CLOUD, "image": image_id, "src": str(path)})

    def sdk(name):
        return None, [sys.executable, "-c", sdk_script, name, str(path)]

    def peer(name):
        return None, [
            str(Path(peer_python).parent / "ansible"),
            "localhost",
            "-c",
            "local",
            "-m",
            "openstack.cloud.image",
            "-a",
            json.dumps(
                {"cloud": CLOUD, "name": name, "filename": str(path), "disk_format": "raw", "container_format": "bare"}
            ),
            "-e",
            "ansible_python_interpreter=%s" % peer_python,
        ]

    def osc(name):
        return None, [
            peer_tool("openstack"),
            "--os-cloud",
            CLOUD,
            "image",
            "create",
            "--disk-format",
            "raw",
            "--container-format",
            "bare",
            "--private",
            "--file",
            str(path),
            name,
        ]

    contenders = [
        ("curl -T (the limit)", curl, module_env()),
        ("curl: own token, then -T", curl_fresh_token, module_env()),
        ("osimages.glance.glance_image_data", ours, module_env()),
        ("openstacksdk create_image", sdk, module_env()),
    ]
    if peer_python:
        contenders.append(("openstack image create (OSC)", osc, peer_env()))
        contenders.append(("openstack.cloud.image (ansible)", peer, peer_env()))
    return contenders


def bench_upload(sizes, rounds):
    c = conn()
    results = {}
    for size in sizes:
        path = make_file(size)
        contenders = upload_contenders(c, path)
        samples = dict((name, []) for name, dummy_prepare, dummy_env in contenders)
        for round_no in range(rounds):
            for name, prepare, env in rotated(contenders, round_no):
                image_name = "bench-up-%d-%d-%s" % (size, round_no, re.sub(r"\W", "", name)[:12])
                image_id, cmd = prepare(image_name)
                settle()
                wall, cpu, rss, _out = run_measured(cmd, env)
                found = list(c.image.images(name=image_name))
                ids = [image_id] if image_id else [image.id for image in found]
                for one in ids:
                    raw = c.image.get("/images/%s" % one).json()
                    if raw["status"] != "active" or raw["size"] != path.stat().st_size:
                        raise RuntimeError("%s left image %s %s" % (name, one, raw["status"]))
                    delete_image(c, one)
                samples[name].append((wall, cpu, rss))
        reference = summarize("ref", samples[contenders[0][0]])
        rows = [summarize(name, samples[name], reference) for name, dummy_prepare, dummy_env in contenders]
        print_table("upload %d GiB (%d rounds)" % (size, rounds), rows)
        results["upload_%dg" % size] = rows
    return results


# -- download ----------------------------------------------------------------------


def bench_download(size, rounds):
    c = conn()
    path = make_file(size)
    image_id = new_image(c, "bench-download")
    subprocess.run(
        module_cmd("glance_image_data", {"cloud": CLOUD, "image": image_id, "src": str(path)}),
        env=module_env(),
        check=True,
        capture_output=True,
    )
    token, endpoint = c.auth_token, glance_v2(c)
    dest = WORK / "download.raw"
    contenders = [
        (
            "curl GET (the limit)",
            [
                "curl",
                "-sS",
                "-f",
                "-o",
                str(dest),
                "-H",
                "X-Auth-Token: " + token,
                "%s/images/%s/file" % (endpoint, image_id),
            ],
        ),
        # glance_image_data fsyncs before the rename that makes dest appear; this is curl held to the same rule.
        (
            "curl GET + sync (same durability)",
            [
                "sh",
                "-c",
                'curl -sS -f -o "$1" -H "X-Auth-Token: $2" "$3" && sync "$1"',
                "curl-sync",
                str(dest),
                token,
                "%s/images/%s/file" % (endpoint, image_id),
            ],
        ),
        (
            "curl: own token, then GET + sync",
            fresh_token_cmd(
                'curl -sS -f -o "$3" -H "X-Auth-Token: $token" "$4/images/$5/file" && sync "$3"',
                str(dest),
                endpoint,
                image_id,
            ),
        ),
        (
            "osimages.glance.glance_image_data",
            module_cmd("glance_image_data", {"cloud": CLOUD, "image": image_id, "dest": str(dest)}),
        ),
    ]
    if peer_tool("openstack"):
        contenders.append(
            (
                "openstack image save (OSC)",
                [peer_tool("openstack"), "--os-cloud", CLOUD, "image", "save", "--file", str(dest), image_id],
            )
        )
    samples = dict((name, []) for name, dummy_cmd in contenders)
    try:
        for round_no in range(rounds):
            for name, cmd in rotated(contenders, round_no):
                if dest.exists():
                    dest.unlink()
                settle()
                wall, cpu, rss, _out = run_measured(cmd, peer_env() if "OSC" in name else module_env())
                if dest.stat().st_size != size * GIB:
                    raise RuntimeError("%s wrote %d bytes, not %d" % (name, dest.stat().st_size, size * GIB))
                samples[name].append((wall, cpu, rss))
    finally:
        delete_image(c, image_id)
        if dest.exists():
            dest.unlink()
    reference = summarize("ref", samples[contenders[0][0]])
    rows = [summarize(name, samples[name], reference) for name, dummy_cmd in contenders]
    print_table("download %d GiB, hash verified (%d rounds)" % (size, rounds), rows)
    return {"download_%dg" % size: rows}


# -- upstream downloads ------------------------------------------------------------------


def fetch_contenders(url, checksum, dest_dir):
    """Download ``url`` into ``dest_dir`` and check its sha256: curl then sha256sum (and sync, as we fsync), the
    builtin get_url (what the url backend used before), and disk_image_fetch."""
    dest = str(dest_dir / url.rsplit("/", 1)[-1])
    get_url_args = {"url": url, "dest": dest, "checksum": "sha256:" + checksum, "timeout": 60}
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as args_file:
        json.dump({"ANSIBLE_MODULE_ARGS": get_url_args}, args_file)
    return [
        (
            "curl, then sha256sum, then sync",
            ["sh", "-c", 'curl -sS -f -o "$1" "$2" && sha256sum "$1" >/dev/null && sync "$1"', "curl", dest, url],
        ),
        # As a module (-m): run as a file, its folder would shadow the standard library's tempfile.
        ("ansible.builtin.get_url (checksum)", [sys.executable, "-m", "ansible.modules.get_url", args_file.name]),
        (
            "osimages.glance.disk_image_fetch",
            module_cmd("disk_image_fetch", {"url": url, "checksum": "sha256:" + checksum, "dest": str(dest_dir)}),
        ),
    ]


def bench_fetch(size, rounds):
    """An upstream image over loopback HTTP (a Python file server, the same for every contender), verified."""
    path = make_file(size)
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 24), b""):
            digest.update(block)
    served = WORK / "served"
    served.mkdir(exist_ok=True)
    link = served / path.name
    if not link.exists():
        os.link(path, link)
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", "--directory", str(served), "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        port = int(re.search(r"port (\d+)", server.stdout.readline()).group(1))
        url = "http://127.0.0.1:%d/%s" % (port, path.name)
        dest_dir = WORK / "fetched"
        contenders = fetch_contenders(url, digest.hexdigest(), dest_dir)
        samples = dict((name, []) for name, dummy_cmd in contenders)
        for round_no in range(rounds):
            for name, cmd in rotated(contenders, round_no):
                subprocess.run(["rm", "-rf", str(dest_dir)], check=True)
                dest_dir.mkdir(parents=True)
                settle()
                wall, cpu, rss, _out = run_measured(cmd, module_env())
                written = list(dest_dir.rglob(path.name))
                if len(written) != 1 or written[0].stat().st_size != size * GIB:
                    raise RuntimeError("%s did not write the %d GiB file" % (name, size))
                samples[name].append((wall, cpu, rss))
    finally:
        server.terminate()
        server.wait()
        subprocess.run(["rm", "-rf", str(WORK / "fetched")], check=False)
    reference = summarize("ref", samples[contenders[0][0]])
    rows = [summarize(name, samples[name], reference) for name, dummy_cmd in contenders]
    print_table("upstream download %d GiB over loopback HTTP, sha256 verified (%d rounds)" % (size, rounds), rows)
    return {"fetch_%dg" % size: rows}


# -- read once -------------------------------------------------------------------------


def bytes_read(cmd, env, path):
    """strace a command and its children: how many bytes do they read from ``path``?

    ``-P`` makes strace keep only the calls on descriptors that refer to the file,
    whichever process or thread opened them.
    """
    trace = WORK / "strace.log"
    subprocess.run(
        ["strace", "-f", "-qq", "-P", str(path), "-e", "trace=read,pread64,readv,preadv,sendfile", "-o", str(trace)]
        + cmd,
        env=env,
        check=True,
        capture_output=True,
    )
    total = 0
    for line in trace.read_text().splitlines():
        match = re.search(r"\b(?:read|pread64|readv|preadv|sendfile)\(.*= (\d+)$", line)
        if match:
            total += int(match.group(1))
    trace.unlink()
    return total


def bench_readonce(size):
    """Every upload contender once under strace: bytes read from the source file, as a multiple of its size."""
    c = conn()
    path = make_file(size)
    rows = []
    for name, prepare, env in upload_contenders(c, path):
        image_name = "bench-readonce-%s" % re.sub(r"\W", "", name)[:12]
        image_id, cmd = prepare(image_name)
        try:
            read = bytes_read(cmd, env, path)
        finally:
            ids = [image_id] if image_id else [image.id for image in c.image.images(name=image_name)]
            for one in ids:
                delete_image(c, one)
        rows.append(
            {
                "name": name,
                "bytes_read": read,
                "file_size": path.stat().st_size,
                "ratio": read / float(path.stat().st_size),
            }
        )
    print("\n## bytes read from a %d GiB source file" % size)
    for row in rows:
        print("%-40s %14d  %.4fx the file size" % (row["name"], row["bytes_read"], row["ratio"]))
    return {"readonce_%dg" % size: rows}


# -- info -------------------------------------------------------------------------------


def ensure_images(c, count, marker):
    """Make the demo project hold at least `count` images named with the marker (plus one target)."""
    have = sum(1 for dummy in c.image.images(tag=marker))
    for index in range(have, count):
        c.image.post("/images", json={"name": "%s-%05d" % (marker, index), "tags": [marker], "visibility": "private"})


def bench_info(counts, rounds):
    c = conn()
    marker = "bench-info-filler"
    target = "bench-info-target"
    if not list(c.image.images(name=target)):
        c.image.post("/images", json={"name": target, "visibility": "private"})
    peer_python = os.environ.get("BENCH_PEER_PYTHON")
    results = {}
    for count in counts:
        ensure_images(c, count, marker)
        contenders = [
            (
                "osimages.glance.glance_image_info",
                module_cmd("glance_image_info", {"cloud": CLOUD, "image": target}),
                module_env(),
            )
        ]
        if peer_python:
            contenders.append(
                (
                    "openstack.cloud.image_info (ansible)",
                    [
                        str(Path(peer_python).parent / "ansible"),
                        "localhost",
                        "-c",
                        "local",
                        "-m",
                        "openstack.cloud.image_info",
                        "-a",
                        json.dumps({"cloud": CLOUD, "image": target}),
                        "-e",
                        "ansible_python_interpreter=%s" % peer_python,
                    ],
                    peer_env(),
                )
            )
        samples = dict((name, []) for name, dummy_prepare, dummy_env in contenders)
        for dummy in range(rounds):
            for name, cmd, env in contenders:
                wall, cpu, rss, _out = run_measured(cmd, env)
                samples[name].append((wall, cpu, rss))
        rows = [summarize(name, samples[name]) for name, dummy_prepare, dummy_env in contenders]
        print_table("name-filtered info with %d images in the project (%d rounds)" % (count, rounds), rows)
        results["info_%d" % count] = rows
    # The filler images would slow everything else that lists the project's images: remove them.
    for image in list(c.image.images(tag=marker)) + list(c.image.images(name=target)):
        delete_image(c, image.id)
    if len(counts) > 1:
        for index, (name, dummy_cmd, dummy_env) in enumerate(contenders):
            small = results["info_%d" % counts[0]][index]["median_s"]
            large = results["info_%d" % counts[-1]][index]["median_s"]
            print("%-40s %d images / %d images: %.3f" % (name, counts[-1], counts[0], large / small))
    return results


# -- no-op runs ---------------------------------------------------------------------------

NOOP_BYTES = 1024 * 1024


def noop_artifacts(count, prefix):
    """``count`` small files with distinct, reproducible bytes, named after the images they become."""
    directory = WORK / "noop"
    directory.mkdir(parents=True, exist_ok=True)
    artifacts = []
    for index in range(count):
        name = "%s-%02d" % (prefix, index)
        path = directory / (name + ".raw")
        if not path.exists():
            block = hashlib.sha512(name.encode()).digest()
            path.write_bytes(block * (NOOP_BYTES // len(block)))
        artifacts.append({"name": name, "path": str(path)})
    return artifacts


def playbook_cmd(bin_dir, playbook, python, extra_vars):
    text = json.dumps(dict(extra_vars, ansible_python_interpreter=python))
    # One file per set of variables: two contenders of one playbook (20 and 200 images) keep theirs.
    extra = WORK / ("%s-%s.vars.json" % (Path(playbook).stem, hashlib.sha1(text.encode()).hexdigest()[:8]))
    extra.write_text(text)
    return [
        str(Path(bin_dir) / "ansible-playbook"),
        "-i",
        "localhost,",
        str(REPO / "bench" / "playbooks" / playbook),
        "-e",
        "@%s" % extra,
    ]


def recap_changed(output):
    match = re.search(r"^localhost\s*:.*changed=(\d+)", output, re.M)
    return int(match.group(1)) if match else None


def noop_catalog_cmd(count):
    """catalog_publish of a catalog of ``count`` images, one version each, under a managed tag of its own."""
    prefix = "bench-catalog-%d" % count
    extra = {"bench_cloud": CLOUD, "bench_tag": prefix, "bench_catalog": noop_catalog(count, prefix)}
    return playbook_cmd(Path(sys.executable).parent, "noop_catalog.yml", sys.executable, extra)


def noop_catalog(count, prefix):
    return [
        {
            "name": artifact["name"],
            "format": "raw",
            "login": "root",
            "status": "active",
            "visibility": "private",
            "meta": {"uuid_validity": "forever"},
            "versions": [{"version": "1", "artifact": artifact["path"]}],
        }
        for artifact in noop_artifacts(count, prefix)
    ]


def noop_publish_contenders(count):
    ours = playbook_cmd(
        Path(sys.executable).parent,
        "noop_publish.yml",
        sys.executable,
        {"bench_cloud": CLOUD, "bench_artifacts": noop_artifacts(count, "bench-noop-ours")},
    )
    peer = playbook_cmd(
        Path(peer_tool("python")).parent,
        "noop_openstack_cloud.yml",
        peer_tool("python"),
        {"bench_cloud": CLOUD, "bench_artifacts": noop_artifacts(count, "bench-noop-peer")},
    )
    return [
        ("osimages.glance.image_publish x%d" % count, ours, module_env()),
        ("openstack.cloud.image x%d" % count, peer, peer_env()),
        ("osimages.glance.catalog_publish, %d images" % count, noop_catalog_cmd(count), module_env()),
        ("osimages.glance.catalog_publish, %d images" % (count * 10), noop_catalog_cmd(count * 10), module_env()),
    ]


def fresh_token_cmd(then, *args):
    """sh + curl: one Keystone password authentication, then ``then`` (a shell line that uses $token and $3...).

    This is what any client pays before its first Glance call: its own token, which Glance validates
    with Keystone on first use. The bench's other curl contenders reuse a token Glance has already seen.
    """
    cloud = openstack.config.OpenStackConfig().get_one(cloud=CLOUD)
    auth = cloud.config["auth"]
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {
                        "name": auth["username"],
                        "password": auth["password"],
                        "domain": {"name": auth.get("user_domain_name", "Default")},
                    }
                },
            },
            "scope": {
                "project": {
                    "name": auth["project_name"],
                    "domain": {"name": auth.get("project_domain_name", "Default")},
                }
            },
        }
    }
    body_file = WORK / "auth.json"
    body_file.touch(mode=0o600)
    body_file.write_text(json.dumps(body))
    script = (
        'token=$(curl -sS -f -D - -o /dev/null -H "Content-Type: application/json" -d @"$1" "$2/auth/tokens" '
        '| tr -d "\\r" | sed -n "s/^[Xx]-[Ss]ubject-[Tt]oken: //p") && ' + then
    )
    return ["sh", "-c", script, "fresh-token", str(body_file), auth["auth_url"].rstrip("/")] + list(args)


def glance_v2(c):
    endpoint = c.image.get_endpoint().rstrip("/")
    return endpoint if endpoint.endswith("/v2") else endpoint + "/v2"


def auth_and_round_trip_cmd(image_id):
    """curl: one Keystone password authentication, then one GET of the image (the network part of the floor)."""
    then = 'curl -sS -f -o /dev/null -H "X-Auth-Token: $token" "$3/images/$4"'
    return fresh_token_cmd(then, glance_v2(conn()), image_id)


def bench_noop(count, rounds):
    """No-op runs: image_publish of ``count`` images and catalog_publish of catalogs of ``count`` and ten times as
    many images, against ``count`` openstack.cloud.image tasks; and one no-op glance_image task against the floor
    (ansible -m ping, plus one authentication and one GET)."""
    c = conn()
    results = {}
    publish = noop_publish_contenders(count)
    for name, cmd, env in publish:  # the first run puts everything in place
        run_measured(cmd, env)
    samples = dict((name, []) for name, dummy_cmd, dummy_env in publish)
    changed = {}
    for round_no in range(rounds):
        for name, cmd, env in rotated(publish, round_no):
            wall, cpu, rss, out = run_measured(cmd, env)
            changed[name] = recap_changed(out)
            samples[name].append((wall, cpu, rss))
    for name, dummy_cmd, dummy_env in publish:
        if name.startswith("osimages") and changed[name] != 0:
            raise RuntimeError("the no-op run of %s changed %s things" % (name, changed[name]))
    reference = summarize("ref", samples[publish[1][0]])
    rows = [
        dict(summarize(name, samples[name], reference), changed=changed[name]) for name, dummy, dummy_env in publish
    ]
    print_table("no-op publication of %d images (%d rounds; ratio to openstack.cloud.image)" % (count, rounds), rows)
    results["noop_publish_%d" % count] = rows

    probe = next(iter(c.image.images(name="bench-noop-ours-00")))
    single = [
        ("ansible -m ping", ansible_cmd("ansible.builtin.ping", {}), module_env()),
        ("Keystone auth + one Glance GET (curl)", auth_and_round_trip_cmd(probe.id), module_env()),
        (
            "osimages.glance.glance_image no-op",
            ansible_cmd("osimages.glance.glance_image", {"cloud": CLOUD, "id": probe.id}),
            module_env(),
        ),
    ]
    samples = dict((name, []) for name, dummy_cmd, dummy_env in single)
    for dummy in range(rounds):
        for name, cmd, env in single:
            samples[name].append(run_measured(cmd, env)[:3])
    rows = [summarize(name, samples[name]) for name, dummy_cmd, dummy_env in single]
    floor = rows[0]["median_s"] + rows[1]["median_s"]
    rows.append(
        {
            "name": "floor: ping + auth + GET",
            "median_s": floor,
            "min_s": rows[0]["min_s"] + rows[1]["min_s"],
            "max_s": rows[0]["max_s"] + rows[1]["max_s"],
            "cpu_s": rows[0]["cpu_s"] + rows[1]["cpu_s"],
            "peak_rss_mib": max(rows[0]["peak_rss_mib"], rows[1]["peak_rss_mib"]),
            "rounds": rounds,
        }
    )
    for row in rows:
        row["ratio"] = row["median_s"] / floor
    print_table("a single no-op task (%d rounds; ratio to the floor)" % rounds, rows)
    results["noop_single"] = rows
    return results


# -- regions ------------------------------------------------------------------------------

REGIONS = ["RegionOne", "RegionTwo"]


def catalog_cmd(tag, catalog, regions):
    extra = {"bench_cloud": CLOUD, "bench_tag": tag, "bench_catalog": catalog, "bench_regions": regions}
    return playbook_cmd(Path(sys.executable).parent, "noop_catalog.yml", sys.executable, extra)


def one_image_catalog(name, path):
    return [
        {
            "name": name,
            "format": "raw",
            "login": "root",
            "status": "active",
            "visibility": "private",
            "meta": {"uuid_validity": "none"},
            "versions": [{"version": "1", "artifact": str(path)}],
        }
    ]


def bench_regions(size, count, rounds):
    """catalog_publish into one region and into two (the second one importing with glance-download): a new
    ``size`` GiB version, and a no-op run of a catalog of ``count`` images; ratios to one region."""
    conns = dict((region, openstack.connect(cloud=CLOUD, region_name=region)) for region in REGIONS)
    results = {}
    path = make_file(size)
    contenders = [("one region", REGIONS[:1]), ("two regions (glance-download)", REGIONS)]
    samples = dict((name, []) for name, dummy in contenders)
    for round_no in range(rounds):
        for name, regions in rotated(contenders, round_no):
            tag = "bench-regions-%d-%d-%d" % (size, round_no, len(regions))
            cmd = catalog_cmd(tag, one_image_catalog(tag, path), regions)
            settle()
            wall, cpu, rss, dummy_out = run_measured(cmd, module_env())
            hashes = set()
            for region in regions:
                found = list(conns[region].image.images(tag=[tag]))
                if [image.status for image in found] != ["active"] or found[0].size != path.stat().st_size:
                    raise RuntimeError("%s left %s in %s" % (name, [(i.id, i.status) for i in found], region))
                hashes.add(found[0].hash_value)
                delete_image(conns[region], found[0].id)
            if len(hashes) != 1:
                raise RuntimeError("%s: the regions hold different bytes" % name)
            samples[name].append((wall, cpu, rss))
    reference = summarize("ref", samples[contenders[0][0]])
    rows = [summarize(name, samples[name], reference) for name, dummy in contenders]
    print_table("a new %d GiB version, one region vs two (%d rounds)" % (size, rounds), rows)
    results["regions_publish_%dg" % size] = rows

    tag = "bench-regions-noop-%d" % count
    noop = [(name, catalog_cmd(tag, noop_catalog(count, tag), regions)) for name, regions in contenders]
    run_measured(noop[1][1], module_env())  # puts the catalog in place in both regions
    samples = dict((name, []) for name, dummy in noop)
    for round_no in range(rounds):
        for name, cmd in rotated(noop, round_no):
            wall, cpu, rss, out = run_measured(cmd, module_env())
            if recap_changed(out) != 0:
                raise RuntimeError("the no-op run into %s changed %s things" % (name, recap_changed(out)))
            samples[name].append((wall, cpu, rss))
    reference = summarize("ref", samples[noop[0][0]])
    rows = [summarize(name, samples[name], reference) for name, dummy in noop]
    print_table("no-op catalog of %d images, one region vs two (%d rounds)" % (count, rounds), rows)
    results["regions_noop_%d" % count] = rows
    return results


# -- profile ------------------------------------------------------------------------------


def classify(stack):
    """Where a sampled stack spends its time, in the words of the closing note."""
    frames = stack.split(";")
    if not any("AnsiballZ" in frame or "/modules/" in frame or "ansible_module_" in frame for frame in frames):
        return "ansible controller (ansible-playbook and its workers)"
    if any("_find_and_load" in frame or "exec_module" in frame for frame in frames):
        return "module process: importing Python packages"
    if any("keystoneauth1/identity" in frame or "get_auth_ref" in frame for frame in frames):
        return "module process: Keystone authentication"
    if any("requests/" in frame or "http/client" in frame or "urllib3" in frame for frame in frames):
        return "module process: Glance HTTP requests"
    return "module process: other"


def bench_profile(count):
    """py-spy over one no-op image_publish run of ``count`` images, controller and module processes together.

    The raw stacks (bench/profile/noop_publish.txt, one "frame;frame;... samples" line per stack; the committed
    copy is gzipped) load into speedscope or any flame-graph tool.
    """
    name, cmd, env = noop_publish_contenders(count)[0]
    run_measured(cmd, env)
    out_dir = REPO / "bench" / "profile"
    out_dir.mkdir(exist_ok=True)
    raw = out_dir / "noop_publish.txt"
    spy = [peer_tool("py-spy"), "record", "--subprocesses", "--rate", "100", "--format", "raw", "-o", str(raw), "--"]
    subprocess.run(spy + cmd, env=env, check=True, capture_output=True)
    shares = {}
    for line in raw.read_text().splitlines():
        stack, dummy, samples = line.rpartition(" ")
        if samples.isdigit():
            label = classify(stack)
            shares[label] = shares.get(label, 0) + int(samples)
    total = float(sum(shares.values())) or 1.0
    print("\n## where a no-op image_publish of %d images spends its CPU samples (%s)" % (count, name))
    for label, samples in sorted(shares.items(), key=lambda pair: -pair[1]):
        print("%-60s %6.1f %%" % (label, 100 * samples / total))
    return {"profile_noop_publish_%d" % count: dict((label, samples / total) for label, samples in shares.items())}


def machine():
    """What the numbers were measured on."""
    with open("/proc/meminfo") as handle:
        memory_kib = int(handle.readline().split()[1])
    with open("/proc/cpuinfo") as handle:
        models = [line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")]
    return {
        "cores": os.cpu_count(),
        "memory_gib": round(memory_kib / 1024.0 / 1024.0, 1),
        "cpu": models[0] if models else "unknown",
        "kernel": os.uname().release,
        "date": time.strftime("%Y-%m-%d"),
        "ansible_core": ansible.release.__version__,
        "openstacksdk": openstack.version.__version__,
        "glance": "local Glance + Keystone under uWSGI on 127.0.0.1, %s, file stores (tests/cloud/localcloud)"
        % os.environ.get("LOCALCLOUD_DB", "sqlite"),
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "what", choices=["upload", "download", "fetch", "readonce", "info", "noop", "regions", "profile"]
    )
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--sizes", default="1,4")
    parser.add_argument("--size", type=int, default=1)
    parser.add_argument("--counts", default="200,5000")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", help="append the results to this JSON file")
    args = parser.parse_args()
    if args.what == "upload":
        results = bench_upload([int(size) for size in args.sizes.split(",")], args.rounds)
    elif args.what == "download":
        results = bench_download(args.size, args.rounds)
    elif args.what == "fetch":
        results = bench_fetch(args.size, args.rounds)
    elif args.what == "readonce":
        results = bench_readonce(args.size)
    elif args.what == "noop":
        results = bench_noop(args.count, args.rounds)
    elif args.what == "regions":
        results = bench_regions(args.size, args.count, args.rounds)
    elif args.what == "profile":
        results = bench_profile(args.count)
    else:
        results = bench_info([int(count) for count in args.counts.split(",")], args.rounds)
    if args.json:
        path = Path(args.json)
        data = json.loads(path.read_text()) if path.exists() else {}
        data.update(results)
        data["machine"] = machine()
        path.write_text(json.dumps(data, indent=2))


if __name__ == "__main__":
    main()
