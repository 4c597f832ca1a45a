package lsh

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/twinsearch/twin/internal/frame"
	"github.com/twinsearch/twin/internal/vec"
)

func TestOptionsValidate(t *testing.T) {
	cases := []struct {
		name string
		o    Options
		want []string // substrings; empty = valid
	}{
		{"ok", Options{Dim: 8, K: 16, L: 4}, nil},
		{"k64", Options{Dim: 8, K: 64, L: 1}, nil},
		{"k65", Options{Dim: 8, K: 65, L: 1}, []string{"K 65"}},
		{"l0", Options{Dim: 8, K: 8, L: 0}, []string{"L 0"}},
		{"dim0", Options{Dim: 0, K: 8, L: 1}, []string{"dim 0"}},
		{"all", Options{Dim: -1, K: 0, L: 0, Probes: -2}, []string{"dim -1", "K 0", "L 0", "probes -2"}},
		{"probes too many", Options{Dim: 4, K: 2, L: 1, Probes: 4}, []string{"probes 4"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.o.Validate()
			if len(c.want) == 0 {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans lines: %q", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if _, err := New(c.o); err == nil {
				t.Error("New accepted invalid options")
			}
		})
	}
}

// TestSCurve checks that the empirical per-table collision rate of random
// pairs at fixed angles matches (1 - theta/pi)^K within 4 standard errors.
func TestSCurve(t *testing.T) {
	const dim, pairs, tables = 48, 400, 16
	rng := rand.New(rand.NewPCG(11, 12))
	for _, k := range []int{1, 4, 10} {
		x, err := New(Options{Dim: dim, K: k, L: tables, Seed: uint64(k)})
		if err != nil {
			t.Fatal(err)
		}
		for _, deg := range []float64{20, 45, 60, 90, 120} {
			theta := deg * math.Pi / 180
			hits := 0
			for range pairs {
				u := randUnit(rng, dim)
				v := atAngle(rng, u, theta)
				su, _ := x.Signature(nil, u)
				sv, _ := x.Signature(nil, v)
				for t := range su {
					if su[t] == sv[t] {
						hits++
					}
				}
			}
			n := float64(pairs * tables)
			got := float64(hits) / n
			want := CollisionProb(math.Cos(theta), k)
			se := math.Sqrt(want*(1-want)/n) + 1e-9
			if math.Abs(got-want) > 4*se+0.002 {
				t.Errorf("K=%d theta=%v°: collision rate %.4f, want %.4f ± %.4f", k, deg, got, want, 4*se)
			} else {
				t.Logf("K=%-2d theta=%3v°: empirical %.4f  theory %.4f  (4se %.4f)", k, deg, got, want, 4*se)
			}
		}
	}
}

func TestProbeSequence(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, k := range []int{1, 3, 6} {
		proj := make([]float32, k)
		for i := range proj {
			proj[i] = float32(rng.NormFloat64())
		}
		var p prober
		all := (1 << k) - 1
		seq := slices.Clone(p.sequence(proj, all+5))
		if len(seq) != all {
			t.Fatalf("K=%d: %d probes, want all %d non-empty flip sets", k, len(seq), all)
		}
		score := func(m uint64) float64 {
			s := 0.0
			for b := range k {
				if m&(1<<b) != 0 {
					s += float64(proj[b]) * float64(proj[b])
				}
			}
			return s
		}
		seen := map[uint64]bool{}
		for i, m := range seq {
			if m == 0 || seen[m] {
				t.Fatalf("K=%d: probe %d mask %b empty or repeated", k, i, m)
			}
			seen[m] = true
			if i > 0 && score(m) < score(seq[i-1])-1e-12 {
				t.Fatalf("K=%d: probe %d out of margin order", k, i)
			}
		}
		// The first probe flips the bit closest to its hyperplane.
		best := 0
		for b := range k {
			if math.Abs(float64(proj[b])) < math.Abs(float64(proj[best])) {
				best = b
			}
		}
		if seq[0] != 1<<best {
			t.Errorf("K=%d: first probe %b, want bit %d", k, seq[0], best)
		}
	}
}

