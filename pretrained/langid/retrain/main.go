// Command retrain trains the language-ID character CNN shipped in package langid on Debian's
// fortunes and writes it there (langid.safetensors, langid.labels.txt, langid.vocab.txt):
//
//	go run ./pretrained/langid/retrain [-out pretrained/langid] [-epochs 3]
//
// It prints the test accuracy; package langid's test asserts the shipped model's.
package main

import (
	_ "github.com/gradcam-go/gradcam/backend/xla" // XLA where a PJRT plugin is installed

	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/gradcam-go/gradcam/models"
	"github.com/gradcam-go/gradcam/pretrained/langid"
	"github.com/gradcam-go/gradcam/text"
	"github.com/gradcam-go/gradcam/train"
)

func main() {
	out := flag.String("out", filepath.Join("pretrained", "langid"), "folder to write the model into")
	epochs := flag.Int("epochs", 3, "passes over the training texts")
	flag.Parse()
	if err := run(*out, *epochs); err != nil {
		fmt.Fprintln(os.Stderr, "retrain:", err)
		os.Exit(1)
	}
}

func run(out string, epochs int) error {
	c, err := langid.Corpus()
	if err != nil {
		return err
	}
	v := text.BuildVocabulary(c.Train, langid.VocabularySize)
	trainSet, testSet, err := c.Sets(v)
	if err != nil {
		return err
	}
	fmt.Printf("%d training and %d test texts, %d characters in the vocabulary\n", trainSet.Len(), testSet.Len(), v.Size())
	net := text.CharCNN("langid", v.Size(), langid.Length, langid.Embed, langid.Filters, text.Languages())
	m, err := models.New(net, langid.Seed)
	if err != nil {
		return err
	}
	if _, err := train.Fit(m, trainSet, train.Options{Epochs: epochs, BatchSize: 64, LearningRate: 2e-3, Cosine: true,
		Seed: langid.Seed, Progress: os.Stdout}); err != nil {
		return err
	}
	_, acc, err := train.Evaluate(m, testSet, 256)
	if err != nil {
		return err
	}
	fmt.Printf("test accuracy %.4f\n", acc)
	if err := v.Write(filepath.Join(out, "langid.vocab.txt")); err != nil {
		return err
	}
	return m.Save(filepath.Join(out, "langid.safetensors"))
}
