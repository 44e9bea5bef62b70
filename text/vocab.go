package text

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gradcam-go/gradcam/internal/atomicfile"
)

// Vocabulary maps characters to a network's input indices: 0 pads, 1 is any character not in the
// vocabulary, 2.. the characters (lower-cased text).
type Vocabulary struct {
	Runes []rune // index i+2 is Runes[i]
	index map[rune]int
}

// Pad and Unknown are the indices of padding and of characters outside the vocabulary.
const (
	Pad     = 0
	Unknown = 1
)

// NewVocabulary is the vocabulary of the given characters.
func NewVocabulary(runes []rune) *Vocabulary {
	v := &Vocabulary{Runes: runes, index: map[rune]int{}}
	for i, r := range runes {
		v.index[r] = i + 2
	}
	return v
}

// BuildVocabulary keeps the size-2 most frequent characters of texts (ties by code point).
func BuildVocabulary(texts []string, size int) *Vocabulary {
	count := map[rune]int{}
	for _, t := range texts {
		for _, r := range t {
			count[r]++
		}
	}
	runes := make([]rune, 0, len(count))
	for r := range count {
		runes = append(runes, r)
	}
	sort.Slice(runes, func(i, j int) bool {
		if count[runes[i]] != count[runes[j]] {
			return count[runes[i]] > count[runes[j]]
		}
		return runes[i] < runes[j]
	})
	if len(runes) > size-2 {
		runes = runes[:size-2]
	}
	return NewVocabulary(runes)
}

// Size is the number of indices, padding and unknown included.
func (v *Vocabulary) Size() int { return len(v.Runes) + 2 }

// Encode turns s (lower-cased) into length indices, padded at the end. Empty text, text longer
// than length characters, and bytes that are not UTF-8 are errors.
func (v *Vocabulary) Encode(s string, length int) ([]float32, error) {
	if !utf8.ValidString(s) {
		return nil, errors.New("the text is not valid UTF-8: give UTF-8 text")
	}
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("the text is empty: give at least one word")
	}
	n := utf8.RuneCountInString(s)
	if n > length {
		return nil, fmt.Errorf("the text has %d characters, more than the model's maximum of %d: shorten it", n, length)
	}
	out := make([]float32, length)
	i := 0
	for _, r := range strings.ToLower(s) {
		if i == length { // lower-casing can lengthen a few characters
			break
		}
		if idx, ok := v.index[r]; ok {
			out[i] = float32(idx)
		} else {
			out[i] = Unknown
		}
		i++
	}
	return out, nil
}

// Write saves the vocabulary as one Go-quoted character a line.
func (v *Vocabulary) Write(path string) error {
	var b strings.Builder
	for _, r := range v.Runes {
		b.WriteString(strconv.QuoteRune(r))
		b.WriteByte('\n')
	}
	return atomicfile.Write(path, []byte(b.String()))
}

// ReadVocabulary reads a vocabulary written by Write.
func ReadVocabulary(path string) (*Vocabulary, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading vocabulary: %w", err)
	}
	defer f.Close()
	return ParseVocabulary(f, path)
}

// ParseVocabulary reads a vocabulary in Write's format from r (name is for messages).
func ParseVocabulary(r io.Reader, name string) (*Vocabulary, error) {
	var runes []rune
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		s, err := strconv.Unquote(sc.Text())
		if err != nil || utf8.RuneCountInString(s) != 1 {
			return nil, fmt.Errorf("vocabulary %s, line %d: %q is not one quoted character", name, line, sc.Text())
		}
		runes = append(runes, []rune(s)[0])
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading vocabulary %s: %w", name, err)
	}
	if len(runes) == 0 {
		return nil, fmt.Errorf("vocabulary %s is empty", name)
	}
	return NewVocabulary(runes), nil
}
