package models

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gradcam-go/gradcam/models/loadcache"
	"github.com/gradcam-go/gradcam/models/zoo"
)

// BenchmarkLoad measures LoadFile on random-weight checkpoints of the given architectures
// (GRADCAM_BENCH_LOAD, default "resnet50,vgg16"), read from the checkpoint (the load cache off)
// and from the load cache. The target (issue 11): VGG-16 from the cache in <= 0.5 s. The
// process's peak memory for one load is measured by bench/load.py, in a fresh process.
func BenchmarkLoad(b *testing.B) {
	names := []string{"resnet50", "vgg16"}
	if v := os.Getenv("GRADCAM_BENCH_LOAD"); v != "" {
		names = strings.Split(v, ",")
	}
	cache := WithLoadCache(loadcache.Folder{Dir: b.TempDir(), MinSize: loadcache.DefaultMinSize})
	dir := b.TempDir()
	for _, name := range names {
		a, err := zoo.Lookup(name)
		if err != nil {
			b.Fatal(err)
		}
		path := filepath.Join(dir, name+".safetensors")
		m, err := New(a.Network, 1)
		if err != nil {
			b.Fatal(err)
		}
		if err := m.Save(path); err != nil {
			b.Fatal(err)
		}
		m = nil
		for _, mode := range []string{"checkpoint", "cached"} {
			b.Run(name+"/"+mode, func(b *testing.B) {
				opt := cache
				if mode == "checkpoint" {
					opt = WithLoadCache(loadcache.Folder{})
				} else if _, err := LoadFile(name, path, opt); err != nil { // writes the cache
					b.Fatal(err)
				}
				for b.Loop() {
					if _, err := LoadFile(name, path, opt); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
