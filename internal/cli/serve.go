package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strconv"
	"time"

	mcpsdk "github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/redis/go-redis/v9"

	"github.com/bizmcp/bizmcp/db"
	"github.com/bizmcp/bizmcp/handlers"
	"github.com/bizmcp/bizmcp/handlers/api"
	"github.com/bizmcp/bizmcp/handlers/dashboard"
	"github.com/bizmcp/bizmcp/internal/agents"
	"github.com/bizmcp/bizmcp/internal/auth"
	"github.com/bizmcp/bizmcp/internal/buildinfo"
	"github.com/bizmcp/bizmcp/internal/config"
	"github.com/bizmcp/bizmcp/internal/conformance"
	"github.com/bizmcp/bizmcp/internal/events"
	"github.com/bizmcp/bizmcp/internal/health"
	"github.com/bizmcp/bizmcp/internal/llm"
	"github.com/bizmcp/bizmcp/internal/mcpserver"
	"github.com/bizmcp/bizmcp/internal/metrics"
	"github.com/bizmcp/bizmcp/internal/orchestrator"
	"github.com/bizmcp/bizmcp/internal/ratelimit"
	"github.com/bizmcp/bizmcp/internal/stats"
	"github.com/bizmcp/bizmcp/internal/tools"
)

// serveGCPercent is the collector's target for bizmcp serve when GOGC is
// not set. An MCP call allocates about a thousand objects, most of them in
// the SDK's decoding, and under load the collector took a third of the CPU
// at Go's default of 100. Twice the headroom cut the process's CPU per call
// by about a tenth; docs/benchmarks.md shows the memory it costs.
const serveGCPercent = 200

// gcPercent is the collector's target from GOGC as the runtime reads it
// ("off" or a percentage), applied here too because GOGC may come from
// .env, which the runtime never sees; unset or unreadable, serveGCPercent.
func gcPercent(gogc string) int {
	if gogc == "off" {
		return -1
	}
	if n, err := strconv.Atoi(gogc); err == nil {
		return n
	}
	return serveGCPercent
}

