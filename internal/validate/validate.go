// Package validate is the one place where text and JSON from outside are
// checked before they reach PostgreSQL. PostgreSQL refuses a NUL character
// in text and jsonb, invalid UTF-8, lone UTF-16 surrogates in jsonb
// (\ud800), numbers beyond its numeric range and very deep nesting (stack
// depth): each of those used to surface as a 500. Every domain service runs
// its stored strings and JSON values through Text and JSON on create and on
// update alike, so the same rules hold everywhere, and a refusal is a 400
// (apperr.Invalid, or apperr.TooLarge for a size) that names the field, down
// to the path inside a JSON value ("input_data.rows[3].name").
package validate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/bizmcp/bizmcp/internal/apperr"
)

// Bounds of a JSON value.
const (
	// MaxDepth bounds the nesting of objects and arrays. PostgreSQL's jsonb
	// parser recurses and fails with "stack depth limit exceeded" some
	// thousands of levels down; no business document needs more than a few.
	MaxDepth = 64
	// MaxNumberLength bounds a number's literal, in bytes: PostgreSQL's
	// numeric refuses more than 16383 digits after the point, and no amount
	// needs more than a few dozen.
	MaxNumberLength = 100
	// MaxExponent bounds the magnitude of a number's written exponent, far
	// inside PostgreSQL's numeric range (1e131072, 1e-16383), which Go's
	// float64 parser would otherwise let through as 0 ("0e999999",
	// "1e-20000").
	MaxExponent = 1000
)

// Text checks a single-line text field (a name, a title): valid UTF-8, no
// control characters (NUL, newlines, escapes), at most maxRunes characters
// (0: no limit). field names it in the message.
func Text(field, s string, maxRunes int) error {
	return text(field, s, maxRunes, false)
}

// MultilineText is Text for free text (a description): tabs and line breaks
// are allowed, other control characters are not.
func MultilineText(field, s string, maxRunes int) error {
	return text(field, s, maxRunes, true)
}

func text(field, s string, maxRunes int, multiline bool) error {
	n := 0
	for i, r := range s {
		n++
		switch {
		case r == utf8.RuneError && !isReplacementChar(s[i:]):
			return apperr.E(apperr.Invalid, "%s is not valid UTF-8 text (a bad byte at offset %d): send text encoded as UTF-8", field, i)
		case r == 0:
			return apperr.E(apperr.Invalid, "%s contains a NUL character (\\u0000) at offset %d: remove it, text cannot hold one", field, i)
		case unicode.IsControl(r) && !(multiline && (r == '\n' || r == '\r' || r == '\t')):
			if multiline {
				return apperr.E(apperr.Invalid, "%s contains the control character %U at offset %d: only tabs and line breaks are allowed", field, r, i)
			}
			return apperr.E(apperr.Invalid, "%s contains the control character %U at offset %d: use a single line of printable text", field, r, i)
		}
	}
	if maxRunes > 0 && n > maxRunes {
		return apperr.E(apperr.Invalid, "%s is %d characters long; the limit is %d", field, n, maxRunes)
	}
	return nil
}

// isReplacementChar reports whether s starts with a real U+FFFD (which
// decodes as utf8.RuneError with a width of 3) rather than a bad byte.
func isReplacementChar(s string) bool {
	_, size := utf8.DecodeRuneInString(s)
	return size == 3
}

// Clean makes a text storable whatever it holds, for texts the server
// writes itself but that may quote a client (error messages): invalid
// UTF-8 and NUL become U+FFFD. Use Text to refuse client input instead.
func Clean(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.ReplaceAll(s, "\x00", "\uFFFD")
}

// ErrorText is an error's message as the server stores it (a task's error,
// a timeline entry, an execution record, what a model is shown). Errors may
// quote a provider or a client, so the message is Cleaned: a failure that
// PostgreSQL refuses to record would otherwise be retried forever.
func ErrorText(err error) string {
	return Clean(apperr.MessageOf(err))
}

// JSON checks a JSON value from outside: valid JSON of at most maxBytes
// bytes (0: no limit), valid UTF-8, no NUL character (\u0000) and no lone
// UTF-16 surrogate (\ud800) in any string or key, numbers within float64
// range written with at most MaxNumberLength bytes and an exponent of at
// most ±MaxExponent, and at most MaxDepth levels of nesting. The message
// names field and the path inside the value. An empty raw is valid (the
// caller decides what absent means).
func JSON(field string, raw []byte, maxBytes int) error {
	if maxBytes > 0 && len(raw) > maxBytes {
		return apperr.E(apperr.TooLarge, "%s is %d bytes of JSON; the limit is %d", field, len(raw), maxBytes)
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil
	}
	if utf8.Valid(raw) && !json.Valid(raw) {
		return apperr.E(apperr.Invalid, "%s is not valid JSON", field)
	}
	// Invalid UTF-8 goes to the scanner too: it finds the first bad byte's
	// path.
	var path [8]segment // most values nest less: no allocation for the path
	s := scanner{data: raw, field: field, path: path[:0]}
	return s.run()
}

