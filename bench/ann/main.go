// Command ann benchmarks twin's vector indexes on an fvecs/ivecs data set
// (base vectors, queries, exact ground truth): recall@k against the ground
// truth, queries per second at 1 and 2 threads over an ef sweep, build
// seconds at 1 and 2 threads, and bytes per vector, for twin's HNSW, the
// exact Flat index and the coder/hnsw adapter. It prints a Markdown table
// and draws recall vs QPS with gonum/plot.
//
//	go run ./bench/ann -data ../shared/data/ann -name gmm100k -plot bench/ann-recall-qps.png
//
// Memory while serving: -save g.hnsw writes the graph; a second run with
// -rss g.hnsw loads only the graph and the queries, serves them for a few
// seconds and prints VmRSS/VmHWM.
package main

import (
	"flag"
	"fmt"
	"image/color"
	"log"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/twinsearch/twin/index"
	"github.com/twinsearch/twin/internal/vec"
	"github.com/twinsearch/twin/internal/vecio"
)

var (
	dataDir    = flag.String("data", "../shared/data/ann", "directory holding NAME_base.fvecs, NAME_query.fvecs, NAME_gt.ivecs")
	name       = flag.String("name", "gmm100k", "data set name")
	k          = flag.Int("k", 10, "recall@k")
	m          = flag.Int("m", 16, "HNSW M")
	efc        = flag.Int("efc", 200, "HNSW efConstruction")
	efList     = flag.String("ef", "16,24,32,48,64,96,128,192,256", "efSearch sweep")
	threads    = flag.String("threads", "1,2", "search thread counts")
	buildThr   = flag.String("build-threads", "1,2", "HNSW build thread counts (the last build is searched)")
	repeat     = flag.Int("repeat", 3, "timed passes over the queries per point (median QPS reported)")
	which      = flag.String("indexes", "hnsw,flat,coder", "indexes to run")
	coderN     = flag.Int("coder-n", 0, "build coder/hnsw on the first N base vectors only (0 = all)")
	coderEf    = flag.String("coder-ef", "16,64,256", "coder/hnsw ef sweep")
	plotPath   = flag.String("plot", "", "write a recall-vs-QPS PNG here")
	savePath   = flag.String("save", "", "save the HNSW graph here after building")
	rssPath    = flag.String("rss", "", "only load this saved graph, serve the queries and report RSS")
	seed       = flag.Uint64("seed", 1, "HNSW level seed")
	serveSecs  = flag.Float64("serve-seconds", 5, "with -rss: seconds of serving")
	rssThreads = flag.Int("rss-threads", 2, "with -rss: serving goroutines")
	delFrac    = flag.Float64("delete", 0.1, "after the HNSW sweep, delete this fraction of ids at random, check results and re-add them (0 = skip)")
	collDir    = flag.String("collection", "", "only open this collection (built with twin build --vectors NAME_base.fvecs), report recall/QPS through Collection.Search and RSS")
	loadPath   = flag.String("load", "", "load the HNSW graph from this snapshot instead of building it")
	cpuProfile = flag.String("cpuprofile", "", "write a CPU profile of the search sweep here")
)

func ints(s string) []int {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil {
			log.Fatalf("bad number %q", f)
		}
		out = append(out, n)
	}
	return out
}

func readF(path string) [][]float32 {
	f, err := os.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	rows, err := vecio.ReadFvecs(f)
	if err != nil {
		log.Fatalf("%s: %v", path, err)
	}
	return rows
}

func readI(path string) [][]int32 {
	f, err := os.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	rows, err := vecio.ReadIvecs(f)
	if err != nil {
		log.Fatalf("%s: %v", path, err)
	}
	return rows
}

// searcher is what the timing loop needs.
type searcher func(dst []vec.Hit, q []float32, k, ef int) ([]vec.Hit, error)

