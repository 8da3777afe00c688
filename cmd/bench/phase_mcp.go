package main

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"time"
)

// mcpSeries is what the rounds measured for one target at one client count.
type mcpSeries struct {
	t       mcpTarget
	clients int
	rates   []float64
	lat     []time.Duration
	errors  int
	limited int
	first   string
	cpuMS   []float64 // server CPU per measured call, per round
	pgMS    []float64 // PostgreSQL's CPU per call, per round
	redisMS []float64 // Redis's
	loadMS  []float64 // the load generator's (the bench process)
	busy    []float64 // share of the machine's cores used, per round
}

// phaseMCP: tools/call against bizmcp's real /mcp (key check, rate limit,
// durable execution log) and against bare peers with a trivial tool, at
// each client count, in both protocol revisions, interleaved round by round.
func phaseMCP(ctx context.Context, e *env, r *report) error {
	o := e.o
	maxClients := 0
	for _, n := range o.mcpClients {
		maxClients = max(maxClients, n)
	}
	c, err := e.newCluster(ctx, "mcp")
	if err != nil {
		return err
	}
	defer c.close()
	biz, err := c.start(ctx)
	if err != nil {
		return err
	}
	keys, err := c.createKeys(ctx, biz, maxClients, `["read","write"]`)
	if err != nil {
		return err
	}
	meter := newCPUMeter(ctx, o)
	procs := map[string]*process{"bizmcp": biz}
	for _, kind := range peerKinds {
		p, err := e.startPeer(ctx, kind)
		if err != nil {
			return err
		}
		defer p.stop()
		procs[kind] = p
	}
	var targets []mcpTarget
	for _, proto := range []string{protoStateful, protoStateless} {
		targets = append(targets,
			mcpTarget{server: "bizmcp", proto: proto, url: biz.url("/mcp"), tool: "sales_forecaster", keys: keys},
			mcpTarget{server: peerMCPGo, proto: proto, url: procs[peerMCPGo].url("/mcp"), tool: peerTool, keys: keys},
			mcpTarget{server: peerGoSDK, proto: proto, url: procs[peerGoSDK].url("/mcp"), tool: peerTool, keys: keys},
		)
	}
	targets = append(targets, mcpTarget{server: peerEcho, proto: protoStateless, url: procs[peerEcho].url("/mcp"), tool: peerTool, keys: keys})

	// A probe call each: a target that cannot answer is reported, not timed.
	var live []mcpTarget
	var broken []string
	for _, t := range targets {
		res := runLoad(ctx, t, 1, 0, 200*time.Millisecond)
		if res.calls == 0 {
			broken = append(broken, fmt.Sprintf("%s: %s", t.label(), res.firstErr))
			progress(o, "mcp: %s does not answer: %s", t.label(), res.firstErr)
			continue
		}
		live = append(live, t)
	}

	series := map[string]*mcpSeries{}
	key := func(t mcpTarget, n int) string { return fmt.Sprintf("%s|%d", t.label(), n) }
	for round := range o.rounds {
		order := live
		if round%2 == 1 {
			order = reversed(live)
		}
		for _, n := range o.mcpClients {
			for _, t := range order {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				p := procs[t.server]
				cpu0, around0 := p.cpuSeconds(), meter.sample()
				res := runLoad(ctx, t, n, o.mcpWarm, o.mcpDuration)
				cpu, around := p.cpuSeconds()-cpu0, meter.since(around0)
				s := series[key(t, n)]
				if s == nil {
					s = &mcpSeries{t: t, clients: n}
					series[key(t, n)] = s
				}
				s.rates = append(s.rates, res.rate())
				s.lat = append(s.lat, res.lat...)
				s.errors += res.errors
				s.limited += res.limited
				if s.first == "" {
					s.first = res.firstErr
				}
				if res.allCalls > 0 {
					perCall := func(sec float64) float64 { return sec * 1000 / float64(res.allCalls) }
					s.cpuMS = append(s.cpuMS, perCall(cpu))
					s.pgMS = append(s.pgMS, perCall(around.pg))
					s.redisMS = append(s.redisMS, perCall(around.redis))
					s.loadMS = append(s.loadMS, perCall(around.client))
					s.busy = append(s.busy, around.busy(cpu))
				}
				progress(o, "mcp round %d/%d: %-40s %2d clients: %8s calls/s  p50 %-8s p99 %-8s errors %d",
					round+1, o.rounds, t.label(), n, num(res.rate()), ms(pct(res.lat, 0.5)), ms(pct(res.lat, 0.99)), res.errors)
			}
		}
	}

	get := func(server, proto string, n int) *mcpSeries {
		for _, s := range series {
			if s.t.server == server && s.t.proto == proto && s.clients == n {
				return s
			}
		}
		return nil
	}
	fig := func(s *mcpSeries) string {
		if s == nil {
			return "n/a"
		}
		return fmt.Sprintf("%s calls/s, p50 %s, p99 %s", num(mean(s.rates)), ms(pct(s.lat, 0.5)), ms(pct(s.lat, 0.99)))
	}
	rate := func(s *mcpSeries) float64 {
		if s == nil {
			return 0
		}
		return mean(s.rates)
	}
	for _, proto := range []string{protoStateful, protoStateless} {
		for i := len(o.mcpClients) - 1; i >= 0; i-- {
			n := o.mcpClients[i]
			b := get("bizmcp", proto, n)
			g, m := get(peerGoSDK, proto, n), get(peerMCPGo, proto, n)
			peers := []string{}
			if m != nil {
				peers = append(peers, fmt.Sprintf("bare mcp-go: %s/s", num(rate(m))))
			}
			if g != nil {
				peers = append(peers, fmt.Sprintf("bare go-sdk: %s/s", num(rate(g))))
			}
			if h := get(peerEcho, protoStateless, n); h != nil && proto == protoStateless {
				peers = append(peers, fmt.Sprintf("net/http JSON-RPC echo: %s/s", num(rate(h))))
			}
			r.row("mcp", fmt.Sprintf("`tools/call` %s, %d client%s (bizmcp: `sales_forecaster`, 5 points; peers: a trivial tool)", proto, n, plural(n)),
				fig(b), strings.Join(peers, "; "),
				fmt.Sprintf("%s mcp-go, %s go-sdk", ratio(rate(b), rate(m)), ratio(rate(b), rate(g))))
		}
	}

	var body strings.Builder
	body.WriteString("A hand-rolled JSON-RPC-over-HTTP client (the same for every server, in the bench's process) sends `tools/call` ")
	body.WriteString("in a closed loop from each client, one keep-alive connection per client. For 2025-11-25 each client first ")
	body.WriteString("sends `initialize` and `notifications/initialized`, then calls with its `Mcp-Session-Id`; for 2026-07-28 each ")
	body.WriteString("call carries `Mcp-Protocol-Version`, `Mcp-Method`, `Mcp-Name` and the protocol version, client info and ")
	body.WriteString("capabilities in `_meta`, with no session. Arguments: `" + callArgs + "`.\n\n")
	body.WriteString("- **bizmcp**: `bin/bizmcp serve` as shipped (API key check, Redis rate limit, the execution log in PostgreSQL, ")
	fmt.Fprintf(&body, "logs at %s to a file), calling `sales_forecaster` with write-scoped keys of the highest limit a key may have (100,000 a minute): ", o.logLevel)
	body.WriteString("a 2025-11-25 client keeps one key for its session, a 2026-07-28 client sends each call with the next of the keys (one per client), so that no key's limit caps the load. ")
	body.WriteString("bizmcp has no trivial tool: every tool computes something and is logged.\n")
	body.WriteString("- **bare go-sdk** (modelcontextprotocol/go-sdk v1.8.0): its stateful `StreamableHTTPHandler` for 2025-11-25, the stateless one for 2026-07-28 (chosen by the `Mcp-Protocol-Version` header), one trivial tool.\n")
	body.WriteString("- **bare mcp-go** (mark3labs/mcp-go v1.2.1): `NewStreamableHTTPServer` with `WithStateful(true)` (sessions validated, as the others do); it serves 2026-07-28 on the same handler.\n")
	body.WriteString("- **net/http JSON-RPC echo**: reads the body, decodes the id, writes a fixed result: the floor of an HTTP round trip here.\n\n")
	fmt.Fprintf(&body, "Each run: %s of warm-up, then %s measured; %d round%s, the order of the servers reversed every other round. ", o.mcpWarm, o.mcpDuration, o.rounds, plural(o.rounds))
	body.WriteString("CPU per call is user+system time (from /proc) during the run, warm-up included, divided by the calls answered: the server process's; ")
	body.WriteString("PostgreSQL's (the postmaster, its backends and the backends it reaped) and Redis's, which only bizmcp uses (a peer's figure there is bizmcp's idle background); ")
	body.WriteString("and the load generator's (the bench process, the same client for every server). ")
	fmt.Fprintf(&body, "*Machine busy* is all of these together over the run's wall time and the machine's %d cores: near 100%% the cores, not the server, were the limit.\n\n", runtime.NumCPU())
	if miss := meter.missing(); len(miss) > 0 {
		fmt.Fprintf(&body, "Not found, so counted as 0: %s (not a local process of this user's).\n\n", strings.Join(miss, ", "))
	}
	body.WriteString("| server | revision | clients | calls/s (mean) | per round | p50 | p99 | CPU per call: server | PostgreSQL | Redis | load generator | machine busy | errors |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, t := range live {
		for _, n := range o.mcpClients {
			s := series[key(t, n)]
			if s == nil {
				continue
			}
			fmt.Fprintf(&body, "| %s | %s | %d | %s | %s | %s | %s | %.2f ms | %.2f ms | %.2f ms | %.2f ms | %.0f%% | %d |\n", t.server, t.proto, n, num(mean(s.rates)), rounds(s.rates),
				ms(pct(s.lat, 0.5)), ms(pct(s.lat, 0.99)), mean(s.cpuMS), mean(s.pgMS), mean(s.redisMS), mean(s.loadMS), 100*mean(s.busy), s.errors)
		}
	}
	for _, s := range series {
		if s.errors > 0 {
			fmt.Fprintf(&body, "\n%s, %d clients: first error: `%s`\n", s.t.label(), s.clients, s.first)
		}
		if s.limited > 0 {
			fmt.Fprintf(&body, "\n%s, %d clients: %d calls refused with 429: a 2025-11-25 session keeps its key, and a key may have at most 100,000 requests a minute (1,667/s): this run was capped by that, not by the server's speed.\n",
				s.t.label(), s.clients, s.limited)
		}
	}
	for _, b := range broken {
		fmt.Fprintf(&body, "\nNot measured (the probe call failed): %s\n", b)
	}
	body.WriteString("\n")
	for _, n := range o.mcpClients {
		var bars []bar
		for _, t := range live {
			if s := series[key(t, n)]; s != nil {
				bars = append(bars, bar{label: t.server + " " + t.proto, value: mean(s.rates),
					text: fmt.Sprintf("%s/s, p99 %s", num(mean(s.rates)), ms(pct(s.lat, 0.99))), ours: t.server == "bizmcp"})
			}
		}
		body.WriteString(r.chart(fmt.Sprintf("mcp-%dclients", n), barChart(fmt.Sprintf("MCP tools/call, %d client%s", n, plural(n)), "calls per second (longer is better)", bars)))
		body.WriteString("\n")
	}
	r.add("mcp", "MCP `tools/call`", body.String())
	return nil
}

func reversed[T any](s []T) []T {
	out := make([]T, len(s))
	for i, v := range s {
		out[len(s)-1-i] = v
	}
	return out
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
