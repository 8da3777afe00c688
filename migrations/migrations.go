// Package migrations embeds the goose SQL migrations so the binary migrates
// its own database; sqlc reads the same files as its schema.
package migrations

import "embed"

// FS holds the *.sql migrations, named NNNNN_description.sql.
//
//go:embed *.sql
var FS embed.FS
