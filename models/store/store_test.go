package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gradcam-go/gradcam/models/zoo"
)

// fakeCheckpoint is a payload and the torchvision-style file name carrying its hash prefix.
func fakeCheckpoint(n int) (data []byte, name string) {
	data = make([]byte, n)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(r.IntN(256))
	}
	sum := sha256.Sum256(data)
	return data, "resnet18-" + hex.EncodeToString(sum[:])[:8] + ".pth"
}

// weightServer serves data at /NAME with Range support and counts requests.
type weightServer struct {
	*httptest.Server
	requests, ranged atomic.Int32
	// cutAfter > 0: the first full (non-range) response stops after that many bytes.
	cutAfter int
	cut      atomic.Bool
	// ignoreRange answers range requests with the whole file (200).
	ignoreRange bool
	delay       time.Duration
}

func newWeightServer(t *testing.T, data []byte, name string) *weightServer {
	ws := &weightServer{}
	ws.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws.requests.Add(1)
		if r.URL.Path != "/"+name {
			http.NotFound(w, r)
			return
		}
		time.Sleep(ws.delay)
		if r.Header.Get("Range") != "" {
			ws.ranged.Add(1)
			if ws.ignoreRange {
				r.Header.Del("Range")
			}
		}
		if ws.cutAfter > 0 && r.Header.Get("Range") == "" && !ws.cut.Swap(true) {
			// Promise everything, send a part, drop the connection.
			w.Header().Set("Content-Length", strconv.Itoa(len(data)))
			w.WriteHeader(http.StatusOK)
			w.Write(data[:ws.cutAfter])
			w.(http.Flusher).Flush()
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
			return
		}
		http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(data))
	}))
	t.Cleanup(ws.Close)
	return ws
}

func testStore(t *testing.T, url string) (*Store, *bytes.Buffer) {
	progress := &bytes.Buffer{}
	return &Store{CacheDir: t.TempDir(), Progress: progress, URLs: map[string]string{"resnet18": url}}, progress
}

