//go:build !amd64

package index

func prefetchVec(p *float32, n int) {}
