package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// rowsOp is one request measured with many tasks stored.
type rowsOp struct {
	name string
	do   func(ctx context.Context) error
}

// rowsResult holds one table size's latencies by operation.
type rowsResult struct {
	rows int
	lat  map[string][]time.Duration
	errs map[string]string
}

// phaseRows: the task list, its 20th page, a task creation, the dashboard
// overview and a metrics scrape, first at the smaller table, then with the
// full number of tasks stored.
func phaseRows(ctx context.Context, e *env, r *report) error {
	o := e.o
	c, err := e.newCluster(ctx, "rows")
	if err != nil {
		return err
	}
	defer c.close()
	pool, err := pgxpool.New(ctx, c.dbURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	// The server seeds its default agents on its first start; the seeded
	// tasks are spread over them.
	in, err := c.start(ctx)
	if err != nil {
		return err
	}
	in.stop()
	c.insts = nil

	var results []rowsResult
	var seeded []string
	stored := 0
	for _, size := range []int{o.rowsSmall, o.rows} {
		if size > stored {
			sctx, cancel := context.WithTimeout(ctx, 30*time.Minute)
			t0 := time.Now()
			how, err := seedTo(sctx, c, pool, stored, size)
			cancel()
			if err != nil {
				return err
			}
			seeded = append(seeded, fmt.Sprintf("%s tasks with %s in %s", num(float64(size)), how, time.Since(t0).Round(time.Second)))
			stored = size
		}
		in, err := c.start(ctx)
		if err != nil {
			return err
		}
		res, err := measureRows(ctx, e, c, in, size)
		in.stop()
		c.insts = nil
		if err != nil {
			return err
		}
		results = append(results, res)
	}

	small, big := results[0], results[len(results)-1]
	ops := []string{"list", "page20", "dashboard-list", "create", "overview", "metrics"}
	titles := map[string]string{
		"list":           "`GET /api/v1/resources/tasks?status=completed&domain=finance&limit=20`",
		"page20":         "the same list's 20th page (cursor; the last page if there are fewer)",
		"dashboard-list": "the dashboard's task list, `/tasks?status=completed&domain=finance`",
		"create":         "`POST /api/v1/resources/tasks` (a finance task)",
		"overview":       "the dashboard overview, `GET /`",
		"metrics":        "a `/metrics` scrape",
	}
	var body strings.Builder
	fmt.Fprintf(&body, "Seeded: %s. ", strings.Join(seeded, "; then "))
	fmt.Fprintf(&body, "Then a fresh bizmcp process serves them. Each operation is sent %d times by one client, the operations in turn ", o.rowsSamples)
	body.WriteString("(list, page 20, dashboard list, create, overview, metrics, list, …) after 5 warm-up rounds; latency is the client's, ")
	body.WriteString("on loopback. The created tasks run as usual meanwhile.\n\n")
	fmt.Fprintf(&body, "| operation | p50 at %s tasks | p99 | p50 at %s tasks | p99 | p50 ratio |\n| --- | --- | --- | --- | --- | --- |\n", num(float64(small.rows)), num(float64(big.rows)))
	var bars []bar
	var after []string
	for _, op := range ops {
		s, b := small.lat[op], big.lat[op]
		fmt.Fprintf(&body, "| %s | %s | %s | %s | %s | %s |\n", titles[op], ms(pct(s, 0.5)), ms(pct(s, 0.99)), ms(pct(b, 0.5)), ms(pct(b, 0.99)),
			ratio(float64(pct(b, 0.5)), float64(pct(s, 0.5))))
		for _, res := range results {
			if msg := res.errs[op]; msg != "" {
				after = append(after, fmt.Sprintf("%s at %s tasks: errors, the first: `%s`", titles[op], num(float64(res.rows)), msg))
			}
		}
		peer := fmt.Sprintf("at %s tasks: p50 %s, p99 %s", num(float64(small.rows)), ms(pct(s, 0.5)), ms(pct(s, 0.99)))
		r.row("rows", fmt.Sprintf("with %s tasks stored: %s", num(float64(big.rows)), titles[op]),
			fmt.Sprintf("p50 %s, p99 %s", ms(pct(b, 0.5)), ms(pct(b, 0.99))), peer,
			ratio(float64(pct(b, 0.5)), float64(pct(s, 0.5)))+" of its time at "+num(float64(small.rows)))
		for _, res := range results {
			p50 := pct(res.lat[op], 0.5)
			bars = append(bars, bar{label: fmt.Sprintf("%s, %s tasks", op, num(float64(res.rows))), value: float64(p50) / 1e6, text: "p50 " + ms(p50), ours: true})
		}
	}
	body.WriteString("\n")
	for _, a := range after {
		fmt.Fprintf(&body, "%s\n\n", a)
	}
	body.WriteString(r.chart("rows-p50", barChart("Request latency (p50) by tasks stored", "milliseconds (shorter is better)", bars)))
	r.add("rows", fmt.Sprintf("Rows: requests with %s tasks stored", num(float64(big.rows))), body.String())
	return nil
}

// measureRows sends each operation rowsSamples times, in turn.
func measureRows(ctx context.Context, e *env, c *cluster, in *process, rows int) (rowsResult, error) {
	o := e.o
	res := rowsResult{rows: rows, lat: map[string][]time.Duration{}, errs: map[string]string{}}
	cookie, err := signIn(ctx, in, c.key)
	if err != nil {
		return res, err
	}
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	defer hc.CloseIdleConnections()
	get := func(ctx context.Context, path string, auth string) ([]byte, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, in.url(path), nil)
		if err != nil {
			return nil, err
		}
		if strings.HasPrefix(auth, "bmcp_") {
			req.Header.Set("Authorization", "Bearer "+auth)
		} else if auth != "" {
			req.Header.Set("Cookie", auth)
		}
		resp, err := hc.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		raw, err := io.ReadAll(resp.Body)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("GET %s: %d %s", path, resp.StatusCode, truncate(raw, 200))
		}
		return raw, nil
	}
	const listPath = "/api/v1/resources/tasks?status=completed&domain=finance&limit=20"
	// The 20th page's cursor, found once by paging.
	page20 := listPath
	for range 19 {
		raw, err := get(ctx, page20, c.key)
		if err != nil {
			return res, err
		}
		var pg struct {
			NextCursor string `json:"next_cursor"`
		}
		if err := json.Unmarshal(raw, &pg); err != nil {
			return res, fmt.Errorf("paging %s: %w: %s", listPath, err, truncate(raw, 200))
		}
		if pg.NextCursor == "" {
			break // a small table has fewer pages: the last one stands in
		}
		page20 = listPath + "&cursor=" + url.QueryEscape(pg.NextCursor)
	}
	n := 0
	ops := []rowsOp{
		{"list", func(ctx context.Context) error { _, err := get(ctx, listPath, c.key); return err }},
		{"page20", func(ctx context.Context) error { _, err := get(ctx, page20, c.key); return err }},
		{"dashboard-list", func(ctx context.Context) error {
			_, err := get(ctx, "/tasks?status=completed&domain=finance", cookie)
			return err
		}},
		{"create", func(ctx context.Context) error {
			n++
			_, err := postJSON(ctx, in, c.key, "/api/v1/resources/tasks", fmt.Sprintf(`{"title":"Rows bench %d","domain":"finance","input_data":%s}`, n, financeInput))
			return err
		}},
		{"overview", func(ctx context.Context) error { _, err := get(ctx, "/", cookie); return err }},
		{"metrics", func(ctx context.Context) error { _, err := get(ctx, "/metrics", ""); return err }},
	}
	const warm = 5
	for i := range warm + o.rowsSamples {
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		for _, op := range ops {
			octx, cancel := context.WithTimeout(ctx, 30*time.Second)
			t0 := time.Now()
			err := op.do(octx)
			d := time.Since(t0)
			cancel()
			if err != nil {
				if res.errs[op.name] == "" {
					res.errs[op.name] = err.Error()
				}
				continue
			}
			if i >= warm {
				res.lat[op.name] = append(res.lat[op.name], d)
			}
		}
	}
	for _, op := range ops {
		progress(o, "rows at %s tasks: %-15s p50 %-8s p99 %-8s%s", num(float64(rows)), op.name, ms(pct(res.lat[op.name], 0.5)), ms(pct(res.lat[op.name], 0.99)),
			prefixed(" error: ", res.errs[op.name]))
	}
	return res, nil
}