// runServe wires the server together and runs it until ctx is cancelled.
// Shutdown order is the reverse of dependency: HTTP (drain in-flight
// requests), background workers, Redis, then the pool.
func runServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", stderr)
	conformanceMode := fs.Bool("conformance", false, "also mount the MCP conformance fixtures, without authentication, at /conformance/mcp (testing only)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, logger, err := loadConfig(getenv, config.ModeServe, stderr)
	if err != nil {
		return err
	}
	version := buildinfo.Version()
	gogc := gcPercent(getenv("GOGC"))
	debug.SetGCPercent(gogc)
	logger.Info("starting bizmcp", "version", version, "gogc", gogc)

	pool, err := db.Connect(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := db.NewMigrator(pool, logger).Up(ctx); err != nil {
		return err
	}
	queries := db.New(pool)

	m := metrics.New()
	var redisClient *redis.Client
	var primary ratelimit.Limiter
	var redisPinger health.Pinger
	if cfg.RedisURL != "" {
		redisClient, err = newRedisClient(cfg.RedisURL)
		if err != nil {
			return err
		}
		defer redisClient.Close()
		pingCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
		if err := redisClient.Ping(pingCtx).Err(); err != nil {
			logger.Warn("Redis does not answer at start; serving anyway with in-process rate limiting until it does", "err", err)
		}
		cancel()
		primary = ratelimit.NewRedis(redisClient, cfg.RedisPrefix)
		redisPinger = health.PingerFunc(func(ctx context.Context) error { return redisClient.Ping(ctx).Err() })
	} else {
		logger.Warn("REDIS_URL is not set: running as a single instance (rate limits and events in process only)")
	}
	limiter := ratelimit.NewFallback(primary, ratelimit.NewLocal(nil), logger, m.RateLimitFallbacks.Inc)

	usage := auth.NewUsageRecorder(queries, cfg.KeyUsageFlushInterval, logger)
	usage.Start(ctx)
	defer func() {
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := usage.Stop(stopCtx); err != nil {
			logger.Warn("could not record the last API key uses", "err", err)
		}
	}()
	hub := events.NewBus(events.NewHub(), redisClient, cfg.RedisPrefix, logger, events.WithDropHook(m.EventsDropped.Inc))
	hub.Start(context.WithoutCancel(ctx))
	defer hub.Stop()
	keys := auth.NewService(queries, limiter, usage, hub, cfg.RateLimitPerMinute, logger)
	keys.Start(context.WithoutCancel(ctx)) // drops revoked keys from the key cache
	defer keys.Stop()
	sessions := auth.NewSessions(keys, queries, auth.SessionConfig{Idle: cfg.SessionIdleTimeout, MaxAge: cfg.SessionMaxAge}, logger)

	router, err := newLLMRouter(cfg.LLM)
	if err != nil {
		return err
	}
	var components []health.Named
	for _, p := range router.Probes() {
		components = append(components, health.Named{Name: "llm:" + p.Name, Pinger: health.PingerFunc(p.Ping),
			Down: "the LLM provider does not answer; llm_processor and report narratives fail until it does"})
	}
	if name, ok := router.Default(); ok {
		logger.Info("LLM provider configured", "default", name)
	} else {
		logger.Info("no LLM provider configured: llm_processor will refuse, analysis tools work without narratives")
	}
	lm := tools.NewRouterLLM(router, m)
	builtins, err := tools.Builtins(lm)
	if err != nil {
		return err
	}
	registry, err := tools.NewRegistry(queries, builtins...)
	if err != nil {
		return err
	}
	if err := registry.Sync(ctx); err != nil {
		return err
	}
	registry.Start(context.WithoutCancel(ctx), hub, logger) // tool statuses follow tool.status events
	defer registry.Stop()
	executor := tools.NewExecutor(registry, queries, hub, m, logger)
	agentService := agents.NewService(queries, func(name string) bool { _, ok := registry.Lookup(name); return ok }, hub)
	if err := agentService.SeedDefaults(ctx); err != nil {
		return err
	}
	tasks, err := orchestrator.New(pool, queries, executor, hub, logger, orchestrator.Config{
		Workers: cfg.TaskWorkers, RescueAfter: cfg.TaskRescueAfter, LLM: router,
	})
	if err != nil {
		return err
	}
	agentService.OnCapacity(tasks.Wake) // a new, resumed or widened agent starts waiting tasks at once
	components = append([]health.Named{{Name: "task_queue", Pinger: health.PingerFunc(tasks.QueueHealth),
		Down: "tasks are not being picked up (River)"}}, components...)
	checker := health.NewChecker(pool, redisPinger, limiter, version, components...)
	if err := m.Registry.Register(orchestrator.NewCollector(tasks)); err != nil {
		return err
	}
	if err := tasks.Start(ctx); err != nil {
		return fmt.Errorf("start task workers: %w", err)
	}
	defer func() {
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
		defer cancel()
		if err := tasks.Stop(stopCtx); err != nil {
			logger.Warn("task workers did not stop cleanly", "err", err)
		}
	}()
	mcpServer := mcpserver.New(mcpserver.Deps{Executor: executor, Tasks: tasks, Agents: agentService, Events: hub, Version: version, Logger: logger,
		Secret: []byte(cfg.SecretKey), Costs: lm})
	var conformanceServer *mcpsdk.Server
	if *conformanceMode {
		logger.Warn("conformance mode: MCP fixtures are served WITHOUT authentication at /conformance/mcp; never use this in production")
		conformanceServer = conformance.NewServer()
	}

	overviewStats := stats.New(queries, hub.Hub(), logger)
	overviewStats.Start(context.WithoutCancel(ctx))
	defer overviewStats.Stop()

	app := handlers.New(handlers.Deps{
		Logger: logger, Metrics: m,
		API: api.Deps{
			Metrics: m, Keys: keys, Health: checker, Tools: executor, Agents: agentService, Tasks: tasks,
			Events: hub.Hub(), Stopping: ctx.Done(),
		},
		Dashboard: dashboard.Deps{
			Health: checker, Keys: keys, Sessions: sessions, Tasks: tasks, Agents: agentService, Messages: tasks, Tools: executor, Stats: overviewStats,
			Events: hub.Hub(), Stopping: ctx.Done(),
			MCP: mcpServer, Limiter: limiter,
			LoginRateLimitPerMinute: cfg.LoginRateLimitPerMinute, PublicURL: cfg.PublicURL,
			DefaultRateLimit: cfg.RateLimitPerMinute,
			Metrics:          m, Logger: logger,
		},
		MCP: mcpServer, Conformance: conformanceServer, PublicURL: cfg.PublicURL,
		IPLimiter: limiter, IPRateLimitPerMinute: cfg.RateLimitIPPerMinute,
		MaxBodyBytes: cfg.MaxBodyBytes, TrustProxyHeaders: cfg.TrustProxyHeaders,
	})
	app.Start(context.WithoutCancel(ctx))
	defer app.Stop()
	return serveHTTP(ctx, cfg, app, logger)
}

// serveHTTP listens on cfg.HTTPAddr and serves until ctx is cancelled, then
// stops accepting and drains in-flight requests for up to ShutdownTimeout.
func serveHTTP(ctx context.Context, cfg config.Config, handler http.Handler, logger *slog.Logger) error {
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen on HTTP_ADDR %s: %w", cfg.HTTPAddr, err)
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	logger.Info("http server listening", "addr", ln.Addr().String(), "url", publicURL(cfg, ln.Addr()))

	select {
	case err := <-errc:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	logger.Info("shutting down: draining in-flight requests", "timeout", cfg.ShutdownTimeout)
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("drain HTTP requests: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	logger.Info("http server stopped")
	return nil
}

func publicURL(cfg config.Config, addr net.Addr) string {
	if cfg.PublicURL != "" {
		return cfg.PublicURL
	}
	if tcp, ok := addr.(*net.TCPAddr); ok && (tcp.IP.IsUnspecified() || tcp.IP.IsLoopback()) {
		return fmt.Sprintf("http://localhost:%d", tcp.Port)
	}
	return "http://" + addr.String()
}

// newRedisClient builds the client with short timeouts: every rate-limited
// request waits on Redis before it can fall back, so a dead Redis must be
// noticed in about a second, not go-redis's default tens of seconds.
func newRedisClient(redisURL string) (*redis.Client, error) {
	opts, err := redis.ParseURL(redisURL)
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	opts.DialTimeout = time.Second
	opts.DialerRetries = 1
	opts.ReadTimeout = 500 * time.Millisecond
	opts.WriteTimeout = 500 * time.Millisecond
	opts.PoolTimeout = time.Second
	opts.MaxRetries = 1
	// A burst grows the pool up to PoolSize (10 per CPU); go-redis closes
	// idle connections only when it hands one out, so without a cap the
	// burst's connections stay open for good. Keep at most 8 idle.
	opts.MaxIdleConns = 8
	return redis.NewClient(opts), nil
}

// newLLMRouter builds the LLM providers from the configuration: prices from
// LLM_PRICES over the defaults, and Cloud.ru IAM tokens when a
// service-account key is given instead of an API key.
func newLLMRouter(cfg config.LLM) (*llm.Router, error) {
	opts := []llm.Option{llm.WithTimeout(cfg.Timeout)}
	if cfg.Prices != "" {
		prices, err := llm.ParsePrices(cfg.Prices)
		if err != nil {
			return nil, fmt.Errorf("LLM_PRICES: %w", err)
		}
		opts = append(opts, llm.WithPrices(prices))
	}
	if cfg.EvolutionKeyID != "" && cfg.EvolutionAPIKey == "" {
		opts = append(opts, llm.WithEvolutionTokenSource(llm.NewIAMTokenSource(llm.IAMConfig{
			URL: cfg.EvolutionIAMURL, KeyID: cfg.EvolutionKeyID, Secret: cfg.EvolutionKeySecret,
		})))
	}
	return llm.New(cfg, opts...), nil
}
