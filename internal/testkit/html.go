package testkit

import (
	"bytes"
	"context"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"
	"github.com/a-h/templ"
)

// Render renders a templ component into a goquery document, for component
// tests that select elements (by data-testid) instead of matching strings.
func Render(t testing.TB, c templ.Component) *goquery.Document {
	t.Helper()
	var buf bytes.Buffer
	if err := c.Render(context.Background(), &buf); err != nil {
		t.Fatalf("render: %v", err)
	}
	return ParseHTML(t, buf.Bytes())
}

// RenderFragment renders a fragment the way htmx parses one (inside a
// <template>, where a lone <tr> or <tbody> is allowed) and returns the
// template's content to select from.
func RenderFragment(t testing.TB, c templ.Component) *goquery.Selection {
	t.Helper()
	var buf bytes.Buffer
	if err := c.Render(context.Background(), &buf); err != nil {
		t.Fatalf("render: %v", err)
	}
	doc := ParseHTML(t, []byte("<template>"+buf.String()+"</template>"))
	return doc.Find("template").First()
}

// ParseHTML parses an HTML page or fragment.
func ParseHTML(t testing.TB, b []byte) *goquery.Document {
	t.Helper()
	doc, err := goquery.NewDocumentFromReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("parse HTML: %v", err)
	}
	return doc
}

// ByTestID selects the elements with data-testid="id" under s (a document
// or a selection): the one way tests find things on a page.
func ByTestID(s interface {
	Find(string) *goquery.Selection
}, id string) *goquery.Selection {
	return s.Find(`[data-testid="` + id + `"]`)
}

// FormClient is an HTTP client with a cookie jar that does not follow
// redirects: a scripted browser for the dashboard's forms.
type FormClient struct {
	srv    *Server
	Client *http.Client
}

// NewFormClient returns a client for srv with no cookies.
func (s *Server) NewFormClient(t testing.TB) *FormClient {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &FormClient{srv: s, Client: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// SignIn signs in with key and fails the test unless it worked.
func (b *FormClient) SignIn(t testing.TB, key string) {
	t.Helper()
	resp, body := b.PostForm(t, "/login", url.Values{"api_key": {key}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in: status %d\n%s", resp.StatusCode, body)
	}
}

// Get fetches a page.
func (b *FormClient) Get(t testing.TB, path string, headers ...string) (*http.Response, []byte) {
	t.Helper()
	return b.do(t, http.MethodGet, path, nil, headers...)
}

// PostForm posts a form as the page would (same Origin).
func (b *FormClient) PostForm(t testing.TB, path string, form url.Values, headers ...string) (*http.Response, []byte) {
	t.Helper()
	h := append([]string{"Content-Type", "application/x-www-form-urlencoded", "Origin", b.srv.URL}, headers...)
	return b.do(t, http.MethodPost, path, strings.NewReader(form.Encode()), h...)
}

// CSRFToken reads the session's CSRF token from a page's form.
func (b *FormClient) CSRFToken(t testing.TB) string {
	t.Helper()
	_, body := b.Get(t, "/keys/new")
	tok, ok := ParseHTML(t, body).Find(`input[name="csrf_token"]`).First().Attr("value")
	if !ok || tok == "" {
		t.Fatalf("no CSRF token on /keys/new:\n%s", body)
	}
	return tok
}

func (b *FormClient) do(t testing.TB, method, path string, body *strings.Reader, headers ...string) (*http.Response, []byte) {
	t.Helper()
	var req *http.Request
	var err error
	if body != nil {
		req, err = http.NewRequest(method, b.srv.URL+path, body)
	} else {
		req, err = http.NewRequest(method, b.srv.URL+path, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
			continue
		}
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := b.Client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		t.Fatal(err)
	}
	return resp, buf.Bytes()
}
