package analytics

import (
	"bytes"
	"encoding/json"
	"strings"
	"unicode"
)

// Bounds of GenerateReport.
const (
	// MaxSections bounds len(ReportInput.Sections).
	MaxSections = 100
	// MaxHeadingLength bounds, in bytes, the title and each heading.
	MaxHeadingLength = 300
	// MaxReportBytes bounds the total size of the input texts: title,
	// summary, and every section's heading, content and data (as JSON). The
	// Markdown is at most a small multiple of it (escaping and table pipes).
	MaxReportBytes = 1 << 20
)

// ReportInput is the report_generator tool's arguments.
type ReportInput struct {
	// Title is the report's title, non-blank, at most MaxHeadingLength bytes;
	// line breaks become spaces.
	Title string `json:"title"`
	// Summary is an optional paragraph under the title, Markdown.
	Summary string `json:"summary,omitempty"`
	// Sections are rendered in order; at most MaxSections.
	Sections []ReportSection `json:"sections,omitempty"`
}

// ReportSection is one section of a report: a heading with content, data or
// both (content first).
type ReportSection struct {
	// Heading is non-blank, at most MaxHeadingLength bytes; line breaks
	// become spaces.
	Heading string `json:"heading"`
	// Content is Markdown written as is. It is trusted like the rest of a
	// Markdown document: whoever renders the report as HTML must sanitise it.
	Content string `json:"content,omitempty"`
	// Data is any JSON value, such as a tool's output. A non-empty array of
	// flat objects (whose values are all strings, numbers, booleans or null)
	// becomes a table with a column per key, in order of first appearance,
	// numeric columns right-aligned; a flat object becomes a bullet list
	// "key: value"; anything else is shown as indented JSON in a fenced code
	// block. Texts from data are escaped so they show as written: Markdown
	// punctuation and "<" get a backslash, line breaks become <br>.
	// null is the same as no data.
	Data json.RawMessage `json:"data,omitempty"`
}

// ReportOutput is the report_generator tool's result.
type ReportOutput struct {
	// Markdown is the report (CommonMark with GitHub tables), ending in a
	// newline.
	Markdown string `json:"markdown"`
	// WordCount is the number of whitespace-separated tokens of Markdown
	// that hold at least one letter or digit, so table rules, "#" and "-"
	// markers, <br> and code fences are not words while "25.0%" and "Q1"
	// are.
	WordCount int `json:"word_count"`
}

// GenerateReport renders a Markdown report: "# title", the summary, then
// per section "## heading", its content and its data (see ReportSection).
func GenerateReport(in ReportInput) (ReportOutput, error) {
	if len(in.Sections) > MaxSections {
		return ReportOutput{}, tooLargef("sections has %d sections; the limit is %d", len(in.Sections), MaxSections)
	}
	size := len(in.Title) + len(in.Summary)
	for _, s := range in.Sections {
		size += len(s.Heading) + len(s.Content) + len(s.Data)
	}
	if size > MaxReportBytes {
		return ReportOutput{}, tooLargef("the report's texts and data total %d bytes; the limit is %d", size, MaxReportBytes)
	}
	title, err := headingText(named("title"), in.Title)
	if err != nil {
		return ReportOutput{}, err
	}
	blocks := []string{"# " + title}
	if s := normalizeText(in.Summary); s != "" {
		blocks = append(blocks, s)
	}
	for i, sec := range in.Sections {
		heading, err := headingText(ref{"sections", i, "heading"}, sec.Heading)
		if err != nil {
			return ReportOutput{}, err
		}
		content := normalizeText(sec.Content)
		data, err := renderData(ref{"sections", i, "data"}, sec.Data)
		if err != nil {
			return ReportOutput{}, err
		}
		if content == "" && data == "" {
			return ReportOutput{}, invalidf("sections[%d] needs content or data", i)
		}
		blocks = append(blocks, "## "+heading)
		if content != "" {
			blocks = append(blocks, content)
		}
		if data != "" {
			blocks = append(blocks, data)
		}
	}
	md := strings.Join(blocks, "\n\n") + "\n"
	return ReportOutput{Markdown: md, WordCount: wordCount(md)}, nil
}

// headingText makes s a one-line heading. A trailing "#" is escaped because
// CommonMark would take " #" at the end of a heading as a closing sequence
// and drop it.
func headingText(path ref, s string) (string, error) {
	h := strings.Join(strings.Fields(s), " ")
	if h == "" {
		return "", invalidf("%s is required and must not be blank", path)
	}
	if len(h) > MaxHeadingLength {
		return "", invalidf("%s is %d bytes long; the limit is %d", path, len(h), MaxHeadingLength)
	}
	if strings.HasSuffix(h, "#") {
		h = h[:len(h)-1] + `\#`
	}
	return h, nil
}

// normalizeText turns CRLF and CR into LF and trims surrounding blank space.
func normalizeText(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	return strings.TrimSpace(s)
}

type jsonField struct {
	key string
	val json.RawMessage
}

