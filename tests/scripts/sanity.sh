#!/usr/bin/env bash
# ansible-test sanity on a copy of the collection placed where ansible-test needs it,
# with pip bootstrapped offline (see get_pip_standin.py).
#
#   tests/scripts/sanity.sh [ansible-test options]     with the tools venv (newest ansible-core)
#   SANITY_VENV=DIR tests/scripts/sanity.sh ...        with another venv's ansible-test (a matrix cell)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ensure_tools
venv=${SANITY_VENV:-$TOOLS}
export PATH=$venv/bin:$PATH

tree=$CACHE/sanity-$(basename "$venv")/ansible_collections/osimages/glance
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

cd "$tree"
ansible-test sanity --python 3.11 --color no "$@"
