// Package testutil finds the shared data sets for tests and benchmarks.
package testutil

import (
	"os"
	"path/filepath"
	"testing"
)

// DataDir returns the absolute path of ../shared/data/<name> next to the
// repository root (or $TWIN_SHARED_DATA/<name>), and ok=false when absent.
func DataDir(name string) (string, bool) {
	if root := os.Getenv("TWIN_SHARED_DATA"); root != "" {
		p := filepath.Join(root, name)
		_, err := os.Stat(p)
		return p, err == nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", false
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			p := filepath.Join(dir, "..", "shared", "data", name)
			if _, err := os.Stat(p); err != nil {
				return p, false
			}
			abs, _ := filepath.Abs(p)
			return abs, true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

// NeedData returns the data set's directory or skips the test with a clear
// message when ../shared/data/<name> is not there.
func NeedData(tb testing.TB, name string) string {
	tb.Helper()
	p, ok := DataDir(name)
	if !ok {
		tb.Skipf("shared data set %q not found at %s (set TWIN_SHARED_DATA or put ../shared/data beside the repo)", name, p)
	}
	return p
}
