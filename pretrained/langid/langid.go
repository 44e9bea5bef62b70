// Package langid is the language-identification character CNN shipped with the toolkit: a
// text.CharCNN trained in GoMLX on Debian's fortunes (text.LanguageID) to tell text.Languages()
// apart. Retrain it with "go run ./pretrained/langid/retrain".
package langid

import (
	"bytes"
	_ "embed"

	"github.com/gradcam-go/gradcam/models"
	"github.com/gradcam-go/gradcam/text"
)

// How the shipped model was made (the retrain command's settings).
const (
	Length         = 128 // characters a text may have
	PerLanguage    = 2500
	Seed           = 1
	VocabularySize = 160
	Embed          = 32
	Filters        = 64
)

var (
	//go:embed langid.safetensors
	weights []byte
	//go:embed langid.vocab.txt
	vocab []byte
)

// Load returns the shipped model and its vocabulary.
func Load(opts ...models.Option) (*text.Explainer, error) {
	v, err := text.ParseVocabulary(bytes.NewReader(vocab), "langid.vocab.txt")
	if err != nil {
		return nil, err
	}
	net := text.CharCNN("langid", v.Size(), Length, Embed, Filters, text.Languages())
	m, err := models.LoadEmbedded(net, weights, "the embedded language-ID model (pretrained/langid)", opts...)
	if err != nil {
		return nil, err
	}
	return text.NewExplainer(m, v), nil
}

// Corpus is the corpus the shipped model was trained and tested on: Debian's fortunes
// (text.FortuneDir) cut into texts of at most Length characters, PerLanguage per language,
// split by Seed. Its test texts are ones the model never saw.
func Corpus() (*text.Corpus, error) {
	return text.LanguageID(text.FortuneDir, Length, PerLanguage, Seed)
}
