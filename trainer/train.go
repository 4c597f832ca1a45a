package trainer

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/twinsearch/twin/encoder"
	"github.com/twinsearch/twin/internal/frame"
)

// ErrNonFinite reports a NaN or infinite loss or gradient; training stops
// and the last good checkpoint and best model stay as they were.
var ErrNonFinite = errors.New("trainer: loss is not finite")

// Options configure Train. The zero value of each field means the default
// given in its comment.
type Options struct {
	Loss        string      `json:"loss"` // default "infonce"; see LossNames
	LossOptions LossOptions `json:"loss_options"`
	BatchSize   int         `json:"batch_size"` // default 256
	// Steps is the number of optimiser steps; 0 means Epochs passes.
	Steps  int     `json:"steps"`
	Epochs float64 `json:"epochs"` // default 1 (when Steps is 0)
	// LR is the dense layers' learning rate (default 1e-3); EmbLR the
	// embedding table's (default 10 x LR: rows are updated rarely).
	LR             float64 `json:"lr"`
	EmbLR          float64 `json:"emb_lr"`
	WeightDecay    float64 `json:"weight_decay"`     // dense AdamW decay, default 0.01 (negative: 0)
	EmbWeightDecay float64 `json:"emb_weight_decay"` // default 0
	Beta1          float64 `json:"beta1"`            // default 0.9
	Beta2          float64 `json:"beta2"`            // default 0.999
	Eps            float64 `json:"eps"`              // default 1e-8
	// Warmup is the number of linear warm-up steps (default 5% of Steps).
	Warmup int `json:"warmup"`
	// Decay after warm-up: "linear" (default, to 0), "cosine" or "none".
	Decay string  `json:"decay"`
	Clip  float64 `json:"clip"` // global gradient-norm clip, default 1 (negative: off)
	Seed  uint64  `json:"seed"`
	// Workers is the number of goroutines of a step (default GOMAXPROCS).
	Workers int `json:"workers"`
	// EvalEvery runs the dev evaluation every so many steps (default
	// Steps/10, at least 1) and at the end; Patience stops after so many
	// evaluations without improvement (0: never stop early).
	EvalEvery int `json:"eval_every"`
	Patience  int `json:"patience"`
	// OutDir receives model.safetensors (the best model by the dev metric,
	// or the last without a dev set), train.jsonl (log), train.png (plot)
	// and checkpoint.bin. Required.
	OutDir string `json:"out_dir"`
	// CheckpointEvery writes a checkpoint every so many steps (0: only at
	// the end and on cancellation).
	CheckpointEvery int `json:"checkpoint_every"`
	// Resume continues from OutDir/checkpoint.bin when it exists.
	Resume bool `json:"resume"`
	// MineEvery refreshes mined hard negatives every so many epochs (0: no
	// mining); MineDepth is the rank range sampled from (default 30) and
	// MineSkip the top ranks skipped (default 3, likely unlabelled positives).
	// Miner is "model" (exact search with the current model, refreshed
	// every MineEvery epochs, default 1) or "bm25" (once, at the start);
	// "" mines nothing.
	Miner     string  `json:"miner"`
	MineEvery float64 `json:"mine_every"`
	MineDepth int     `json:"mine_depth"`
	MineSkip  int     `json:"mine_skip"`
	// Progress, when set, is called after every step.
	Progress func(Progress) `json:"-"`
	// StopAfter stops (as if cancelled, writing a checkpoint) after this
	// many steps of this call; tests use it. 0: off.
	StopAfter int `json:"-"`

	lossOverride Loss // tests
}

