"""Print "PASSED FAILED SKIPPED" summed over JUnit XML files (pytest's --junitxml, ansible-test's junit output).

A file that is missing or unreadable counts as one failure: a stage that wrote no report did not pass.
"""

import sys
from xml.etree import ElementTree


def counts(path):
    try:
        root = ElementTree.parse(path).getroot()
    except (OSError, ElementTree.ParseError):
        return 0, 1, 0
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    total = failed = skipped = 0
    for suite in suites:
        total += int(suite.get("tests", 0))
        failed += int(suite.get("failures", 0)) + int(suite.get("errors", 0))
        skipped += int(suite.get("skipped", 0))
    return total - failed - skipped, failed, skipped


def main(paths):
    sums = [0, 0, 0]
    for path in paths:
        for index, value in enumerate(counts(path)):
            sums[index] += value
    print(*sums)


if __name__ == "__main__":
    main(sys.argv[1:])
