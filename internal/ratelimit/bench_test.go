package ratelimit

import (
	"strconv"
	"sync/atomic"
	"testing"
)

// Keys are spread over many distinct keys so the benchmarks measure the
// steady state of a server with many API keys, and the limit is high so most
// requests are allowed (the allowed path writes; the denied path only reads).

const (
	benchKeys      = 10_000
	benchPerMinute = MaxPerMinute
)

func benchKeyNames() []string {
	keys := make([]string, benchKeys)
	for i := range keys {
		keys[i] = "key-" + strconv.Itoa(i)
	}
	return keys
}

func BenchmarkLocalAllow(b *testing.B) {
	keys := benchKeyNames()
	ctx := b.Context()

	b.Run("serial", func(b *testing.B) {
		lim := NewLocal(nil)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := lim.Allow(ctx, keys[i%benchKeys], benchPerMinute); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("parallel", func(b *testing.B) {
		lim := NewLocal(nil)
		var next atomic.Int64
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				i := next.Add(1)
				if _, err := lim.Allow(ctx, keys[i%benchKeys], benchPerMinute); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

func BenchmarkRedisAllow(b *testing.B) {
	keys := benchKeyNames()
	ctx := b.Context()
	url := testRedisURL(b)

	b.Run("serial", func(b *testing.B) {
		lim := NewRedis(newTestClient(b, url), uniquePrefix(b))
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := lim.Allow(ctx, keys[i%benchKeys], benchPerMinute); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("parallel", func(b *testing.B) {
		lim := NewRedis(newTestClient(b, url), uniquePrefix(b))
		var next atomic.Int64
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				i := next.Add(1)
				if _, err := lim.Allow(ctx, keys[i%benchKeys], benchPerMinute); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
