package auth

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/bizmcp/bizmcp/internal/events"
)

// Verified keys are cached in process, by hash, so that a request costs no
// database read. What keeps a revoked key out, on every instance:
//
//   - Revoke drops the key from this instance's cache before it answers, and
//     closes the key's rate-limit budget in Redis (ratelimit.Redis.Close).
//     Every request makes that Redis round trip anyway, so on any instance
//     the first request after the revocation is answered "closed", the entry
//     is dropped and the key is checked in the database again: refused.
//   - The key.revoked event drops the entry on every instance as soon as it
//     arrives (also for revocations by `bizmcp keys revoke`).
//   - When the rate limit was answered without Redis (Result.Degraded: Redis
//     is down), a cached key is checked in the database again on every
//     request, since a closed budget could not be seen.
//   - An entry is used for at most keyCacheTTL after it was read from the
//     database. That is the bound when the revoking instance could write
//     neither the closed budget nor the event to Redis while this one still
//     reached Redis.
//
// Expiry is checked on every use against the cached expires_at.
const (
	keyCacheTTL = 15 * time.Second
	// keyCacheMax bounds the cache; keys are created by administrators,
	// so a deployment has far fewer, and a full cache only means database
	// reads for the keys that did not fit.
	keyCacheMax = 10_000
)

// keyCache holds principals of verified keys by the SHA-256 of the key.
type keyCache struct {
	mu      sync.RWMutex
	entries map[[32]byte]cachedKey
}

type cachedKey struct {
	principal Principal
	loadedAt  time.Time
}

func newKeyCache() *keyCache {
	return &keyCache{entries: map[[32]byte]cachedKey{}}
}

// get returns the principal cached for hash if it was loaded less than
// keyCacheTTL before now.
func (c *keyCache) get(hash [32]byte, now time.Time) (Principal, bool) {
	c.mu.RLock()
	e, ok := c.entries[hash]
	c.mu.RUnlock()
	if !ok || now.Sub(e.loadedAt) >= keyCacheTTL {
		return Principal{}, false
	}
	return e.principal, true
}

func (c *keyCache) put(hash [32]byte, p Principal, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= keyCacheMax {
		for h, e := range c.entries {
			if now.Sub(e.loadedAt) >= keyCacheTTL {
				delete(c.entries, h)
			}
		}
		if len(c.entries) >= keyCacheMax {
			return
		}
	}
	c.entries[hash] = cachedKey{principal: p, loadedAt: now}
}

func (c *keyCache) forget(hash [32]byte) {
	c.mu.Lock()
	delete(c.entries, hash)
	c.mu.Unlock()
}

// forgetKey drops the entry of key id, whatever its hash.
func (c *keyCache) forgetKey(id uuid.UUID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for h, e := range c.entries {
		if e.principal.KeyID == id {
			delete(c.entries, h)
		}
	}
}

func (c *keyCache) clear() {
	c.mu.Lock()
	clear(c.entries)
	c.mu.Unlock()
}

// Start listens for key.revoked events, from this instance and (through the
// bus) the others, and drops revoked keys from the cache. When the hub drops
// the subscription for being slow, the whole cache is dropped, since a
// revocation may have been missed. Stop ends it.
func (s *Service) Start(ctx context.Context) {
	isRevoked := func(e events.Event) bool { return e.Type == events.KeyRevoked }
	sub := s.publisher.Subscribe(64, isRevoked)
	ctx, s.stop = context.WithCancel(ctx)
	s.done = make(chan struct{})
	go func() {
		defer close(s.done)
		for {
			select {
			case <-ctx.Done():
				sub.Close()
				return
			case e, ok := <-sub.C:
				if !ok {
					s.cache.clear()
					sub = s.publisher.Subscribe(64, isRevoked)
					continue
				}
				var k struct {
					ID uuid.UUID `json:"id"`
				}
				if err := json.Unmarshal(e.Data, &k); err != nil {
					s.cache.clear() // a revocation we cannot read: forget every key
					continue
				}
				s.cache.forgetKey(k.ID)
			}
		}
	}()
}

// Stop ends what Start began.
func (s *Service) Stop() {
	if s.stop != nil {
		s.stop()
		<-s.done
		s.stop = nil
	}
}