func (o Options) withDefaults(total int) Options {
	if o.Loss == "" {
		o.Loss = "infonce"
	}
	if o.BatchSize == 0 {
		o.BatchSize = 256
	}
	if o.Epochs == 0 {
		o.Epochs = 1
	}
	if o.Steps == 0 {
		o.Steps = max(1, int(math.Ceil(o.Epochs*float64(total)/float64(o.BatchSize))))
	}
	if o.LR == 0 {
		o.LR = 1e-3
	}
	if o.EmbLR == 0 {
		o.EmbLR = 10 * o.LR
	}
	if o.WeightDecay == 0 {
		o.WeightDecay = 0.01
	}
	o.WeightDecay = math.Max(0, o.WeightDecay)
	o.EmbWeightDecay = math.Max(0, o.EmbWeightDecay)
	if o.Beta1 == 0 {
		o.Beta1 = 0.9
	}
	if o.Beta2 == 0 {
		o.Beta2 = 0.999
	}
	if o.Eps == 0 {
		o.Eps = 1e-8
	}
	if o.Warmup == 0 {
		o.Warmup = o.Steps / 20
	}
	if o.Decay == "" {
		o.Decay = "linear"
	}
	if o.Clip == 0 {
		o.Clip = 1
	}
	if o.Workers == 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.EvalEvery == 0 {
		o.EvalEvery = max(1, o.Steps/10)
	}
	if o.MineEvery == 0 {
		o.MineEvery = 1
	}
	if o.MineDepth == 0 {
		o.MineDepth = 30
	}
	if o.MineSkip == 0 {
		o.MineSkip = 3
	}
	return o
}

// Validate reports every problem of o at once.
func (o Options) Validate() error {
	var errs []error
	if _, err := NewLoss(o.Loss, o.LossOptions); o.Loss != "" && err != nil {
		errs = append(errs, err)
	}
	if o.BatchSize < 0 || o.Steps < 0 || o.Epochs < 0 || o.Warmup < 0 || o.EvalEvery < 0 || o.CheckpointEvery < 0 || o.Patience < 0 {
		errs = append(errs, errors.New("trainer: batch size, steps, epochs, warmup, eval/checkpoint intervals and patience must not be negative"))
	}
	if o.LR < 0 || o.EmbLR < 0 {
		errs = append(errs, errors.New("trainer: learning rates must not be negative"))
	}
	switch o.Decay {
	case "", "linear", "cosine", "none":
	default:
		errs = append(errs, fmt.Errorf("trainer: decay %q: want linear, cosine or none", o.Decay))
	}
	switch o.Miner {
	case "", "model", "bm25":
	default:
		errs = append(errs, fmt.Errorf("trainer: miner %q: want model or bm25", o.Miner))
	}
	if o.OutDir == "" {
		errs = append(errs, errors.New("trainer: an output directory is required"))
	}
	return errors.Join(errs...)
}

// lrAt returns the learning-rate multiplier of a 1-based step.
func (o Options) lrAt(step int) float64 {
	if o.Warmup > 0 && step <= o.Warmup {
		return float64(step) / float64(o.Warmup)
	}
	span := float64(o.Steps - o.Warmup)
	if span <= 0 {
		return 1
	}
	p := float64(step-o.Warmup) / span
	switch o.Decay {
	case "cosine":
		return 0.5 * (1 + math.Cos(math.Pi*math.Min(1, p)))
	case "none":
		return 1
	}
	return math.Max(0, 1-p)
}

// Progress is reported after each step.
type Progress struct {
	Step, Steps int
	Epoch       float64
	Loss        float64 // this step's loss
	PairsPerSec float64 // since the start of this call
	Dev         float64 // last dev metric (NaN before the first)
	DevMetric   string
	LR          float64
}

// Record is one line of the JSONL training log.
type Record struct {
	Step     int                `json:"step"`
	Epoch    float64            `json:"epoch"`
	Loss     float64            `json:"loss"`
	GradNorm float64            `json:"grad_norm"`
	LR       float64            `json:"lr"`
	Pairs    float64            `json:"pairs_per_sec"`
	Rows     int                `json:"emb_rows"`
	Dev      map[string]float64 `json:"dev,omitempty"`
	Time     string             `json:"time"`
}

