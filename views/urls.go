package views

import (
	"net/url"

	"github.com/google/uuid"
)

// The dashboard's URLs, built in this one place for the templates and the
// handlers (redirects) alike. The routes themselves are declared in
// handlers/dashboard/routes.go.
const (
	URLOverview = "/"
	URLLogin    = "/login"
	URLLogout   = "/logout"
	URLKeys     = "/keys"
	URLKeysNew  = "/keys/new"
	URLConnect  = "/connect"
	URLAgents   = "/agents"
	URLTasks    = "/tasks"
	URLTools    = "/tools"
	URLMessages = "/messages"
	URLLive     = "/ws"
)

// URLKeysList is the key list with a state filter and a page cursor (either
// may be empty).
func URLKeysList(state, cursor string) string {
	q := url.Values{}
	if state != "" {
		q.Set("state", state)
	}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	return withQuery(URLKeys, q)
}

// URLKeyRevoke is where a key's revocation is confirmed (GET) and done (POST).
func URLKeyRevoke(id uuid.UUID) string { return "/keys/" + id.String() + "/revoke" }

// URLLoginNext is the sign-in page that returns to next afterwards.
func URLLoginNext(next string) string {
	if next == "" || next == URLOverview {
		return URLLogin
	}
	return withQuery(URLLogin, url.Values{"next": {next}})
}

// URLLiveFor is the live channel of a page: the page name and its query
// (filters, cursor) say what the page shows, so a reconnect subscribes to
// the same again by itself.
func URLLiveFor(page string, q url.Values) string {
	v := url.Values{"page": {page}}
	for k, vals := range q {
		if k != "page" {
			v[k] = vals
		}
	}
	return withQuery(URLLive, v)
}

func withQuery(path string, q url.Values) string {
	if len(q) == 0 {
		return path
	}
	return path + "?" + q.Encode()
}

// URLKeyRow is one key's table row, as a fragment.
func URLKeyRow(id uuid.UUID) string { return "/keys/" + id.String() + "/row" }

// URLTasksList is the task list with a filter and a page cursor.
func URLTasksList(f TaskFilter, cursor string) string {
	q := f.Query()
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	return withQuery(URLTasks, q)
}

// URLTasksNew is the create-task form.
const URLTasksNew = "/tasks/new"

// URLTasksCancel cancels the tasks ticked on the list.
const URLTasksCancel = "/tasks/cancel"

// URLTaskExample is the example input of a domain, for the create form.
func URLTaskExample() string { return "/tasks/example" }

// URLTask is one task's page.
func URLTask(id uuid.UUID) string { return "/tasks/" + id.String() }

// URLTaskCancel and URLTaskRetry act on one task.
func URLTaskCancel(id uuid.UUID) string { return "/tasks/" + id.String() + "/cancel" }

// URLTaskRetry retries a failed or cancelled task.
func URLTaskRetry(id uuid.UUID) string { return "/tasks/" + id.String() + "/retry" }

// URLAgent is one agent's page.
func URLAgent(id uuid.UUID) string { return "/agents/" + id.String() }

// URLAgentsList is the agent list with filters and a cursor.
func URLAgentsList(typ, status, cursor string) string {
	q := url.Values{}
	for k, v := range map[string]string{"type": typ, "status": status, "cursor": cursor} {
		if v != "" {
			q.Set(k, v)
		}
	}
	return withQuery(URLAgents, q)
}

// URLAgentCapabilities is the create form's capability boxes for a type.
const URLAgentCapabilities = "/agents/capabilities"

// URLAgentStatus pauses or resumes an agent (POST status=paused|idle).
func URLAgentStatus(id uuid.UUID) string { return "/agents/" + id.String() + "/status" }

// URLAgentDelete deletes an agent.
func URLAgentDelete(id uuid.UUID) string { return "/agents/" + id.String() + "/delete" }

// URLTool is one tool's run form.
func URLTool(name string) string { return "/tools/" + url.PathEscape(name) }

// URLToolStatus enables or disables a tool (POST status=active|disabled).
func URLToolStatus(name string) string { return "/tools/" + url.PathEscape(name) + "/status" }

// URLToolExecutions is the history of tool runs.
const URLToolExecutions = "/tools/executions"

// URLToolExecutionsList is the history with a filter and a page cursor.
func URLToolExecutionsList(f ExecFilter, cursor string) string {
	q := f.Query()
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	return withQuery(URLToolExecutions, q)
}

// URLToolExecution is one run's page.
func URLToolExecution(id uuid.UUID) string { return URLToolExecutions + "/" + id.String() }
