package catch

import (
	"errors"
	"testing"
)

func TestPanic(t *testing.T) {
	// exact messages: no stack traces (WithStacks is off in tests)
	errCall := errors.New("call failed")
	cases := []struct {
		name string
		fn   func() error
		want string
		is   error
	}{
		{"returns nil", func() error { return nil }, "", nil},
		{"returns an error", func() error { return errCall }, "call failed", errCall},
		{"panics with an error", func() error { panic(errCall) }, "call failed", errCall},
		{"panics with a string", func() error { panic("bad shape") }, "bad shape", nil},
	}
	for _, tc := range cases {
		err := Panic(tc.fn)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: got %v, want nil", tc.name, err)
		case tc.want != "" && (err == nil || err.Error() != tc.want):
			t.Errorf("%s: got %v, want %q", tc.name, err, tc.want)
		case tc.is != nil && !errors.Is(err, tc.is):
			t.Errorf("%s: %v does not wrap the original error", tc.name, err)
		}
	}
}