// IsObject reports whether raw (valid JSON) is an object.
func IsObject(raw []byte) bool {
	s := strings.TrimLeft(string(raw), " \t\r\n")
	return len(s) > 0 && s[0] == '{'
}

// segment is one step of a path inside a JSON value: a key or an index.
// A key is kept as its place in the input (the text between its quotes),
// decoded only when an error names it, so that valid input costs no
// allocation.
type segment struct {
	keyStart, keyEnd int
	index            int
	isKey            bool
}

// scanner walks a JSON value checking what PostgreSQL refuses. It is a
// recursive descent bounded by MaxDepth, so hostile nesting cannot exhaust
// the stack; it also re-checks the syntax it relies on, so it is safe on
// input that was not pre-validated (the invalid UTF-8 path).
type scanner struct {
	data  []byte
	pos   int
	field string
	path  []segment
}

func (s *scanner) run() error {
	if err := s.value(0); err != nil {
		return err
	}
	s.space()
	if s.pos != len(s.data) {
		return s.syntax()
	}
	return nil
}

// where names the current position: field, then the path.
func (s *scanner) where() string {
	var b strings.Builder
	b.WriteString(s.field)
	for i, seg := range s.path {
		// A deep path keeps its first and last steps.
		if n := len(s.path); n > 12 && i >= 6 && i < n-4 {
			if i == 6 {
				b.WriteString("…")
			}
			continue
		}
		if !seg.isKey {
			b.WriteString("[" + strconv.Itoa(seg.index) + "]")
			continue
		}
		key := s.key(seg)
		if isIdent(key) {
			b.WriteString("." + key)
		} else {
			b.WriteString("[" + strconv.Quote(apperr.Truncate(key, 40)) + "]")
		}
	}
	return b.String()
}

// key decodes a key the scanner has read whole (so it is valid JSON text).
func (s *scanner) key(seg segment) string {
	var k string
	_ = json.Unmarshal(s.data[seg.keyStart-1:seg.keyEnd+1], &k)
	return k
}

func isIdent(k string) bool {
	if k == "" || len(k) > 40 {
		return false
	}
	for _, r := range k {
		if !(r == '_' || r == '-' || r < utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r))) {
			return false
		}
	}
	return true
}

func (s *scanner) syntax() error {
	return apperr.E(apperr.Invalid, "%s is not valid JSON (at byte %d)", s.field, s.pos)
}

func (s *scanner) space() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\r', '\n':
			s.pos++
		default:
			return
		}
	}
}

func (s *scanner) value(depth int) error {
	s.space()
	if s.pos >= len(s.data) {
		return s.syntax()
	}
	switch c := s.data[s.pos]; {
	case c == '{' || c == '[':
		if depth >= MaxDepth {
			return apperr.E(apperr.Invalid, "%s nests objects and arrays more than %d levels deep: flatten it", s.where(), MaxDepth)
		}
		if c == '{' {
			return s.object(depth + 1)
		}
		return s.array(depth + 1)
	case c == '"':
		return s.str(false)
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	case c == '-' || c >= '0' && c <= '9':
		return s.number()
	}
	return s.syntax()
}

func (s *scanner) literal(word string) error {
	if !bytes.HasPrefix(s.data[s.pos:], []byte(word)) {
		return s.syntax()
	}
	s.pos += len(word)
	return nil
}

func (s *scanner) object(depth int) error {
	s.pos++ // {
	s.space()
	if s.pos < len(s.data) && s.data[s.pos] == '}' {
		s.pos++
		return nil
	}
	s.path = append(s.path, segment{isKey: true})
	defer func() { s.path = s.path[:len(s.path)-1] }()
	for {
		s.space()
		if s.pos >= len(s.data) || s.data[s.pos] != '"' {
			return s.syntax()
		}
		start := s.pos + 1
		if err := s.str(true); err != nil {
			return err
		}
		s.path[len(s.path)-1].keyStart, s.path[len(s.path)-1].keyEnd = start, s.pos-1
		s.space()
		if s.pos >= len(s.data) || s.data[s.pos] != ':' {
			return s.syntax()
		}
		s.pos++
		if err := s.value(depth); err != nil {
			return err
		}
		s.space()
		if s.pos >= len(s.data) {
			return s.syntax()
		}
		switch s.data[s.pos] {
		case ',':
			s.pos++
		case '}':
			s.pos++
			return nil
		default:
			return s.syntax()
		}
	}
}

