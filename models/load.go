package models

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"

	"github.com/gradcam-go/gradcam/models/checkpoint"
	"github.com/gradcam-go/gradcam/models/loadcache"
	"github.com/gradcam-go/gradcam/models/zoo"
	"github.com/gradcam-go/gradcam/nn"
	"github.com/gradcam-go/gradcam/preprocess"
)

// LoadFile builds the named architecture (zoo.Names) with the weights in a checkpoint file (.pth
// or .safetensors). A fine-tuned checkpoint (its head has another number of outputs than
// ImageNet's 1000) gets the labels saved beside it (checkpoint.LabelsPath), or in its metadata,
// or none. A large checkpoint's later loads are served by the load cache (one read into the
// backend's buffers; see WithLoadCache).
func LoadFile(name, weightsPath string, opts ...Option) (*Model, error) {
	a, err := zoo.Lookup(name)
	if err != nil {
		return nil, err
	}
	return loadCached(weightsPath, opts, func(w map[string]*checkpoint.Tensor) (*nn.Network, error) { return archNetwork(a, w, weightsPath) })
}

// archNetwork is architecture a with the head the checkpoint's weights w have (a fine-tuned
// checkpoint may have other outputs than ImageNet's 1000) and its labels, if any are found.
func archNetwork(a *zoo.Arch, w map[string]*checkpoint.Tensor, weightsPath string) (*nn.Network, error) {
	net := a.Network
	head := w[a.Head+".weight"]
	var labels []string
	var err error
	if p := checkpoint.LabelsPath(weightsPath); fileExists(p) {
		if labels, err = checkpoint.ReadLabels(p); err != nil {
			return nil, err
		}
	} else if meta := checkpoint.Labels(weightsPath); meta != nil {
		labels = meta
	}
	if head != nil && len(head.Shape) > 0 && (head.Shape[0] != preprocess.NumClasses || labels != nil) {
		outputs := head.Shape[0]
		if labels != nil && len(labels) != outputs {
			return nil, fmt.Errorf("%s: its head (%s) has %d outputs but its labels (%s) name %d classes: the checkpoint and "+
				"its labels do not belong together", weightsPath, a.Head, outputs, checkpoint.LabelsPath(weightsPath), len(labels))
		}
		if net, err = a.WithOutputs(outputs, labels); err != nil {
			return nil, err
		}
	}
	return net, nil
}

// LoadNetwork binds a network defined with package nn to the weights of a checkpoint file
// (.safetensors as Model.Save writes it, or a PyTorch .pth of the same network).
func LoadNetwork(net *nn.Network, path string, opts ...Option) (*Model, error) {
	return loadCached(path, opts, func(map[string]*checkpoint.Tensor) (*nn.Network, error) { return net, nil })
}

// loadCached loads checkpoint path into the network that network returns for its state dict's
// shapes: from the load cache when it holds this checkpoint (see loadcache.go), else from the
// checkpoint, then writing the cache.
func loadCached(path string, opts []Option, network func(map[string]*checkpoint.Tensor) (*nn.Network, error)) (*Model, error) {
	o := optionsOf(opts)
	b, err := orDefault(o.backend)
	if err != nil {
		return nil, err
	}
	if c := o.loadCache.Open(path, convFor(b)); c != nil {
		defer c.Close()
		shapes := c.Shapes()
		if net, err := network(shapes); err == nil {
			if m, err := buildModel(net, shapes, path, b, nil, c.Fill); err == nil {
				loadCacheHits.Add(1)
				return m, nil
			}
		}
		// Any mismatch: the checkpoint itself decides (and words the error).
	}
	w, err := checkpoint.Read(path)
	if err != nil {
		return nil, err
	}
	net, err := network(w)
	if err != nil {
		return nil, err
	}
	m, err := NewModel(net, w, path, OnBackend(b))
	if err != nil {
		return nil, err
	}
	w = nil
	_ = writeLoadCache(*o.loadCache, path, m) // an optimization: a failure only means the next load reads the checkpoint
	return m, nil
}

// loadCacheHits counts loads served by the load cache (tests read it).
var loadCacheHits atomic.Int64

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// Load builds the named architecture (zoo.Names) with its pretrained ImageNet weights, found or
// downloaded by the store (FromStore).
func Load(name string, opts ...Option) (*Model, error) {
	a, err := zoo.Lookup(name)
	if err != nil {
		return nil, err
	}
	p, err := optionsOf(opts).store.Weights(context.Background(), a)
	if err != nil {
		return nil, err
	}
	return LoadFile(name, p, opts...)
}

// writeLoadCache writes model m's parameters, loaded from checkpoint path, to the load cache f.
func writeLoadCache(f loadcache.Folder, path string, m *Model) error {
	if f.Dir == "" {
		return nil
	}
	params := make([]loadcache.Param, 0, len(m.Params))
	for _, p := range m.Params {
		v := m.ctx.GetVariableByScopeAndName("/", p.Key)
		if v == nil {
			return fmt.Errorf("model has no variable %s", p.Key)
		}
		t, err := v.Value()
		if err != nil {
			return err
		}
		var flat []float32
		if err := t.ConstFlatData(func(f any) { flat, _ = f.([]float32) }); err != nil {
			return err
		}
		if flat == nil {
			return nil // not float32 (a Float64 model): nothing to cache
		}
		params = append(params, loadcache.Param{Key: p.Key, Torch: p.Shape, Layout: p.Layout, Internal: t.Shape().Dimensions, Values: flat})
	}
	return f.Write(path, m.conv, params)
}
