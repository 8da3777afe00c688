package validate_test

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/bizmcp/bizmcp/internal/apperr"
	"github.com/bizmcp/bizmcp/internal/validate"
)

func TestText(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, in  string
		multiline bool
		want      string // "" = accepted
	}{
		{"plain", "Finance", false, ""},
		{"unicode", "Финансы 😀", false, ""},
		{"real replacement char", "a\uFFFDb", false, ""},
		{"NUL", "a\x00b", false, `name contains a NUL character (\u0000) at offset 1`},
		{"NUL in multiline", "a\n\x00", true, `name contains a NUL character`},
		{"invalid UTF-8", "a\xffb", false, "name is not valid UTF-8 text (a bad byte at offset 1)"},
		{"newline in a single line", "a\nb", false, "control character U+000A"},
		{"newline in multiline", "a\r\n\tb", true, ""},
		{"escape in multiline", "a\x1b[31m", true, "control character U+001B at offset 1: only tabs and line breaks"},
		{"C1 control", "a\u0085", false, "control character U+0085"},
		{"too long", strings.Repeat("й", 11), false, "name is 11 characters long; the limit is 10"},
		{"at the limit", strings.Repeat("й", 10), false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			check := validate.Text
			if tc.multiline {
				check = validate.MultilineText
			}
			err := check("name", tc.in, 10)
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			require.Equal(t, apperr.Invalid, apperr.CodeOf(err))
			require.Contains(t, apperr.MessageOf(err), tc.want)
		})
	}
}

func TestJSON(t *testing.T) {
	t.Parallel()
	deep := strings.Repeat("[", validate.MaxDepth+1) + strings.Repeat("]", validate.MaxDepth+1)
	deepOK := strings.Repeat("[", validate.MaxDepth) + strings.Repeat("]", validate.MaxDepth)
	for _, tc := range []struct {
		name, in string
		want     string // "" = accepted
		code     apperr.Code
	}{
		{"empty", "", "", ""},
		{"object", `{"a": [1, 2.5e10, -0, true, null, "x\"y\\u00e9"]}`, "", ""},
		{"surrogate pair", `{"emoji": "\ud83d\ude00"}`, "", ""},
		{"NUL escape in a value", `{"rows": [{"name": "a\u0000b"}]}`, `config.rows[0].name contains a NUL character (\u0000)`, apperr.Invalid},
		{"NUL escape in a key", `{"a": {"k\u0000": 1}}`, `a key in config.a contains a NUL character`, apperr.Invalid},
		{"lone high surrogate", `{"a": "\ud800"}`, `config.a contains a lone UTF-16 high surrogate (\ud800)`, apperr.Invalid},
		{"high surrogate then text", `["\ud800x"]`, `config[0] contains a lone UTF-16 high surrogate`, apperr.Invalid},
		{"lone low surrogate", `["\udc00"]`, `config[0] contains a lone UTF-16 low surrogate (\udc00)`, apperr.Invalid},
		{"invalid UTF-8", "{\"a\": \"\xff\"}", "config.a is not valid UTF-8", apperr.Invalid},
		{"invalid UTF-8 in a key", "{\"\xc3\": 1}", "a key in config is not valid UTF-8", apperr.Invalid},
		{"odd key quoted in the path", `{"a b": {"c": "\u0000"}}`, `config["a b"].c contains a NUL`, apperr.Invalid},
		{"not JSON", `{"a": }`, "config is not valid JSON", apperr.Invalid},
		{"too deep", deep, "nests objects and arrays more than 64 levels deep", apperr.Invalid},
		{"deep at the limit", deepOK, "", ""},
		{"number overflow", `{"n": 1e400}`, "config.n is 1e400, beyond the range", apperr.Invalid},
		{"huge exponent of zero", `[0e999999]`, "exponents beyond ±1000", apperr.Invalid},
		{"tiny exponent", `[1e-20000]`, "exponents beyond ±1000", apperr.Invalid},
		{"long number", "[0." + strings.Repeat("0", 200) + "1]", "a number written with 203 characters", apperr.Invalid},
		{"too large", `{"a": "` + strings.Repeat("x", 100) + `"}`, "config is 109 bytes of JSON; the limit is 100", apperr.TooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := validate.JSON("config", []byte(tc.in), 100)
			if strings.HasPrefix(tc.name, "deep") || tc.name == "too deep" || tc.name == "long number" {
				err = validate.JSON("config", []byte(tc.in), 0)
			}
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			require.Equal(t, tc.code, apperr.CodeOf(err))
			require.Contains(t, apperr.MessageOf(err), tc.want)
		})
	}
}