// Result reports a finished run.
type Result struct {
	Steps       int                `json:"steps"`
	Resumed     int                `json:"resumed_from"`
	BestStep    int                `json:"best_step"`
	Best        float64            `json:"best"`
	BestMetrics map[string]float64 `json:"best_metrics,omitempty"`
	Metric      string             `json:"metric,omitempty"`
	FinalLoss   float64            `json:"final_loss"`
	PairsPerSec float64            `json:"pairs_per_sec"`
	Seconds     float64            `json:"seconds"`
	Stopped     string             `json:"stopped"` // "done", "early", "cancelled"
	ModelPath   string             `json:"model"`
	LogPath     string             `json:"log"`
	PlotPath    string             `json:"plot"`
	Checkpoint  string             `json:"checkpoint"`
}

// Data is what Train trains on.
type Data struct {
	Sources []Source
	Weights []float64 // nil: proportional to size
	Dev     Evaluator // nil: no dev evaluation, the last model is kept
	// Mine is the source whose negatives are mined (a *Qrels), or nil.
	Mine *Qrels
}

// state is what a checkpoint holds besides tensors.
type state struct {
	Step        int                `json:"step"`
	Draws       []int64            `json:"draws"`
	Best        float64            `json:"best"`
	BestStep    int                `json:"best_step"`
	BestMetrics map[string]float64 `json:"best_metrics"`
	BadEvals    int                `json:"bad_evals"`
	Scalars     []float64          `json:"scalars,omitempty"`
	MinedAt     float64            `json:"mined_at"`
	Negatives   map[int][]int      `json:"negatives,omitempty"`
	Options     Options            `json:"options"`
}

