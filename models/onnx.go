package models

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/gradcam-go/gradcam/models/checkpoint"
	"github.com/gradcam-go/gradcam/models/internal/onnxnet"
	"github.com/gradcam-go/gradcam/models/zoo"
	"github.com/gradcam-go/gradcam/preprocess"
)

// LoadONNX reads a CNN saved as ONNX (torch.onnx.export, tf2onnx, ...) as a model the explainer
// takes, on backend b (nil: backend.New()).
//
// The graph is rebuilt from package nn's blocks: every node output is a layer, named by its ONNX
// output name ("/layer4/layer4.1/relu_1/Relu_output_0"); Relu and Clip(0, 6) nodes follow the
// explanation rules (guided backprop, deconvnet); CAM applies when the graph ends in global
// average pooling followed by Gemm or MatMul. An op the converter does not know is an error
// naming it; ONNXOps lists the supported ones.
//
// Labels come from FILE.labels.txt beside the model (LabelsPath), else ImageNet's when the model
// has 1000 outputs. A 3-channel input is normalized with ImageNet's mean and std (torchvision's
// preprocessing); set the model's Mean and Std for another normalization.
func LoadONNX(path string, opts ...Option) (*Model, error) {
	g, err := onnxnet.Read(path)
	if err != nil {
		return nil, err
	}
	name := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	net, weights := g.Network(name)
	if p := checkpoint.LabelsPath(path); fileExists(p) {
		if net.Labels, err = checkpoint.ReadLabels(p); err != nil {
			return nil, err
		}
	} else if g.Outputs == preprocess.NumClasses {
		net.Labels = zoo.ImageNetLabels()
	}
	if net.Input[0] == 3 {
		net.Mean, net.Std = preprocess.ImageNetMean(), preprocess.ImageNetStd()
	}
	if _, err := net.Spec(); err != nil { // builds the graph once, which gathers the weights
		return nil, fmt.Errorf("converting %s: %w", path, err)
	}
	w := map[string]*checkpoint.Tensor{}
	for k, v := range weights.Map() {
		w[k] = &checkpoint.Tensor{Shape: v.Shape, Data: v.Data}
	}
	return NewModel(net, w, path, opts...)
}

// ONNXOps lists the ONNX operators LoadONNX converts.
func ONNXOps() []string { return onnxnet.SupportedOps() }
