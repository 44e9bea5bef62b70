package paper

import (
	"testing"

	"github.com/gradcam-go/gradcam/data"
	"github.com/gradcam-go/gradcam/train"
)

// TestBiasShowsInGradCAM is the paper's Figure 8 in miniature: a network trained where a white
// mark agrees with the label in 95% of the pictures learns the mark. On held-out pictures with
// the mark at random its accuracy drops, and on the pictures that show the mark its Grad-CAM (of
// the predicted class) goes to the mark; trained on a balanced set, the map is on the object and
// the accuracy recovers. Measured: biased 64.7% accuracy, 23% of the map on the mark (2.4% of
// the picture), 10% on the object; balanced 100%, 1% and 45%. Asserted: biased <= 80%, mark >=
// 15% and above the object; balanced >= 95%, mark <= 5%, object >= 30%.
func TestBiasShowsInGradCAM(t *testing.T) {
	if testing.Short() {
		t.Skip("trains two networks, about 40 s")
	}
	test := data.Biased(300, 99, 0.5)
	for _, tc := range []struct {
		agreement float64
		check     func(acc, cue, object float64) bool
	}{
		{0.95, func(acc, cue, object float64) bool { return acc <= 0.8 && cue >= 0.15 && cue > object }},
		{0.5, func(acc, cue, object float64) bool { return acc >= 0.95 && cue <= 0.05 && object >= 0.3 }},
	} {
		m, err := BiasNetwork(tc.agreement)
		if err != nil {
			t.Fatal(err)
		}
		_, acc, err := train.Evaluate(m, test, 100)
		if err != nil {
			t.Fatal(err)
		}
		cue, object, err := CueShare(m, test, 60)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("trained with the mark agreeing %.0f%%: accuracy %.3f with the mark at random; Grad-CAM %.0f%% on the mark, %.0f%% on the object",
			100*tc.agreement, acc, 100*cue, 100*object)
		if !tc.check(acc, cue, object) {
			t.Errorf("mark agreeing %.0f%%: accuracy %.3f, map %.2f on the mark, %.2f on the object", 100*tc.agreement, acc, cue, object)
		}
	}
}
