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
	// MaxMarkdownBytes bounds the rendered report. Input bounds alone do not
	// bound it: nested data is shown as indented JSON, whose size grows with
	// the square of the nesting (8 KB of "[[[[...]]]]" once rendered as 64
	// MB), and a table has a cell for every row and every key of any row.
	MaxMarkdownBytes = 4 << 20
	// MaxDataDepth bounds the nesting of a section's data.
	MaxDataDepth = 32
	// MaxTableCells bounds rows × columns of a table rendered from data.
	MaxTableCells = 200_000
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
	// size is the Markdown so far (blocks and the blank lines between
	// them), checked against MaxMarkdownBytes before each block is built.
	size = len(blocks[0]) + 2
	if len(blocks) > 1 {
		size += len(blocks[1]) + 2
	}
	for i, sec := range in.Sections {
		heading, err := headingText(ref{"sections", i, "heading"}, sec.Heading)
		if err != nil {
			return ReportOutput{}, err
		}
		content := normalizeText(sec.Content)
		size += len(heading) + 5 + len(content) + 2
		data, err := renderData(ref{"sections", i, "data"}, sec.Data, MaxMarkdownBytes-size)
		if err != nil {
			return ReportOutput{}, err
		}
		size += len(data) + 2
		if size > MaxMarkdownBytes {
			return ReportOutput{}, tooLargef("the report would be more than %d bytes of Markdown at sections[%d]: send fewer or smaller sections", MaxMarkdownBytes, i)
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

// renderData renders a section's data; "" when there is none. budget is how
// many bytes of Markdown the report has left: what would exceed it is
// refused before it is built.
func renderData(path ref, raw json.RawMessage, budget int) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	if !json.Valid(raw) {
		return "", invalidf("%s is not valid JSON", path)
	}
	indented, depth := indentedSize(raw)
	if depth > MaxDataDepth {
		return "", invalidf("%s nests objects and arrays %d levels deep; the limit is %d: flatten it", path, depth, MaxDataDepth)
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
				return markdownTable(path, rows, budget)
			}
		}
	case '{':
		if fields, flat := flatObject(raw); flat && len(fields) > 0 {
			return bulletList(fields), nil
		}
	}
	// The fence adds "```json" and "```" and two line breaks; escaped
	// backticks can lengthen the fences, by at most the longest run.
	if indented+16 > budget {
		return "", tooLargef("%s would render as %d bytes of indented JSON, beyond what is left of the report's %d-byte limit: flatten it or send less", path, indented, MaxMarkdownBytes)
	}
	return fencedJSON(raw), nil
}

// indentedSize returns the size json.Indent(raw, "", "  ") would have, and
// the nesting depth of raw (valid JSON), without building it: every line
// break is followed by two spaces per level, so the size grows with the
// square of the depth.
func indentedSize(raw []byte) (size, maxDepth int) {
	depth := 0
	inString, escaped := false, false
	var prev byte // the previous significant byte outside strings
	for _, c := range raw {
		if inString {
			size++
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
				prev = c
			}
			continue
		}
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		case '"':
			if prev == '{' || prev == '[' {
				size += 1 + 2*depth // line break after the opener
			}
			inString = true
			size++
			continue
		case '{', '[':
			if prev == '{' || prev == '[' {
				size += 1 + 2*depth
			}
			depth++
			maxDepth = max(maxDepth, depth)
			size++
		case '}', ']':
			depth--
			if prev != '{' && prev != '[' {
				size += 1 + 2*depth // line break before a non-empty closer
			}
			size++
		case ',':
			size += 2 + 2*depth
		case ':':
			size += 2
		default:
			if prev == '{' || prev == '[' {
				size += 1 + 2*depth
			}
			size++
		}
		prev = c
	}
	return size, maxDepth
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

// markdownTable renders rows as a table with a column for every key of any
// row, refusing one of more than MaxTableCells cells or more than budget
// bytes.
func markdownTable(path ref, rows [][]jsonField, budget int) (string, error) {
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
	if cells := (len(rows) + 1) * len(cols); cells > MaxTableCells {
		return "", tooLargef("%s would be a table of %d rows × %d columns; the limit is %d cells: send fewer rows, or rows sharing the same keys", path, len(rows), len(cols), MaxTableCells)
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
	if b.Len() > budget {
		return "", tooLargef("%s would be a table of %d bytes, beyond what is left of the report's %d-byte limit: send fewer rows", path, b.Len(), MaxMarkdownBytes)
	}
	return b.String(), nil
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
