package models

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gradcam-go/gradcam/models/loadcache"
)

// TestLoadCache: a checkpoint's second load comes from the cache and computes exactly what the
// first did; a damaged cache file, a changed checkpoint and a cache turned off all read the
// checkpoint; a wrong architecture still gets the checkpoint's own error.
func TestLoadCache(t *testing.T) {
	folder := loadcache.Folder{Dir: t.TempDir(), MinSize: 0}
	cache := WithLoadCache(folder)

	const arch = "squeezenet1_1"
	dir := t.TempDir()
	ckpt := filepath.Join(dir, "sq.safetensors")
	save := func(seed uint64, mtime time.Time) {
		t.Helper()
		m, err := New(lookup(arch).Network, seed)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Save(ckpt); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(ckpt, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	in := make([]float32, 3*224*224)
	for i := range in {
		in[i] = rng.Float32()*2 - 1
	}
	input := tensors.FromFlatDataAndDimensions(in, 1, 3, 224, 224)
	// load returns the logits and whether the load was a cache hit.
	load := func() ([]float32, bool) {
		t.Helper()
		before := loadCacheHits.Load()
		m, err := LoadFile(arch, ckpt, cache)
		if err != nil {
			t.Fatal(err)
		}
		l, err := m.Logits(input)
		if err != nil {
			t.Fatal(err)
		}
		return l[0], loadCacheHits.Load() > before
	}
	cacheFiles := func() []string {
		files, _ := filepath.Glob(filepath.Join(folder.Dir, "*.weights"))
		return files
	}

	t0 := time.Now().Add(-time.Hour)
	save(1, t0)
	first, hit := load()
	if hit {
		t.Fatal("first load was a cache hit")
	}
	if n := len(cacheFiles()); n != 1 {
		t.Fatalf("%d cache files after the first load, want 1", n)
	}
	second, hit := load()
	if !hit {
		t.Fatal("second load did not use the cache")
	}
	if !slices.Equal(first, second) {
		t.Fatal("logits from the cache differ from the checkpoint's")
	}

	t.Run("damaged cache", func(t *testing.T) {
		f := cacheFiles()[0]
		st, _ := os.Stat(f)
		if err := os.Truncate(f, st.Size()/2); err != nil {
			t.Fatal(err)
		}
		got, hit := load()
		if hit || !slices.Equal(got, first) {
			t.Fatalf("after truncating the cache: hit %v, same logits %v; want a miss with the same logits", hit, slices.Equal(got, first))
		}
		if _, hit := load(); !hit {
			t.Error("the cache was not rewritten after a damaged one")
		}
	})
	t.Run("changed checkpoint", func(t *testing.T) {
		save(2, t0.Add(time.Minute))
		got, hit := load()
		if hit || slices.Equal(got, first) {
			t.Fatalf("after replacing the checkpoint: hit %v, stale logits %v", hit, slices.Equal(got, first))
		}
		if n := len(cacheFiles()); n != 1 {
			t.Errorf("%d cache files, want 1 (the old version's removed)", n)
		}
		if again, hit := load(); !hit || !slices.Equal(again, got) {
			t.Errorf("reload of the new checkpoint: hit %v, same logits %v", hit, slices.Equal(again, got))
		}
	})
	t.Run("wrong architecture", func(t *testing.T) {
		_, err := LoadFile("squeezenet1_0", ckpt, cache)
		if err == nil || !strings.Contains(err.Error(), "is not a squeezenet1_0 checkpoint") {
			t.Errorf("error %v, want the checkpoint's mismatch error", err)
		}
	})
	t.Run("off", func(t *testing.T) {
		on := cache
		cache = WithLoadCache(loadcache.Folder{})
		defer func() { cache = on }()
		if _, hit := load(); hit {
			t.Error("a zero loadcache.Folder still used the cache")
		}
	})
	t.Run("checkpoint gone", func(t *testing.T) {
		other := filepath.Join(dir, "other.safetensors")
		os.Rename(ckpt, other)
		// Loading another checkpoint prunes the cache of the one that is gone.
		ckpt = other
		if _, hit := load(); hit {
			t.Fatal("a new path was a cache hit")
		}
		if n := len(cacheFiles()); n != 1 {
			t.Errorf("%d cache files, want 1 (the missing checkpoint's removed)", n)
		}
	})
}
