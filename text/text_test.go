package text

import (
	"encoding/json"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/gradcam-go/gradcam/gradcam"
	"github.com/gradcam-go/gradcam/gradcam/render"
	"github.com/gradcam-go/gradcam/internal/testref"
	"github.com/gradcam-go/gradcam/models"
)

// The reference network's sizes (text/testdata/reference.py).
const refV, refL, refE, refFilters, refText = 30, 40, 8, 6, 32

// referenceModel loads the reference's random-weight CharCNN, a vocabulary whose index i is the
// letter 'A'+i-2, and the reference's text in it.
func referenceModel(t *testing.T) (*models.Model, *Vocabulary, string, string) {
	ref := testref.Ensure(t, "text/testdata/reference.py", "text-ref")
	net := CharCNN("charcnn-ref", refV, refL, refE, refFilters, []string{"a", "b", "c", "d", "e"})
	m, err := models.LoadNetwork(net, filepath.Join(ref, "weights.pth"))
	if err != nil {
		t.Fatal(err)
	}
	runes := make([]rune, refV-2)
	for i := range runes {
		runes[i] = 'a' + rune(i)
	}
	idx, _ := testref.ReadNPY(t, filepath.Join(ref, "input.npy"))
	var s strings.Builder
	for _, v := range idx[:refText] {
		s.WriteRune(runes[int(v)-2])
	}
	return m, NewVocabulary(runes), s.String(), ref
}

// TestCharCNNMatchesPyTorch: logits, Grad-CAM at each width's ReLU, and the per-character map
// (the widths' maps upsampled to the text and averaged; counterfactual too) equal PyTorch's.
func TestCharCNNMatchesPyTorch(t *testing.T) {
	m, v, s, ref := referenceModel(t)
	x, err := v.Encode(s, refL)
	if err != nil {
		t.Fatal(err)
	}
	in := tensors.FromFlatDataAndDimensions(x, 1, 1, refL)
	logits, err := m.Logits(in)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := testref.ReadNPY(t, filepath.Join(ref, "logits.npy"))
	if e := testref.MaxRelErr(logits[0], want); e > 1e-5 {
		t.Errorf("logits %v, PyTorch %v", logits[0], want)
	}
	ex := NewExplainer(m, v)
	for _, class := range []int{1, 3} {
		dir := filepath.Join(ref, string(rune('0'+class)))
		for _, w := range widths {
			res, err := gradcam.New(m).Explain(in, gradcam.Request{Methods: []gradcam.Method{gradcam.GradCAM}, Classes: []int{class},
				Layers: []string{"relu" + string(rune('0'+w))}})
			if err != nil {
				t.Fatal(err)
			}
			want, _ := testref.ReadNPY(t, filepath.Join(dir, "relu"+string(rune('0'+w))+".npy"))
			if e := testref.MaxRelErr(res[0].Maps[gradcam.GradCAM].LowRes, want); e > 1e-4 {
				t.Errorf("class %d width %d: Grad-CAM differs by %.3g of the largest", class, w, e)
			}
		}
		for _, cf := range []bool{false, true} {
			got, err := ex.Explain(s, class, cf)
			if err != nil {
				t.Fatal(err)
			}
			name := "combined"
			if cf {
				name = "counterfactual"
			}
			full, _ := testref.ReadNPY(t, filepath.Join(dir, name+".npy"))
			top := float32(0)
			for _, v := range full[:refText] {
				top = max(top, v)
			}
			if len(got.Chars) != refText {
				t.Fatalf("%d characters, want %d", len(got.Chars), refText)
			}
			for i, c := range got.Chars {
				if want := float64(full[i] / top); math.Abs(c.Weight-want) > 1e-4 {
					t.Errorf("class %d %s char %d: weight %.5f, PyTorch %.5f", class, name, i, c.Weight, want)
					break
				}
			}
		}
	}
}

