package api

import (
	"github.com/bizmcp/bizmcp/handlers/web"

	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/bizmcp/bizmcp/internal/apperr"
	"github.com/bizmcp/bizmcp/internal/auth"
)

type createKeyRequest struct {
	Name      string   `json:"name"`
	Scopes    []string `json:"scopes"`
	RateLimit *int     `json:"rate_limit"`
	ExpiresAt *string  `json:"expires_at"`
}

// createKey answers 201 with the new key; its secret appears in this
// response only.
func (h *Handler) createKey(c echo.Context) error {
	var req createKeyRequest
	if err := web.DecodeJSON(c, &req); err != nil {
		return err
	}
	params := auth.CreateParams{Name: req.Name, Scopes: req.Scopes}
	if req.RateLimit != nil {
		if *req.RateLimit <= 0 {
			return apperr.E(apperr.Invalid, "rate_limit %d is out of range: use 1 to %d requests per minute, or omit it for the default", *req.RateLimit, auth.MaxRateLimit)
		}
		params.RateLimit = *req.RateLimit
	}
	if req.ExpiresAt != nil && *req.ExpiresAt != "" {
		t, err := time.Parse(time.RFC3339, *req.ExpiresAt)
		if err != nil {
			return apperr.E(apperr.Invalid, "expires_at %q is not an RFC 3339 time such as 2027-01-31T00:00:00Z", apperr.Truncate(*req.ExpiresAt, 64))
		}
		params.ExpiresAt = &t
	}
	key, err := h.deps.Keys.Create(c.Request().Context(), params)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	c.Response().Header().Set(echo.HeaderLocation, "/api/v1/admin/keys/"+key.ID.String())
	return c.JSON(http.StatusCreated, key)
}

func (h *Handler) listKeys(c echo.Context) error {
	limit, err := web.QueryInt(c, "limit")
	if err != nil {
		return err
	}
	page, err := h.deps.Keys.List(c.Request().Context(), auth.ListFilter{State: c.QueryParam("state")}, c.QueryParam("cursor"), limit)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, page)
}

func (h *Handler) getKey(c echo.Context) error {
	id, err := web.PathUUID(c, "id")
	if err != nil {
		return err
	}
	key, err := h.deps.Keys.Get(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, key)
}

// revokeKey answers 200 with the revoked key (revoked_at set); revoking
// again is harmless and answers the same.
func (h *Handler) revokeKey(c echo.Context) error {
	id, err := web.PathUUID(c, "id")
	if err != nil {
		return err
	}
	key, err := h.deps.Keys.Revoke(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, key)
}

// me describes the calling key: a cheap way for a client to check that its
// key works and what it may do.
func (h *Handler) me(c echo.Context) error {
	p, _ := web.PrincipalOf(c)
	return c.JSON(http.StatusOK, map[string]any{
		"key_id": p.KeyID, "name": p.Name, "prefix": p.Prefix, "scopes": p.Scopes, "rate_limit": p.RateLimit,
	})
}
