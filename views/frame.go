// Package views holds the templ components of the dashboard, organised by
// area: the page frame and navigation (frame.templ), reusable components
// (components.templ), and one file per page area, each with its view
// models beside it. Views are pure: they render what they are given.
package views

// Frame is what every page's layout needs to know.
type Frame struct {
	Title string
	// Nav is the section highlighted in the navigation (a URL constant).
	Nav string
	// Session is the signed-in operator; nil on the sign-in page.
	Session *SessionView
	// Live is the page's live channel URL; empty for pages without one.
	Live string
}

// SessionView is the signed-in operator as the layout shows it.
type SessionView struct {
	KeyName   string
	KeyPrefix string
	// CSRFToken goes with every state-changing request: as a hidden form
	// field, and as a header on every htmx request (hx-headers on body).
	CSRFToken string
}

// CSRFField is the name of the form field, and CSRFHeader of the header,
// that carry the session's CSRF token.
const (
	CSRFField  = "csrf_token"
	CSRFHeader = "X-CSRF-Token"
)

type navItem struct {
	URL, Label string
}

func navItems() []navItem {
	return []navItem{
		{URLOverview, "Overview"},
		{URLAgents, "Agents"},
		{URLTasks, "Tasks"},
		{URLTools, "Tools"},
		{URLMessages, "Messages"},
		{URLKeys, "API keys"},
		{URLConnect, "Connect"},
	}
}

func csrfHeaders(s *SessionView) string {
	if s == nil {
		return ""
	}
	return `{"` + CSRFHeader + `": "` + s.CSRFToken + `"}`
}
