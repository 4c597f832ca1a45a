package lsh

import (
	"math/bits"
	"slices"
)

// prober generates multi-probe perturbations for one table (Lv et al.,
// "Multi-Probe LSH", 2007, query-directed probing adapted to sign bits): the
// bits are ranked by the squared margin of their projection (how close the
// vector lies to that hyperplane), and flip sets are produced in increasing
// order of the sum of their squared margins with the shift/expand heap, so
// every set is generated once and in order.
type prober struct {
	order []int     // bit indices by increasing margin
	m2    []float64 // m2[i] = squared margin of bit order[i]
	heap  []pset
	out   []uint64
}

type pset struct {
	score float64
	pos   uint64 // set of positions into order
}

// sequence returns the first n flip masks (XOR with the home key) for the
// projections proj of one table, best first. The slice is reused by the
// next call.
func (p *prober) sequence(proj []float32, n int) []uint64 {
	k := len(proj)
	if cap(p.order) < k {
		p.order = make([]int, k)
		p.m2 = make([]float64, k)
	}
	p.order = p.order[:k]
	p.m2 = p.m2[:k]
	for i := range p.order {
		p.order[i] = i
	}
	slices.SortFunc(p.order, func(a, b int) int {
		ma, mb := abs32(proj[a]), abs32(proj[b])
		switch {
		case ma < mb:
			return -1
		case ma > mb:
			return 1
		}
		return a - b
	})
	for i, b := range p.order {
		m := float64(proj[b])
		p.m2[i] = m * m
	}
	p.out = p.out[:0]
	p.heap = p.heap[:0]
	p.pushSet(pset{p.m2[0], 1})
	for len(p.out) < n && len(p.heap) > 0 {
		a := p.popSet()
		var mask uint64
		for s := a.pos; s != 0; s &= s - 1 {
			mask |= 1 << uint(p.order[trailing(s)])
		}
		p.out = append(p.out, mask)
		top := 63 - leading(a.pos)
		if top+1 < k {
			// shift: replace the largest position by the next one
			p.pushSet(pset{a.score - p.m2[top] + p.m2[top+1], a.pos&^(1<<uint(top)) | 1<<uint(top+1)})
			// expand: add the next position
			p.pushSet(pset{a.score + p.m2[top+1], a.pos | 1<<uint(top+1)})
		}
	}
	return p.out
}

func (p *prober) pushSet(s pset) {
	p.heap = append(p.heap, s)
	h := p.heap
	i := len(h) - 1
	for i > 0 {
		q := (i - 1) / 2
		if h[q].score <= h[i].score {
			break
		}
		h[q], h[i] = h[i], h[q]
		i = q
	}
}

func (p *prober) popSet() pset {
	h := p.heap
	top := h[0]
	last := len(h) - 1
	h[0] = h[last]
	h = h[:last]
	i := 0
	for {
		l := 2*i + 1
		if l >= len(h) {
			break
		}
		m := l
		if r := l + 1; r < len(h) && h[r].score < h[l].score {
			m = r
		}
		if h[i].score <= h[m].score {
			break
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
	p.heap = h
	return top
}

func abs32(x float32) float32 {
	if x < 0 {
		return -x
	}
	return x
}

func trailing(x uint64) int { return bits.TrailingZeros64(x) }
func leading(x uint64) int  { return bits.LeadingZeros64(x) }
