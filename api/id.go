package api

// crockford is the alphabet of IDs (hookline.NewID): Crockford's base32.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// idChars marks the bytes of crockford.
var idChars = func() (m [256]bool) {
	for i := range len(crockford) {
		m[crockford[i]] = true
	}
	return m
}()

// validID reports whether s has the shape of an ID that hookline.NewID
// makes with prefix: the prefix and 26 characters of Crockford's base32, the
// first of which holds only 3 bits (0 to 7). It is how a cursor is checked:
// a string of another shape was never an ID.
func validID(prefix, s string) bool {
	if len(s) != len(prefix)+26 || s[:len(prefix)] != prefix {
		return false
	}
	s = s[len(prefix):]
	if s[0] > '7' {
		return false
	}
	for i := range len(s) {
		if !idChars[s[i]] {
			return false
		}
	}
	return true
}