func (s *scanner) array(depth int) error {
	s.pos++ // [
	s.space()
	if s.pos < len(s.data) && s.data[s.pos] == ']' {
		s.pos++
		return nil
	}
	s.path = append(s.path, segment{})
	defer func() { s.path = s.path[:len(s.path)-1] }()
	for i := 0; ; i++ {
		s.path[len(s.path)-1].index = i
		if err := s.value(depth); err != nil {
			return err
		}
		s.space()
		if s.pos >= len(s.data) {
			return s.syntax()
		}
		switch s.data[s.pos] {
		case ',':
			s.pos++
		case ']':
			s.pos++
			return nil
		default:
			return s.syntax()
		}
	}
}

// str checks a string at s.pos (its opening quote) and moves past it. A
// key's (isKey) problems are reported at the path of the object holding it.
func (s *scanner) str(isKey bool) error {
	s.pos++ // "
	where := func() string {
		if isKey {
			return fmt.Sprintf("a key in %s", s.whereParent())
		}
		return s.where()
	}
	for {
		if s.pos >= len(s.data) {
			return s.syntax()
		}
		c := s.data[s.pos]
		switch {
		case c == '"':
			s.pos++
			return nil
		case c < 0x20:
			return s.syntax()
		case c == '\\':
			if s.pos+1 >= len(s.data) {
				return s.syntax()
			}
			e := s.data[s.pos+1]
			if e != 'u' {
				if !strings.ContainsRune(`"\/bfnrt`, rune(e)) {
					return s.syntax()
				}
				s.pos += 2
				continue
			}
			r, ok := s.hex4(s.pos + 2)
			if !ok {
				return s.syntax()
			}
			s.pos += 6
			switch {
			case r == 0:
				return apperr.E(apperr.Invalid, "%s contains a NUL character (\\u0000): remove it, stored text cannot hold one", where())
			case r >= 0xDC00 && r <= 0xDFFF:
				return apperr.E(apperr.Invalid, "%s contains a lone UTF-16 low surrogate (\\u%04x): escape characters beyond U+FFFF as a surrogate pair, or send them as UTF-8", where(), r)
			case r >= 0xD800 && r <= 0xDBFF:
				low, ok := rune(0), false
				if s.pos+1 < len(s.data) && s.data[s.pos] == '\\' && s.data[s.pos+1] == 'u' {
					low, ok = s.hex4(s.pos + 2)
				}
				if !ok || low < 0xDC00 || low > 0xDFFF {
					return apperr.E(apperr.Invalid, "%s contains a lone UTF-16 high surrogate (\\u%04x) not followed by a low one: escape characters beyond U+FFFF as a surrogate pair, or send them as UTF-8", where(), r)
				}
				s.pos += 6
			}
		case c < utf8.RuneSelf:
			s.pos++
		default:
			r, size := utf8.DecodeRune(s.data[s.pos:])
			if r == utf8.RuneError && size == 1 {
				return apperr.E(apperr.Invalid, "%s is not valid UTF-8 (a bad byte at offset %d of the JSON): send text encoded as UTF-8", where(), s.pos)
			}
			s.pos += size
		}
	}
}

// whereParent names the object holding the key being read.
func (s *scanner) whereParent() string {
	saved := s.path
	s.path = s.path[:len(s.path)-1]
	w := s.where()
	s.path = saved
	return w
}

func (s *scanner) hex4(at int) (rune, bool) {
	if at+4 > len(s.data) {
		return 0, false
	}
	n, err := strconv.ParseUint(string(s.data[at:at+4]), 16, 32)
	if err != nil {
		return 0, false
	}
	return rune(n), true
}

func (s *scanner) number() error {
	start := s.pos
	for s.pos < len(s.data) {
		c := s.data[s.pos]
		if c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E' || c >= '0' && c <= '9' {
			s.pos++
			continue
		}
		break
	}
	if isSmallInt(s.data[start:s.pos]) {
		return nil // the common case, within every bound: no parse
	}
	lit := string(s.data[start:s.pos])
	if len(lit) > MaxNumberLength {
		return apperr.E(apperr.Invalid, "%s is a number written with %d characters; the limit is %d", s.where(), len(lit), MaxNumberLength)
	}
	if _, err := strconv.ParseFloat(lit, 64); err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return apperr.E(apperr.Invalid, "%s is %s, beyond the range of a double-precision number (about ±1.8e308)", s.where(), apperr.Truncate(lit, 32))
		}
		return s.syntax()
	}
	if i := strings.IndexAny(lit, "eE"); i >= 0 {
		exp, err := strconv.Atoi(strings.TrimPrefix(lit[i+1:], "+"))
		if err != nil || exp > MaxExponent || exp < -MaxExponent {
			return apperr.E(apperr.Invalid, "%s is %s: exponents beyond ±%d are not supported", s.where(), apperr.Truncate(lit, 32), MaxExponent)
		}
	}
	return nil
}

// isSmallInt reports whether b is an integer of at most 15 digits (with an
// optional minus and no leading zero), which any double holds exactly.
func isSmallInt(b []byte) bool {
	if len(b) > 0 && b[0] == '-' {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 15 || len(b) > 1 && b[0] == '0' {
		return false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
