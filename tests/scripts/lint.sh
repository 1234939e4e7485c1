#!/usr/bin/env bash
# The checks an Automation Hub reviewer runs: ansible-lint (production profile), antsibull-docs and
# antsibull-changelog lint, role argument specs against defaults, galaxy-importer on the built tarball,
# and ansible-builder introspect + create. Any failure fails the script.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ensure_python
LINT=$CACHE/lint-venv
ensure_venv "$LINT" "$REPO/tests/requirements-lint.txt"
link_collection
export PATH=$LINT/bin:$PATH
cd "$REPO"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0
failed=0
check() {
    local label=$1
    shift
    say "lint: $label"
    if "$@"; then
        passed=$((passed + 1))
    else
        echo "FAILED: $label" >&2
        failed=$((failed + 1))
    fi
}

check "ansible-lint --profile production" ansible-lint --offline --profile production roles playbooks extensions
check "antsibull-docs lint-collection-docs" antsibull-docs lint-collection-docs --plugin-docs .
check "antsibull-changelog lint" antsibull-changelog lint
check "role argument specs match defaults" python3 - <<'PY'
import sys, yaml, pathlib
bad = 0
for role in sorted(pathlib.Path("roles").iterdir()):
    defaults = set(yaml.safe_load((role / "defaults" / "main.yml").read_text()) or {})
    specs = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]
    if defaults != set(specs):
        print("%s: only in defaults %s, only in argument_specs %s"
              % (role.name, sorted(defaults - set(specs)), sorted(set(specs) - defaults)))
        bad = 1
sys.exit(bad)
PY
check "ansible-galaxy collection build" ansible-galaxy collection build --force --output-path "$work" .
tarball=$(ls "$work"/osimages-glance-*.tar.gz)
galaxy_importer() {
    (cd "$work" && python -m galaxy_importer.main "$tarball" >"$work/importer.log" 2>&1) \
        && grep -q "Importer processing completed successfully" "$work/importer.log" \
        && ! grep -E "^(ERROR|WARNING)" "$work/importer.log" | grep -v "ansible-test" \
        && echo "galaxy-importer: completed, no errors or warnings" \
        || { cat "$work/importer.log" >&2; return 1; }
}
check "galaxy-importer" galaxy_importer

execution_environment() {
    local introspected needed rc=0
    introspected=$(ansible-builder introspect --sanitize "$COLLECTIONS")
    printf 'collections:\n  - name: %s\n    type: file\n' "$tarball" >"$REPO/tests/ee/requirements.yml"
    ansible-builder create -f tests/ee/execution-environment.yml -c "$work/context" >/dev/null || rc=1
    rm -f "$REPO/tests/ee/requirements.yml"
    [ "$rc" -eq 0 ] || return 1
    for needed in openstacksdk oslo.utils qemu-utils qemu-system-x86 mmdebstrap; do
        if ! grep -q "$needed" <<<"$introspected" || ! grep -rq "$needed" "$work/context"; then
            echo "the execution environment lacks $needed" >&2
            rc=1
        fi
    done
    [ "$rc" -eq 0 ] && echo "ansible-builder: the context lists openstacksdk, oslo.utils, qemu-utils, qemu-system-x86 and mmdebstrap"
    return "$rc"
}
check "ansible-builder introspect and create" execution_environment

if [ -n "${STAGE_COUNTS:-}" ]; then
    echo "$passed $failed 0" >"$STAGE_COUNTS"
fi
[ "$failed" -eq 0 ]
