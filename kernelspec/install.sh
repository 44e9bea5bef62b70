#!/usr/bin/env bash
# Installs the GoNB Jupyter kernel for this repository's notebooks:
#   - GoNB and goimports at the versions go.mod pins (its `tool` lines), built from the module,
#   - the kernel registered with Jupyter (gonb --install), then its kernel.json rewritten from
#     kernelspec/kernel.json.tmpl with the environment the notebooks need (GOWORK=off, PATH with
#     goimports, GOFLAGS with -ldflags=-s: cells link in about half the time without the symbol
#     table and DWARF; panics still name the cell and line).
# GRADCAM_KERNEL_TAGS=xla builds the cells with the xla tag: notebooks then link XLA (backend/xla)
# and compute on it where a PJRT plugin is installed (the Docker image does); without it a cell
# links in about 0.6 s instead of 1 s.
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
tags=""
[ -z "${GRADCAM_KERNEL_TAGS:-}" ] || tags=" -tags=$GRADCAM_KERNEL_TAGS"
sed -e "s|@GONB@|$gobin/gonb|" -e "s|@TAGS@|$tags|" -e "s|@GOBIN@|$gobin|" -e "s|@GOROOT@|$(go env GOROOT)|" \
  kernelspec/kernel.json.tmpl > "$kernel"
# A cell's program imports package notebook: compile it and everything below it now, with the
# kernel's tags, so that a student's first cell only compiles itself and links (under 2 s).
go build ${GRADCAM_KERNEL_TAGS:+-tags=$GRADCAM_KERNEL_TAGS} ./notebook
echo "GoNB kernel installed: $kernel"
