package testkit

import (
	"strings"
	"testing"
)

// Addr is the host:port the server listens on.
func (s *Server) Addr() string { return strings.TrimPrefix(s.URL, "http://") }

// StartInstanceOn starts another instance of s's deployment (same
// database, Redis and prefix) listening on addr: with the address of an
// instance that was stopped, it is that server coming back, and clients
// that were connected to it (a browser's live channel) reconnect to the
// same URL.
func (s *Server) StartInstanceOn(t testing.TB, addr string) *Server {
	t.Helper()
	env := make(map[string]string, len(s.Env))
	for k, v := range s.Env {
		env[k] = v
	}
	env["HTTP_ADDR"] = addr
	return startWithEnv(t, env)
}
