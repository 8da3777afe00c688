// Package static embeds the dashboard's assets (CSS, its own small script,
// and the pinned htmx files under vendor/), so the server works offline and
// from a single binary. Every asset is served with an ETag of its content,
// and pages link to it by a URL that carries that hash (Path), so browsers
// may cache it for a year: a new build with a changed file links a new URL.
package static

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"strings"
	"sync"
	"time"
)

//go:embed *.css *.js vendor/*.js
var files embed.FS

// FS holds the assets, as served under /static/.
var FS fs.FS = files

// hashes maps each asset to the first 16 hex digits of its SHA-256; it is
// computed once from the embedded (constant) files.
var hashes = sync.OnceValue(func() map[string]string {
	out := map[string]string{}
	_ = fs.WalkDir(files, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := files.ReadFile(name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		out[name] = hex.EncodeToString(sum[:])[:16]
		return nil
	})
	return out
})

// Path returns the URL of an asset with its content hash, e.g.
// /static/vendor/htmx.min.js?v=0123abcd. An unknown name gives a URL that
// answers 404, which the page tests notice.
func Path(name string) string {
	if h, ok := hashes()[name]; ok {
		return "/static/" + name + "?v=" + h
	}
	return "/static/" + name
}

// Handler serves the assets under /static/. A request naming the current
// hash is cached for a year (immutable); any request carries the ETag, so a
// revalidation costs a 304.
func Handler() http.Handler {
	return http.StripPrefix("/static/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/")
		h, ok := hashes()[name]
		if !ok {
			http.NotFound(w, r)
			return
		}
		b, err := files.ReadFile(name)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("ETag", `"`+h+`"`)
		if r.URL.Query().Get("v") == h {
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			w.Header().Set("Cache-Control", "public, max-age=0, must-revalidate")
		}
		w.Header().Set("X-Content-Type-Options", "nosniff")
		http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(b))
	}))
}