// run answers every query once per pass over t goroutines and returns the
// median QPS (wall clock), the median queries per CPU-second of the search
// threads (what one dedicated core would do: on a shared machine wall-clock
// QPS mostly measures the other jobs) and the results of the last pass.
func run(s searcher, qs [][]float32, k, ef, t, passes int) (float64, float64, [][]vec.Hit) {
	res := make([][]vec.Hit, len(qs))
	var qps, cpuQPS []float64
	for range passes {
		start := time.Now()
		var wg sync.WaitGroup
		cpu := make([]float64, t)
		for w := range t {
			wg.Add(1)
			go func() {
				defer wg.Done()
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				c0 := threadCPU()
				buf := make([]vec.Hit, 0, k)
				for i := w; i < len(qs); i += t {
					hits, err := s(buf[:0], qs[i], k, ef)
					if err != nil {
						log.Fatal(err)
					}
					res[i] = append(res[i][:0], hits...)
				}
				cpu[w] = threadCPU() - c0
			}()
		}
		wg.Wait()
		qps = append(qps, float64(len(qs))/time.Since(start).Seconds())
		var sum float64
		for _, c := range cpu {
			sum += c
		}
		cpuQPS = append(cpuQPS, float64(len(qs))/sum)
	}
	slices.Sort(qps)
	slices.Sort(cpuQPS)
	return qps[len(qps)/2], cpuQPS[len(cpuQPS)/2], res
}

// threadCPU is the calling OS thread's CPU time in seconds.
func threadCPU() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru)
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}

func recall(res [][]vec.Hit, gt [][]int32, k int) float64 {
	found := 0
	for i, hits := range res {
		want := map[int32]bool{}
		for _, id := range gt[i][:k] {
			want[id] = true
		}
		for _, h := range hits[:min(k, len(hits))] {
			if want[int32(h.ID)] {
				found++
			}
		}
	}
	return float64(found) / float64(k*len(res))
}

type row struct {
	index    string
	ef       int
	recall   float64
	qps      map[int]float64
	cpuQPS   float64 // queries per CPU-second, 1 thread
	build    string
	bytesPer string
}

func heapBytes() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

func procStatus(field string) string {
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, field+":") {
			return strings.TrimSpace(strings.TrimPrefix(l, field+":"))
		}
	}
	return "?"
}

