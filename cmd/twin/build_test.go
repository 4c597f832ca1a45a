package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twinsearch/twin/encoder"
	"github.com/twinsearch/twin/index"
	"github.com/twinsearch/twin/index/bm25"
	"github.com/twinsearch/twin/internal/vec"
	"github.com/twinsearch/twin/internal/vecio"
	"github.com/twinsearch/twin/retriever"
)

// TestBuildChild is the child process of the crash tests: it runs the twin
// command line given in TWIN_BUILD_CHILD (a JSON array of arguments).
func TestBuildChild(t *testing.T) {
	args := os.Getenv("TWIN_BUILD_CHILD")
	if args == "" {
		t.Skip("helper process for the build crash tests")
	}
	var argv []string
	if err := json.Unmarshal([]byte(args), &argv); err != nil {
		t.Fatal(err)
	}
	// Snapshot often so that resumed builds exercise bringing an older
	// graph up to date as well as rebuilding it.
	snapshotEvery = 300 * time.Millisecond
	root := newRoot()
	root.SetArgs(argv)
	if err := root.ExecuteContext(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "twin: "+err.Error())
		os.Exit(1)
	}
	os.Exit(0)
}

func child(args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^TestBuildChild$", "-test.count=1")
	b, _ := json.Marshal(args)
	cmd.Env = append(os.Environ(), "TWIN_BUILD_CHILD="+string(b))
	return cmd
}

// killRepeatedly starts the build, SIGKILLs it after a random delay, and
// repeats; then runs it to completion. It returns how many runs were killed.
func killRepeatedly(t *testing.T, rng *rand.Rand, kills int, minDelay, maxDelay time.Duration, args ...string) int {
	t.Helper()
	killed := 0
	for range kills {
		cmd := child(args...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		cmd.Stdout = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		delay := minDelay + time.Duration(rng.Int64N(int64(maxDelay-minDelay)))
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("build exited early: %v\n%s", err, stderr.String())
			}
			t.Logf("build finished before the kill after %v: %s", delay, stderr.String())
			return killed
		case <-time.After(delay):
			cmd.Process.Signal(syscall.SIGKILL)
			<-done
			killed++
		}
	}
	cmd := child(args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("final build: %v\n%s", err, out)
	}
	t.Logf("final run:\n%s", out)
	return killed
}

