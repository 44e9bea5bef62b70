package vqa

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/gradcam-go/gradcam/gradcam"
	"github.com/gradcam-go/gradcam/internal/npy"
	"github.com/gradcam-go/gradcam/internal/testref"
	"github.com/gradcam-go/gradcam/pretrained/scenes"
	"github.com/gradcam-go/gradcam/testnets"
)

// TestVQAMatchesPyTorch: the shipped model's answer scores and every method's arrays (Grad-CAM
// per answer, its counterfactual, saliency, guided backprop, the deconvnet, Guided Grad-CAM and
// occlusion), with the question held fixed, equal the same network's in PyTorch on the same
// weights (testdata/reference_vqa.py: embedding, GRU over the padded question, attention), r >=
// 0.999 and max error <= 1%.
func TestVQAMatchesPyTorch(t *testing.T) {
	m := testref.Must(Load())(t)
	type refCase struct {
		Tokens  []int32 `json:"tokens"`
		Length  int32   `json:"length"`
		Answers []int   `json:"answers"`
	}
	var cases []refCase
	var questions []string
	var images []*tensors.Tensor
	dir := t.TempDir()
	for _, sc := range testref.Must(scenes.Generate(40, scenes.TestSeed))(t) {
		for _, q := range sc.Questions {
			obj := sc.Objects[q.Object]
			colour := strings.HasPrefix(q.Question, "what color")
			// One colour question on a two-coloured object, one on a single-coloured one, and a shape question.
			kind := map[bool]int{true: 1, false: 0}[colour] + map[bool]int{true: 1, false: 0}[colour && len(obj.Colors) == 2]
			if len(cases) > kind || (len(cases) < kind) {
				continue
			}
			tokens, length, err := Encode(q.Question)
			if err != nil {
				t.Fatal(err)
			}
			right, _ := AnswerIndex(q.Answer)
			other := (right + 7) % len(Answers())
			cases = append(cases, refCase{tokens, length, []int{right, other}})
			questions = append(questions, q.Question)
			x := scenes.Input(sc.Image)
			images = append(images, x)
			if err := npy.Write(filepath.Join(dir, fmt.Sprintf("image_%d.npy", len(cases)-1)), tensors.MustCopyFlatData[float32](x),
				[]int{1, 3, scenes.Size, scenes.Size}); err != nil {
				t.Fatal(err)
			}
		}
		if len(cases) == 3 {
			break
		}
	}
	if len(cases) != 3 {
		t.Fatalf("found %d of the 3 kinds of question", len(cases))
	}
	js, _ := json.Marshal(cases)
	if err := os.WriteFile(filepath.Join(dir, "cases.json"), js, 0o644); err != nil {
		t.Fatal(err)
	}
	ref := testref.Ensure(t, "pretrained/vqa/testdata/reference_vqa.py", "vqa-ref", fmt.Sprint(testnets.OcclusionPatch),
		fmt.Sprint(testnets.OcclusionStride), filepath.Join(testref.Root(), "pretrained", "vqa", "vqa.safetensors"), dir)
	methods := []gradcam.Method{gradcam.GradCAM, gradcam.Counterfactual, gradcam.Saliency, gradcam.GuidedBackprop, gradcam.Deconvnet,
		gradcam.GuidedGradCAM, gradcam.Occlusion}
	for k, c := range cases {
		given, err := Ask(m, questions[k])
		if err != nil {
			t.Fatal(err)
		}
		ex := gradcam.New(given)
		logits, err := ex.Logits(images[k])
		if err != nil {
			t.Fatal(err)
		}
		want, _ := testref.ReadNPY(t, filepath.Join(ref, fmt.Sprint(k), "logits.npy"))
		if e := testref.MaxRelErr(logits[0], want); !(e < 1e-4) {
			t.Errorf("%q: answer scores differ from PyTorch's: %.3g", questions[k], e)
		}
		exps, err := ex.Explain(images[k], gradcam.Request{Methods: methods, Classes: c.Answers, Layers: []string{Layer},
			Occlusion: gradcam.OcclusionOptions{Patch: testnets.OcclusionPatch, Stride: testnets.OcclusionStride, BatchSize: 8}})
		if err != nil {
			t.Fatal(err)
		}
		compared := 0
		for _, e := range exps {
			for _, method := range methods {
				mp := e.Maps[method]
				arrays := map[string][]float32{string(method): mp.Values}
				if mp.LowRes != nil && method == gradcam.GradCAM {
					arrays["gradcam_lowres"] = mp.LowRes
				}
				for name, got := range arrays {
					want, _ := testref.ReadNPY(t, filepath.Join(ref, fmt.Sprint(k), "0", fmt.Sprint(e.Class), name+".npy"))
					r, err := testref.Pearson(got, want), testref.MaxRelErr(got, want)
					compared++
					if !(r >= 0.999 && err <= 0.01) {
						t.Errorf("%q answer %q %s: r=%.5f (>= 0.999), max error %.3g (<= 0.01)", questions[k], e.Label, name, r, err)
					}
				}
			}
		}
		if compared != 2*(len(methods)+1) {
			t.Errorf("%q: compared %d arrays, want %d", questions[k], compared, 2*(len(methods)+1))
		}
	}
}

