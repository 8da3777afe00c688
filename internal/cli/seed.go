package cli

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/bizmcp/bizmcp/db"
	"github.com/bizmcp/bizmcp/internal/seed"
)

// runSeedTasks fills the database with realistic task history for
// benchmarks and demos (internal/seed); running it again adds only what is
// missing.
func runSeedTasks(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("seed-tasks", stderr)
	var (
		n        = fs.Int("n", 100_000, "make sure the seeded tasks numbered 1 to N exist")
		days     = fs.Int("days", 90, "spread the tasks' creation over this many past days")
		batch    = fs.Int("batch", 20_000, "tasks per statement (and transaction)")
		finished = fs.Bool("finished-only", false, "seed completed, failed and cancelled tasks only")
	)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("seed-tasks takes flags only, not %q", fs.Arg(0))}
	}
	if *n < 0 || *batch < 1 || *days < 1 || *days > 3650 {
		return usageError{"seed-tasks needs -n 0 or more, -batch 1 or more and -days between 1 and 3650"}
	}
	_, logger, pool, err := openDatabase(ctx, getenv, stderr)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := db.NewMigrator(pool, logger).Up(ctx); err != nil {
		return err
	}
	if agents, err := db.New(pool).AgentCount(ctx); err == nil && agents == 0 {
		fmt.Fprintln(stderr, "note: there are no agents, so the seeded tasks have none; start the server once first (it creates the six default agents) to seed them with agents")
	}
	opts := []seed.Option{seed.Days(*days), seed.BatchSize(*batch), seed.Progress(func(r seed.Report) {
		fmt.Fprintf(stdout, "%d of %d tasks: %d inserted (%d events, %d tool runs, %d messages) in %s\n",
			r.Done, r.Total, r.Inserted.Tasks, r.Inserted.Events, r.Inserted.Executions, r.Inserted.Messages, r.Elapsed.Round(time.Millisecond))
	})}
	if *finished {
		opts = append(opts, seed.FinishedOnly())
	}
	return seed.Tasks(ctx, pool, *n, opts...)
}