func main() {
	log.SetFlags(0)
	flag.Parse()
	base := filepath.Join(*dataDir, *name)
	queries := readF(base + "_query.fvecs")
	if *rssPath != "" {
		serveRSS(queries)
		return
	}
	if *collDir != "" {
		serveCollection(queries, readI(base+"_gt.ivecs"))
		return
	}
	gt := readI(base + "_gt.ivecs")
	data := readF(base + "_base.fvecs")
	if len(data) == 0 || len(queries) != len(gt) || len(gt[0]) < *k {
		log.Fatalf("data set %s: %d base, %d queries, %d ground-truth rows", base, len(data), len(queries), len(gt))
	}
	dim := len(data[0])
	fmt.Printf("data %s: %d x %d base, %d queries, k=%d, GOMAXPROCS=%d, %s\n\n", base, len(data), dim, len(queries), *k, runtime.GOMAXPROCS(0), time.Now().UTC().Format(time.RFC3339))
	ids := make([]uint32, len(data))
	for i := range ids {
		ids[i] = uint32(i)
	}
	var rows []row
	thr := ints(*threads)
	want := map[string]bool{}
	for _, w := range strings.Split(*which, ",") {
		want[strings.TrimSpace(w)] = true
	}
	if want["flat"] {
		h0 := heapBytes()
		f := index.NewFlat(dim)
		t0 := time.Now()
		for i, v := range data {
			f.Add(uint32(i), v)
		}
		bt := time.Since(t0).Seconds()
		bpv := float64(heapBytes()-h0) / float64(len(data))
		r := row{index: "flat", qps: map[int]float64{}, build: fmt.Sprintf("%.2f", bt), bytesPer: fmt.Sprintf("%.0f", bpv)}
		var res [][]vec.Hit
		for _, t := range thr {
			var cq float64
			r.qps[t], cq, res = run(func(dst []vec.Hit, q []float32, k, ef int) ([]vec.Hit, error) {
				h, err := f.Search(q, k, ef)
				return append(dst, h...), err
			}, queries, *k, 0, t, *repeat)
			if t == 1 {
				r.cpuQPS = cq
			}
		}
		r.recall = recall(res, gt, *k)
		rows = append(rows, r)
		// Batched exact search (all cores) for the record.
		t0 = time.Now()
		bres, _ := f.SearchBatch(queries, *k, 0)
		fmt.Printf("flat SearchBatch over all cores: %.0f QPS, recall@%d %.4f\n\n", float64(len(queries))/time.Since(t0).Seconds(), *k, recall(bres, gt, *k))
		f = nil
		printTable(rows[len(rows)-1:], thr)
	}
	if want["hnsw"] {
		var h *index.HNSW
		var builds []string
		var bpv string
		bts := ints(*buildThr)
		if *loadPath != "" {
			bts = nil
			var err error
			if h, err = index.LoadHNSW(*loadPath); err != nil {
				log.Fatal(err)
			}
			builds = append(builds, "loaded")
			bpv = fmt.Sprintf("%.0f", float64(h.MemoryBytes())/float64(len(data)))
		}
		for _, bt := range bts {
			h = nil
			h0 := heapBytes()
			h = index.NewHNSW(dim, index.HNSWOptions{M: *m, EfConstruction: *efc, Seed: *seed})
			t0, c0 := time.Now(), cpuSeconds()
			if err := h.AddBatch(ids, data, bt); err != nil {
				log.Fatal(err)
			}
			sec, cpu := time.Since(t0).Seconds(), cpuSeconds()-c0
			builds = append(builds, fmt.Sprintf("%.1f s (%d thr, %.1f CPU s)", sec, bt, cpu))
			bpv = fmt.Sprintf("%.0f (heap %.0f)", float64(h.MemoryBytes())/float64(len(data)), float64(heapBytes()-h0)/float64(len(data)))
			fmt.Printf("hnsw build M=%d efC=%d on %d threads: %.1f s wall, %.1f s CPU\n", *m, *efc, bt, sec, cpu)
		}
		if *savePath != "" {
			if err := h.Save(*savePath); err != nil {
				log.Fatal(err)
			}
		}
		if *cpuProfile != "" {
			pf, err := os.Create(*cpuProfile)
			if err != nil {
				log.Fatal(err)
			}
			pprof.StartCPUProfile(pf)
			defer pprof.StopCPUProfile()
		}
		for _, ef := range ints(*efList) {
			r := row{index: fmt.Sprintf("hnsw M=%d efC=%d", *m, *efc), ef: ef, qps: map[int]float64{}, build: strings.Join(builds, ", "), bytesPer: bpv}
			var res [][]vec.Hit
			for _, t := range thr {
				var cq float64
				r.qps[t], cq, res = run(h.SearchAppend, queries, *k, ef, t, *repeat)
				if t == 1 {
					r.cpuQPS = cq
				}
			}
			r.recall = recall(res, gt, *k)
			rows = append(rows, r)
			fmt.Printf("  ef=%d recall=%.4f qps=%v per-CPU-s=%.0f\n", ef, r.recall, r.qps, r.cpuQPS)
		}
		fmt.Println()
		if *delFrac > 0 {
			deletes(h, data, queries, gt)
		}
		h = nil
	}
	if want["coder"] {
		n := len(data)
		if *coderN > 0 && *coderN < n {
			n = *coderN
		}
		h0 := heapBytes()
		c := index.NewCoderHNSW(dim, *m, 20, int64(*seed))
		t0 := time.Now()
		for i, v := range data[:n] {
			if err := c.Add(uint32(i), v); err != nil {
				log.Fatal(err)
			}
		}
		bt := time.Since(t0).Seconds()
		bpv := fmt.Sprintf("heap %.0f", float64(heapBytes()-h0)/float64(n))
		fmt.Printf("coder/hnsw build on %d vectors: %.1f s\n", n, bt)
		// Ground truth for a prefix of the base set: recompute exactly.
		cgt := gt
		if n < len(data) {
			f := index.NewFlat(dim)
			for i, v := range data[:n] {
				f.Add(uint32(i), v)
			}
			ex, _ := f.SearchBatch(queries, *k, 0)
			cgt = make([][]int32, len(ex))
			for i, hs := range ex {
				for _, x := range hs {
					cgt[i] = append(cgt[i], int32(x.ID))
				}
			}
		}
		for _, ef := range ints(*coderEf) {
			r := row{index: fmt.Sprintf("coder/hnsw v0.6.1 M=%d (n=%d)", *m, n), ef: ef, qps: map[int]float64{}, build: fmt.Sprintf("%.1f s (1 thr)", bt), bytesPer: bpv}
			var res [][]vec.Hit
			for _, t := range thr {
				var cq float64
				r.qps[t], cq, res = run(func(dst []vec.Hit, q []float32, k, ef int) ([]vec.Hit, error) {
					h, err := c.Search(q, k, ef)
					return append(dst, h...), err
				}, queries, *k, ef, t, *repeat)
				if t == 1 {
					r.cpuQPS = cq
				}
			}
			r.recall = recall(res, cgt, *k)
			rows = append(rows, r)
			fmt.Printf("  coder ef=%d recall=%.4f qps=%v\n", ef, r.recall, r.qps)
		}
		fmt.Println()
	}
	printTable(rows, thr)
	if *plotPath != "" {
		if err := drawPlot(rows, thr, *plotPath); err != nil {
			log.Fatal(err)
		}
		fmt.Printf("\nplot: %s\n", *plotPath)
	}
}

