package notebook

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// TestDisplaysWaitForGoNB: every display of the package goes through display.go, which waits for
// GoNB's acknowledgement (gonbui.Sync); a direct gonbui.Display or Update call could lose a
// cell's last figures when its program ends (the stop-37 CI failure: notebook 09 with 2 of 4).
func TestDisplaysWaitForGoNB(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("no sources: %v", err)
	}
	fset := token.NewFileSet()
	for _, f := range files {
		if f == "display.go" || strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if x, ok := sel.X.(*ast.Ident); ok && x.Name == "gonbui" &&
				(strings.HasPrefix(sel.Sel.Name, "Display") || strings.HasPrefix(sel.Sel.Name, "Update")) {
				t.Errorf("%s: gonbui.%s called directly; use display.go's helpers, which wait for GoNB",
					fset.Position(sel.Pos()), sel.Sel.Name)
			}
			return true
		})
	}
}