// TestEncodeErrors: empty, too long and non-UTF-8 text give one-line errors saying what to do.
func TestEncodeErrors(t *testing.T) {
	v := NewVocabulary([]rune("abc"))
	for _, tc := range []struct {
		name, text, want string
	}{
		{"empty", "", "the text is empty"},
		{"blank", "  \t", "the text is empty"},
		{"too long", strings.Repeat("a", 11), "11 characters, more than the model's maximum of 10"},
		{"not UTF-8", "ab\xffc", "not valid UTF-8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.Encode(tc.text, 10)
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %v, want one line mentioning %q", err, tc.want)
			}
		})
	}
	if x, err := v.Encode("aBz", 5); err != nil || x[0] != 2 || x[1] != 3 || x[2] != Unknown || x[3] != Pad {
		t.Errorf("Encode(aBz) = %v, %v", x, err)
	}
}

// TestDisplay: the ANSI, HTML and JSON renderings carry every character and weight.
func TestDisplay(t *testing.T) {
	e := &Explanation{Text: "a <b>", Label: "en", Probability: 0.9,
		Chars: []CharWeight{{"a", 1}, {" ", 0}, {"<", 0.5}, {"b", 0.25}, {">", 0}}}
	e.Words = words(e.Chars)
	if len(e.Words) != 2 || e.Words[0].Word != "a" || e.Words[1].Word != "b" || e.Words[1].Weight != 0.25 {
		t.Errorf("words %+v", e.Words)
	}
	if s := e.ANSI(render.Jet); !strings.Contains(s, "\x1b[48;2;") || !strings.Contains(s, "en, probability 0.900") {
		t.Errorf("ANSI %q", s)
	}
	if h := e.HTML(render.Jet); !strings.Contains(h, "&lt;") || strings.Contains(h, "<b>b") {
		t.Errorf("HTML not escaped: %q", h)
	}
	b, err := e.JSON()
	if err != nil {
		t.Fatal(err)
	}
	var back struct {
		Label string
		Chars []CharWeight
		Words []WordWeight
	}
	if err := json.Unmarshal(b, &back); err != nil || back.Label != "en" || len(back.Chars) != 5 || back.Chars[2].Weight != 0.5 {
		t.Errorf("JSON %s: %v", b, err)
	}
}

// TestVocabularyRoundTrip: Write and ReadVocabulary keep every character, spaces and quotes too.
func TestVocabularyRoundTrip(t *testing.T) {
	v := NewVocabulary([]rune(" a\"'\\\nж"))
	p := filepath.Join(t.TempDir(), "v.txt")
	if err := v.Write(p); err != nil {
		t.Fatal(err)
	}
	w, err := ReadVocabulary(p)
	if err != nil || string(w.Runes) != string(v.Runes) {
		t.Errorf("read back %q (%v), want %q", string(w.Runes), err, string(v.Runes))
	}
}

// TestLoadCheckpoint: a CharCNN saved with Model.Save and its vocabulary written beside it loads
// back with its sizes read from the weights; a vocabulary of another size is refused.
func TestLoadCheckpoint(t *testing.T) {
	v := NewVocabulary([]rune("abcdefgh "))
	m, err := models.New(CharCNN("tiny", v.Size(), 20, 4, 3, []string{"x", "y"}), 1)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "tiny.safetensors")
	if err := m.Save(p); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(p, 20, nil); err == nil || !strings.Contains(err.Error(), "vocabulary") {
		t.Errorf("no vocabulary: %v", err)
	}
	if err := v.Write(VocabularyPath(p)); err != nil {
		t.Fatal(err)
	}
	ex, err := Load(p, 20, nil)
	if err != nil {
		t.Fatal(err)
	}
	e, err := ex.Explain("bad cafe", -1, false)
	if err != nil || len(e.Chars) != 8 || (e.Label != "x" && e.Label != "y") {
		t.Errorf("explanation %+v, %v", e, err)
	}
	if err := NewVocabulary([]rune("ab")).Write(VocabularyPath(p)); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(p, 20, nil); err == nil || !strings.Contains(err.Error(), "do not belong together") {
		t.Errorf("mismatched vocabulary: %v", err)
	}
}