func TestBadVectors(t *testing.T) {
	x, _ := New(Options{Dim: 4, K: 8, L: 2})
	cases := []struct {
		name string
		v    []float32
		want error
	}{
		{"zero", []float32{0, 0, 0, 0}, ErrZeroVector},
		{"nan", []float32{1, float32(math.NaN()), 0, 0}, ErrNotFinite},
		{"inf", []float32{1, float32(math.Inf(1)), 0, 0}, ErrNotFinite},
		{"short", []float32{1, 0}, ErrDim},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := x.Add(1, c.v); !errors.Is(err, c.want) {
				t.Errorf("Add: %v, want %v", err, c.want)
			}
			if _, err := x.Search(c.v, 3, 0); !errors.Is(err, c.want) {
				t.Errorf("Search: %v, want %v", err, c.want)
			}
			if err := x.AddBatch(context.Background(), []uint32{1}, [][]float32{c.v}); !errors.Is(err, c.want) {
				t.Errorf("AddBatch: %v, want %v", err, c.want)
			}
		})
	}
	if x.Len() != 0 {
		t.Errorf("bad vectors were added: Len %d", x.Len())
	}
	if err := x.Delete(9); !errors.Is(err, ErrNotFound) {
		t.Errorf("Delete missing: %v", err)
	}
}