// Train trains m in place on data. It may move the towers' Emb tables to
// new (huge-page-advised) memory with the same values, so slices of
// m.Query.Emb taken before Train are stale afterwards. It writes the model, the log, the plot
// and checkpoints under opt.OutDir. ctx cancellation writes a checkpoint
// and returns ctx's error with the result so far. A non-finite loss stops
// training with an error wrapping ErrNonFinite naming the step; the files
// written before stay as they were.
func Train(ctx context.Context, m *encoder.Model, data Data, opt Options) (*Result, error) {
	if err := opt.Validate(); err != nil {
		return nil, err
	}
	smp, err := newSampler(data.Sources, data.Weights, opt.Seed)
	if err != nil {
		return nil, err
	}
	total := smp.total()
	opt = opt.withDefaults(total)
	if opt.BatchSize > total {
		return nil, fmt.Errorf("%w: batch size %d is larger than the data (%d items)", ErrData, opt.BatchSize, total)
	}
	loss, err := NewLoss(opt.Loss, opt.LossOptions)
	if err != nil {
		return nil, err
	}
	if opt.lossOverride != nil {
		loss = opt.lossOverride
	}
	if loss.NeedsLabels() && !smp.labelled() {
		return nil, fmt.Errorf("trainer: loss %s needs labelled pairs (a label column)", loss.Name())
	}
	n, err := newNet(m)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(opt.OutDir, 0o755); err != nil {
		return nil, err
	}
	res := &Result{
		ModelPath:  filepath.Join(opt.OutDir, "model.safetensors"),
		LogPath:    filepath.Join(opt.OutDir, "train.jsonl"),
		PlotPath:   filepath.Join(opt.OutDir, "train.png"),
		Checkpoint: filepath.Join(opt.OutDir, "checkpoint.bin"),
		Best:       noBest,
	}
	if data.Dev != nil {
		res.Metric = data.Dev.Metric()
	}
	st := newStepper(n, loss, opt.Workers)
	s := state{Best: noBest}
	if opt.Resume {
		if _, err := os.Stat(res.Checkpoint); err == nil {
			s, err = loadCheckpoint(res.Checkpoint, m, st)
			if err != nil {
				return nil, err
			}
			copy(smp.draws, s.Draws)
			if sp, ok := loss.(*BCE); ok && len(s.Scalars) == 2 {
				sp.SetParams(s.Scalars)
			}
			if data.Mine != nil && s.Negatives != nil {
				data.Mine.Negatives = s.Negatives
			}
			res.Resumed = s.Step
		}
	}
	res.Best, res.BestStep, res.BestMetrics = s.Best, s.BestStep, s.BestMetrics
	logf, records, err := openLog(res.LogPath, s.Step)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	logw := bufio.NewWriter(logf)
	defer logw.Flush()

	saveCkpt := func() error {
		s.Draws = append(s.Draws[:0], smp.draws...)
		s.Options = opt
		s.Options.Progress = nil
		if sp, ok := loss.(*BCE); ok {
			s.Scalars = []float64{sp.Scale, sp.Bias}
		}
		if data.Mine != nil {
			s.Negatives = data.Mine.Negatives
		}
		if err := logw.Flush(); err != nil {
			return err
		}
		return writeCheckpoint(res.Checkpoint, &s, m, st)
	}
	devLast := math.NaN()
	evaluate := func() (bool, error) {
		if data.Dev == nil {
			return false, nil
		}
		v, all, err := data.Dev.Evaluate(ctx, m)
		if err != nil {
			return false, err
		}
		devLast = v
		rec := Record{Step: s.Step, Epoch: smp.epoch(), Dev: all, Loss: math.NaN(), Time: time.Now().UTC().Format(time.RFC3339)}
		records = append(records, rec)
		writeRecord(logw, rec)
		if v > s.Best {
			s.Best, s.BestStep, s.BestMetrics, s.BadEvals = v, s.Step, all, 0
			res.Best, res.BestStep, res.BestMetrics = v, s.Step, all
			return false, m.Save(res.ModelPath)
		}
		s.BadEvals++
		return opt.Patience > 0 && s.BadEvals >= opt.Patience, nil
	}
	if s.Step == 0 && data.Dev != nil {
		if _, err := evaluate(); err != nil {
			return nil, err
		}
	}
	start := time.Now()
	pairs := 0
	stopped := "done"
	h := &hyper{b1: opt.Beta1, b2: opt.Beta2, eps: opt.Eps, wd: opt.WeightDecay, embWD: opt.EmbWeightDecay}
	if opt.Clip > 0 {
		h.clip = opt.Clip
	}
	var runErr error
	for done := 0; s.Step < opt.Steps; done++ {
		if err := ctx.Err(); err != nil {
			stopped, runErr = "cancelled", err
			break
		}
		if opt.StopAfter > 0 && done >= opt.StopAfter {
			stopped = "cancelled"
			break
		}
		if data.Mine != nil {
			switch {
			case opt.Miner == "bm25" && data.Mine.Negatives == nil:
				if err := MineBM25(ctx, data.Mine, opt.MineSkip, opt.MineDepth); err != nil {
					return nil, err
				}
			case opt.Miner == "model" && (data.Mine.Negatives == nil || smp.epoch() >= s.MinedAt+opt.MineEvery):
				if err := MineModel(ctx, m, data.Mine, opt.MineSkip, opt.MineDepth); err != nil {
					return nil, err
				}
				s.MinedAt = smp.epoch()
			}
		}
		b, err := smp.next(int64(s.Step), opt.BatchSize)
		if err != nil {
			return nil, err
		}
		step := s.Step + 1
		mult := opt.lrAt(step)
		h.lr, h.embLR, h.step = opt.LR*mult, opt.EmbLR*mult, step
		r := st.step(b, h)
		if math.IsNaN(r.loss) || math.IsInf(r.loss, 0) {
			logw.Flush()
			return res, fmt.Errorf("%w at step %d (gradient norm %g); last checkpoint and best model kept", ErrNonFinite, step, r.gradNorm)
		}
		s.Step = step
		pairs += b.size()
		res.FinalLoss = r.loss
		rate := float64(pairs) / time.Since(start).Seconds()
		rec := Record{Step: step, Epoch: smp.epoch(), Loss: r.loss, GradNorm: r.gradNorm, LR: h.lr, Pairs: rate, Rows: r.rows, Time: time.Now().UTC().Format(time.RFC3339)}
		records = append(records, rec)
		writeRecord(logw, rec)
		if step%opt.EvalEvery == 0 || step == opt.Steps {
			stop, err := evaluate()
			if err != nil {
				return nil, err
			}
			if stop {
				stopped = "early"
			}
		}
		if opt.Progress != nil {
			opt.Progress(Progress{Step: step, Steps: opt.Steps, Epoch: smp.epoch(), Loss: r.loss, PairsPerSec: rate, Dev: devLast, DevMetric: res.Metric, LR: h.lr})
		}
		if opt.CheckpointEvery > 0 && step%opt.CheckpointEvery == 0 {
			if err := saveCkpt(); err != nil {
				return nil, err
			}
		}
		if stopped == "early" {
			break
		}
	}
	res.Seconds = time.Since(start).Seconds()
	if res.Seconds > 0 {
		res.PairsPerSec = float64(pairs) / res.Seconds
	}
	res.Steps, res.Stopped = s.Step, stopped
	if err := saveCkpt(); err != nil {
		return nil, err
	}
	if data.Dev == nil {
		if err := m.Save(res.ModelPath); err != nil {
			return nil, err
		}
	}
	if err := logw.Flush(); err != nil {
		return nil, err
	}
	if err := writePlot(res.PlotPath, records, res.Metric); err != nil {
		return nil, fmt.Errorf("plot: %w", err)
	}
	return res, runErr
}

