#!/usr/bin/env bash
# ansible-test sanity (see ansible-test.sh, which places the collection where ansible-test needs it).
#
#   tests/scripts/sanity.sh [ansible-test options]     with the tools venv (newest ansible-core)
#   SANITY_VENV=DIR tests/scripts/sanity.sh ...        with another venv's ansible-test (a matrix cell)
exec "$(dirname "${BASH_SOURCE[0]}")/ansible-test.sh" sanity "$@"
