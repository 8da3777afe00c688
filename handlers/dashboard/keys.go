package dashboard

import (
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/bizmcp/bizmcp/handlers/web"
	"github.com/bizmcp/bizmcp/internal/apperr"
	"github.com/bizmcp/bizmcp/internal/auth"
	"github.com/bizmcp/bizmcp/internal/connect"
	"github.com/bizmcp/bizmcp/views"
)

// keysPageSize is how many keys a page of the list shows.
const keysPageSize = 25

func (h *Handler) keysList(c echo.Context) error {
	state := c.QueryParam("state")
	if err := checkChoices(choice{"state", state, auth.States()}); err != nil {
		return err
	}
	cursor := c.QueryParam("cursor")
	page, err := h.deps.Keys.List(c.Request().Context(), auth.ListFilter{State: state}, cursor, keysPageSize)
	if err != nil {
		return err
	}
	p := views.KeysPage{
		Frame: frame(c, "API keys", views.URLKeys, views.URLLiveFor(livePageKeys, c.QueryParams())),
		Keys:  page.Items, State: state, OnFirst: cursor == "", Now: time.Now(),
	}
	if page.NextCursor != "" {
		p.NextURL = views.URLKeysList(state, page.NextCursor)
	}
	return h.render(c, http.StatusOK, views.KeysList(p))
}

func (h *Handler) keyNew(c echo.Context) error {
	form := views.KeyForm{Scopes: []string{string(auth.ScopeRead)}, Expiry: "90", DefaultRateLimit: h.deps.DefaultRateLimit}
	return h.render(c, http.StatusOK, views.KeyNewPage(frame(c, "Create an API key", views.URLKeys, ""), form))
}

// keyCreate creates a key from the form and shows it, once, with the
// client configurations filled in. A mistake re-shows the form with the
// values kept and the message next to the field (422).
func (h *Handler) keyCreate(c echo.Context) error {
	form, params := h.parseKeyForm(c)
	f := frame(c, "Create an API key", views.URLKeys, "")
	if len(form.Errors) > 0 {
		return h.render(c, http.StatusUnprocessableEntity, views.KeyNewPage(f, form))
	}
	key, err := h.deps.Keys.Create(c.Request().Context(), params)
	if err != nil {
		if !apperr.Is(err, apperr.Invalid) {
			return err
		}
		field := formField(apperr.FieldOf(err))
		if field == "" {
			form.FormError = apperr.MessageOf(err)
		} else {
			form.Errors[field] = apperr.MessageOf(err)
		}
		return h.render(c, http.StatusUnprocessableEntity, views.KeyNewPage(f, form))
	}
	// The secret is on this page only: no cache may keep it.
	c.Response().Header().Set("Cache-Control", "no-store")
	endpoint := h.endpoint(c)
	return h.render(c, http.StatusCreated, views.KeyCreated(views.KeyCreatedPage{
		Frame: frame(c, "Key created", views.URLKeys, ""),
		Key:   key, Endpoint: endpoint, Snippets: connect.Snippets(endpoint, key.Secret), Now: time.Now(),
	}))
}

// formField maps the key service's field names to the form's.
func formField(serviceField string) string {
	switch serviceField {
	case "name", "scopes", "rate_limit":
		return serviceField
	case "expires_at":
		return "expiry"
	}
	return ""
}

// maxFormText bounds what a form field may carry before it is even looked
// at; the service's own limits are far lower.
const maxFormText = 1000

