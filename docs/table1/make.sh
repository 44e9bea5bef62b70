#!/usr/bin/env bash
# Regenerates the miniature Table 1 in this folder: the explanation methods of the two demo
# networks (pretrained/fashion: fashion-gap, fashion-fc) measured over the first 500 held-out items of
# cluttered Fashion-MNIST; and, in imagenet/, the faithfulness metrics of the real ImageNet
# MobileNetV2 (../shared/weights) on the images of ../shared/images; in quantus/, Quantus's six
# families of metrics on fashion-gap's first 32 items (about 20 minutes on 2 cores, notebook 09's
# radar chart). cmd/gradcam's
# TestTable1IsReproduced reads the arguments below, checks that each metrics.csv is the aggregate
# of its per-image.csv, and recomputes the first images' values from the same checkpoints.
#   make.sh [N]   N: the cluttered items to evaluate (default 500)
set -euo pipefail
cd "$(dirname "$0")/../.."
args="--model fashion-gap,fashion-fc --data cluttered-fashion-mnist --method cam,gradcam,gradcam++,xgradcam,layercam,scorecam,guided-gradcam,saliency,input-x-gradient,occlusion --metric classification-error,localization-error,pointing-game,deletion-auc,insertion-auc,average-drop,increase-in-confidence"
quantus_args="--model fashion-gap --data cluttered-fashion-mnist --limit 32 --workers 2 --method gradcam,gradcam++,layercam,saliency,input-x-gradient,guided-backprop --metric relevance-mass-accuracy,relevance-rank-accuracy,attribution-localisation,top-k-intersection,auc,sparseness,complexity,effective-complexity,faithfulness-correlation,faithfulness-estimate,monotonicity,monotonicity-correlation,pixel-flipping,region-perturbation,irof,infidelity,sufficiency,completeness,non-sensitivity,max-sensitivity,avg-sensitivity,local-lipschitz,continuity,random-logit,mprt,input-invariance"
imagenet_args="--model mobilenet_v2 --weights ../shared/weights/mobilenet_v2_coral_dequant.pth --data ../shared/images --method gradcam,gradcam++,layercam,saliency,input-x-gradient --metric deletion-auc,insertion-auc,average-drop,increase-in-confidence"
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/gradcam" ./cmd/gradcam
# A regeneration measures again: the runs' per-batch results (items/) of an earlier version go.
rm -rf docs/table1/items docs/table1/imagenet/items docs/table1/quantus/items docs/table1/run.json docs/table1/imagenet/run.json \
	docs/table1/quantus/run.json
# The two tables in parallel, the larger one on two workers (it outlasts the other): 7.3 minutes
# on 2 cores (bench/NOTES.md; about 30 before issue 33).
"$bin/gradcam" evaluate $imagenet_args --out docs/table1/imagenet 2>"$bin/imagenet.log" &
imagenet=$!
"$bin/gradcam" evaluate $args --limit "${1:-500}" --workers 2 --out docs/table1
wait $imagenet || { cat "$bin/imagenet.log" >&2; exit 1; }
"$bin/gradcam" evaluate $quantus_args --out docs/table1/quantus
