#!/usr/bin/env bash
# ansible-test on a copy of the collection placed where ansible-test needs it
# (.../ansible_collections/osimages/glance), with pip bootstrapped offline (see get_pip_standin.py).
#
#   tests/scripts/ansible-test.sh sanity|units|integration [options]   with the tools venv (newest ansible-core)
#   SANITY_VENV=DIR tests/scripts/ansible-test.sh ...                   with another venv (a matrix cell)
#
# For integration, the copy gets tests/integration/integration_config.yml naming the local cloud's clouds.yaml,
# which ansible-test hands to every target as variables.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ensure_tools
venv=${SANITY_VENV:-$TOOLS}
export PATH=$venv/bin:$PATH
command=$1
shift

tree=$CACHE/ansible-test-$command-$(basename "$venv")/ansible_collections/osimages/glance
rm -rf "$tree"
mkdir -p "$tree"
(cd "$REPO" && git ls-files -co --exclude-standard | while read -r f; do [ -e "$f" ] && echo "$f"; done \
    | tar -cf - -T - | tar -xf - -C "$tree")

# ansible-test looks for get_pip_<its pip pin>.py; every release pins its own version(s).
mkdir -p "$HOME/.ansible/test/cache"
for pip_version in $(grep -rho "pip='[0-9.]*'" "$venv"/lib/python3.11/site-packages/ansible_test/_internal/ \
        | tr -dc '0-9.\n' | sort -u); do
    cp "$REPO/tests/scripts/get_pip_standin.py" "$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"
done

if [ "$command" = integration ]; then
    : "${OS_CLIENT_CONFIG_FILE:?start the local cloud first (tests/cloud/localcloud up)}"
    printf 'clouds_yaml: %s\n' "$OS_CLIENT_CONFIG_FILE" >"$tree/tests/integration/integration_config.yml"
fi

cd "$tree"
ansible-test "$command" --python 3.11 --color no "$@"
