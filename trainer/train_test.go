package trainer

import (
	"context"
	"errors"
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
	"github.com/twinsearch/twin/eval"
	"github.com/twinsearch/twin/internal/frame"
)

// A synthetic bilingual task: each concept has a word in language X and an
// unrelated word in language Y. Queries are Y sentences, documents X
// sentences of the same concepts. Hashed features cannot match them, so a
// random model retrieves at chance; a trained model must learn the mapping.
type bilingual struct {
	x, y []string
}

func newBilingual(seed uint64, concepts int) *bilingual {
	r := rand.New(rand.NewPCG(seed, 11))
	word := func() string {
		b := make([]byte, 5+r.IntN(4))
		for i := range b {
			b[i] = byte('a' + r.IntN(26))
		}
		return string(b)
	}
	bl := &bilingual{}
	for range concepts {
		bl.x = append(bl.x, word())
		bl.y = append(bl.y, word())
	}
	return bl
}

func (bl *bilingual) pair(r *rand.Rand) (string, string) {
	k := 3 + r.IntN(3)
	var xs, ys []string
	for range k {
		c := r.IntN(len(bl.x))
		xs = append(xs, bl.x[c])
		ys = append(ys, bl.y[c])
	}
	r.Shuffle(len(ys), func(a, b int) { ys[a], ys[b] = ys[b], ys[a] })
	return strings.Join(ys, " "), strings.Join(xs, " ")
}

func (bl *bilingual) data(seed uint64, trainN, devN int) (*Pairs, *RetrievalDev) {
	r := rand.New(rand.NewPCG(seed, 5))
	p := &Pairs{Path: "synthetic"}
	for range trainN {
		a, b := bl.pair(r)
		p.Items = append(p.Items, Example{A: a, B: b, Y: 1})
	}
	dev := &RetrievalDev{Queries: map[string]string{}, Qrels: eval.Qrels{}}
	for i := range devN {
		a, b := bl.pair(r)
		id := fmt.Sprint(i)
		dev.Docs = append(dev.Docs, b)
		dev.DocIDs = append(dev.DocIDs, "d"+id)
		dev.Queries["q"+id] = a
		dev.Qrels["q"+id] = map[string]int{"d" + id: 1}
	}
	return p, dev
}

