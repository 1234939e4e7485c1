"""Turn bench/results.json into a plot (bench/results.png) and the generated part of the docs page
docs/docsite/rst/performance.rst (between its BEGIN/END GENERATED markers).

Usage (bench/run report does this, with the peers' venv, which has matplotlib):
  report.py bench/results.json
"""

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend is chosen first)

REPO = Path(__file__).resolve().parent.parent
PLOT = REPO / "bench" / "results.png"
PAGE = REPO / "docs" / "docsite" / "rst" / "performance.rst"
BEGIN, END = ".. BEGIN GENERATED (bench/report.py)", ".. END GENERATED"
OURS = "osimages.glance"


def row_named(rows, start):
    return next(row for row in rows if row["name"].startswith(start))


def targets(results):
    """(target, measured, met) for each target of the benchmark issue that the results cover."""
    checks = []
    # The data-path issue's targets: upload against curl -T, memory flat and under 64 MiB.
    for size, limit in ((1, 1.10), (4, 1.03)):
        rows = results.get("upload_%dg" % size)
        if rows:
            ratio = row_named(rows, OURS)["ratio"]
            checks.append(("upload %d GiB <= %.2fx curl -T" % (size, limit), "%.3fx" % ratio, ratio <= limit))
    if "upload_1g" in results and "upload_4g" in results:
        small, large = (row_named(results[key], OURS)["peak_rss_mib"] for key in ("upload_1g", "upload_4g"))
        checks.append(
            (
                "peak RSS <= 64 MiB at 1 and 4 GiB",
                "%.1f / %.1f MiB" % (small, large),
                max(small, large) <= 64,
            )
        )
    rows = results.get("readonce_1g")
    if rows:
        ours = row_named(rows, OURS)
        extra = ours["bytes_read"] - ours["file_size"]
        # The format inspector reads the first blocks before anything is sent: allowed up to 1 MiB.
        checks.append(
            (
                "source file read once (+ the inspector's first blocks)",
                "%.4fx its size (+%d KiB)" % (ours["ratio"], extra // 1024),
                0 <= extra <= 1024 * 1024,
            )
        )
    rows = results.get("download_1g")
    if rows:
        # Our download fsyncs before dest appears: the yardstick is curl held to the same durability.
        ratio = row_named(rows, OURS)["median_s"] / row_named(rows, "curl GET + sync")["median_s"]
        checks.append(("download 1 GiB <= 1.15x curl GET + sync", "%.3fx" % ratio, ratio <= 1.15))
    if "info_200" in results and "info_5000" in results:
        small, large = (row_named(results[key], OURS)["median_s"] for key in ("info_200", "info_5000"))
        checks.append(("info at 5,000 images <= 1.2x info at 200", "%.3fx" % (large / small), large / small <= 1.2))
    noop = next((value for key, value in results.items() if key.startswith("noop_publish_")), None)
    if noop:
        ours, peer = noop[0], noop[1]
        speedup = peer["median_s"] / ours["median_s"]
        checks.append(
            ("no-op image_publish >= 3x faster than openstack.cloud.image", "%.2fx as fast" % speedup, speedup >= 3)
        )
    single = results.get("noop_single")
    if single:
        ratio = row_named(single, OURS)["ratio"]
        checks.append(("single no-op task <= 1.5x (ping + auth + GET)", "%.3fx" % ratio, ratio <= 1.5))
    # The catalog issue's targets.
    catalogs = [row for row in noop or [] if row["name"].startswith("osimages.glance.catalog_publish")]
    if len(catalogs) == 2:
        small, large = catalogs
        speedup = noop[1]["median_s"] / small["median_s"]
        checks.append(
            ("no-op catalog >= 10x faster than openstack.cloud.image", "%.2fx as fast" % speedup, speedup >= 10)
        )
        if single:
            ratio = small["median_s"] / row_named(single, OURS)["median_s"]
            checks.append(("no-op catalog <= 1.5x a single no-op glance_image task", "%.3fx" % ratio, ratio <= 1.5))
        ratio = large["median_s"] / small["median_s"]
        checks.append(("no-op catalog of 10x the images <= 1.3x", "%.3fx" % ratio, ratio <= 1.3))
    # The multi-region issue's targets: two regions against one, paired.
    for prefix, what in (("regions_publish_", "a new %s GiB version"), ("regions_noop_", "no-op catalog of %s images")):
        key = next((key for key in sorted(results) if key.startswith(prefix)), None)
        if key:
            ratio = results[key][1]["ratio"]
            label = what % key.rsplit("_", 1)[1].rstrip("g")
            checks.append(("%s into two regions <= 1.3x one" % label, "%.3fx" % ratio, ratio <= 1.3))
    return checks


def table(title, rows, ratio_label="ratio"):
    lines = [
        ".. list-table:: %s" % title,
        "   :header-rows: 1",
        "",
        "   * - contender",
        "     - median s",
        "     - min s",
        "     - max s",
        "     - CPU s",
        "     - peak RSS MiB",
        "     - %s" % ratio_label,
    ]
    for row in rows:
        lines += [
            "   * - %s" % row["name"],
            "     - %.2f" % row["median_s"],
            "     - %.2f" % row["min_s"],
            "     - %.2f" % row["max_s"],
            "     - %.2f" % row["cpu_s"],
            "     - %.1f" % row["peak_rss_mib"],
            "     - %s" % ("%.3f" % row["ratio"] if "ratio" in row else ""),
        ]
    return lines + [""]


def regions_title(key):
    """regions_publish_1g, regions_noop_20: what the two-region comparison measured."""
    size = key.rsplit("_", 1)[1]
    what = (
        "a new %s GiB version" % size.rstrip("g")
        if key.startswith("regions_publish_")
        else "a no-op of %s images" % size
    )
    return "catalog_publish into two regions (RegionTwo imports with glance-download) against one: " + what


def generated_rst(results):
    machine = results.get("machine", {})
    lines = [
        BEGIN,
        "",
        "Measured on %s: %s cores (%s), %s GiB, Linux %s; ansible-core %s and openstacksdk %s for our modules; %s."
        % (
            machine.get("date"),
            machine.get("cores"),
            machine.get("cpu"),
            machine.get("memory_gib"),
            machine.get("kernel"),
            machine.get("ansible_core"),
            machine.get("openstacksdk"),
            machine.get("glance"),
        ),
        "",
        "Targets",
        "-------",
        "",
        ".. list-table::",
        "   :header-rows: 1",
        "",
        "   * - target",
        "     - measured",
        "     - met",
    ]
    for target, measured, met in targets(results):
        lines += ["   * - %s" % target, "     - %s" % measured, "     - %s" % ("yes" if met else "**no**")]
    lines += [
        "",
        "Results",
        "-------",
        "",
        ".. image:: performance.png",
        "   :alt: Median wall time of each contender, per comparison",
        "",
    ]
    titles = [
        ("upload_1g", "Upload 1 GiB (ratio to curl -T)"),
        ("upload_4g", "Upload 4 GiB (ratio to curl -T)"),
        ("download_1g", "Download 1 GiB (ratio to curl)"),
        ("fetch_1g", "Upstream image of 1 GiB over loopback HTTP, verified (ratio to curl, sha256sum, sync)"),
        ("info_200", "Name-filtered info, 200 images in the project"),
        ("info_5000", "Name-filtered info, 5,000 images in the project"),
    ]
    titles += [
        (key, "No-op publication of %s images (ratio to openstack.cloud.image)" % key.rsplit("_", 1)[1])
        for key in sorted(results)
        if key.startswith("noop_publish_")
    ]
    titles.append(("noop_single", "A single no-op task (ratio to the floor: ping + authentication + one GET)"))
    titles += [(key, regions_title(key)) for key in sorted(results) if key.startswith("regions_")]
    for key, title in titles:
        if key in results:
            lines += table(title, results[key])
    if "readonce_1g" in results:
        lines += [
            ".. list-table:: Bytes read from a 1 GiB source file during one upload",
            "   :header-rows: 1",
            "",
            "   * - contender",
            "     - bytes read",
            "     - times the file size",
        ]
        for row in results["readonce_1g"]:
            lines += ["   * - %s" % row["name"], "     - %d" % row["bytes_read"], "     - %.4f" % row["ratio"]]
        lines.append("")
    profile = next((value for key, value in sorted(results.items()) if key.startswith("profile_")), None)
    if profile:
        lines += [
            ".. list-table:: Where a no-op image_publish spends its CPU (py-spy samples)",
            "   :header-rows: 1",
            "",
            "   * - part",
            "     - share",
        ]
        for label, share in sorted(profile.items(), key=lambda pair: -pair[1]):
            lines += ["   * - %s" % label, "     - %.1f %%" % (100 * share)]
        lines.append("")
    return lines + [END]


def plot(results):
    panels = [
        (key, title)
        for key, title in [
            ("upload_1g", "upload 1 GiB"),
            ("upload_4g", "upload 4 GiB"),
            ("download_1g", "download 1 GiB"),
            ("info_200", "info, 200 images"),
            ("info_5000", "info, 5,000 images"),
            (next((key for key in sorted(results) if key.startswith("noop_publish_")), ""), "no-op publication"),
            ("noop_single", "one no-op task"),
        ]
        if key in results
    ]
    bars = sum(len(results[key]) for key, dummy in panels)
    figure, axes = plt.subplots(len(panels), 1, figsize=(9, 1.1 + 1.25 * bars / 2.2))
    axes = axes if len(panels) > 1 else [axes]
    for axis, (key, title) in zip(axes, panels):
        rows = results[key]
        names = [row["name"] for row in rows]
        medians = [row["median_s"] for row in rows]
        errors = [[row["median_s"] - row["min_s"] for row in rows], [row["max_s"] - row["median_s"] for row in rows]]
        colours = ["#2b7a3d" if name.startswith(OURS) else "#8a8a8a" for name in names]
        axis.barh(names, medians, xerr=errors, color=colours, capsize=3)
        axis.invert_yaxis()
        axis.set_title(title, loc="left", fontsize=10)
        axis.set_xlabel("seconds (median, min-max)", fontsize=8)
        axis.tick_params(labelsize=8)
    figure.tight_layout()
    figure.savefig(PLOT, dpi=110)


def main():
    results = json.loads(Path(sys.argv[1]).read_text())
    plot(results)
    page = PAGE.read_text()
    head, rest = page.split(BEGIN, 1)
    dummy, tail = rest.split(END, 1)
    PAGE.write_text(head + "\n".join(generated_rst(results)) + tail)
    for target, measured, met in targets(results):
        print("%-62s %-22s %s" % (target, measured, "met" if met else "MISSED"))
    print("wrote %s and %s" % (PLOT, PAGE))


if __name__ == "__main__":
    main()
