package gradcam

import (
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/gradcam-go/gradcam/internal/testref"
	"github.com/gradcam-go/gradcam/models"
	"github.com/gradcam-go/gradcam/preprocess"
)

// camFamilyMethods are the methods compared with pytorch-grad-cam's own code at the default layer.
var camFamilyMethods = []Method{GradCAM, HiResCAM, GradCAMElementWise, GradCAMPlusPlus, XGradCAM, LayerCAM, FEM, EigenCAM,
	EigenGradCAM, AblationCAM, FullGrad}

// peerLayers are, per model, the layers reference_peers.py uses: Score-CAM's (few channels) and
// the multi-layer Grad-CAM's.
var peerLayers = map[string]struct {
	score string
	multi []string
}{
	"resnet18":     {"layer1", []string{"layer3", "layer4"}},
	"vgg16":        {"features.4", []string{"features.22", "features.29"}},
	"mobilenet_v2": {"features.3", []string{"features.17", "features.18"}},
}

// peerMap is one map compared with a pytorch-grad-cam file: NAME.npy, and NAME_lowres.npy when
// lowRes.
type peerMap struct {
	name   string
	class  int
	mp     *Map
	lowRes bool
}

// peerMaps computes the maps reference_peers.py writes whose file names want accepts, with m
// (float32 or float64).
func peerMaps(t *testing.T, m *models.Model, name string, x, small *tensors.Tensor, want func(string) bool) []peerMap {
	e := New(m)
	var out []peerMap
	explain := func(x *tensors.Tensor, req Request, file func(Method) string, lowRes func(Method) bool) {
		t.Helper()
		req.Methods = slices.DeleteFunc(slices.Clone(req.Methods), func(m Method) bool { return !want(file(m)) })
		if len(req.Methods) == 0 {
			return
		}
		req.Classes = []int{243, 282}
		res, err := e.Explain(x, req)
		if err != nil {
			t.Fatal(err)
		}
		for _, ex := range res {
			for _, method := range req.Methods {
				out = append(out, peerMap{file(method), ex.Class, ex.Maps[method], lowRes(method)})
			}
		}
	}
	self := func(m Method) string { return string(m) }
	named := func(n string) func(Method) string { return func(Method) string { return n } }
	always := func(Method) bool { return true }
	never := func(Method) bool { return false }
	explain(x, Request{Methods: camFamilyMethods}, self, func(m Method) bool { return m != FullGrad })
	explain(small, Request{Methods: []Method{ScoreCAM}, Layers: []string{peerLayers[name].score}}, self, always)
	explain(x, Request{Methods: []Method{GradCAM, HiResCAM, GradCAMElementWise, GradCAMPlusPlus, XGradCAM, LayerCAM}, Counterfactual: true}, func(m Method) string { return string(m) + "_cf" }, always)
	explain(x, Request{Methods: []Method{GradCAM}, EigenSmooth: true}, named("gradcam_eigen"), always)
	explain(x, Request{Methods: []Method{GradCAM}, AugSmooth: true}, named("gradcam_aug"), never)
	explain(x, Request{Methods: []Method{GradCAM}, Layers: peerLayers[name].multi}, named("gradcam_multi"), never)
	return out
}

