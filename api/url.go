package api

import "strconv"

// validPort reports whether the port of a URL (url.URL.Port: digits or "")
// is absent or from 1 to 65535.
func validPort(port string) bool {
	if port == "" {
		return true
	}
	n, err := strconv.ParseUint(port, 10, 16)
	return err == nil && n > 0
}
