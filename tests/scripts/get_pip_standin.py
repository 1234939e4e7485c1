"""Offline stand-in for the get-pip script that ansible-test downloads.

ansible-test builds its sanity venvs without pip and then runs this script
with the pip arguments it wants. We bootstrap pip from the stdlib's bundled
wheel instead of the network, then run the install it asked for.
"""

import ensurepip
import os
import subprocess
import sys

# ensurepip sets PIP_CONFIG_FILE=/dev/null, which would hide the machine's
# pip configuration (index and certificate settings): keep a copy first.
saved_environ = dict(os.environ)
ensurepip.bootstrap()
args = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
sys.exit(subprocess.call([sys.executable, "-m", "pip", "install"] + args, env=saved_environ))