// parseKeyForm reads the create form into what to show again and what to
// create. Problems the service cannot see (a number that is not a number,
// an unknown preset, an unparsable date) are found here.
func (h *Handler) parseKeyForm(c echo.Context) (views.KeyForm, auth.CreateParams) {
	form := views.KeyForm{
		Name:      echoable(c.FormValue("name")),
		RateLimit: echoable(strings.TrimSpace(c.FormValue("rate_limit"))),
		Expiry:    c.FormValue("expiry"),
		ExpiresOn: echoable(strings.TrimSpace(c.FormValue("expires_on"))),
		Errors:    views.FieldErrors{}, DefaultRateLimit: h.deps.DefaultRateLimit,
	}
	values, _ := c.FormParams()
	for _, s := range values["scopes"] {
		form.Scopes = append(form.Scopes, echoable(s))
	}
	params := auth.CreateParams{Name: c.FormValue("name"), Scopes: values["scopes"]}
	if strings.TrimSpace(params.Name) == "" {
		form.Errors["name"] = "name is required: a label such as \"cursor-alice\" to recognise the key by"
	} else if len(params.Name) > maxFormText {
		form.Errors["name"] = "name is " + strconv.Itoa(utf8.RuneCountInString(params.Name)) + " characters long: use at most " + strconv.Itoa(auth.MaxNameLen)
	}
	if len(params.Scopes) == 0 {
		form.Errors["scopes"] = "tick at least one scope"
	}
	if form.RateLimit != "" {
		n, err := strconv.Atoi(form.RateLimit)
		switch {
		case err != nil:
			form.Errors["rate_limit"] = "enter a whole number of requests per minute, or leave it empty for the default"
		case n < 1 || n > auth.MaxRateLimit:
			form.Errors["rate_limit"] = "use 1 to " + strconv.Itoa(auth.MaxRateLimit) + " requests per minute"
		default:
			params.RateLimit = n
		}
	}
	now := time.Now().UTC()
	switch form.Expiry {
	case "never":
	case "7", "30", "90", "365":
		days, _ := strconv.Atoi(form.Expiry)
		t := now.AddDate(0, 0, days)
		params.ExpiresAt = &t
	case "custom":
		day, err := time.Parse(time.DateOnly, form.ExpiresOn)
		switch {
		case form.ExpiresOn == "":
			form.Errors["expires_on"] = "pick the last day the key may be used"
		case err != nil:
			form.Errors["expires_on"] = "enter a date as YYYY-MM-DD, e.g. " + now.AddDate(0, 1, 0).Format(time.DateOnly)
		default:
			// Valid through the end of that day (UTC).
			end := day.AddDate(0, 0, 1)
			if !end.After(now) {
				form.Errors["expires_on"] = "that date has passed: pick today or a later day"
			} else if day.Year() > now.Year()+100 {
				form.Errors["expires_on"] = "pick a date within a hundred years, or choose Never"
			} else {
				params.ExpiresAt = &end
			}
		}
	default:
		form.Errors["expiry"] = "choose one of the offered expiry options"
		form.Expiry = "90"
	}
	return form, params
}

// echoable makes a submitted value safe to show back in the form: valid
// UTF-8, no NUL, bounded. (HTML escaping is templ's job.)
func echoable(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.ReplaceAll(s, "\x00", "")
	if len(s) > maxFormText {
		s = s[:maxFormText]
		s = strings.ToValidUTF8(s, "")
	}
	return s
}

func (h *Handler) keyRevokeConfirm(c echo.Context) error {
	id, err := web.PathUUID(c, "id")
	if err != nil {
		return err
	}
	key, err := h.deps.Keys.Get(c.Request().Context(), id)
	if err != nil {
		return err
	}
	f := frame(c, "Revoke "+key.Name, views.URLKeys, "")
	if isHTMX(c) {
		return h.render(c, http.StatusOK, views.RevokeConfirmInline(key, f.Session))
	}
	return h.render(c, http.StatusOK, views.RevokeConfirmPage(f, key))
}

// keyRevoke revokes a key: its row turns to revoked in place (htmx), or the
// browser returns to the list.
func (h *Handler) keyRevoke(c echo.Context) error {
	id, err := web.PathUUID(c, "id")
	if err != nil {
		return err
	}
	key, err := h.deps.Keys.Revoke(c.Request().Context(), id)
	if err != nil {
		return err
	}
	if isHTMX(c) {
		return h.render(c, http.StatusOK, views.KeyRow(key, time.Now()))
	}
	return c.Redirect(http.StatusSeeOther, views.URLKeys)
}

func (h *Handler) keyRow(c echo.Context) error {
	id, err := web.PathUUID(c, "id")
	if err != nil {
		return err
	}
	key, err := h.deps.Keys.Get(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return h.render(c, http.StatusOK, views.KeyRow(key, time.Now()))
}
