package testref

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestCIRunsREADMECommands: .ci/run runs README's set-up and test commands verbatim, with no
// install step of its own before the suite (a newcomer who runs README's two commands gets what
// CI gets), and setup.sh installs the reference packages by default.
func TestCIRunsREADMECommands(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(Root(), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	block := regexp.MustCompile("(?s)## Two commands\n\n```sh\n(.*?)```").FindSubmatch(readme)
	if block == nil {
		t.Fatal("README.md has no sh block under '## Two commands'")
	}
	var commands []string
	for _, l := range strings.Split(string(block[1]), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			commands = append(commands, l)
		}
	}
	if len(commands) != 2 {
		t.Fatalf("README's two commands: found %d: %q", len(commands), commands)
	}
	ci, err := os.ReadFile(filepath.Join(Root(), ".ci", "run"))
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(string(ci), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			lines = append(lines, l)
		}
	}
	at := -1
	for i, l := range lines {
		if l == commands[0] {
			at = i
			break
		}
	}
	if at < 0 || at+1 >= len(lines) || lines[at+1] != commands[1] {
		t.Fatalf(".ci/run does not run README's commands %q one after the other", commands)
	}
	for _, l := range lines[:at] {
		if strings.Contains(l, "deps.sh") || strings.Contains(l, "apt-get") || strings.Contains(l, "go test") {
			t.Errorf(".ci/run runs %q before README's set-up command: a step a newcomer does not take", l)
		}
	}
	setup, err := os.ReadFile(filepath.Join(Root(), "setup.sh"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(setup), "what=all") || !strings.Contains(string(setup), `.ci/deps.sh "$what"`) {
		t.Error("setup.sh does not install everything (.ci/deps.sh all) by default")
	}
	deps, err := os.ReadFile(filepath.Join(Root(), ".ci", "deps.sh"))
	if err != nil {
		t.Fatal(err)
	}
	for _, pkg := range []string{"python3-torch", "python3-torchvision", "python3-numpy", "python3-opencv", "chromium-driver"} {
		if !strings.Contains(string(deps), pkg) {
			t.Errorf(".ci/deps.sh does not install %s, which the tests need", pkg)
		}
	}
}
