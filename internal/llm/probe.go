package llm

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/openai/openai-go/v3/option"
)

// probeEvery is how long a provider check is reused. The health endpoint is
// polled by load balancers and the dashboard overview renders it: without
// the cache each poll would be a request to the provider.
const probeEvery = time.Minute

// Probe checks one configured provider for the health report.
type Probe struct {
	Name string
	// Ping lists the provider's models (GET {base}/models), which costs no
	// tokens; a server without that endpoint (404) still answered. It
	// returns the error the provider's calls would get.
	Ping func(ctx context.Context) error
}

// probeState is the last check of a provider.
type probeState struct {
	mu  sync.Mutex
	at  time.Time
	err error
}

// Probes returns a check per configured provider, in configuration order.
func (r *Router) Probes() []Probe {
	out := make([]Probe, 0, len(r.providers))
	for _, p := range r.providers {
		out = append(out, Probe{Name: p.info.Name, Ping: func(ctx context.Context) error { return r.probe(ctx, p) }})
	}
	return out
}

func (r *Router) probe(ctx context.Context, p *provider) error {
	p.probe.mu.Lock()
	defer p.probe.mu.Unlock() // one check at a time; the others wait for its answer
	if !p.probe.at.IsZero() && time.Since(p.probe.at) < probeEvery {
		return p.probe.err
	}
	actx, cancel := context.WithTimeout(ctx, min(r.timeout, 5*time.Second))
	defer cancel()
	var res *http.Response
	opts := []option.RequestOption{option.WithResponseInto(&res)}
	err := func() error {
		if p.tokens != nil {
			tok, err := p.tokens.Token(actx)
			if err != nil {
				return r.classify(p, nil, tokenError{err}, 1).err
			}
			opts = append(opts, option.WithAPIKey(tok))
		}
		_, err := p.models.List(actx, opts...)
		if err == nil || (res != nil && res.StatusCode == http.StatusNotFound) {
			return nil
		}
		return r.classify(p, res, err, 1).err
	}()
	if ctx.Err() != nil {
		return err // the caller gave up: do not remember its cancellation
	}
	p.probe.at, p.probe.err = time.Now(), err
	return err
}
