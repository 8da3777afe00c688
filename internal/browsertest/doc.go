// Package browsertest holds the dashboard's tests in a real browser:
// headless Chromium, driven through chromedp, against the real server
// (testkit.StartServer) on loopback. It has no code of its own beyond the
// tests; `make screenshots` runs them with BIZMCP_SCREENSHOTS=1 to refresh
// docs/screenshots.
package browsertest
