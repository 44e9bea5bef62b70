// Command install-pjrt installs XLA's PJRT CPU plugin with go-xla's installer (at the version
// go-xla v0.1.4 was tested with), so that GoMLX's XLA backend is available and chosen by default.
// It needs internet access; the Docker image runs it at build time.
//
//	go run ./cmd/install-pjrt [-path DIR]
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/gomlx/go-xla/pkg/installer"
)

func main() {
	dir := flag.String("path", "", "installation directory (default: go-xla's, under ~/.local/lib)")
	flag.Parse()
	path := *dir
	if path == "" {
		var err error
		if path, err = installer.DefaultHomeLibPath(); err != nil {
			fmt.Fprintln(os.Stderr, "install-pjrt:", err)
			os.Exit(1)
		}
	}
	if err := installer.CPUAutoInstall(filepath.Join(path, "go-xla"), true, installer.Normal); err != nil {
		fmt.Fprintln(os.Stderr, "install-pjrt:", err)
		os.Exit(1)
	}
	fmt.Println("PJRT CPU plugin installed under", filepath.Join(path, "go-xla"))
}