func smallModel(t testing.TB, tying encoder.Tying) *encoder.Model {
	m, err := encoder.New(encoder.Config{Features: encoder.FeatureConfig{Bits: 12}, BagDim: 32, Hidden: []int{32}, Dim: 32, Tying: tying}, 1)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestTrainLearnsMapping(t *testing.T) {
	for _, c := range []struct {
		loss  string
		tying encoder.Tying
	}{
		{"infonce", encoder.Tied},
		{"infonce", encoder.Untied},
		{"triplet-hard", encoder.Heads},
		{"contrastive", encoder.Tied},
		{"bce", encoder.Tied},
	} {
		t.Run(c.loss+"-"+string(c.tying), func(t *testing.T) {
			bl := newBilingual(1, 40)
			train, dev := bl.data(2, 600, 60)
			m := smallModel(t, c.tying)
			before, _, err := dev.Evaluate(context.Background(), m)
			if err != nil {
				t.Fatal(err)
			}
			res, err := Train(context.Background(), m, Data{Sources: []Source{train}, Dev: dev},
				Options{Loss: c.loss, BatchSize: 32, Epochs: 6, LR: 3e-3, EmbLR: 3e-2, OutDir: t.TempDir(), Seed: 1})
			if err != nil {
				t.Fatal(err)
			}
			if res.Best < before+0.3 || res.Best < 0.5 {
				t.Fatalf("dev nDCG@10 %.3f before, best %.3f after %d steps", before, res.Best, res.Steps)
			}
			for _, p := range []string{res.ModelPath, res.LogPath, res.PlotPath, res.Checkpoint} {
				if st, err := os.Stat(p); err != nil || st.Size() == 0 {
					t.Fatalf("%s: %v", p, err)
				}
			}
			if _, err := encoder.Load(res.ModelPath); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestTrainBadInput(t *testing.T) {
	bl := newBilingual(1, 10)
	train, _ := bl.data(2, 20, 5)
	m := smallModel(t, encoder.Tied)
	ctx := context.Background()
	if _, err := Train(ctx, m, Data{Sources: []Source{train}}, Options{BatchSize: 64, OutDir: t.TempDir()}); !errors.Is(err, ErrData) {
		t.Errorf("batch > data: %v", err)
	}
	if _, err := Train(ctx, m, Data{Sources: []Source{train}}, Options{Loss: "hinge", OutDir: t.TempDir()}); !errors.Is(err, ErrUnknownLoss) {
		t.Errorf("unknown loss: %v", err)
	}
	if _, err := Train(ctx, m, Data{Sources: []Source{train}}, Options{Loss: "cosent", BatchSize: 4, OutDir: t.TempDir()}); err == nil {
		t.Error("cosent on unlabelled pairs: no error")
	}
	if _, err := Train(ctx, m, Data{}, Options{OutDir: t.TempDir()}); !errors.Is(err, ErrData) {
		t.Errorf("no data: %v", err)
	}
	if _, _, err := SplitQrels(eval.Qrels{}, 0.1, 1); !errors.Is(err, ErrNoQrels) {
		t.Errorf("empty qrels: %v", err)
	}
}

func TestTrainStopsOnNaN(t *testing.T) {
	bl := newBilingual(1, 10)
	train, _ := bl.data(2, 64, 5)
	m := smallModel(t, encoder.Tied)
	dir := t.TempDir()
	// The loss turns NaN at step 5 (a temperature of 0 gives Inf - Inf).
	l := &InfoNCE{Temperature: 0.05}
	opt := Options{BatchSize: 16, Steps: 8, OutDir: dir, CheckpointEvery: 2, lossOverride: l}
	opt.Progress = func(p Progress) {
		if p.Step == 4 {
			l.Temperature = 0
		}
	}
	_, err := Train(context.Background(), m, Data{Sources: []Source{train}}, opt)
	if !errors.Is(err, ErrNonFinite) || !strings.Contains(err.Error(), "step 5") {
		t.Fatalf("err = %v", err)
	}
	// The checkpoint of step 4 is intact and resumable.
	m2 := smallModel(t, encoder.Tied)
	n, _ := newNet(m2)
	s, err := loadCheckpoint(filepath.Join(dir, "checkpoint.bin"), m2, newStepper(n, &InfoNCE{Temperature: 0.05}, 1))
	if err != nil || s.Step != 4 {
		t.Fatalf("checkpoint: step %d, %v", s.Step, err)
	}
}

func weightsEqual(t *testing.T, a, b *encoder.Model) {
	t.Helper()
	if a.Fingerprint() != b.Fingerprint() {
		var diff float64
		for i := range a.Query.Emb {
			diff = math.Max(diff, math.Abs(float64(a.Query.Emb[i]-b.Query.Emb[i])))
		}
		t.Fatalf("models differ (max embedding difference %g)", diff)
	}
}

func resumeRun(t *testing.T, dir string, stopAfter int, resume bool) (*encoder.Model, *Result) {
	bl := newBilingual(3, 30)
	train, dev := bl.data(4, 300, 20)
	m := smallModel(t, encoder.Tied)
	res, err := Train(context.Background(), m, Data{Sources: []Source{train}, Dev: dev},
		Options{BatchSize: 16, Steps: 60, EvalEvery: 10, CheckpointEvery: 5, OutDir: dir, Resume: resume, StopAfter: stopAfter, Workers: 2, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	return m, res
}

func TestResumeSameAsUninterrupted(t *testing.T) {
	ref, refRes := resumeRun(t, t.TempDir(), 0, false)
	dir := t.TempDir()
	_, part := resumeRun(t, dir, 23, false)
	if part.Steps != 23 || part.Stopped != "cancelled" {
		t.Fatalf("interrupted run: %+v", part)
	}
	got, res := resumeRun(t, dir, 0, true)
	if res.Resumed != 23 || res.Steps != 60 {
		t.Fatalf("resumed run: %+v", res)
	}
	weightsEqual(t, ref, got)
	if res.Best != refRes.Best || res.BestStep != refRes.BestStep {
		t.Fatalf("best %g@%d, uninterrupted %g@%d", res.Best, res.BestStep, refRes.Best, refRes.BestStep)
	}
}

// TestResumeAfterSIGKILL trains in a child process, kills it with SIGKILL
// once a checkpoint exists, resumes here and compares with an
// uninterrupted run.
func TestResumeAfterSIGKILL(t *testing.T) {
	if dir := os.Getenv("TWIN_TRAINER_CHILD"); dir != "" {
		// Child: train slowly enough to be killed mid-way.
		bl := newBilingual(3, 30)
		train, dev := bl.data(4, 300, 20)
		m := smallModel(t, encoder.Tied)
		opt := Options{BatchSize: 16, Steps: 60, EvalEvery: 10, CheckpointEvery: 5, OutDir: dir, Workers: 2, Seed: 7}
		opt.Progress = func(Progress) { time.Sleep(20 * time.Millisecond) }
		Train(context.Background(), m, Data{Sources: []Source{train}, Dev: dev}, opt)
		os.Exit(0)
	}
	if testing.Short() {
		t.Skip("spawns a child process")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestResumeAfterSIGKILL$")
	cmd.Env = append(os.Environ(), "TWIN_TRAINER_CHILD="+dir)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ckpt := filepath.Join(dir, "checkpoint.bin")
	deadline := time.Now().Add(60 * time.Second)
	for {
		if st, err := os.Stat(ckpt); err == nil && st.Size() > 0 {
			time.Sleep(150 * time.Millisecond) // land somewhere between checkpoints
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("child wrote no checkpoint")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	err := cmd.Wait()
	if err == nil {
		t.Fatal("child finished before it was killed; make it slower")
	}
	got, res := resumeRun(t, dir, 0, true)
	if res.Resumed == 0 || res.Resumed >= 60 {
		t.Fatalf("resumed from step %d", res.Resumed)
	}
	ref, _ := resumeRun(t, t.TempDir(), 0, false)
	weightsEqual(t, ref, got)
	t.Logf("killed child, resumed from step %d", res.Resumed)
}

func TestLRSchedule(t *testing.T) {
	o := Options{Steps: 100, Warmup: 10, Decay: "linear"}
	if o.lrAt(5) != 0.5 || o.lrAt(10) != 1 || o.lrAt(100) != 0 {
		t.Fatal(o.lrAt(5), o.lrAt(10), o.lrAt(100))
	}
	o.Decay = "cosine"
	if v := o.lrAt(55); math.Abs(v-0.5) > 1e-12 {
		t.Fatal(v)
	}
}

func TestCheckpointCorruption(t *testing.T) {
	dir := t.TempDir()
	bl := newBilingual(1, 10)
	train, _ := bl.data(2, 64, 5)
	m := smallModel(t, encoder.Tied)
	if _, err := Train(context.Background(), m, Data{Sources: []Source{train}}, Options{BatchSize: 16, Steps: 3, OutDir: dir}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "checkpoint.bin")
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	load := func(b []byte) error {
		os.WriteFile(path, b, 0o644)
		m2 := smallModel(t, encoder.Tied)
		n, _ := newNet(m2)
		_, err := loadCheckpoint(path, m2, newStepper(n, &InfoNCE{Temperature: 0.05}, 1))
		return err
	}
	if err := load(good); err != nil {
		t.Fatalf("round trip: %v", err)
	}
	for _, off := range []int{3, 30, len(good) / 2, len(good) - 2} {
		bad := append([]byte(nil), good...)
		bad[off] ^= 0x40
		if err := load(bad); !errors.Is(err, frame.ErrCorrupt) {
			t.Errorf("flipped byte %d: %v", off, err)
		}
	}
	for _, n := range []int{0, 10, len(good) / 3, len(good) - 1} {
		if err := load(good[:n]); err == nil {
			t.Errorf("truncated to %d bytes: no error", n)
		}
	}
	// A checkpoint of another architecture is refused.
	os.WriteFile(path, good, 0o644)
	other, _ := encoder.New(encoder.Config{Features: encoder.FeatureConfig{Bits: 12}, BagDim: 64, Hidden: []int{32}, Dim: 32}, 1)
	n, _ := newNet(other)
	if _, err := loadCheckpoint(path, other, newStepper(n, &InfoNCE{Temperature: 0.05}, 1)); err == nil {
		t.Error("checkpoint loaded into a different architecture")
	}
}
