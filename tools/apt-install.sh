#!/bin/sh
# The test setup's Debian packages (make browser-deps, postgres-deps, container-deps):
# one line on the terminal, apt's and dpkg's output in a log file, the log's tail on a
# failure. Installs only what is named (and what it needs); a named package already
# installed is left as it is (--no-upgrade); never an upgrade of the system.
#
#   tools/apt-install.sh "WHAT FOR" [APT-OPTION...] PACKAGE...
#
# The log is $APT_LOG (default var/test-setup.log, appended to).
set -u
log=${APT_LOG:-var/test-setup.log}
what=$1
shift
options=""
packages=""
for arg in "$@"; do
    case $arg in
        -*) options="$options $arg" ;;
        *) packages="$packages $arg" ;;
    esac
done
packages=${packages# }
echo "installing $packages ($what; Debian packages, log: $log)"
if [ "$(id -u)" != 0 ]; then
    echo "not root: install them as root (apt-get install$options $packages) or run make as root" >&2
    exit 1
fi
mkdir -p "$(dirname "$log")"
# shellcheck disable=SC2086  # options and packages are lists of words
if ! { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
        --no-upgrade $options $packages; } >>"$log" 2>&1; then
    echo "apt-get failed installing $packages; the last lines of $log:" >&2
    tail -n 25 "$log" >&2
    exit 1
fi
