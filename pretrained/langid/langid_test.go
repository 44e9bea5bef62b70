package langid

import (
	"strings"
	"testing"

	"github.com/gradcam-go/gradcam/text"
	"github.com/gradcam-go/gradcam/train"
)

// minAccuracy is what the shipped model must reach on the held-out fortunes (the retrain
// command printed 0.9794 on the eight languages; chance is 0.125).
const minAccuracy = 0.95

// TestShippedModelAccuracy: the shipped model on the corpus's test split (fortunes never trained
// on), from Debian's fortunes packages.
func TestShippedModelAccuracy(t *testing.T) {
	ex, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	c, err := Corpus()
	if err != nil {
		t.Fatal(err)
	}
	_, test, err := c.Sets(ex.Vocab)
	if err != nil {
		t.Fatal(err)
	}
	_, acc, err := train.Evaluate(ex.Model, test, 256)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("test accuracy %.4f on %d texts in %d languages", acc, test.Len(), len(text.Languages()))
	if acc < minAccuracy {
		t.Errorf("test accuracy %.4f, want >= %.2f", acc, minAccuracy)
	}
}

// TestExplainSentences: sentences the model never saw get their language, with one weight per
// character (not all zero) and their words listed.
func TestExplainSentences(t *testing.T) {
	ex, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ text, lang string }{
		{"Der Hund schläft unter dem Tisch, weil es draußen regnet.", "de"},
		{"El perro duerme debajo de la mesa porque está lloviendo.", "es"},
		{"Собака спит под столом, потому что идёт дождь.", "ru"},
		{"The dog is sleeping under the table because it is raining.", "en"},
	} {
		e, err := ex.Explain(tc.text, -1, false)
		if err != nil {
			t.Fatal(err)
		}
		if e.Label != tc.lang {
			t.Errorf("%q: %s (%.2f), want %s", tc.text, e.Label, e.Probability, tc.lang)
		}
		if len(e.Chars) != len([]rune(tc.text)) || e.AllZero {
			t.Errorf("%q: %d character weights (all zero: %v)", tc.text, len(e.Chars), e.AllZero)
		}
		var words []string
		for _, w := range e.Words {
			words = append(words, w.Word)
		}
		t.Logf("%s %.3f: %s", e.Label, e.Probability, strings.Join(words, " "))
	}
}
