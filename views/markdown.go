package views

import (
	"bytes"
	"context"
	"io"

	"github.com/a-h/templ"
	"github.com/microcosm-cc/bluemonday"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
)

// maxMarkdownBytes bounds what is rendered: a report bigger than this is
// shown as its raw text, which the browser handles without a parse tree.
const maxMarkdownBytes = 1 << 20

// Markdown renders Markdown (a task's report) to HTML that is safe to put in
// a page: goldmark without raw HTML, then bluemonday's UGC policy, which
// also drops javascript: and other unsafe link schemes.
func Markdown(src string) templ.Component {
	return templ.ComponentFunc(func(ctx context.Context, w io.Writer) error {
		if len(src) > maxMarkdownBytes {
			_, err := io.WriteString(w, "<pre>"+templ.EscapeString(src)+"</pre>")
			return err
		}
		var buf bytes.Buffer
		md := goldmark.New(goldmark.WithExtensions(extension.Table, extension.Strikethrough))
		if err := md.Convert([]byte(src), &buf); err != nil {
			_, err = io.WriteString(w, "<pre>"+templ.EscapeString(src)+"</pre>")
			return err
		}
		_, err := w.Write(bluemonday.UGCPolicy().SanitizeBytes(buf.Bytes()))
		return err
	})
}
