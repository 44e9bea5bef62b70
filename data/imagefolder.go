package data

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/gradcam-go/gradcam/preprocess"
)

// ImageFolder reads a folder in torchvision's ImageFolder convention: one subfolder per class
// (classes are the folder names, sorted), the images inside it. Every image goes through the
// transform (the network's: models.Model.Transform). A class folder without images, or a file
// that is not an image, is an error naming it; hidden files are skipped.
func ImageFolder(dir string, t preprocess.Transform) (*Set, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("reading image folder: %w", err)
	}
	s := &Set{Name: filepath.Base(dir), Shape: []int{t.Channels, t.Height, t.Width}}
	for _, e := range entries {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			s.Classes = append(s.Classes, e.Name())
		}
	}
	slices.Sort(s.Classes)
	if len(s.Classes) == 0 {
		return nil, fmt.Errorf("image folder %s has no class subfolders (expected DIR/CLASS/IMAGE.png, one subfolder per class)", dir)
	}
	for label, class := range s.Classes {
		files, err := os.ReadDir(filepath.Join(dir, class))
		if err != nil {
			return nil, fmt.Errorf("reading class folder: %w", err)
		}
		var paths []string
		for _, f := range files {
			if !f.IsDir() && !strings.HasPrefix(f.Name(), ".") {
				paths = append(paths, filepath.Join(dir, class, f.Name()))
			}
		}
		if len(paths) == 0 {
			return nil, fmt.Errorf("class folder %s has no images: add some or remove the folder", filepath.Join(dir, class))
		}
		for _, p := range paths {
			x, _, err := t.Preprocess(p)
			if err != nil {
				return nil, fmt.Errorf("image folder %s: %w (remove it or move it out of the class folder)", dir, err)
			}
			s.Inputs = append(s.Inputs, tensors.MustCopyFlatData[float32](x)...)
			s.Labels = append(s.Labels, int32(label))
		}
	}
	return s, s.Check()
}
