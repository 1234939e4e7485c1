#!/usr/bin/env bash
# ansible-test sanity on a copy of the collection placed where ansible-test needs it,
# with pip bootstrapped offline (see get_pip_standin.py).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ensure_tools

tree=$CACHE/sanity/ansible_collections/osimages/glance
rm -rf "$tree"
mkdir -p "$tree"
(cd "$REPO" && git ls-files -co --exclude-standard | while read -r f; do [ -e "$f" ] && echo "$f"; done \
    | tar -cf - -T - | tar -xf - -C "$tree")

pip_version=$(grep -o "pip='[0-9.]*'" "$TOOLS"/lib/python3.11/site-packages/ansible_test/_internal/python_requirements.py \
    | head -1 | tr -dc '0-9.')
mkdir -p "$HOME/.ansible/test/cache"
cp "$REPO/tests/scripts/get_pip_standin.py" "$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"

cd "$tree"
ansible-test sanity --python 3.11 --color no "$@"