func printTable(rows []row, thr []int) {
	hdr := "| index | ef | recall@10 |"
	sep := "| --- | --: | --: |"
	for _, t := range thr {
		hdr += fmt.Sprintf(" QPS %d thr |", t)
		sep += " --: |"
	}
	fmt.Println(hdr + " queries/CPU-s 1 thr | build | bytes/vector |")
	fmt.Println(sep + " --: | --- | --- |")
	for _, r := range rows {
		ef := "-"
		if r.ef > 0 {
			ef = strconv.Itoa(r.ef)
		}
		line := fmt.Sprintf("| %s | %s | %.4f |", r.index, ef, r.recall)
		for _, t := range thr {
			line += fmt.Sprintf(" %.0f |", r.qps[t])
		}
		fmt.Println(line + fmt.Sprintf(" %.0f | %s | %s |", r.cpuQPS, r.build, r.bytesPer))
	}
}

func drawPlot(rows []row, thr []int, path string) error {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s: recall@%d vs QPS", *name, *k)
	p.X.Label.Text = fmt.Sprintf("recall@%d", *k)
	p.Y.Label.Text = "queries per second"
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Legend.Top = false // bottom left is empty: flat sits bottom right, coder/hnsw top left
	p.Legend.Left = true
	colors := []color.Color{
		color.RGBA{0, 90, 200, 255}, color.RGBA{200, 60, 0, 255}, color.RGBA{0, 150, 60, 255},
		color.RGBA{120, 0, 160, 255}, color.RGBA{100, 100, 100, 255}, color.RGBA{200, 160, 0, 255},
	}
	ci := 0
	groups := map[string][]row{}
	var order []string
	for _, r := range rows {
		if _, ok := groups[r.index]; !ok {
			order = append(order, r.index)
		}
		groups[r.index] = append(groups[r.index], r)
	}
	for _, g := range order {
		for _, t := range thr {
			var pts plotter.XYs
			for _, r := range groups[g] {
				if r.qps[t] > 0 {
					pts = append(pts, plotter.XY{X: r.recall, Y: r.qps[t]})
				}
			}
			if len(pts) == 0 {
				continue
			}
			l, s, err := plotter.NewLinePoints(pts)
			if err != nil {
				return err
			}
			c := colors[ci%len(colors)]
			ci++
			l.Color, s.Color = c, c
			p.Add(l, s)
			p.Legend.Add(fmt.Sprintf("%s, %d thr", g, t), l, s)
		}
	}
	for _, g := range order {
		var pts plotter.XYs
		for _, r := range groups[g] {
			if r.cpuQPS > 0 {
				pts = append(pts, plotter.XY{X: r.recall, Y: r.cpuQPS})
			}
		}
		if len(pts) < 2 {
			continue
		}
		l, s, err := plotter.NewLinePoints(pts)
		if err != nil {
			return err
		}
		c := colors[ci%len(colors)]
		ci++
		l.Color, s.Color = c, c
		l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		p.Add(l, s)
		p.Legend.Add(fmt.Sprintf("%s, queries per CPU-second (1 thr)", g), l, s)
	}
	ref, err := plotter.NewScatter(plotter.XYs{{X: 0.984, Y: 10000}})
	if err != nil {
		return err
	}
	ref.Color = color.Black
	p.Add(ref)
	p.Legend.Add("hnswlib ef=64, 1 thr (reference, same machine)", ref)
	return p.Save(9*vg.Inch, 6*vg.Inch, path)
}