func TestClean(t *testing.T) {
	t.Parallel()
	require.Equal(t, "a\uFFFDb\uFFFDc", validate.Clean("a\x00b\xffc"))
	require.Equal(t, "ok ✓", validate.Clean("ok ✓"))
}

// pgChecker asks PostgreSQL itself whether it stores a value: the oracle the
// fuzz targets compare the validator with.
type pgChecker struct{ conn *pgx.Conn }

// It reads BIZMCP_TEST_DATABASE_URL itself rather than through testkit, so
// this package's fuzz binaries do not build the whole server.
func newPGChecker(t testing.TB) pgChecker {
	u := os.Getenv("BIZMCP_TEST_DATABASE_URL")
	if u == "" {
		t.Fatal("BIZMCP_TEST_DATABASE_URL is not set: run the tests with `make test`, which starts PostgreSQL and Redis")
	}
	conn, err := pgx.Connect(context.Background(), u)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close(context.Background()) })
	return pgChecker{conn}
}

func (p pgChecker) jsonb(raw string) error {
	var out string
	return p.conn.QueryRow(context.Background(), "SELECT $1::text::jsonb::text", raw).Scan(&out)
}

func (p pgChecker) text(s string) error {
	var out string
	return p.conn.QueryRow(context.Background(), "SELECT $1::text", s).Scan(&out)
}

// FuzzJSON checks the validator against PostgreSQL and encoding/json: what
// it accepts, jsonb stores and Go decodes; what Go's json.Valid refuses, it
// refuses; it never panics and refuses only with Invalid or TooLarge.
func FuzzJSON(f *testing.F) {
	for _, seed := range []string{
		`{}`, `{"a":[1,2,{"b":null}]}`, `"\u0000"`, `"\ud800"`, `"\udc00\ud800"`, `"\ud83d\ude00"`, "\"\xff\"",
		`[1e400]`, `[1e-400]`, `[0e99999]`, `[-0.0e+5]`, `{"\u0000":1}`, `[[[[[[[[[[]]]]]]]]]]`, `{"a":"\\u0000"}`,
		`"\ud800\u0041"`, `{"a" : 1 , "b" :[ ] }`, `1 2`, `[1,]`, `"\u00e9\/\b\f\n\r\t"`,
	} {
		f.Add([]byte(seed))
	}
	pg := newPGChecker(f)
	f.Fuzz(func(t *testing.T, raw []byte) {
		err := validate.JSON("v", raw, 1<<20)
		if err != nil {
			if c := apperr.CodeOf(err); c != apperr.Invalid && c != apperr.TooLarge {
				t.Fatalf("code %q for %q: %v", c, raw, err)
			}
			return
		}
		if strings.TrimSpace(string(raw)) == "" {
			return
		}
		if !json.Valid(raw) {
			t.Fatalf("accepted invalid JSON %q", raw)
		}
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			t.Fatalf("accepted %q, which Go cannot decode: %v", raw, err)
		}
		if err := pg.jsonb(string(raw)); err != nil {
			t.Fatalf("accepted %q, which PostgreSQL refuses: %v", raw, err)
		}
	})
}

// FuzzText checks Text against PostgreSQL: accepted text is stored.
func FuzzText(f *testing.F) {
	for _, seed := range []string{"name", "a\x00", "\xff", "é\n", "\u2028", "\uFFFD"} {
		f.Add(seed)
	}
	pg := newPGChecker(f)
	f.Fuzz(func(t *testing.T, s string) {
		for _, check := range []func(string, string, int) error{validate.Text, validate.MultilineText} {
			err := check("name", s, 1000)
			if err != nil {
				if apperr.CodeOf(err) != apperr.Invalid {
					t.Fatalf("code %q: %v", apperr.CodeOf(err), err)
				}
				continue
			}
			if err := pg.text(s); err != nil {
				t.Fatalf("accepted %q, which PostgreSQL refuses: %v", s, err)
			}
		}
		if err := pg.text(validate.Clean(s)); err != nil {
			t.Fatalf("Clean(%q) is not storable: %v", s, err)
		}
	})
}

// BenchmarkJSON is the check every tool call's arguments and result go
// through: it should cost no allocations on valid input.
func BenchmarkJSON(b *testing.B) {
	raw := []byte(`{"series":[12,15,14,18,21],"horizon":2,"options":{"seasonal":true,"label":"Q1 \u00e9t\u00e9","tags":["a","b"]}}`)
	b.ReportAllocs()
	for b.Loop() {
		if err := validate.JSON("arguments", raw, 0); err != nil {
			b.Fatal(err)
		}
	}
}