// TestCAMFamilyMatchesPytorchGradCAM runs pytorch-grad-cam itself (../shared/peers, through
// gradcam/testdata/reference_peers.py) on resnet18 and vgg16 (random weights) and mobilenet_v2
// (real weights) for two classes, and compares every CAM-family method at the layer's resolution
// and at the input's (its final map, normalized again after upsampling): correlation >= 0.999
// and max error <= 1% of the largest value. Also compared: Score-CAM (at an early layer, on a
// 112x112 input: one forward per channel), Ablation-CAM, FullGrad, the counterfactual variants
// (against pytorch-grad-cam explaining minus the logit), and Grad-CAM with aug_smooth,
// eigen_smooth and two layers. Eigen projections are compared up to the sign pytorch-grad-cam
// leaves to LAPACK: where its SVD chose the other sign, with its pipeline run on the negated
// projection. Ablation-CAM's reference divides by |y| (see PerturbationOptions).
//
// VGG-16's max pools hold near-ties at which float32 rounding routes a gradient to another
// position of the window, in PyTorch as in Go (parity_test shows the same): a VGG-16 map that
// differs in float32 must then match pytorch-grad-cam's float64 run in float64.
func TestCAMFamilyMatchesPytorchGradCAM(t *testing.T) {
	modelsRef, _ := references(t)
	ref := testref.Ensure(t, "gradcam/testdata/reference_peers.py", "peers-ref", testref.Shared(), modelsRef)
	x, _, err := preprocess.Preprocess(preprocess.Stretch, testref.Image("cat_dog.png"))
	if err != nil {
		t.Fatal(err)
	}
	smallData, smallShape := testref.ReadNPY(t, filepath.Join(ref, "scorecam_input.npy"))
	small := tensors.FromFlatDataAndDimensions(smallData, smallShape...)
	for _, name := range []string{"resnet18", "vgg16", "mobilenet_v2"} {
		t.Run(name, func(t *testing.T) {
			m := loadTestModel(t, name)
			failed := map[string]string{}
			for _, p := range peerMaps(t, m, name, x, small, func(string) bool { return true }) {
				dir := filepath.Join(ref, name, fmt.Sprint(p.class))
				if msg := comparePeer(t, dir, p.name, p.mp, p.class, p.lowRes); msg != "" {
					failed[fmt.Sprint(p.class, "/", p.name)] = msg
				}
			}
			if len(failed) == 0 {
				return
			}
			if name != "vgg16" {
				for k, msg := range failed {
					t.Errorf("%s: %s", k, msg)
				}
				return
			}
			m64, err := m.Float64()
			if err != nil {
				t.Fatal(err)
			}
			to64 := func(x *tensors.Tensor) *tensors.Tensor {
				return fromFloat32(toFloat32(x), m64.DType(), x.Shape().Dimensions...)
			}
			again := func(file string) bool {
				for k := range failed {
					if strings.HasSuffix(k, "/"+file) {
						return true
					}
				}
				return false
			}
			for _, p := range peerMaps(t, m64, name, to64(x), to64(small), again) {
				key := fmt.Sprint(p.class, "/", p.name)
				f32, ok := failed[key]
				if !ok {
					continue
				}
				dir := filepath.Join(ref, name, fmt.Sprint(p.class), "f64")
				if msg := comparePeer(t, dir, p.name, p.mp, p.class, p.lowRes); msg != "" {
					t.Errorf("%s matches pytorch-grad-cam neither in float32 (%s) nor in float64 (%s)", key, f32, msg)
				} else {
					t.Logf("%s: float32 differs at a max-pool near-tie (%s); float64 matches pytorch-grad-cam's float64", key, f32)
				}
			}
		})
	}
}

// comparePeer compares a map with pytorch-grad-cam's NAME.npy and, withLowRes, its low-res map
// with NAME_lowres.npy; a projection of the other sign is compared with NAME_flipped.npy. It
// returns what differs, "" when both match.
func comparePeer(t *testing.T, dir, name string, mp *Map, class int, withLowRes bool) string {
	t.Helper()
	var msgs []string
	check := func(what string, got, want []float32) {
		r, e := testref.Pearson(got, want), testref.MaxRelErr(got, want)
		if r < 0.999 || e > 0.01 || math.IsNaN(e) {
			msgs = append(msgs, fmt.Sprintf("%s: correlation %.5f, max error %.3g", what, r, e))
		} else {
			t.Logf("class %d %-20s %-8s r=%.6f err=%.2g", class, name, what, r, e)
		}
	}
	final, _ := testref.ReadNPY(t, filepath.Join(dir, name+".npy"))
	if withLowRes {
		low, lowShape := testref.ReadNPY(t, filepath.Join(dir, name+"_lowres.npy"))
		if !slices.Equal(mp.LowResShape, lowShape) {
			return fmt.Sprintf("low-res shape %v, pytorch-grad-cam %v", mp.LowResShape, lowShape)
		}
		projection := mp.Method.spec().Eigen || name == "gradcam_eigen"
		if projection && testref.Pearson(mp.LowRes, low) < 0 {
			for i := range low {
				low[i] = -low[i]
			}
			final, _ = testref.ReadNPY(t, filepath.Join(dir, name+"_flipped.npy"))
			t.Logf("class %d %s: pytorch-grad-cam's SVD gave the other sign", class, name)
		}
		check("low-res", mp.LowRes, low)
	}
	check("final", mp.Values, final)
	return strings.Join(msgs, "; ")
}