func TestBuildVectorsCrashResume(t *testing.T) {
	const n, dim = 20000, 32
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(7, 7))
	rows := make([][]float32, n)
	for i := range rows {
		rows[i] = make([]float32, dim)
		for j := range rows[i] {
			rows[i][j] = float32(rng.NormFloat64())
		}
		vec.Normalize(rows[i])
	}
	vpath := filepath.Join(dir, "base.fvecs")
	f, _ := os.Create(vpath)
	if err := vecio.WriteFvecs(f, rows); err != nil {
		t.Fatal(err)
	}
	f.Close()
	idx := filepath.Join(dir, "coll")
	killed := killRepeatedly(t, rng, 5, 30*time.Millisecond, 700*time.Millisecond,
		"build", "-q", "--vectors", vpath, "--index", idx, "--batch", "200", "--ef-construction", "64", "--m", "8")
	t.Logf("killed %d times before the final run", killed)

	c, err := index.Open(idx, index.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Len() != n {
		t.Fatalf("Len %d, want %d", c.Len(), n)
	}
	seen := make([]int, n)
	err = c.IterateDocs(context.Background(), func(id uint32, d index.Doc) error {
		var row int
		if _, err := fmt.Sscan(d.ID, &row); err != nil || row < 0 || row >= n {
			return fmt.Errorf("unexpected doc id %q", d.ID)
		}
		seen[row]++
		if vec.Dot(d.Vector, rows[row]) < 0.9999 {
			return fmt.Errorf("doc %s holds another vector", d.ID)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for row, k := range seen {
		if k != 1 {
			t.Fatalf("row %d stored %d times", row, k)
		}
	}
	found := 0
	for i := 0; i < n; i += n / 100 {
		hits, err := c.Search(rows[i], 1, 64)
		if err != nil {
			t.Fatal(err)
		}
		if len(hits) == 1 && hits[0].DocID == fmt.Sprint(i) {
			found++
		}
	}
	if found < 98 {
		t.Fatalf("only %d of 100 vectors find themselves", found)
	}
}

func TestBuildCorpusCrashResume(t *testing.T) {
	dir := t.TempDir()
	m, err := encoder.New(encoder.Config{Features: encoder.FeatureConfig{Bits: 12}, BagDim: 16, Dim: 16}, 1)
	if err != nil {
		t.Fatal(err)
	}
	mpath := filepath.Join(dir, "model.twin")
	if err := m.Save(mpath); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 3))
	words := strings.Fields("alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma tau")
	const n = 15000
	var buf bytes.Buffer
	want := map[string]string{}
	for i := range n {
		id := fmt.Sprintf("d%d", i)
		if i%500 == 499 {
			id = fmt.Sprintf("d%d", i-7) // a duplicate id: the last one wins
		}
		var sb strings.Builder
		for range 12 {
			sb.WriteString(words[rng.IntN(len(words))] + " ")
		}
		text := sb.String() + fmt.Sprint(i)
		want[id] = text
		json.NewEncoder(&buf).Encode(map[string]any{"_id": id, "title": "t", "text": text})
	}
	cpath := filepath.Join(dir, "corpus.jsonl")
	os.WriteFile(cpath, buf.Bytes(), 0o644)
	idx := filepath.Join(dir, "coll")
	killed := killRepeatedly(t, rng, 4, 30*time.Millisecond, 500*time.Millisecond,
		"build", "-q", "--model", mpath, "--corpus", cpath, "--index", idx, "--batch", "100", "--ef-construction", "32", "--m", "8")
	t.Logf("killed %d times before the final run", killed)
	c, err := index.Open(idx, index.Options{ModelFingerprint: m.Fingerprint()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Len() != len(want) {
		t.Fatalf("Len %d, want %d", c.Len(), len(want))
	}
	got := map[string]int{}
	c.IterateDocs(context.Background(), func(id uint32, d index.Doc) error {
		got[d.ID]++
		if d.Text != want[d.ID] {
			t.Errorf("doc %s: text %q, want %q", d.ID, d.Text, want[d.ID])
		}
		return nil
	})
	for id := range want {
		if got[id] != 1 {
			t.Fatalf("doc %s stored %d times", id, got[id])
		}
	}
	// The BM25 index followed every batch (or was caught up after a kill).
	bm, err := bm25.Open(retriever.BM25Dir(idx), bm25.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := bm.Count(); err != nil || n != len(want) {
		t.Fatalf("BM25 holds %d documents (%v), want %d", n, err, len(want))
	}
	bm.Close()
	q := make([]float32, 16)
	m.Encode(encoder.DocTower, "t\n\n"+want["d42"], q)
	hits, err := c.Search(q, 3, 64)
	if err != nil || len(hits) == 0 || hits[0].Score < 0.999 {
		t.Fatalf("query by a document's own text: %v %v", hits, err)
	}
}

func TestBuildBadInput(t *testing.T) {
	dir := t.TempDir()
	m, _ := encoder.New(encoder.Config{Features: encoder.FeatureConfig{Bits: 10}, BagDim: 8, Dim: 8}, 1)
	mpath := filepath.Join(dir, "model.twin")
	m.Save(mpath)
	other, _ := encoder.New(encoder.Config{Features: encoder.FeatureConfig{Bits: 10}, BagDim: 8, Dim: 8}, 2)
	opath := filepath.Join(dir, "other.twin")
	other.Save(opath)
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(s), 0o644)
		return p
	}
	empty := write("empty.jsonl", "\n\n")
	bad := write("bad.jsonl", "{\"_id\": \"a\", \"text\": \"x\"}\nnot json\n")
	good := write("good.jsonl", "{\"_id\": \"a\", \"text\": \"x\"}\n")
	idx := filepath.Join(dir, "coll")
	run := func(args ...string) (string, error) {
		out, err := child(args...).CombinedOutput()
		return string(out), err
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"empty corpus", []string{"build", "-q", "-m", mpath, "--corpus", empty, "--index", idx}, "no documents"},
		{"not json", []string{"build", "-q", "-m", mpath, "--corpus", bad, "--index", idx}, "line 2"},
		{"other model", []string{"build", "-q", "-m", opath, "--corpus", good, "--index", idx}, "built with model"},
		{"no input", []string{"build", "--index", idx}, "give --model and --corpus"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := run(tc.args...)
			if err == nil || !strings.Contains(out, tc.want) {
				t.Fatalf("err %v, output %q, want %q", err, out, tc.want)
			}
		})
	}
	// twin info on the collection made by the "not json" case (the bad
	// line came before the first batch was committed).
	out, err := run("info", "--index", idx, "--json")
	if err != nil || !strings.Contains(out, `"docs": 0`) || !strings.Contains(out, m.Fingerprint()) {
		t.Fatalf("info: %v %s", err, out)
	}
}

func TestBuildVectorsInputs(t *testing.T) {
	dir := t.TempDir()
	rows := [][]float32{{1, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 1, 0}}
	npy := filepath.Join(dir, "v.npy")
	f, _ := os.Create(npy)
	vecio.WriteNpy(f, rows)
	f.Close()
	idx := filepath.Join(dir, "coll")
	if out, err := child("build", "-q", "--vectors", npy, "--index", idx).CombinedOutput(); err != nil {
		t.Fatalf("npy build: %v\n%s", err, out)
	}
	nan := filepath.Join(dir, "nan.fvecs")
	f, _ = os.Create(nan)
	bad := [][]float32{{1, 0, 0, 0}, {0, float32(math.NaN()), 0, 0}}
	vecio.WriteFvecs(f, bad)
	f.Close()
	out, err := child("build", "-q", "--vectors", nan, "--index", filepath.Join(dir, "c2")).CombinedOutput()
	if err == nil || !strings.Contains(string(out), `document "1"`) || !strings.Contains(string(out), "NaN") {
		t.Fatalf("NaN vector: %v %s", err, out)
	}
	wide := filepath.Join(dir, "wide.fvecs")
	f, _ = os.Create(wide)
	vecio.WriteFvecs(f, [][]float32{{1, 0, 0, 0, 0}})
	f.Close()
	out, err = child("build", "-q", "--vectors", wide, "--index", idx).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "dimension 5") {
		t.Fatalf("wrong dimension: %v %s", err, out)
	}
	// A collection held open by this process is locked for the child.
	c, err := index.Open(idx, index.Options{})
	if err != nil {
		t.Fatal(err)
	}
	out, err = child("build", "-q", "--vectors", npy, "--index", idx).CombinedOutput()
	c.Close()
	if err == nil || !strings.Contains(string(out), "in use by another process") {
		t.Fatalf("locked: %v %s", err, out)
	}
	out, err = child("info", "--index", idx).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "documents") || !strings.Contains(string(out), "3") {
		t.Fatalf("info: %v %s", err, out)
	}
}
