package auth

import "time"

// SetClock replaces the service's clock, for tests of expiry.
func (s *Service) SetClock(now func() time.Time) { s.now = now }