// renderData renders a section's data; "" when there is none.
func renderData(path ref, raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	if !json.Valid(raw) {
		return "", invalidf("%s is not valid JSON", path)
	}
	switch raw[0] {
	case '[':
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err == nil && len(items) > 0 {
			rows := make([][]jsonField, len(items))
			flat := true
			for i, it := range items {
				if rows[i], flat = flatObject(it); !flat {
					break
				}
			}
			if flat {
				return markdownTable(rows), nil
			}
		}
	case '{':
		if fields, flat := flatObject(raw); flat && len(fields) > 0 {
			return bulletList(fields), nil
		}
	}
	return fencedJSON(raw), nil
}

// flatObject decodes a JSON object keeping its key order (a later duplicate
// key replaces the earlier value in place, as JSON decoders do) and reports
// whether it is an object whose values are all scalars.
func flatObject(raw json.RawMessage) ([]jsonField, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil {
		return nil, false
	}
	var fields []jsonField
	index := make(map[string]int)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, false
		}
		key, _ := tok.(string)
		var val json.RawMessage
		if err := dec.Decode(&val); err != nil {
			return nil, false
		}
		val = bytes.TrimSpace(val)
		if len(val) == 0 || val[0] == '{' || val[0] == '[' {
			return nil, false
		}
		if i, dup := index[key]; dup {
			fields[i].val = val
			continue
		}
		index[key] = len(fields)
		fields = append(fields, jsonField{key: key, val: val})
	}
	return fields, true
}

// scalarText is a scalar's display text: a string's value, a number or
// boolean as written, "" for null.
func scalarText(val json.RawMessage) string {
	switch val[0] {
	case '"':
		var s string
		if json.Unmarshal(val, &s) == nil {
			return s
		}
	case 'n':
		return ""
	}
	return string(val)
}

func isNumberLiteral(val json.RawMessage) bool {
	return len(val) > 0 && (val[0] == '-' || (val[0] >= '0' && val[0] <= '9'))
}

func markdownTable(rows [][]jsonField) string {
	var cols []string
	colIndex := make(map[string]int)
	for _, row := range rows {
		for _, f := range row {
			if _, ok := colIndex[f.key]; !ok {
				colIndex[f.key] = len(cols)
				cols = append(cols, f.key)
			}
		}
	}
	cells := make([][]string, len(rows))
	numeric := make([]bool, len(cols))
	seen := make([]bool, len(cols))
	for i := range numeric {
		numeric[i] = true
	}
	for r, row := range rows {
		cells[r] = make([]string, len(cols))
		for _, f := range row {
			c := colIndex[f.key]
			cells[r][c] = escapeData(scalarText(f.val))
			if string(f.val) != "null" {
				seen[c] = true
				numeric[c] = numeric[c] && isNumberLiteral(f.val)
			}
		}
	}
	var b strings.Builder
	b.WriteString("|")
	for _, c := range cols {
		b.WriteString(" " + cellOrSpace(escapeData(c)) + " |")
	}
	b.WriteString("\n|")
	for i := range cols {
		if numeric[i] && seen[i] {
			b.WriteString(" ---: |")
		} else {
			b.WriteString(" --- |")
		}
	}
	for _, row := range cells {
		b.WriteString("\n|")
		for _, cell := range row {
			b.WriteString(" " + cellOrSpace(cell) + " |")
		}
	}
	return b.String()
}

func cellOrSpace(s string) string {
	if s == "" {
		return " "
	}
	return s
}

func bulletList(fields []jsonField) string {
	lines := make([]string, len(fields))
	for i, f := range fields {
		lines[i] = strings.TrimRight("- **"+escapeData(f.key)+"**: "+escapeData(scalarText(f.val)), " ")
	}
	return strings.Join(lines, "\n")
}

// escapeData makes a data text show as written in a table cell or list item:
// a backslash before the punctuation that Markdown would interpret (emphasis,
// code, links, HTML, and the "|" that would split a table cell), and <br> for
// a line break, which would otherwise end the cell or item. Bytes of
// multi-byte UTF-8 characters (>= 0x80) pass through unchanged.
func escapeData(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '_':
			// Between two ASCII letters or digits an underscore cannot start or end
			// emphasis, so "margin_pct" stays readable in the raw text.
			if i > 0 && i+1 < len(s) && isAlnum(s[i-1]) && isAlnum(s[i+1]) {
				b.WriteByte(c)
				continue
			}
			b.WriteString(`\_`)
		case '\\', '`', '*', '[', ']', '<', '|':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\r':
			if i+1 < len(s) && s[i+1] == '\n' {
				i++
			}
			b.WriteString("<br>")
		case '\n':
			b.WriteString("<br>")
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// fencedJSON shows raw indented in a code block whose fence is longer than
// any run of backticks inside, so a string holding ``` cannot close it.
func fencedJSON(raw json.RawMessage) string {
	var buf bytes.Buffer
	if json.Indent(&buf, raw, "", "  ") != nil {
		buf.Reset()
		buf.Write(raw) // unreachable: raw was checked with json.Valid
	}
	text := buf.String()
	run, longest := 0, 0
	for _, r := range text {
		if r == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	fence := strings.Repeat("`", max(3, longest+1))
	return fence + "json\n" + text + "\n" + fence
}

func wordCount(md string) int {
	n := 0
	for _, tok := range strings.Fields(strings.ReplaceAll(md, "<br>", " ")) {
		if strings.HasPrefix(tok, "```") {
			continue // a code fence and its language tag
		}
		if strings.IndexFunc(tok, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }) >= 0 {
			n++
		}
	}
	return n
}
