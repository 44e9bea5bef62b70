package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestExplainText: "gradcam explain-text --text ..." with the shipped language-ID model, in its
// three output forms.
func TestExplainText(t *testing.T) {
	const s = "Der Hund schläft unter dem Tisch, weil es draußen regnet."
	var out bytes.Buffer
	if err := run([]string{"explain-text", "--text", s, "--json"}, &out, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	var e struct {
		Label       string
		Probability float64
		Chars       []struct {
			Char   string
			Weight float64
		}
		Words []struct {
			Word   string
			Weight float64
		}
	}
	if err := json.Unmarshal(out.Bytes(), &e); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	if e.Label != "de" || e.Probability < 0.5 || len(e.Chars) != utf8.RuneCountInString(s) || len(e.Words) != 10 {
		t.Errorf("label %s (%.2f), %d chars, %d words", e.Label, e.Probability, len(e.Chars), len(e.Words))
	}
	top := 0.0
	for _, c := range e.Chars {
		top = max(top, c.Weight)
	}
	if top != 1 {
		t.Errorf("largest character weight %v, want 1", top)
	}
	out.Reset()
	if err := run([]string{"explain-text", "--text", s, "--html"}, &out, &bytes.Buffer{}); err != nil || !strings.Contains(out.String(), "<span style=\"background:rgb(") {
		t.Errorf("--html: %v %q", err, out.String())
	}
	out.Reset()
	if err := run([]string{"explain-text", "--text", s, "--counterfactual", "--class", "0"}, &out, &bytes.Buffer{}); err != nil ||
		!strings.Contains(out.String(), "\x1b[48;2;") || !strings.Contains(out.String(), "counterfactual Grad-CAM (en,") {
		t.Errorf("ANSI: %v %q", err, out.String())
	}
}

// TestExplainTextErrors: one-line errors for bad text and flags.
func TestExplainTextErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "--text is required"},
		{[]string{"--text", ""}, "the text is empty"},
		{[]string{"--text", strings.Repeat("ab ", 50)}, "150 characters, more than the model's maximum of 128"},
		{[]string{"--text", "caf\xe9"}, "not valid UTF-8"},
		{[]string{"--text", "hello", "--class", "8"}, "class 8 out of range: the model has 8 outputs"},
		{[]string{"--text", "hello", "--html", "--json"}, "exclude each other"},
		{[]string{"--text", "hello", "--model", "/nonexistent.safetensors"}, "vocabulary"},
		{[]string{"--text", "hello", "world"}, "unexpected arguments"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			err := run(append([]string{"explain-text"}, tc.args...), &bytes.Buffer{}, &bytes.Buffer{})
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") && !strings.Contains(tc.want, "--text") {
				t.Errorf("error %v, want one line mentioning %q", err, tc.want)
			}
		})
	}
}