func writeRecord(w io.Writer, r Record) {
	if math.IsNaN(r.Loss) {
		r.Loss = 0
	}
	b, _ := json.Marshal(r)
	w.Write(append(b, '\n'))
}

// openLog opens the JSONL log for appending, dropping records after step
// (left by a run killed after its last checkpoint), and returns the records kept.
func openLog(path string, step int) (*os.File, []Record, error) {
	var keep []Record
	if step > 0 {
		if f, err := os.Open(path); err == nil {
			sc := bufio.NewScanner(f)
			for sc.Scan() {
				var r Record
				if json.Unmarshal(sc.Bytes(), &r) == nil && r.Step <= step {
					keep = append(keep, r)
				}
			}
			f.Close()
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, nil, err
	}
	w := bufio.NewWriter(f)
	for _, r := range keep {
		writeRecord(w, r)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, keep, nil
}

// ---------------------------------------------------------------- checkpoints

// Checkpoint file: internal/frame layout (magic "TWINCKPT"), payload =
//
//	u32 len + state JSON | u64 len + model file | per embedding table m, v | per dense layer mW vW mB vB
//
// (float32 little-endian). It is written streaming (the optimiser moments
// are twice the model) to a temp file renamed over the old one.
const (
	ckptMagic = "TWINCKPT"
	// ckptVersion 1: first version.
	ckptVersion = 1
)

type crcWriter struct {
	w   io.Writer
	crc uint32
}

func (c *crcWriter) Write(p []byte) (int, error) {
	c.crc = crc32.Update(c.crc, frame.Castagnoli, p)
	return c.w.Write(p)
}

func floats(w io.Writer, x []float32) error {
	buf := make([]byte, 0, 1<<16)
	for len(x) > 0 {
		k := min(len(x), 1<<14)
		buf = buf[:0]
		for _, v := range x[:k] {
			buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
		}
		if _, err := w.Write(buf); err != nil {
			return err
		}
		x = x[k:]
	}
	return nil
}

func (st *stepper) moments() [][]float32 {
	var out [][]float32
	for i := range st.opt.tm {
		out = append(out, st.opt.tm[i], st.opt.tv[i])
	}
	for i := range st.opt.dm {
		out = append(out, st.opt.dm[i], st.opt.dv[i])
	}
	return out
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

func writeCheckpoint(path string, s *state, m *encoder.Model, st *stepper) error {
	js, err := json.Marshal(s)
	if err != nil {
		return err
	}
	var mc countWriter
	if err := m.Write(&mc); err != nil {
		return err
	}
	n := int64(4+len(js)) + 8 + mc.n
	for _, x := range st.moments() {
		n += int64(4 * len(x))
	}
	return frame.WriteFileAtomic(path, func(w io.Writer) error {
		bw := bufio.NewWriterSize(w, 1<<20)
		cw := &crcWriter{w: bw}
		hdr := append([]byte(ckptMagic), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
		binary.LittleEndian.PutUint32(hdr[8:], ckptVersion)
		binary.LittleEndian.PutUint64(hdr[12:], uint64(n))
		cw.Write(hdr)
		cw.Write(binary.LittleEndian.AppendUint32(nil, uint32(len(js))))
		cw.Write(js)
		cw.Write(binary.LittleEndian.AppendUint64(nil, uint64(mc.n)))
		if err := m.Write(cw); err != nil {
			return err
		}
		for _, x := range st.moments() {
			if err := floats(cw, x); err != nil {
				return err
			}
		}
		if _, err := bw.Write(binary.LittleEndian.AppendUint32(nil, cw.crc)); err != nil {
			return err
		}
		return bw.Flush()
	})
}

// loadCheckpoint restores the weights of m (in place), the optimiser
// moments and returns the state.
func loadCheckpoint(path string, m *encoder.Model, st *stepper) (state, error) {
	var s state
	_, p, err := frame.ReadFile(path, ckptMagic, ckptVersion, ckptVersion)
	if err != nil {
		return s, fmt.Errorf("resume from %s: %w", path, err)
	}
	bad := func(what string) (state, error) {
		return s, fmt.Errorf("resume from %s: %w: %s", path, frame.ErrCorrupt, what)
	}
	if len(p) < 4 {
		return bad("short state")
	}
	l := int(binary.LittleEndian.Uint32(p))
	if l > len(p)-4 {
		return bad("state length")
	}
	if err := json.Unmarshal(p[4:4+l], &s); err != nil {
		return bad("state JSON")
	}
	p = p[4+l:]
	if len(p) < 8 {
		return bad("short model")
	}
	ml := binary.LittleEndian.Uint64(p)
	if ml > uint64(len(p)-8) {
		return bad("model length")
	}
	saved, err := encoder.Read(bytesReader(p[8:8+ml]), int64(ml))
	if err != nil {
		return s, fmt.Errorf("resume from %s: %w", path, err)
	}
	p = p[8+ml:]
	if err := copyWeights(m, saved); err != nil {
		return s, fmt.Errorf("resume from %s: %w", path, err)
	}
	for _, x := range st.moments() {
		if len(p) < 4*len(x) {
			return bad("short optimiser state")
		}
		for i := range x {
			x[i] = math.Float32frombits(binary.LittleEndian.Uint32(p[4*i:]))
		}
		p = p[4*len(x):]
	}
	if len(p) != 0 {
		return bad("trailing bytes")
	}
	if s.Best == 0 && s.BestStep == 0 && s.BestMetrics == nil {
		s.Best = noBest
	}
	return s, nil
}

// copyWeights copies src's weights into dst's tensors (same architecture).
func copyWeights(dst, src *encoder.Model) error {
	if dst.Config.BagDim != src.Config.BagDim || dst.Config.Dim != src.Config.Dim || dst.Config.Tying != src.Config.Tying ||
		len(dst.Query.Emb) != len(src.Query.Emb) || len(dst.Query.Hidden) != len(src.Query.Hidden) {
		return errors.New("checkpoint holds a different architecture than the model being trained")
	}
	for side, tw := range []*encoder.Tower{dst.Query, dst.Doc} {
		sw := src.Query
		if side == 1 {
			sw = src.Doc
		}
		copy(tw.Emb, sw.Emb)
		for i, d := range tw.Hidden {
			copy(d.W, sw.Hidden[i].W)
			copy(d.B, sw.Hidden[i].B)
		}
		copy(tw.Proj.W, sw.Proj.W)
		copy(tw.Proj.B, sw.Proj.B)
	}
	if src.IDF != nil {
		if err := dst.SetIDF(src.IDF); err != nil {
			return err
		}
	}
	dst.ResetFingerprint()
	return nil
}