// TestSearchOracle compares Search with exact top-k over clustered data,
// and checks Delete and upsert.
func TestSearchOracle(t *testing.T) {
	const n, dim, k = 3000, 32, 10
	vs := planted(5, n, dim, 600, 6, 0.7)
	x, err := New(Options{Dim: dim, K: 10, L: 12, Probes: 4, Seed: 9})
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range vs {
		if err := x.Add(uint32(i), v); err != nil {
			t.Fatal(err)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var found, total int
	for range 100 {
		q := vs[rng.IntN(n)]
		hits, err := x.Search(q, k, 0)
		if err != nil {
			t.Fatal(err)
		}
		for i := 1; i < len(hits); i++ {
			if hits[i].Score > hits[i-1].Score {
				t.Fatal("hits not best first")
			}
		}
		want := bruteForceTopK(vs, q, k)
		for _, h := range hits {
			if slices.Contains(want, h.ID) {
				found++
			}
		}
		total += k
	}
	recall := float64(found) / float64(total)
	t.Logf("recall@%d = %.3f", k, recall)
	if recall < 0.5 {
		t.Errorf("recall@%d = %.3f, want >= 0.5", k, recall)
	}
	// The query vector itself is always found, first.
	hits, _ := x.Search(vs[17], 1, 1)
	if len(hits) != 1 || hits[0].ID != 17 {
		t.Fatalf("self query: %v", hits)
	}
	if err := x.Delete(17); err != nil {
		t.Fatal(err)
	}
	hits, _ = x.Search(vs[17], 5, 0)
	for _, h := range hits {
		if h.ID == 17 {
			t.Fatal("deleted id returned")
		}
	}
	if x.Len() != n-1 {
		t.Fatalf("Len %d after delete, want %d", x.Len(), n-1)
	}
	// Upsert: id 18 now holds vs[17].
	if err := x.Add(18, vs[17]); err != nil {
		t.Fatal(err)
	}
	if x.Len() != n-1 {
		t.Fatalf("Len %d after upsert, want %d", x.Len(), n-1)
	}
	hits, _ = x.Search(vs[17], 1, 0)
	if len(hits) != 1 || hits[0].ID != 18 || hits[0].Score < 0.999 {
		t.Fatalf("upserted id not found: %v", hits)
	}
	// Delete most ids to force compaction; the rest stay searchable.
	for i := 0; i < n; i++ {
		if i%10 != 0 && i != 17 && i != 18 {
			if err := x.Delete(uint32(i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i := 0; i < n; i += 10 {
		hits, err := x.Search(vs[i], 1, 0)
		if err != nil || len(hits) == 0 || hits[0].ID != uint32(i) {
			t.Fatalf("after compaction, id %d: %v %v", i, hits, err)
		}
	}
}

func TestPersist(t *testing.T) {
	vs := planted(8, 300, 16, 40, 4, 0.9)
	for _, withSource := range []bool{false, true} {
		name := "copies"
		var src func(uint32) []float32
		if withSource {
			name = "source"
			src = func(id uint32) []float32 { return vs[id] }
		}
		t.Run(name, func(t *testing.T) {
			x, _ := New(Options{Dim: 16, K: 6, L: 3, Probes: 2, Rerank: 40, Seed: 77, Source: src})
			for i, v := range vs {
				x.Add(uint32(i), v)
			}
			x.Delete(5)
			path := filepath.Join(t.TempDir(), "lsh.bin")
			if err := x.Save(path); err != nil {
				t.Fatal(err)
			}
			y, err := Load(path, src)
			if err != nil {
				t.Fatal(err)
			}
			if y.Len() != x.Len() || y.Options().K != 6 || y.Options().Seed != 77 || y.Options().Rerank != 40 || y.Options().Probes != 2 {
				t.Fatalf("loaded Len %d opts %+v", y.Len(), y.Options())
			}
			for i := 0; i < len(vs); i += 7 {
				a, _ := x.Search(vs[i], 5, 0)
				b, _ := y.Search(vs[i], 5, 0)
				if !slices.Equal(a, b) {
					t.Fatalf("query %d: %v vs %v", i, a, b)
				}
			}
			data, _ := x.AppendBinary(nil)
			for i := range data {
				bad := slices.Clone(data)
				bad[i] ^= 0x10
				if _, err := Decode(bad, src); !errors.Is(err, frame.ErrCorrupt) {
					t.Fatalf("flipped byte %d: %v, want ErrCorrupt", i, err)
				}
			}
			for _, n := range []int{0, 10, len(data) / 2, len(data) - 1} {
				if _, err := Decode(data[:n], src); err == nil {
					t.Fatalf("truncated to %d accepted", n)
				}
			}
		})
	}
	// An index without vectors needs a source.
	x, _ := New(Options{Dim: 16, K: 6, L: 3, Source: func(id uint32) []float32 { return vs[id] }})
	x.Add(1, vs[1])
	data, _ := x.AppendBinary(nil)
	if _, err := Decode(data, nil); err == nil || !strings.Contains(err.Error(), "source") {
		t.Fatalf("no source: %v", err)
	}
}

// TestPayloadValidation re-frames damaged payloads (valid CRC) so the
// structural checks, not the checksum, must catch them.
func TestPayloadValidation(t *testing.T) {
	vs := planted(8, 50, 8, 5, 3, 0.9)
	x, _ := New(Options{Dim: 8, K: 5, L: 2, Seed: 1})
	for i, v := range vs {
		x.Add(uint32(i), v)
	}
	data, _ := x.AppendBinary(nil)
	_, payload, _ := frame.Decode(data, Magic, 1, 1)
	rng := rand.New(rand.NewPCG(5, 5))
	rejected := 0
	for range 2000 {
		p := slices.Clone(payload)
		switch rng.IntN(3) {
		case 0:
			p[rng.IntN(len(p))] ^= byte(1 << rng.IntN(8))
		case 1:
			p = p[:rng.IntN(len(p))]
		case 2:
			i := rng.IntN(len(p) - 4)
			p[i], p[i+1], p[i+2], p[i+3] = 0xff, 0xff, 0xff, 0x7f
		}
		y, err := Decode(frame.Append(nil, Magic, 1, p), nil)
		if err != nil {
			if !errors.Is(err, frame.ErrCorrupt) {
				t.Fatalf("error not ErrCorrupt: %v", err)
			}
			rejected++
			continue
		}
		// Accepted damage (e.g. a changed vector value) must still be usable.
		y.Search(vs[0], 3, 0)
		y.Dedup(context.Background(), DedupOptions{Threshold: 0.9}, func(Group) error { return nil })
	}
	if rejected == 0 {
		t.Fatal("no damaged payload rejected")
	}
}

func FuzzDecode(f *testing.F) {
	vs := planted(8, 20, 4, 3, 3, 0.9)
	x, _ := New(Options{Dim: 4, K: 3, L: 2, Seed: 1})
	for i, v := range vs {
		x.Add(uint32(i), v)
	}
	good, _ := x.AppendBinary(nil)
	f.Add(good)
	f.Add([]byte{})
	f.Add(good[:len(good)/2])
	f.Fuzz(func(t *testing.T, data []byte) {
		y, err := Decode(data, nil)
		if err != nil {
			return
		}
		again, err := y.AppendBinary(nil)
		if err != nil {
			t.Fatal(err)
		}
		z, err := Decode(again, nil)
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if z.Len() != y.Len() {
			t.Fatal("round trip changed Len")
		}
		if y.Len() > 0 {
			q := make([]float32, y.Dim())
			q[0] = 1
			y.Search(q, 2, 0)
		}
	})
}

func TestChoose(t *testing.T) {
	for _, tau := range []float64{0.5, 0.8, 0.9, 0.95} {
		for _, recall := range []float64{0.9, 0.99} {
			p, err := Choose(PlanOptions{Threshold: tau, Recall: recall, N: 100000})
			if err != nil {
				t.Fatal(err)
			}
			if got := AnyProb(tau, p.K, p.L, p.Radius); got < recall || math.Abs(got-p.Recall) > 1e-12 {
				t.Errorf("tau %v: plan %v predicts %v < %v", tau, p, got, recall)
			}
			if p.Probes != ProbesForRadius(p.K, p.Radius) {
				t.Errorf("probes %d for K=%d radius %d", p.Probes, p.K, p.Radius)
			}
			// Pairs below tau collide less often than pairs at tau.
			if AnyProb(tau-0.3, p.K, p.L, p.Radius) >= p.Recall {
				t.Errorf("tau %v: S-curve not increasing", tau)
			}
		}
	}
	for _, bad := range []PlanOptions{{Threshold: 0}, {Threshold: 1.5}, {Threshold: math.NaN()}, {Threshold: 0.9, Recall: 1}, {Threshold: 0.9, MaxL: -1}} {
		if _, err := Choose(bad); err == nil {
			t.Errorf("Choose(%+v) accepted", bad)
		}
	}
	rows := SCurve(8, 4, 0, nil)
	for i := 1; i < len(rows); i++ {
		if rows[i].Any < rows[i-1].Any || rows[i].Table < rows[i-1].Table {
			t.Fatalf("S-curve not monotone at %v", rows[i].Cos)
		}
	}
	if rows[len(rows)-1].Any != 1 {
		t.Errorf("identical vectors collide with probability %v", rows[len(rows)-1].Any)
	}
}

func TestDedupOptions(t *testing.T) {
	x, _ := New(Options{Dim: 4, K: 4, L: 1})
	for _, tau := range []float64{0, -0.5, 1.0001, math.NaN(), math.Inf(1)} {
		if _, err := x.Dedup(context.Background(), DedupOptions{Threshold: tau}, nil); err == nil {
			t.Errorf("threshold %v accepted", tau)
		}
	}
	if _, err := x.Dedup(context.Background(), DedupOptions{Threshold: 0.9, Representative: "median"}, nil); err == nil {
		t.Error("bad representative accepted")
	}
}

// TestDedupRecall is the candidate-recall oracle test: on a seeded set with
// planted near-duplicate groups, LSH verification must find >= 0.99 of the
// pairs exact all-pairs finds above tau while comparing < 5% of all pairs.
func TestDedupRecall(t *testing.T) {
	const n, dim, tau = 8000, 64, 0.9
	vs := planted(21, n, dim, 800, 6, 0.88)
	oracle := bruteForcePairs(vs, tau)
	// Plan from a sample of random-pair cosines, as the CLI does.
	rng := rand.New(rand.NewPCG(2, 3))
	sample := make([]float64, 2000)
	for i := range sample {
		sample[i] = float64(vec.Dot(vs[rng.IntN(n)], vs[rng.IntN(n)]))
	}
	for _, probing := range []bool{false, true} {
		opts := Options{Dim: dim, Seed: 4}
		if probing {
			// Few tables, more probes: a radius-1 scheme with predicted
			// recall 0.993 at tau.
			p := Plan{K: 13, L: 9, Probes: 13}
			if r := AnyProb(tau, p.K, p.L, 1); r < 0.99 {
				t.Fatalf("fixture predicts recall %v", r)
			}
			opts.K, opts.L, opts.Probes = p.K, p.L, p.Probes
		} else {
			p, err := Choose(PlanOptions{Threshold: tau, Recall: 0.99, N: n, Sample: sample, MaxRadius: -1})
			if err != nil {
				t.Fatal(err)
			}
			opts.K, opts.L = p.K, p.L
		}
		x, _ := New(opts)
		ids := make([]uint32, n)
		for i := range ids {
			ids[i] = uint32(i)
		}
		if err := x.AddBatch(context.Background(), ids, vs); err != nil {
			t.Fatal(err)
		}
		var groups []Group
		st, err := x.Dedup(context.Background(), DedupOptions{Threshold: tau}, func(g Group) error {
			groups = append(groups, g)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		recall := float64(st.Pairs) / float64(len(oracle))
		t.Logf("K=%d L=%d probes=%d: %d/%d oracle pairs (recall %.4f), compared %.3f%% of %d pairs, %d groups, %d docs in groups",
			opts.K, opts.L, opts.Probes, st.Pairs, len(oracle), recall, 100*st.CandidateFraction, st.AllPairs, st.Groups, st.DocsInGroups)
		if len(oracle) < 500 {
			t.Fatalf("oracle found only %d pairs: bad fixture", len(oracle))
		}
		if recall < 0.99 {
			t.Errorf("pair recall %.4f < 0.99", recall)
		}
		if st.CandidateFraction >= 0.05 {
			t.Errorf("compared %.4f of all pairs, want < 0.05", st.CandidateFraction)
		}
		if st.Pairs > int64(len(oracle)) {
			t.Errorf("%d verified pairs > %d oracle pairs", st.Pairs, len(oracle))
		}
		// Every group is connected by oracle pairs and its ids are distinct.
		inOracle := map[[2]int]bool{}
		for _, p := range oracle {
			inOracle[p] = true
		}
		seen := map[uint32]bool{}
		for gi, g := range groups {
			if g.ID != gi || len(g.Members) < 2 || g.Members[0].ID != g.Representative {
				t.Fatalf("group %d malformed: %+v", gi, g)
			}
			for _, m := range g.Members {
				if seen[m.ID] {
					t.Fatalf("id %d in two groups", m.ID)
				}
				seen[m.ID] = true
				if m.ID < g.Representative {
					t.Fatalf("representative %d is not the smallest id (%d)", g.Representative, m.ID)
				}
			}
		}
		if len(seen) != st.DocsInGroups || len(groups) != st.Groups {
			t.Fatalf("stats %+v disagree with %d groups / %d docs", st, len(groups), len(seen))
		}
	}
}

func TestDedupCentralAndChains(t *testing.T) {
	// a-b-c on a line: a~b and b~c but not a~c. One group; b is central.
	rng := rand.New(rand.NewPCG(1, 1))
	const dim = 16
	b := randUnit(rng, dim)
	w := atAngle(rng, b, math.Pi/2)
	at := func(deg float64) []float32 {
		r := deg * math.Pi / 180
		v := make([]float32, dim)
		for i := range v {
			v[i] = float32(math.Cos(r))*b[i] + float32(math.Sin(r))*w[i]
		}
		return v
	}
	x, _ := New(Options{Dim: dim, K: 1, L: 1}) // one bucket or two: everything is a candidate
	x.Add(10, at(-20))
	x.Add(11, at(0))
	x.Add(12, at(20))
	x.Add(13, randUnit(rng, dim))
	for _, rep := range []Representative{RepFirst, RepCentral} {
		var groups []Group
		x2, _ := New(Options{Dim: dim, K: 1, L: 1, Probes: 1})
		for _, id := range []uint32{10, 11, 12} {
			v, _ := x.Vector(id)
			x2.Add(id, v)
		}
		_, err := x2.Dedup(context.Background(), DedupOptions{Threshold: 0.9, Representative: rep}, func(g Group) error {
			groups = append(groups, g)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(groups) != 1 || len(groups[0].Members) != 3 {
			t.Fatalf("%s: groups %+v", rep, groups)
		}
		want := uint32(10)
		if rep == RepCentral {
			want = 11
		}
		if groups[0].Representative != want {
			t.Errorf("%s: representative %d, want %d", rep, groups[0].Representative, want)
		}
	}
}

// TestConcurrent runs searches and dedups while another goroutine adds and
// deletes (run with -race).
func TestConcurrent(t *testing.T) {
	vs := planted(3, 2000, 16, 100, 4, 0.9)
	x, _ := New(Options{Dim: 16, K: 8, L: 4, Probes: 2})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i, v := range vs {
			x.Add(uint32(i), v)
			if i%5 == 4 {
				x.Delete(uint32(i - 2))
			}
		}
	}()
	for i := 0; ; i++ {
		select {
		case <-done:
			if x.Len() != len(vs)-len(vs)/5 {
				t.Fatalf("Len %d", x.Len())
			}
			return
		default:
		}
		if _, err := x.Search(vs[i%len(vs)], 5, 0); err != nil {
			t.Fatal(err)
		}
		if i%50 == 0 {
			if _, err := x.Dedup(context.Background(), DedupOptions{Threshold: 0.9}, func(Group) error { return nil }); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func TestRadixSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	for _, k := range []int{1, 7, 8, 13, 33, 64} {
		for _, n := range []int{0, 1, 5, 1000} {
			keys := make([]uint64, n)
			mask := ^uint64(0)
			if k < 64 {
				mask = 1<<k - 1
			}
			for i := range keys {
				keys[i] = rng.Uint64() & mask & (uint64(rng.IntN(4)) * mask / 3) // many ties
			}
			slots := make([]uint32, n)
			for i := range slots {
				slots[i] = uint32(i)
			}
			var rs radixScratch
			rs.sort(slots, func(s uint32) uint64 { return keys[s] }, k)
			for i := 1; i < n; i++ {
				a, b := slots[i-1], slots[i]
				if keys[a] > keys[b] || (keys[a] == keys[b] && a >= b) {
					t.Fatalf("k=%d n=%d: not sorted stably at %d", k, n, i)
				}
			}
		}
	}
}

func TestSourceErrors(t *testing.T) {
	vs := planted(2, 50, 8, 5, 3, 0.95)
	broken := false
	x, _ := New(Options{Dim: 8, K: 2, L: 2, Source: func(id uint32) []float32 {
		if broken && id == 3 {
			return nil
		}
		return vs[id]
	}})
	for i, v := range vs {
		x.Add(uint32(i), v)
	}
	if _, err := x.Search(vs[3], 5, 0); err != nil {
		t.Fatal(err)
	}
	broken = true
	if _, err := x.Dedup(context.Background(), DedupOptions{Threshold: 0.5}, func(Group) error { return nil }); !errors.Is(err, ErrNoVector) {
		t.Fatalf("Dedup with a broken source: %v", err)
	}
	if _, err := x.Search(vs[3], 50, 4); !errors.Is(err, ErrNoVector) {
		t.Fatalf("Search with a broken source: %v", err)
	}
	if _, err := x.Search(vs[3], 0, 0); !errors.Is(err, ErrBadK) {
		t.Fatalf("k=0: %v", err)
	}
	// emit errors stop Dedup and come back.
	broken = false
	stop := errors.New("stop")
	if _, err := x.Dedup(context.Background(), DedupOptions{Threshold: 0.5}, func(Group) error { return stop }); !errors.Is(err, stop) {
		t.Fatalf("emit error: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := x.Dedup(ctx, DedupOptions{Threshold: 0.5}, func(Group) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}

func TestRerank(t *testing.T) {
	vs := planted(6, 2000, 16, 200, 5, 0.8)
	mk := func(rerank int) *Index {
		x, _ := New(Options{Dim: 16, K: 6, L: 8, Probes: 3, Rerank: rerank, Seed: 3})
		for i, v := range vs {
			x.Add(uint32(i), v)
		}
		return x
	}
	all, big, small := mk(0), mk(1<<20), mk(30)
	var sAll, sSmall float64
	for i := 0; i < len(vs); i += 37 {
		a, _ := all.Search(vs[i], 10, 0)
		b, _ := big.Search(vs[i], 10, 0)
		c, _ := small.Search(vs[i], 10, 0)
		if !slices.Equal(a, b) {
			t.Fatalf("rerank above the candidate count changed the result")
		}
		if len(c) == 0 || c[0].ID != uint32(i) {
			t.Fatalf("rerank 30 lost the query itself: %v", c)
		}
		for j := range min(len(a), len(c)) {
			sAll += float64(a[j].Score)
			sSmall += float64(c[j].Score)
		}
	}
	if sSmall > sAll+1e-3 {
		t.Fatalf("reranking fewer candidates scored higher (%v > %v)", sSmall, sAll)
	}
	var s scratch
	s.nextEpoch(10)
	s.hits = []uint16{3, 1, 2, 2, 1, 3, 0, 0, 0, 0}
	got := s.mostHit([]uint32{0, 1, 2, 3, 4, 5}, 4, 3)
	if !slices.Equal(got, []uint32{0, 2, 3, 5}) {
		t.Fatalf("mostHit: %v", got)
	}
	got = s.mostHit([]uint32{0, 1, 2, 3, 4, 5}, 3, 3)
	if !slices.Equal(got, []uint32{0, 2, 5}) {
		t.Fatalf("mostHit ties: %v", got)
	}
}

func TestAddBatchUpsert(t *testing.T) {
	vs := planted(4, 300, 8, 20, 3, 0.9)
	x, _ := New(Options{Dim: 8, K: 4, L: 3})
	x.Add(7, vs[0])
	ids := []uint32{1, 2, 7, 2}
	batch := [][]float32{vs[1], vs[2], vs[7], vs[9]}
	if err := x.AddBatch(context.Background(), ids, batch); err != nil {
		t.Fatal(err)
	}
	if x.Len() != 3 {
		t.Fatalf("Len %d, want 3", x.Len())
	}
	for id, want := range map[uint32][]float32{1: vs[1], 2: vs[9], 7: vs[7]} {
		got, err := x.Vector(id)
		if err != nil || vec.Dot(got, want) < 0.9999 {
			t.Fatalf("id %d: wrong vector (%v)", id, err)
		}
		hits, _ := x.Search(want, 1, 0)
		if len(hits) != 1 || hits[0].ID != id {
			t.Fatalf("id %d: search %v", id, hits)
		}
	}
	if err := x.AddBatch(context.Background(), []uint32{1}, nil); err == nil {
		t.Fatal("mismatched batch accepted")
	}
}
