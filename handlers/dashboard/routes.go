package dashboard

import (
	"github.com/labstack/echo/v4"

	"github.com/bizmcp/bizmcp/static"
	"github.com/bizmcp/bizmcp/views"
)

// Register mounts the dashboard: its static files and sign-in page (open to
// all), and every other page behind a session. State-changing requests
// also pass the CSRF check. URLs are built in views/urls.go.
func (h *Handler) Register(e *echo.Echo) {
	mw := h.mw
	e.GET("/static/*", echo.WrapHandler(static.Handler()))

	e.GET(views.URLLogin, h.loginPage, mw.LimitByIP)
	e.POST(views.URLLogin, h.login) // limited per IP by its own, stricter, limit

	session, csrf := h.requireSession, h.verifyCSRF
	e.POST(views.URLLogout, h.logout, session, csrf)
	e.GET(views.URLOverview, h.overview, session)

	e.GET(views.URLKeys, h.keysList, session)
	e.GET(views.URLKeysNew, h.keyNew, session)
	e.POST(views.URLKeys, h.keyCreate, session, csrf)
	e.GET("/keys/:id/row", h.keyRow, session)
	e.GET("/keys/:id/revoke", h.keyRevokeConfirm, session)
	e.POST("/keys/:id/revoke", h.keyRevoke, session, csrf)
	e.GET(views.URLConnect, h.connectPage, session)

	e.GET(views.URLMessages, h.messagesList, session)
	e.GET(views.URLTools, h.toolsList, session)
	e.GET(views.URLToolExecutions, h.executionsList, session)
	e.GET("/tools/executions/:id", h.executionDetail, session)
	e.GET("/tools/:name", h.toolForm, session)
	e.POST("/tools/:name", h.toolRun, session, csrf)
	e.POST("/tools/:name/status", h.toolStatus, session, csrf)

	e.GET(views.URLAgents, h.agentsList, session)
	e.GET(views.URLAgentCapabilities, h.agentCapabilities, session)
	e.POST(views.URLAgents, h.agentCreate, session, csrf)
	e.GET("/agents/:id", h.agentDetail, session)
	e.POST("/agents/:id/status", h.agentStatus, session, csrf)
	e.POST("/agents/:id/concurrency", h.agentConcurrency, session, csrf)
	e.POST("/agents/:id/delete", h.agentDelete, session, csrf)

	e.GET(views.URLTasks, h.tasksList, session)
	e.GET(views.URLTasksNew, h.taskNew, session)
	e.GET(views.URLTaskExample(), h.taskExample, session)
	e.POST(views.URLTasks, h.taskCreate, session, csrf)
	e.POST(views.URLTasksCancel, h.tasksCancel, session, csrf)
	e.GET("/tasks/:id", h.taskDetail, session)
	e.POST("/tasks/:id/cancel", h.taskAction(TaskService.Cancel), session, csrf)
	e.POST("/tasks/:id/retry", h.taskAction(TaskService.Retry), session, csrf)

	// The live channel: Origin first (403 before any upgrade), then the
	// session.
	e.GET(views.URLLive, h.liveChannel, mw.GuardOrigin, session)
}
