#!/usr/bin/env bash
# Installs the GoNB Jupyter kernel for this repository's notebooks:
#   - GoNB and goimports at the versions go.mod pins (its `tool` lines), built from the module,
#   - the kernel registered with Jupyter (gonb --install), then its kernel.json rewritten from
#     kernelspec/kernel.json.tmpl with the environment the notebooks need (GOWORK=off, PATH with
#     goimports).
# Works with Debian's Jupyter (jupyter-notebook, jupyter-nbconvert, python3-nbclient).
# gopls (auto-complete) is optional and not installed: install it yourself if you want it.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
export GOWORK=off
go install github.com/janpfeifer/gonb golang.org/x/tools/cmd/goimports
gobin="$(go env GOBIN)"
[ -n "$gobin" ] || gobin="$(go env GOPATH)/bin"
"$gobin/gonb" --install --force_deps --logtostderr=false >/dev/null 2>&1 || "$gobin/gonb" --install --force_deps
datadir="${JUPYTER_DATA_DIR:-$HOME/.local/share/jupyter}"
kernel="$datadir/kernels/gonb/kernel.json"
sed -e "s|@GONB@|$gobin/gonb|" -e "s|@GOBIN@|$gobin|" -e "s|@GOROOT@|$(go env GOROOT)|" \
  kernelspec/kernel.json.tmpl > "$kernel"
echo "GoNB kernel installed: $kernel"