func TestStoreDownload(t *testing.T) {
	data, name := fakeCheckpoint(3 << 20)
	a, _ := zoo.Lookup("resnet18")

	t.Run("downloads with progress, verifies, caches", func(t *testing.T) {
		srv := newWeightServer(t, data, name)
		s, progress := testStore(t, srv.URL+"/"+name)
		p, err := s.Weights(context.Background(), a)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(p); !bytes.Equal(got, data) || filepath.Base(p) != name {
			t.Fatalf("downloaded %s differs from the served file", p)
		}
		if !strings.Contains(progress.String(), "downloading "+name) || !strings.Contains(progress.String(), "100%") {
			t.Errorf("no progress bar: %q", progress.String())
		}
		if _, err := s.Weights(context.Background(), a); err != nil {
			t.Fatal(err)
		}
		if n := srv.requests.Load(); n != 1 {
			t.Errorf("%d requests; a good cached file must not be downloaded again", n)
		}
		if left, _ := filepath.Glob(filepath.Join(s.CacheDir, "*.part")); len(left) > 0 {
			t.Errorf("partial files left: %v", left)
		}
	})

	t.Run("hash mismatch rejected and not kept", func(t *testing.T) {
		bad := append([]byte(nil), data...)
		bad[100] ^= 1
		srv := newWeightServer(t, bad, name)
		s, _ := testStore(t, srv.URL+"/"+name)
		_, err := s.Weights(context.Background(), a)
		if !errors.Is(err, ErrHashMismatch) {
			t.Fatalf("want hash mismatch, got %v", err)
		}
		files, _ := os.ReadDir(s.CacheDir)
		for _, f := range files {
			if !strings.HasSuffix(f.Name(), ".lock") {
				t.Errorf("bad download left %s in the cache", f.Name())
			}
		}
	})

	t.Run("interrupted download resumes with a range request", func(t *testing.T) {
		srv := newWeightServer(t, data, name)
		srv.cutAfter = 1 << 20
		s, _ := testStore(t, srv.URL+"/"+name)
		if _, err := s.Weights(context.Background(), a); err == nil || !strings.Contains(err.Error(), "interrupted") {
			t.Fatalf("want an interrupted download, got %v", err)
		}
		if st, err := os.Stat(filepath.Join(s.CacheDir, name+".part")); err != nil || st.Size() != 1<<20 {
			t.Fatalf("partial file not kept: %v", err)
		}
		p, err := s.Weights(context.Background(), a)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(p); !bytes.Equal(got, data) {
			t.Fatal("resumed file differs")
		}
		if srv.ranged.Load() != 1 {
			t.Errorf("resume made %d range requests, want 1", srv.ranged.Load())
		}
	})

	t.Run("server without ranges: clean restart", func(t *testing.T) {
		srv := newWeightServer(t, data, name)
		srv.ignoreRange = true
		s, _ := testStore(t, srv.URL+"/"+name)
		os.WriteFile(filepath.Join(s.CacheDir, name+".part"), []byte("stale bytes from an old attempt"), 0o644)
		p, err := s.Weights(context.Background(), a)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(p); !bytes.Equal(got, data) {
			t.Fatal("restarted file differs")
		}
	})

	t.Run("corrupt partial file: rejected, then a clean download", func(t *testing.T) {
		srv := newWeightServer(t, data, name)
		s, _ := testStore(t, srv.URL+"/"+name)
		garbage := bytes.Repeat([]byte{7}, 1<<20)
		os.WriteFile(filepath.Join(s.CacheDir, name+".part"), garbage, 0o644)
		if _, err := s.Weights(context.Background(), a); !errors.Is(err, ErrHashMismatch) {
			t.Fatalf("want hash mismatch for a resumed corrupt file, got %v", err)
		}
		p, err := s.Weights(context.Background(), a)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(p); !bytes.Equal(got, data) {
			t.Fatal("file differs")
		}
	})

	t.Run("concurrent calls download once", func(t *testing.T) {
		srv := newWeightServer(t, data, name)
		srv.delay = 50 * time.Millisecond
		s, _ := testStore(t, srv.URL+"/"+name)
		var wg sync.WaitGroup
		paths := make([]string, 8)
		errs := make([]error, 8)
		for i := range paths {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// Separate stores share nothing but the cache directory, like separate processes.
				s2 := &Store{CacheDir: s.CacheDir, URLs: s.URLs}
				if i%2 == 0 {
					s2 = s
				}
				paths[i], errs[i] = s2.Weights(context.Background(), a)
			}()
		}
		wg.Wait()
		for i := range paths {
			if errs[i] != nil {
				t.Fatal(errs[i])
			}
			if got, _ := os.ReadFile(paths[i]); !bytes.Equal(got, data) {
				t.Fatalf("call %d: file differs", i)
			}
		}
		if n := srv.requests.Load(); n != 1 {
			t.Errorf("%d downloads for 8 concurrent calls, want 1", n)
		}
	})

	t.Run("offline: says which file to put where", func(t *testing.T) {
		srv := newWeightServer(t, data, name)
		srv.Close()
		s, _ := testStore(t, srv.URL+"/"+name)
		s.SearchDirs = []string{t.TempDir()}
		_, err := s.Weights(context.Background(), a)
		if err == nil {
			t.Fatal("no error")
		}
		for _, want := range []string{"no weights for resnet18", "put " + name, s.CacheDir, s.SearchDirs[0], "GRADCAM_WEIGHTS"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not mention %q", err, want)
			}
		}
	})
}

func TestFindWeights(t *testing.T) {
	tests := []struct {
		files []string
		name  string
		want  string
	}{
		{[]string{"resnet18-f37072fd.pth", "resnet18_other.pth"}, "resnet18", "resnet18-f37072fd.pth"},
		{[]string{"mobilenet_v2_coral_dequant.pth", "README.md"}, "mobilenet_v2", "mobilenet_v2_coral_dequant.pth"},
		{[]string{"resnet18.safetensors"}, "resnet18", "resnet18.safetensors"},
		{[]string{"resnet101.pth", "resnet18x.pth", "resnet18.txt"}, "resnet18", ""},
		{[]string{"squeezenet1_0_deepcompression.pth"}, "squeezenet1_1", ""},
		{[]string{"vgg16_bn-6c64b313.pth", "vgg16_finetuned.pth"}, "vgg16", "vgg16_finetuned.pth"},
		{[]string{"vgg16_bn-6c64b313.pth"}, "vgg16", ""},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.files, ","), func(t *testing.T) {
			dir := t.TempDir()
			for _, f := range tc.files {
				os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o644)
			}
			got := findWeights(dir, tc.name, "resnet18-f37072fd.pth")
			if tc.want == "" && got != "" || tc.want != "" && got != filepath.Join(dir, tc.want) {
				t.Errorf("findWeights = %q, want %q", got, tc.want)
			}
		})
	}
}
