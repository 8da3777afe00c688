// Package static embeds the dashboard's assets (CSS, and the pinned htmx
// files), so the server works offline and from a single binary.
package static

import "embed"

// FS holds the assets, served under /static/.
//
//go:embed *.css
var FS embed.FS