// serveRSS loads a saved graph, serves the queries for a while and reports
// the process's resident memory.
func serveRSS(queries [][]float32) {
	debug.FreeOSMemory()
	before := procStatus("VmRSS")
	h, err := index.LoadHNSW(*rssPath)
	if err != nil {
		log.Fatal(err)
	}
	runtime.GC()
	debug.FreeOSMemory()
	loaded := procStatus("VmRSS")
	deadline := time.Now().Add(time.Duration(*serveSecs * float64(time.Second)))
	var wg sync.WaitGroup
	var mu sync.Mutex
	total := 0
	for w := range *rssThreads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]vec.Hit, 0, *k)
			n := 0
			for i := w; time.Now().Before(deadline); i++ {
				buf, _ = h.SearchAppend(buf[:0], queries[i%len(queries)], *k, 64)
				n++
			}
			mu.Lock()
			total += n
			mu.Unlock()
		}()
	}
	wg.Wait()
	fmt.Printf("graph %s: %d vectors x %d, graph arrays %.1f MB\n", *rssPath, h.Len(), h.Dim(), float64(h.MemoryBytes())/1e6)
	fmt.Printf("VmRSS before load %s, after load %s, after serving %d queries (ef=64, %d goroutines) %s; VmHWM %s\n",
		before, loaded, total, *rssThreads, procStatus("VmRSS"), procStatus("VmHWM"))
}

