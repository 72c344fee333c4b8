#!/bin/sh
# Install liqo-core and the chosen plugin distributions into the current Python environment.
#
# This is the install step of the Liqo image (see Dockerfile); tests run the same script in a
# fresh virtualenv, so what is tested is what the image gets.
#
# Usage: install-plugins.sh [SOURCE_DIR]
#   SOURCE_DIR     the liqo-py source tree (default: the current directory). Relative plugin
#                  paths below are resolved against it.
# Environment:
#   PLUGINS        plugin distributions, as pip requirement specifiers or paths, separated by
#                  spaces (default: the four first-party plugins). Set it empty for the core alone.
#   EXTRA_PLUGINS  more of them, typically third-party ones (e.g. "liqo-transport-ipsec==1.0").
#   PYTHON         interpreter whose environment receives the packages (default: python3).
# pip's own PIP_* variables (index URL, find-links, cache) apply as usual.
set -eu

DEFAULT_PLUGINS="./plugins/liqo-network ./plugins/liqo-auth ./plugins/liqo-offloading ./plugins/liqo-transport-wireguard"

source_dir=${1:-.}
plugins=${PLUGINS-$DEFAULT_PLUGINS}
extra_plugins=${EXTRA_PLUGINS:-}
python=${PYTHON:-python3}
case $python in
    */*) python="$(cd "$(dirname "$python")" && pwd)/$(basename "$python")" ;;
esac

if [ ! -f "$source_dir/pyproject.toml" ]; then
    echo "install-plugins: $source_dir is not the liqo-py source tree (no pyproject.toml)" >&2
    exit 2
fi
cd "$source_dir"

# One resolver run for the core and every plugin, so their requirements are checked together.
# shellcheck disable=SC2086 # the plugin lists are word-split on purpose
"$python" -m pip install . $plugins $extra_plugins
"$python" -m pip check

# Show what the image can load: module and transport entry points.
"$python" - <<'PY'
from importlib.metadata import entry_points

for group in ("liqo.modules", "liqo.network.transports"):
    found = sorted(f"{ep.name} ({ep.dist.name if ep.dist else '?'})" for ep in entry_points(group=group))
    print(f"{group}: {', '.join(found) or 'none'}")
PY
