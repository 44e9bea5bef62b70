package models

import (
	_ "embed"
	"strings"
)

//go:embed imagenet_classes.txt
var labelsText string

// Labels are the 1000 ImageNet class names in torchvision's order (index 0 = "tench").
var Labels = strings.Split(strings.TrimRight(labelsText, "\n"), "\n")