// deletes removes a random fraction of the ids, checks that none comes
// back and measures recall@k against the ground truth minus the deleted
// ids (the first k survivors of the exact top-100), after Compact, and
// after re-adding them.
func deletes(h *index.HNSW, data, queries [][]float32, gt [][]int32) {
	rng := rand.New(rand.NewPCG(*seed, 99))
	nDel := int(*delFrac * float64(len(data)))
	del := map[uint32]bool{}
	for len(del) < nDel {
		del[uint32(rng.IntN(len(data)))] = true
	}
	t0 := time.Now()
	for id := range del {
		if err := h.Delete(id); err != nil {
			log.Fatal(err)
		}
	}
	delSec := time.Since(t0).Seconds()
	live := make([][]int32, len(gt))
	for i, row := range gt {
		for _, id := range row {
			if !del[uint32(id)] {
				live[i] = append(live[i], id)
			}
		}
		if len(live[i]) < *k {
			log.Fatalf("query %d: fewer than %d ground-truth ids survive the deletes", i, *k)
		}
	}
	check := func(stage string) {
		for _, ef := range []int{64, 128} {
			leaked := 0
			res := make([][]vec.Hit, len(queries))
			for i, q := range queries {
				hits, err := h.Search(q, *k, ef)
				if err != nil {
					log.Fatal(err)
				}
				for _, x := range hits {
					if del[x.ID] {
						leaked++
					}
				}
				res[i] = hits
			}
			// Also a wide search: deleted ids must not appear anywhere.
			for _, q := range queries[:100] {
				hits, _ := h.Search(q, 100, 200)
				for _, x := range hits {
					if del[x.ID] {
						leaked++
					}
				}
			}
			fmt.Printf("  %s: ef=%d recall@%d on the remaining %.4f, deleted ids returned: %d (live %d, tombstones %d)\n",
				stage, ef, *k, recall(res, live, *k), leaked, h.Len(), h.Tombstones())
		}
	}
	fmt.Printf("deleted %d of %d ids at random in %.2f s (auto-compaction at 25%% tombstones)\n", nDel, len(data), delSec)
	check("tombstones")
	t0 = time.Now()
	h.Compact()
	fmt.Printf("compacted in %.2f s\n", time.Since(t0).Seconds())
	check("compacted")
	ids := make([]uint32, 0, nDel)
	vs := make([][]float32, 0, nDel)
	for id := range del {
		ids = append(ids, id)
		vs = append(vs, data[id])
	}
	t0 = time.Now()
	if err := h.AddBatch(ids, vs, 0); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("re-added %d ids in %.2f s; live %d\n", nDel, time.Since(t0).Seconds(), h.Len())
	clear(del)
	for _, ef := range []int{64, 128} {
		res := make([][]vec.Hit, len(queries))
		for i, q := range queries {
			res[i], _ = h.Search(q, *k, ef)
		}
		fmt.Printf("  re-added: ef=%d recall@%d %.4f\n", ef, *k, recall(res, gt, *k))
	}
	fmt.Println()
}

// serveCollection opens a collection read-only and measures recall, QPS
// and RSS through Collection.Search (graph search plus Badger lookups of
// the doc ids, which are row numbers).
func serveCollection(queries [][]float32, gt [][]int32) {
	debug.FreeOSMemory()
	before := procStatus("VmRSS")
	t0 := time.Now()
	c, err := index.Open(*collDir, index.Options{ReadOnly: true})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	openSec := time.Since(t0).Seconds()
	runtime.GC()
	opened := procStatus("VmRSS")
	for _, ef := range ints(*efList) {
		for _, t := range ints(*threads) {
			res := make([][]vec.Hit, len(queries))
			start := time.Now()
			var wg sync.WaitGroup
			for w := range t {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := w; i < len(queries); i += t {
						hits, err := c.Search(queries[i], *k, ef)
						if err != nil {
							log.Fatal(err)
						}
						res[i] = res[i][:0]
						for _, h := range hits {
							id, _ := strconv.Atoi(h.DocID)
							res[i] = append(res[i], vec.Hit{ID: uint32(id), Score: h.Score})
						}
					}
				}()
			}
			wg.Wait()
			fmt.Printf("| collection | %d | %d | %.4f | %.0f |\n", ef, t, recall(res, gt, *k), float64(len(queries))/time.Since(start).Seconds())
		}
	}
	fmt.Printf("collection %s: %d docs, opened in %.2f s; VmRSS before open %s, after open %s, after serving %s; VmHWM %s\n",
		*collDir, c.Len(), openSec, before, opened, procStatus("VmRSS"), procStatus("VmHWM"))
}

// cpuSeconds is the process's user+system CPU time: on a shared machine
// it shows the work a build did when wall time shows the contention.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}
