package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/gradcam-go/gradcam/gradcam/render"
	"github.com/gradcam-go/gradcam/pretrained/langid"
	"github.com/gradcam-go/gradcam/text"
)

// explainText is "gradcam explain-text": Grad-CAM over the characters of a text, shown with a
// background colour per character (ANSI), as HTML or as JSON.
func explainText(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("explain-text", flag.ContinueOnError)
	fs.SetOutput(stderr)
	model := fs.String("model", "", "a text.CharCNN checkpoint (.safetensors, with FILE.vocab.txt and FILE.labels.txt beside it); "+
		"default: the shipped language-ID model ("+strings.Join(text.Languages(), " ")+")")
	length := fs.Int("length", langid.Length, "the longest text --model takes, in characters")
	s := fs.String("text", "", "the text to explain")
	class := fs.Int("class", -1, "class (output index) to explain; default: the top prediction")
	counterfactual := fs.Bool("counterfactual", false, "counterfactual Grad-CAM: the evidence against the class")
	asHTML := fs.Bool("html", false, "print an HTML fragment instead of coloured text")
	asJSON := fs.Bool("json", false, `print {"label", "probability", "chars": [{"char", "weight"}], "words": [{"word", "weight"}]}`)
	colormap := fs.String("colormap", "jet", "colormap: jet, turbo, viridis, inferno, gray")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected arguments %q: put the text in --text \"...\"", fs.Args())}
	}
	if !flagSet(fs, "text") {
		return usageError{errors.New("--text is required")}
	}
	if *asHTML && *asJSON {
		return usageError{errors.New("--html and --json exclude each other")}
	}
	cm, err := render.ColormapByName(*colormap)
	if err != nil {
		return usageError{err}
	}
	if *length < 1 {
		return usageError{fmt.Errorf("--length must be at least 1, got %d", *length)}
	}
	var ex *text.Explainer
	if *model != "" {
		ex, err = text.Load(*model, *length)
	} else {
		ex, err = langid.Load()
	}
	if err != nil {
		return err
	}
	if *class < -1 {
		return usageError{fmt.Errorf("--class %d out of range: the model has %d outputs (0-%d)", *class, ex.Model.Outputs, ex.Model.Outputs-1)}
	}
	e, err := ex.Explain(*s, *class, *counterfactual)
	if err != nil {
		return err
	}
	switch {
	case *asJSON:
		b, err := e.JSON()
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, "%s\n", b)
		return err
	case *asHTML:
		_, err = fmt.Fprintln(stdout, e.HTML(cm))
		return err
	}
	_, err = fmt.Fprint(stdout, e.ANSI(cm))
	return err
}

// flagSet reports whether the flag was given (an empty --text "" is given, and refused later).
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}
