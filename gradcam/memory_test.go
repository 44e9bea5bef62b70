package gradcam

import (
	"runtime"
	"testing"
)

// TestHeapFlatOver100Calls: a long notebook session must not grow. After warm-up, the live heap
// (after a GC) at call 100 is within 5% (and 8 MB) of what it was at call 10.
func TestHeapFlatOver100Calls(t *testing.T) {
	m := loadTestModel(t, "squeezenet1_0")
	e := New(m)
	x := catDog(t)
	req := Request{Methods: []Method{GradCAM, GuidedBackprop}, Classes: []int{243}}
	heap := func() uint64 {
		runtime.GC()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	var at10 uint64
	var samples []uint64
	for call := 1; call <= 100; call++ {
		exps, err := e.Explain(x, req)
		if err != nil {
			t.Fatal(err)
		}
		if len(exps) != 1 {
			t.Fatal("wrong result")
		}
		if call == 10 {
			at10 = heap()
		}
		if call%10 == 0 {
			samples = append(samples, heap()/1e6)
		}
	}
	at100 := heap()
	t.Logf("live heap (MB) every 10 calls: %v", samples)
	if float64(at100) > float64(at10)*1.05 && at100-at10 > 8e6 {
		t.Errorf("heap grew from %.1f MB at call 10 to %.1f MB at call 100", float64(at10)/1e6, float64(at100)/1e6)
	}
	if s := e.Stats(); s.GraphBuilds != 1 || s.Executions != 100 {
		t.Errorf("stats %+v: want 1 graph build and 100 executions", s)
	}
}
