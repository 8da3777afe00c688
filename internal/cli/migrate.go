package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/bizmcp/bizmcp/db"
)

// runMigrate applies (up), rolls back one (down) or lists (status) migrations.
func runMigrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("migrate", stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	direction := "up"
	if fs.NArg() > 1 {
		return usageError{"migrate takes one of up, down, status"}
	}
	if fs.NArg() == 1 {
		direction = fs.Arg(0)
	}
	_, logger, pool, err := openDatabase(ctx, getenv, stderr)
	if err != nil {
		return err
	}
	defer pool.Close()
	m := db.NewMigrator(pool, logger)
	switch direction {
	case "up":
		if err := m.Up(ctx); err != nil {
			return err
		}
		fmt.Fprintln(stdout, "database is up to date")
		return nil
	case "down":
		return m.Down(ctx)
	case "status":
		return m.Status(ctx, stdout)
	}
	return usageError{fmt.Sprintf("unknown migrate direction %q: use up, down or status", direction)}
}
