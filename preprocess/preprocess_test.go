package preprocess

import (
	"path/filepath"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/gradcam-go/gradcam/internal/testref"
)

// TestPreprocessMatchesTorchvision compares Go's preprocessing with PIL + torchvision's on
// images that need resizing (512x341 PNG, 425x280 JPEG) and an RGBA one.
func TestPreprocessMatchesTorchvision(t *testing.T) {
	ref := testref.Ensure(t, "models/testdata/reference_real.py", "models-real", testref.Shared())
	for _, img := range []string{"egyptian_cat.png", "horses.jpg", "snake.png"} {
		t.Run(img, func(t *testing.T) {
			want, _ := testref.ReadNPY(t, filepath.Join(ref, "input__"+img+".npy"))
			x, _, err := Preprocess(Stretch, testref.Image(img))
			if err != nil {
				t.Fatal(err)
			}
			got := tensors.MustCopyFlatData[float32](x)
			// One uint8 step is 1/255/std ~ 0.017; identical bytes give float rounding only.
			var worst, mean float64
			for i := range got {
				d := float64(abs32(got[i] - want[i]))
				worst = max(worst, d)
				mean += d / float64(len(got))
			}
			t.Logf("difference from torchvision's input: max %.3g, mean %.3g", worst, mean)
			if filepath.Ext(img) == ".png" && worst > 1e-5 {
				t.Errorf("PNG: max difference %.3g, want identical bytes (PIL-exact resize)", worst)
			}
			// Go's JPEG decoder replicates subsampled chroma where libjpeg interpolates it ("fancy
			// upsampling"): about 1.3 8-bit levels on average (one level is 1/255/std ~ 0.017).
			if filepath.Ext(img) == ".jpg" && mean > 2*0.0175 {
				t.Errorf("JPEG: mean difference %.3g, more than two 8-bit levels", mean)
			}
		})
	}
}

func abs32(x float32) float32 {
	if x < 0 {
		return -x
	}
	return x
}
