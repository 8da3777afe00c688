package static_test

import (
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bizmcp/bizmcp/static"
)

// The vendored files are exactly the ones VERSIONS.md records.
func TestVendoredChecksums(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("vendor/VERSIONS.md")
	require.NoError(t, err)
	rows := regexp.MustCompile(`(?m)^\| (\S+\.js) \| (\S+@2\.0\.\d+) \|.*\| ([0-9a-f]{64}) \|$`).FindAllStringSubmatch(string(doc), -1)
	require.Len(t, rows, 2, "VERSIONS.md lists htmx and the ws extension")
	for _, r := range rows {
		b, err := fs.ReadFile(static.FS, "vendor/"+r[1])
		require.NoError(t, err, r[1])
		sum := sha256.Sum256(b)
		require.Equal(t, r[3], hex.EncodeToString(sum[:]), "%s (%s) differs from its recorded checksum", r[1], r[2])
	}
}

func TestServedByContentHash(t *testing.T) {
	t.Parallel()
	h := static.Handler()
	path := static.Path("vendor/htmx.min.js")
	require.Regexp(t, `^/static/vendor/htmx\.min\.js\?v=[0-9a-f]{16}$`, path)

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, "public, max-age=31536000, immutable", rec.Header().Get("Cache-Control"))
	require.Contains(t, rec.Header().Get("Content-Type"), "javascript")
	etag := rec.Header().Get("ETag")
	require.Equal(t, `"`+strings.TrimPrefix(path[strings.Index(path, "?v=")+3:], "")+`"`, etag)

	// Without the current hash: cacheable only with revalidation, and a
	// revalidation costs a 304.
	rec = httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/static/vendor/htmx.min.js?v=old", nil)
	req.Header.Set("If-None-Match", etag)
	h.ServeHTTP(rec, req)
	require.Equal(t, http.StatusNotModified, rec.Code)

	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/static/../static.go", nil))
	require.Equal(t, http.StatusNotFound, rec.Code)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/static/nothing.js", nil))
	require.Equal(t, http.StatusNotFound, rec.Code)
}
