// Package text explains character CNNs over text: a corpus for language identification (Debian's
// fortune files), the encoding of text for a network, a Kim-style character CNN, Grad-CAM over
// characters (one map per filter width, upsampled to the text and averaged) aggregated per word,
// and its display as coloured text (ANSI terminal, HTML) or JSON.
package text

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gradcam-go/gradcam/data"
)

// Languages returns the language-ID corpus's labels (ISO 639-1), in output order.
func Languages() []string { return slices.Clone(languages) }

var languages = []string{"en", "de", "es", "it", "pt", "pl", "cs", "ru"}

// fortuneSources are the files (or folders) of each language, relative to FortuneDir. English is
// the "fortunes" package's files (the top folder also holds other languages' files).
var fortuneSources = map[string][]string{
	"en": {"art", "computers", "cookie", "debian", "definitions", "drugs", "education", "ethnic", "food", "goedel",
		"humorists", "kids", "law", "linux", "linuxcookie", "love", "magic", "medicine", "men-women", "miscellaneous",
		"news", "paradoxum", "people", "perl", "pets", "platitudes", "politics", "pratchett", "science", "songs-poems",
		"sports", "startrek", "wisdom", "work", "zippy"},
	"de": {"de"}, "es": {"es"}, "it": {"it"}, "pt": {"brasil"}, "pl": {"pl"}, "cs": {"cs"}, "ru": {"ru"},
}

// FortunePackages are the Debian packages the corpus reads.
const FortunePackages = "fortunes fortunes-de fortunes-es fortunes-it fortunes-br fortunes-pl fortunes-cs fortunes-ru"

// FortuneDir is where Debian installs fortune files.
const FortuneDir = "/usr/share/games/fortunes"

// Fortunes reads each language's fortunes (entries between "%" lines) from dir, with whitespace
// collapsed. Entries that are not valid UTF-8, or have fewer than 20 letters, are skipped.
func Fortunes(dir string) (map[string][]string, error) {
	out := map[string][]string{}
	for _, lang := range languages {
		var files []string
		for _, src := range fortuneSources[lang] {
			p := filepath.Join(dir, src)
			info, err := os.Stat(p)
			if err != nil {
				return nil, fmt.Errorf("fortunes for %q: %w (install Debian's %s)", lang, err, FortunePackages)
			}
			if !info.IsDir() {
				files = append(files, p)
				continue
			}
			entries, err := os.ReadDir(p)
			if err != nil {
				return nil, fmt.Errorf("fortunes for %q: %w", lang, err)
			}
			for _, e := range entries {
				name := e.Name()
				if e.IsDir() || strings.HasSuffix(name, ".dat") || strings.HasSuffix(name, ".u8") {
					continue
				}
				files = append(files, filepath.Join(p, name))
			}
		}
		slices.Sort(files)
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				return nil, fmt.Errorf("fortunes for %q: %w", lang, err)
			}
			if !utf8.Valid(b) { // a Latin-1 file may have its UTF-8 version beside it
				if u8, err := os.ReadFile(f + ".u8"); err == nil && len(u8) > 0 {
					b = u8
				}
			}
			for _, entry := range bytes.Split(b, []byte("\n%\n")) {
				if !utf8.Valid(entry) {
					continue
				}
				s := strings.Join(strings.Fields(string(entry)), " ")
				letters := 0
				for _, r := range s {
					if unicode.IsLetter(r) {
						letters++
					}
				}
				if letters >= 20 {
					out[lang] = append(out[lang], s)
				}
			}
		}
		if len(out[lang]) == 0 {
			return nil, fmt.Errorf("no fortunes for %q under %s (install Debian's %s)", lang, dir, FortunePackages)
		}
	}
	return out, nil
}

// Chunks cuts s into pieces of at most n characters at spaces (a longer word is cut), dropping
// pieces shorter than n/4.
func Chunks(s string, n int) []string {
	var out []string
	r := []rune(s)
	for len(r) > 0 {
		end := min(n, len(r))
		if end < len(r) {
			if i := lastSpace(r[:end]); i > n/2 {
				end = i
			}
		}
		piece := strings.TrimSpace(string(r[:end]))
		if utf8.RuneCountInString(piece) >= n/4 {
			out = append(out, piece)
		}
		r = r[end:]
	}
	return out
}

func lastSpace(r []rune) int {
	for i := len(r) - 1; i >= 0; i-- {
		if r[i] == ' ' {
			return i
		}
	}
	return -1
}

// Corpus is the language-ID data: texts of at most Length characters, their language (an index
// into Languages()), split into training and test texts by fortune (no fortune in both).
type Corpus struct {
	Length              int
	Train, Test         []string
	TrainLang, TestLang []int32
}

// LanguageID builds the corpus from the fortunes in dir: each language's fortunes shuffled with
// seed, 15% of them held out for testing, cut into Chunks of length characters, at most perLang
// training texts and perLang/5 test texts per language.
func LanguageID(dir string, length, perLang int, seed uint64) (*Corpus, error) {
	fortunes, err := Fortunes(dir)
	if err != nil {
		return nil, err
	}
	c := &Corpus{Length: length}
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	for li, lang := range languages {
		f := slices.Clone(fortunes[lang])
		rng.Shuffle(len(f), func(i, j int) { f[i], f[j] = f[j], f[i] })
		cut := len(f) * 15 / 100
		for part, list := range [][]string{f[cut:], f[:cut]} {
			limit := perLang
			if part == 1 {
				limit = perLang / 5
			}
			n := 0
			for _, fortune := range list {
				for _, chunk := range Chunks(strings.ToLower(fortune), length) {
					if n == limit {
						break
					}
					if part == 0 {
						c.Train, c.TrainLang = append(c.Train, chunk), append(c.TrainLang, int32(li))
					} else {
						c.Test, c.TestLang = append(c.Test, chunk), append(c.TestLang, int32(li))
					}
					n++
				}
			}
		}
	}
	return c, nil
}

// Sets encodes the corpus's texts with v into data sets for training and evaluation.
func (c *Corpus) Sets(v *Vocabulary) (train, test *data.Set, err error) {
	build := func(name string, texts []string, langs []int32) (*data.Set, error) {
		s := &data.Set{Name: name, Shape: []int{1, c.Length}, Labels: langs, Classes: Languages()}
		s.Inputs = make([]float32, 0, len(texts)*c.Length)
		for _, t := range texts {
			x, err := v.Encode(t, c.Length)
			if err != nil {
				return nil, err
			}
			s.Inputs = append(s.Inputs, x...)
		}
		return s, nil
	}
	if train, err = build("langid-train", c.Train, c.TrainLang); err != nil {
		return nil, nil, err
	}
	test, err = build("langid-test", c.Test, c.TestLang)
	return train, test, err
}
