package views

import (
	"time"

	"github.com/bizmcp/bizmcp/internal/auth"
	"github.com/bizmcp/bizmcp/internal/connect"
)

// KeysPage is the API key list.
type KeysPage struct {
	Frame
	Keys []auth.Key
	// State is the filter in use ("" for every key).
	State   string
	NextURL string
	OnFirst bool
	Now     time.Time
}

// KeyForm is the create form, with what was typed and what is wrong.
type KeyForm struct {
	Name      string
	Scopes    []string
	RateLimit string
	// Expiry is a preset: never, 7, 30, 90, 365 (days) or custom.
	Expiry string
	// ExpiresOn is the custom date (YYYY-MM-DD, UTC).
	ExpiresOn string
	// DefaultRateLimit is what an empty rate limit means.
	DefaultRateLimit int
	Errors           FieldErrors
	// FormError is a problem with the form as a whole.
	FormError string
}

// Checked reports whether a scope box is ticked.
func (f KeyForm) Checked(scope auth.Scope) bool {
	for _, s := range f.Scopes {
		if s == string(scope) {
			return true
		}
	}
	return false
}

// ExpiryPreset is one choice of the expiry select.
type ExpiryPreset struct {
	Value, Label string
}

// ExpiryPresets lists the expiry choices, in the order shown.
func ExpiryPresets() []ExpiryPreset {
	return []ExpiryPreset{
		{"7", "7 days"}, {"30", "30 days"}, {"90", "90 days"}, {"365", "1 year"},
		{"custom", "On a date…"}, {"never", "Never"},
	}
}

// KeyCreatedPage shows a new key, once, with client configurations.
type KeyCreatedPage struct {
	Frame
	Key      auth.CreatedKey
	Endpoint string
	Snippets []connect.Snippet
	Now      time.Time
}

func keyRowID(k auth.Key) string { return "key-" + k.ID.String() }

// keyActionsID is the id of a key row's actions cell, by which the live
// snapshot keeps the page's own (see KeyRowsSnapshot).
func keyActionsID(k auth.Key) string { return "key-actions-" + k.ID.String() }

func stateFilters() []ExpiryPreset {
	return []ExpiryPreset{{"", "All"}, {auth.StateActive, "Active"}, {auth.StateExpired, "Expired"}, {auth.StateRevoked, "Revoked"}}
}
