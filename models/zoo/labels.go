package zoo

import (
	_ "embed"
	"strings"
)

//go:embed imagenet_classes.txt
var labelsText string

var imageNetLabels = strings.Split(strings.TrimRight(labelsText, "\n"), "\n")

// ImageNetLabels returns the 1000 ImageNet class names in torchvision's order (index 0 =
// "tench"), a copy the caller may change.
func ImageNetLabels() []string { return append([]string(nil), imageNetLabels...) }
