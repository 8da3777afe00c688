package conformance

import (
	"encoding/base64"
	"fmt"
)

// The binary fixtures, kept as base64 constants (the same minimal files the
// suite's reference servers use) so the package holds no mutable globals.
const (
	// pngBase64 is a 1x1 red PNG.
	pngBase64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
	// wavBase64 is a 16-bit mono 8 kHz WAV holding one sample of silence.
	wavBase64 = "UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAAB9AAACABAAZGF0YQIAAAA="
)

// pngImage returns the bytes of the 1x1 PNG fixture.
func pngImage() ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(pngBase64)
	if err != nil {
		return nil, fmt.Errorf("decode PNG fixture: %w", err)
	}
	return b, nil
}

// wavAudio returns the bytes of the WAV fixture.
func wavAudio() ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(wavBase64)
	if err != nil {
		return nil, fmt.Errorf("decode WAV fixture: %w", err)
	}
	return b, nil
}