// TestEncodeErrors: bad questions and answers get one-line errors naming the problem.
func TestEncodeErrors(t *testing.T) {
	for _, tc := range []struct{ question, want string }{
		{"what colour is the circle?", `"colour"`},
		{"", "empty"},
		{"   ?", "empty"},
		{"what color is the circle and the square and the cross?", "at most"},
	} {
		_, _, err := Encode(tc.question)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: %v, want one line naming %s", tc.question, err, tc.want)
		}
	}
	if _, _, err := Encode("What color is the CIRCLE?"); err != nil {
		t.Errorf("case and the question mark should not matter: %v", err)
	}
	_, err := AnswerIndex("orange")
	if err == nil || !strings.Contains(err.Error(), "yellow and red") || !strings.Contains(err.Error(), "orange") {
		t.Errorf("an unknown answer: %v, want the answers listed", err)
	}
}

// TestVQAHeldOut measures the shipped model on 150 held-out scenes (Measure): answer accuracy; the
// share of the right answer's Grad-CAM on the queried object's pixels against that object's share
// of the image; and, for two-coloured objects, each colour's map on its own half.
func TestVQAHeldOut(t *testing.T) {
	r, err := Measure(testref.Must(Load())(t), testref.Must(scenes.Generate(150, scenes.TestSeed))(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("answer accuracy %.3f on %d held-out questions", r.Accuracy, r.Questions)
	t.Logf("right answer's Grad-CAM on the queried object: %.3f of the mass; the object is %.3f of the image", r.ObjectMass, r.ObjectArea)
	t.Logf("two-coloured objects (%d colour maps): own colour's half %.3f, the other half %.3f", r.TwoColourMaps, r.OwnHalf, r.OtherHalf)
	// Measured when the model shipped: 0.993; 0.599 against 0.080; 0.358 against 0.102 (168 maps).
	if r.Accuracy < 0.95 {
		t.Errorf("answer accuracy %.3f, want >= 0.95", r.Accuracy)
	}
	if r.ObjectMass < 5*r.ObjectArea {
		t.Errorf("Grad-CAM mass on the queried object %.3f, want at least 5x its area share %.3f", r.ObjectMass, r.ObjectArea)
	}
	if r.TwoColourMaps < 100 || r.OwnHalf < r.OtherHalf+0.15 {
		t.Errorf("a colour's map on its own half %.3f (%d maps), want above the other half's %.3f by 0.15", r.OwnHalf, r.TwoColourMaps, r.OtherHalf)
	}
}
